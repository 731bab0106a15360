"""``avpipe eval asr``: word error rate of the speech stage against reference subtitles.

References come from a subtitle file (SRT, VTT, or plain text), or from a subtitle stream inside
the video itself (the NASA clip carries its narration that way). Only cues that end within the
audio (plus 0.5 s) count: a cue running past the end of the recording was not fully spoken in it.

Text normalisation, applied to reference and hypothesis alike: lower case; a leading speaker
tag of capitals and a colon ("NAR:") removed from each cue; curly apostrophes become straight
ones; hyphens become spaces; every
character that is not a letter, digit, apostrophe or space removed; runs of spaces folded.
Nothing else: "Webb" vs "web" and "cleanrooms" vs "clean rooms" count as errors, as in
``../shared/media/PROVENANCE.md``. WER is computed by jiwer over the whole text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from .probe import open_container

if TYPE_CHECKING:
    from .options import SpeakerOptions, SpeechOptions


def normalise(text: str) -> str:
    text = re.sub(r"(^|\n)\s*[A-Z][A-Z .'-]*:\s*", r"\1", text)  # speaker tags at cue starts
    text = text.lower().replace("-", " ").replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"[^\w' ]+", " ", text.replace("\n", " "))
    return re.sub(r"\s+", " ", text.replace("_", " ")).strip()


def cues_from_file(path: Path) -> list[tuple[float, float, str]]:
    """(start, end, text) of each cue; a .txt file is one cue with no times."""
    if path.suffix.lower() == ".txt":
        return [(0.0, 0.0, path.read_text(encoding="utf-8"))]
    import pysubs2

    subs = pysubs2.load(str(path), encoding="utf-8")
    return [(e.start / 1000, e.end / 1000, e.plaintext) for e in subs if e.plaintext.strip()]


def cues_from_stream(video: Path) -> list[tuple[float, float, str]]:
    """Cues of the first text subtitle stream inside ``video`` (mov_text, subrip, webvtt, ass)."""
    with open_container(video) as container:
        streams = [s for s in container.streams if s.type == "subtitle"]
        if not streams:
            return []
        stream = streams[0]
        out = []
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            start = float(packet.pts * stream.time_base)
            end = start + float((packet.duration or 0) * stream.time_base)
            for item in packet.decode():
                # PyAV >= 14 yields subtitle objects; older versions a set of rects.
                for rect in (item if hasattr(item, "__iter__") else [item]):
                    text = getattr(rect, "dialogue", None) or getattr(rect, "text", None) or b""
                    if isinstance(text, bytes):
                        text = text.decode("utf-8", "replace")
                    text = text.replace("\\N", "\n")
                    if text.strip():
                        out.append((start, end, text))
        return out


def reference_text(cues: list[tuple[float, float, str]], audio_s: float | None) -> str:
    """The reference: cues in order, keeping those that end within the audio (plus 0.5 s)."""
    kept = [text for start, end, text in sorted(cues) if audio_s is None or end <= audio_s + 0.5 or end == 0.0]
    return "\n".join(kept)


def find_reference(video: Path, ref: Path | None = None) -> tuple[list[tuple[float, float, str]], str]:
    """Cues and where they came from: ``ref``, a sidecar ``<stem>.srt|.vtt|.txt``, or the
    video's own subtitle stream."""
    if ref is not None:
        return cues_from_file(ref), str(ref)
    for ext in (".srt", ".vtt", ".txt"):
        sidecar = video.with_suffix(ext)
        if sidecar.exists():
            return cues_from_file(sidecar), str(sidecar)
    cues = cues_from_stream(video)
    return cues, "subtitle stream" if cues else "none"


def wer(reference: str, hypothesis: str) -> dict:
    """Word error rate with its parts, after :func:`normalise` on both texts."""
    import jiwer

    ref, hyp = normalise(reference), normalise(hypothesis)
    out = jiwer.process_words(ref, hyp)
    return {"wer": round(out.wer, 4), "substitutions": out.substitutions, "deletions": out.deletions,
            "insertions": out.insertions, "reference_words": len(ref.split()), "reference": ref, "hypothesis": hyp}


def der(reference: list[tuple[float, float, str]], hypothesis: list[tuple[float, float, str]],
        collar: float = 0.25, step: float = 0.01) -> dict:
    """Diarization error rate of ``hypothesis`` turns against ``reference`` turns (start, end,
    speaker), on a ``step`` grid, not scoring ``collar`` seconds either side of each reference
    boundary (the usual 0.25 s). Speaker names are matched one to one to maximise their overlap
    (Hungarian). DER = (missed speech + false alarm + speaker confusion) / reference speech."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    end = max([e for _, e, _ in reference + hypothesis] + [0.0])
    n = int(np.ceil(end / step)) + 1
    ref_names = sorted({s for *_, s in reference})
    hyp_names = sorted({s for *_, s in hypothesis})
    ref = np.zeros((len(ref_names), n), bool)
    hyp = np.zeros((len(hyp_names), n), bool)
    for (a, b, s) in reference:
        ref[ref_names.index(s), int(round(a / step)):int(round(b / step))] = True
    for (a, b, s) in hypothesis:
        hyp[hyp_names.index(s), int(round(a / step)):int(round(b / step))] = True
    scored = np.ones(n, bool)
    for (a, b, _) in reference:
        for t in (a, b):
            scored[max(0, int(round((t - collar) / step))):int(round((t + collar) / step))] = False
    ref, hyp = ref[:, scored], hyp[:, scored]
    overlap = ref.astype(np.int64) @ hyp.T.astype(np.int64)
    rows, cols = linear_sum_assignment(-overlap) if overlap.size else ([], [])
    correct = int(overlap[rows, cols].sum()) if len(rows) else 0
    ref_count, hyp_count = ref.sum(axis=0), hyp.sum(axis=0)
    total = int(ref_count.sum())
    missed = int(np.maximum(ref_count - hyp_count, 0).sum())
    false_alarm = int(np.maximum(hyp_count - ref_count, 0).sum())
    confusion = int(np.minimum(ref_count, hyp_count).sum()) - correct
    rate = (missed + false_alarm + confusion) / total if total else 0.0
    return {"der": round(rate, 4), "missed": round(missed * step, 2), "false_alarm": round(false_alarm * step, 2),
            "confusion": round(confusion * step, 2), "scored_speech": round(total * step, 2),
            "reference_speakers": len(ref_names), "found_speakers": len(hyp_names)}


def read_turns(path: str | Path) -> dict[str, list[tuple[float, float, str]]]:
    """A speaker reference (JSON lines ``{video, turns: [{start, end, speaker}]}``) by video
    file name; a malformed file is a ValueError naming it."""
    import json

    reference = {}
    try:
        for line in Path(path).read_text().splitlines():
            if line.strip():
                item = json.loads(line)
                reference[Path(item["video"]).name] = [(t["start"], t["end"], t["speaker"]) for t in item["turns"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a speaker reference ({exc})") from exc
    return reference


def score_speakers(path: Path, reference: list[tuple[float, float, str]], speech: "SpeechOptions",
                   speakers: "SpeakerOptions", device: str) -> dict:
    """Transcribe and diarize ``path`` as the pipeline does, and score its turns with :func:`der`."""
    from .decode import load_audio
    from .device import resolve_device
    from .probe import probe
    from .speech import transcribe
    from .speech.speakers import diarize

    audio = load_audio(path, probe(path))
    transcript, _ = transcribe(audio.samples, speech, resolve_device(device, speech.backend))
    segments, _ = diarize(audio.samples, transcript.segments, speakers, resolve_device(device, "torch"))
    turns = [(s.start, s.end, s.speaker) for s in segments if s.speaker]
    return {**der(reference, turns), "turns": [{"start": a, "end": b, "speaker": c} for a, b, c in turns]}
