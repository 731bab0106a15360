"""HTML reports people can look at: ``report.html`` per video and ``index.html`` per batch.

Each page is one self-contained file: styles and script inline, keyframes embedded as data URIs,
nothing fetched from a network (a Content-Security-Policy in the page forbids it). Templates are
Jinja2 with autoescaping on, so every text a page shows (transcript, OCR, labels, file names,
error messages) is escaped: a subtitle line ``<script>`` shows as those characters. Nothing from
a result is ever placed inside the script; it reads times from ``data-`` attributes.

The per-video page: keyframe strip, a timeline (lanes for shots, speech, faces, emotions and
events on one time axis), the transcript with clickable timestamps (they seek the video when
the original file can be opened, and always move the timeline cursor and highlight the line),
summary, highlights, chapters, the event list, and what went wrong.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .atomic import atomic_write_text
from .cache import once
from .timecode import clock

if TYPE_CHECKING:
    from .schema import IndexRecord, Result

#: Event kinds drawn in the "events" lane (the others have lanes of their own or are too dense).
EVENT_LANE = {"loud_sound", "music", "sound", "silence", "text_on_screen", "label", "keyword", "emotion_change",
              "object_appear"}


@once
def _env():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(loader=PackageLoader("avpipe", "templates"), autoescape=select_autoescape(default=True),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _data_uri(path: Path) -> str | None:
    try:
        return "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError:
        return None


def _mark(start: float, end: float, duration: float, cls: str, title: str) -> dict:
    left = 100.0 * max(0.0, start) / duration
    width = max(0.3, 100.0 * max(0.0, end - start) / duration)
    return {"start": round(start, 3), "left": round(min(left, 100.0), 3), "width": round(min(width, 100.0 - left), 3),
            "cls": cls, "title": title}


def report_context(result: "Result", folder: Path, image_src: Callable[[Path], str | None] = _data_uri) -> dict:
    """What the per-video template shows, from a result and its folder (thumbnails, each made a
    source by ``image_src``: embedded as a data URI in a report, a URL when served)."""
    v = result.video
    duration = v.duration_s or max([s.end for s in result.shots] + [s.end for s in result.transcript.segments] + [1.0])
    duration = max(duration, 1e-3)
    keyframes = []
    for k in result.keyframes:
        src = image_src(folder / k.thumbnail) if k.thumbnail else None
        if src:
            named = ", ".join(label.label for label in k.labels[:2])
            if k.concept is not None and k.labels and k.concept.label != k.labels[0].label:
                named = f"{k.concept.label} (perhaps {named})"  # the sure hypernym, as search shows it
            keyframes.append({"t": k.t, "clock": clock(k.t), "src": src, "caption": " " + named})
    speakers = sorted({s.speaker for s in result.transcript.segments if s.speaker})
    lanes = [
        {"name": "shots", "marks": [_mark(s.start, s.end, duration, "shot", f"shot {i + 1}: {clock(s.start)}"
                                          + (f" (after a {s.transition})" if s.transition else ""))
                                    for i, s in enumerate(result.shots)]},
        {"name": "speech", "marks": [_mark(s.start, s.end, duration, "speech", s.text) for s in result.transcript.segments]},
        *([{"name": "speakers", "marks": [_mark(s.start, s.end, duration, f"speaker-{(speakers.index(s.speaker) % 6) + 1}",
                                                f"{result.speaker_name(s)}: {s.text}")
                                          for s in result.transcript.segments if s.speaker]}] if speakers else []),
        {"name": "faces", "marks": _face_marks(result, duration)},
        {"name": "emotion", "marks": [_mark(e.start, e.end, duration, f"emo-{e.label}", f"{e.label} ({e.score:.2f})")
                                      for e in result.emotion_timeline]},
        {"name": "events", "marks": [_mark(e.start, max(e.end, e.start + duration / 200), duration, "event",
                                           f"{e.kind}: {e.label}") for e in result.events if e.kind in EVENT_LANE]},
    ]
    ticks = [clock(duration * i / 4) for i in range(5)]
    facts = [f"{duration:.1f} s", f"{v.width}x{v.height}" if v.width else "no video", f"{v.fps:.2f} fps" if v.fps else "",
             "audio" if v.has_audio else "no audio", f"{len(result.shots)} shots", f"pipeline {result.pipeline}",
             ("people: " + ", ".join(p.name or p.id for p in result.people)) if result.people else ""]
    video_path = Path(v.path)
    return {
        "name": video_path.name or v.video_id,
        "facts": " · ".join(f for f in facts if f),
        "video_uri": video_path.resolve().as_uri() if video_path.exists() else "",
        "keyframes": keyframes,
        "lanes": lanes,
        "ticks": ticks,
        "language": result.transcript.language or "",
        "languages": [(code, f"{share:.0%}") for code, share in result.transcript.languages.items()]
        or ([(result.transcript.language, "")] if result.transcript.language else []),
        "segments": [{"start": s.start, "end": s.end, "clock": clock(s.start), "text": s.text,
                      "speaker": result.speaker_name(s) or "",
                      "language": s.language or result.transcript.language or "",
                      "switched": bool(s.language and s.language != result.transcript.language),
                      "text_en": s.text_en or "",
                      "emotion": s.emotion.label if s.emotion and s.emotion.label != "neutral" else ""}
                     for s in result.transcript.segments],
        "untranscribed": "; ".join(f"{u.end - u.start:.0f} s of speech in {u.language or 'an unknown language'} "
                                   f"not transcribed: {u.reason}" for u in result.transcript.untranscribed[:3]),
        "summary": {"method": result.summary.method, "text": result.summary.text,
                    "highlights": [{"start": h.start, "clock": clock(h.start), "text": h.text}
                                   for h in result.summary.highlights],
                    "chapters": [{"start": c.start, "clock": clock(c.start), "title": c.title}
                                 for c in result.summary.chapters]},
        "events": [{"start": e.start, "clock": clock(e.start), "kind": e.kind, "label": e.label} for e in result.events],
        "errors": [e.model_dump() for e in result.errors],
        "duration_json": json.dumps(round(duration, 3)),
        "inline_style": True,  # the marks placed by style attributes (a served page places them by script)
    }


def _face_marks(result: "Result", duration: float) -> list[dict]:
    """A mark per face track, titled with who it is where the people index knows ("face 2:
    Ada Lovelace")."""
    who = {f"face {n}": p.name or p.id for p in result.people for n in p.faces}
    opened: dict[str, float] = {}
    marks = []
    for e in result.events:
        if e.kind == "face_appear":
            opened[e.label] = e.start
        elif e.kind == "face_disappear" and e.label in opened:
            start = opened.pop(e.label)
            title = f"{e.label}: {who[e.label]}" if e.label in who else e.label
            marks.append(_mark(start, max(e.start, start + duration / 200), duration, "face", title))
    return marks


def write_report(result: "Result", folder: Path) -> Path:
    """``report.html`` in the result folder."""
    path = folder / "report.html"
    atomic_write_text(path, _env().get_template("report.html.j2").render(**report_context(result, folder)))
    return path


def write_index(out: Path, records: list["IndexRecord"]) -> Path:
    """``index.html`` of a batch: one row per input with its first keyframe, status and summary."""
    from .schema import Result

    videos = []
    for r in records:
        row = {"name": Path(r.input).name, "input": r.input, "status": r.status, "thumb": None, "report": None,
               "duration": "", "summary": "", "error": f"{r.error.type}: {r.error.message}" if r.error else ""}
        if r.result and (out / r.result).is_file():
            folder = (out / r.result).parent
            try:
                result = Result.model_validate_json((out / r.result).read_text(encoding="utf-8"))
            except ValueError:
                result = None
            if result is not None:
                first = next((k for k in result.keyframes if k.thumbnail), None)
                row.update(thumb=_data_uri(folder / first.thumbnail) if first else None,
                           duration=f"{result.video.duration_s or 0:.1f} s", summary=result.summary.text[:300])
            if (folder / "report.html").is_file():
                row["report"] = f"{folder.name}/report.html"
        videos.append(row)
    counts = {s: sum(r.status == s for r in records) for s in ("ok", "skipped", "error")}
    line = f"{len(records)} inputs: {counts['ok']} ok, {counts['skipped']} skipped, {counts['error']} failed"
    path = out / "index.html"
    atomic_write_text(path, _env().get_template("index.html.j2").render(videos=videos, count=len(records), summary_line=line))
    return path
