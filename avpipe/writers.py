"""Output formats of a result: ``result.json``, subtitles, the HTML report, by ``--formats`` name.

Every file is written atomically (:mod:`avpipe.atomic`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .atomic import atomic_write_text

if TYPE_CHECKING:
    from .schema import Result


def write_json(result: "Result", folder: Path) -> Path:
    """``result.json``: the whole result, indented for people, in UTF-8."""
    path = folder / "result.json"
    atomic_write_text(path, result.model_dump_json(indent=2) + "\n")
    return path


def _cues(result: "Result", fmt: str, english: bool = False) -> str:
    """The transcript as subtitles through pysubs2: one cue per segment, with who says it before
    its text when speakers are known (``SPEAKER_1: ``, or the name the people index gave the
    speaker's person); ``english``: each segment's English translation where it has one. An
    empty file, valid for its format, when nothing was said."""
    import pysubs2

    subs = pysubs2.SSAFile()
    for seg in result.transcript.segments:
        said = (seg.text_en or seg.text) if english else seg.text
        who = result.speaker_name(seg)
        text = f"{who}: {said}" if who else said
        subs.append(pysubs2.SSAEvent(start=round(seg.start * 1000), end=round(seg.end * 1000), text=text))
    return subs.to_string(fmt)


def _subtitles(result: "Result", folder: Path, fmt: str) -> Path:
    """``transcript.<fmt>``: what was said, as it was said. Also, where the language is known,
    the same as ``transcript.<language>.<fmt>`` (players pick a track by that name), and with
    translations (``[speech] translate = "en"``) the English track ``transcript.en.<fmt>``,
    which that name then means."""
    path = folder / f"transcript.{fmt}"
    spoken = _cues(result, fmt)
    atomic_write_text(path, spoken)
    translated = any(s.text_en for s in result.transcript.segments)
    language = result.transcript.language
    if language and not (translated and language == "en"):
        atomic_write_text(folder / f"transcript.{language}.{fmt}", spoken)
    if translated:
        atomic_write_text(folder / f"transcript.en.{fmt}", _cues(result, fmt, english=True))
    return path


def write_srt(result: "Result", folder: Path) -> Path:
    """``transcript.srt`` (and per language, :func:`_subtitles`): SubRip, ``HH:MM:SS,mmm`` times."""
    return _subtitles(result, folder, "srt")


def write_vtt(result: "Result", folder: Path) -> Path:
    """``transcript.vtt``: WebVTT, with its ``WEBVTT`` header."""
    return _subtitles(result, folder, "vtt")


def write_html(result: "Result", folder: Path) -> Path:
    """``report.html``: the page a person looks at (:mod:`avpipe.report`)."""
    from .report import write_report

    return write_report(result, folder)


#: Output formats by the name ``--formats`` uses.
WRITERS: dict[str, Callable[["Result", Path], Path]] = {"json": write_json, "srt": write_srt, "vtt": write_vtt,
                                                       "html": write_html}


def dumps_line(record: dict) -> str:
    """One JSON line (no spaces wasted, non-ASCII kept readable)."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))
