"""``avpipe eval shots``: precision, recall and F1 of shot boundaries against annotated footage.

The reference is JSON lines, one video a line::

    {"video": "film.mp4", "fps": 25, "duration": 60.0,
     "transitions": [{"kind": "cut", "start": 4.12, "end": 4.12},
                     {"kind": "dissolve", "start": 9.0, "end": 10.0}],
     "quiet": [{"kind": "static", "start": 12.0, "end": 40.0}]}

``transitions`` are the true boundaries (a cut's span is one instant; a gradual change spans its
frames). ``quiet`` spans are footage with no boundary, labelled by what makes them hard
(static, handheld, pan, flash): a boundary found in one is a false cut of that kind.

A found boundary matches a true one when it lies in the true span widened by the tolerance
(0.5 s, and one frame); each matches at most one, nearest first. Per kind, recall is the share
of true boundaries found; a false boundary counts against the kind of the nearest true one
within 2 s (else against "none"), which is how precision is split by kind.

Beside avpipe's own backends (the shots stage on one decode pass), :data:`BASELINES` are
detectors run the way their library runs them, decoding the file themselves: ``pyscenedetect``
is PySceneDetect's ``detect(path, ContentDetector())`` with every default (its OpenCV decoder,
frames downscaled to at least 256 pixels wide), to compare with ``content`` (the same
ContentDetector on avpipe's 48x27 glances).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..options import ShotOptions
    from .base import Transition

#: Tolerances reported: 0.5 s, and one frame of the video (plus a millisecond of rounding).
TOLERANCES = ("0.5s", "1frame")


def read_reference(path: str | Path) -> dict[str, dict]:
    """The reference file, by video file name; a malformed line is a ValueError naming it."""
    items = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            for tr in item["transitions"]:
                if tr["end"] < tr["start"] or not tr.get("kind"):
                    raise ValueError("a transition ends before it starts, or has no kind")
            items[Path(item["video"]).name] = item
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: not a shot reference line ({exc})") from exc
    return items


def detect(path: str | Path, options: "ShotOptions", device: str = "cpu") -> tuple[list["Transition"], float]:
    """The boundaries the shots stage finds in ``path`` (one decode pass, glances as the
    pipeline reads them), and the seconds it took."""
    from ..decode import open_frames
    from ..options import DecodeOptions
    from ..probe import probe
    from . import ShotDetector

    start = time.perf_counter()
    media = probe(path)
    if media.video_stream is None:
        raise ValueError(f"{path}: no video stream")
    stream = media.streams[media.video_stream]
    detector = ShotDetector(options, fps=stream.fps or 25.0, device=device)
    for frame in open_frames(path, media, DecodeOptions(), glances=detector.reads_glances):
        if frame.glance is not None:
            detector.add_glance(frame.t, frame.glance)
        if frame.image is not None:
            detector.add(frame.t, frame.image)
    detector.finish(media.duration_s or 0.0)
    return list(detector.detector.transitions), time.perf_counter() - start


def detect_pyscenedetect(path: str | Path) -> tuple[list["Transition"], float]:
    """PySceneDetect's own ``detect(path, ContentDetector())``, every default: its scene starts
    after the first as cuts, and the seconds it took (opening and decoding included)."""
    from scenedetect import ContentDetector
    from scenedetect import detect as scenedetect_detect

    from .base import Transition

    start = time.perf_counter()
    scenes = scenedetect_detect(str(path), ContentDetector())
    took = time.perf_counter() - start
    return [Transition(s.seconds, "cut", 1.0, s.seconds, s.seconds) for s, _ in scenes[1:]], took


#: External baselines by name: a function of a path to its transitions and seconds.
BASELINES = {"pyscenedetect": detect_pyscenedetect}


def match(reference: dict, found: list[float], tolerance: float) -> tuple[list[int | None], list[int]]:
    """For each true transition, the index of the found boundary matched to it (or None), and
    the indices of the found boundaries that match none."""
    taken: set[int] = set()
    pairs: list[int | None] = []
    for tr in reference["transitions"]:
        lo, hi, centre = tr["start"] - tolerance, tr["end"] + tolerance, (tr["start"] + tr["end"]) / 2
        options = [i for i, t in enumerate(found) if lo <= t <= hi and i not in taken]
        best = min(options, key=lambda i: abs(found[i] - centre)) if options else None
        if best is not None:
            taken.add(best)
        pairs.append(best)
    return pairs, [i for i in range(len(found)) if i not in taken]


def _blame(reference: dict, t: float) -> str:
    """The kind of the true transition nearest ``t`` within 2 s, else "none"."""
    near = [(min(abs(t - tr["start"]), abs(t - tr["end"])), tr["kind"]) for tr in reference["transitions"]]
    near = [x for x in near if x[0] <= 2.0]
    return min(near)[1] if near else "none"


def _prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return {"true": tp + fn, "found": tp, "false": fp, "precision": round(p, 3), "recall": round(r, 3),
            "f1": round(2 * p * r / (p + r), 3) if p + r else 0.0}


def score(references: list[dict], found: list[list[float]]) -> dict:
    """Per tolerance and kind of transition: precision, recall, F1; and false cuts in quiet
    footage per kind, with the rate per 5 minutes."""
    report: dict = {}
    for name in TOLERANCES:
        counts: dict[str, list[int]] = {}  # kind -> [tp, fp, fn]
        for ref, times in zip(references, found):
            tolerance = 0.5 if name == "0.5s" else 1.0 / float(ref.get("fps") or 25.0) + 1e-3
            pairs, false = match(ref, times, tolerance)
            for tr, hit in zip(ref["transitions"], pairs):
                c = counts.setdefault(tr["kind"], [0, 0, 0])
                c[0 if hit is not None else 2] += 1
            for i in false:
                counts.setdefault(_blame(ref, times[i]), [0, 0, 0])[1] += 1
        total = [sum(c[k] for c in counts.values()) for k in range(3)]
        gradual = [sum(c[k] for kind, c in counts.items() if kind not in ("cut", "none")) for k in range(3)]
        report[name] = {"all": _prf(*total), "gradual": _prf(*gradual),
                        **{kind: _prf(*c) for kind, c in sorted(counts.items())}}
    quiet: dict[str, dict] = {}
    for ref, times in zip(references, found):
        _, false = match(ref, times, 0.5)
        for span in ref.get("quiet", []):
            q = quiet.setdefault(span["kind"], {"minutes": 0.0, "false": 0})
            q["minutes"] += (span["end"] - span["start"]) / 60
            q["false"] += sum(span["start"] <= times[i] <= span["end"] for i in false)
    for q in quiet.values():
        q["minutes"] = round(q["minutes"], 2)
        q["per_5_min"] = round(5 * q["false"] / q["minutes"], 2) if q["minutes"] else 0.0
    report["quiet"] = quiet
    return report


def by_footage(references: list[dict], found: list[list[float]]) -> dict:
    """Per kind of footage (a reference line's ``footage``: action, animation, static...), the
    ±0.5 s scores of all boundaries and of cuts, and the false boundaries found in its quiet
    spans with the minutes those spans last; lines without ``footage`` are left out."""
    kinds = sorted({ref["footage"] for ref in references if ref.get("footage")})
    report = {}
    for kind in kinds:
        pairs = [(ref, times) for ref, times in zip(references, found) if ref.get("footage") == kind]
        part = score([r for r, _ in pairs], [t for _, t in pairs])
        quiet_minutes = sum(q["minutes"] for q in part["quiet"].values())
        quiet_false = sum(q["false"] for q in part["quiet"].values())
        report[kind] = {"videos": len(pairs), "all": part["0.5s"]["all"],
                        **({"cut": part["0.5s"]["cut"]} if "cut" in part["0.5s"] else {}),
                        "quiet_minutes": round(quiet_minutes, 2), "quiet_false": quiet_false}
    return report


def evaluate_shots(paths: list[str | Path], reference: dict[str, dict], options: "ShotOptions",
                   device: str = "cpu", baseline: str | None = None) -> dict:
    """Detect boundaries in each of ``paths`` (each must be in ``reference`` by file name) and
    score them: ``{"videos": [per video], "summary": score(...)}`` plus timing. With
    ``baseline`` (a :data:`BASELINES` name), that detector runs instead of ``options.backend``."""
    if baseline is not None and baseline not in BASELINES:
        raise ValueError(f"unknown baseline {baseline!r}; known: {', '.join(BASELINES)}")
    videos, refs, found = [], [], []
    seconds = media_seconds = 0.0
    for path in paths:
        name = Path(path).name
        if name not in reference:
            raise ValueError(f"{path}: not in the reference file")
        ref = reference[name]
        transitions, took = BASELINES[baseline](path) if baseline else detect(path, options, device)
        times = [tr.t for tr in transitions]
        pairs, false = match(ref, times, 0.5)
        videos.append({"video": name, "seconds": round(took, 2), "found": [
            {"t": round(tr.t, 3), "kind": tr.kind, "score": tr.score} for tr in transitions],
            "missed": [tr for tr, hit in zip(ref["transitions"], pairs) if hit is None],
            "false": [round(times[i], 3) for i in false]})
        refs.append(ref)
        found.append(times)
        seconds += took
        media_seconds += float(ref.get("duration") or 0.0)
    summary = score(refs, found)
    summary["footage"] = by_footage(refs, found)
    summary["backend"] = baseline or options.backend
    summary["videos"] = len(videos)
    summary["media_seconds"] = round(media_seconds, 1)
    summary["seconds"] = round(seconds, 2)
    summary["x_real_time"] = round(media_seconds / seconds, 1) if seconds else None
    return {"videos": videos, "summary": summary}
