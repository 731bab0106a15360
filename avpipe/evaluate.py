"""Quality against references: ``avpipe eval asr`` (word and character error rates, spoken
language identification) and ``avpipe eval speakers`` (diarization error rate).

References come from a subtitle file (SRT, VTT, or plain text), from a subtitle stream inside
the video itself (the NASA clip carries its narration that way), or from a set: a JSON manifest
of recordings with their language and the text people wrote for them
(``tests/data/asr/manifest.json``; :func:`evaluate_asr_set`). Only cues that end within the
audio (plus 0.5 s) count: a cue running past the end of the recording was not fully spoken in it.

The evaluations over a list of inputs (:func:`evaluate_asr_files`, :func:`evaluate_speakers`, and
``avpipe eval sounds``' :func:`avpipe.sounds.evaluate.evaluate_sounds` through :func:`each_input`)
yield one row per input as it is scored, so that the command line prints it at once; an input
that cannot be scored is its :func:`error_row` and the others go on. Their pooled figures come
from the rows: :func:`asr_total`, :func:`pool_speakers`.

Text normalisation, applied to reference and hypothesis alike, so that the figures measure
recognition and not spelling: a leading speaker tag of capitals and a colon ("NAR:") is removed
from each cue; English then goes through Whisper's English normaliser (openai-whisper's
``EnglishTextNormalizer``: lower case, punctuation removed, numbers written as digits, "ten" =
"10", "twenty-one" = "21", "mr" = "mister", British spellings as American ones, hesitations
such as "uh" dropped, hyphens as spaces); every other language NFKC-normalised and case-folded,
with bracketed asides, punctuation and symbols removed (combining marks kept: they are Thai's
vowels and Hindi's vowel signs). Languages written without spaces between words
(:data:`CER_LANGUAGES`) are scored by character error rate over the text without spaces, the
others by word error rate, both by jiwer over the whole text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .probe import open_container

if TYPE_CHECKING:
    from .options import SpeakerOptions, SpeechOptions

#: Scored by character error rate: written without spaces (Chinese, Japanese, Thai, Lao, Khmer,
#: Burmese), or with spacing that varies between writers (Korean).
CER_LANGUAGES = frozenset({"ko", "ja", "zh", "yue", "th", "lo", "km", "my"})


def json_lines(path: str | Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) of each line of a JSON-lines reference or query set; blank lines
    and lines starting with ``#`` are skipped. A line that is not JSON is a ValueError."""
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            yield n, json.loads(line)


def normalise(text: str, language: str | None = "en") -> str:
    """``text`` as it is compared (see the module docstring)."""
    import unicodedata

    text = re.sub(r"(^|\n)\s*[A-Z][A-Z .'-]*:\s*", r"\1", text)  # speaker tags at cue starts
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\n", " ")
    if language in (None, "en"):
        from whisper.normalizers import EnglishTextNormalizer

        text = EnglishTextNormalizer()(text.replace("-", " "))
    else:
        # Whisper's basic normaliser also removes combining marks (Unicode category M): Thai
        # vowels and tones, Devanagari vowel signs. Here only punctuation and symbols go.
        text = re.sub(r"[<\[][^>\]]*[>\]]|\([^)]*\)", " ", unicodedata.normalize("NFKC", text).casefold())
        text = "".join(" " if unicodedata.category(ch)[0] in "PSZ" else ch for ch in text)
    return re.sub(r"\s+", " ", text).strip()


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


def wer(reference: str, hypothesis: str, language: str | None = "en") -> dict:
    """The error rate of ``hypothesis`` against ``reference`` (both through :func:`normalise`): word
    error rate, or for :data:`CER_LANGUAGES` the character error rate without spaces (also in
    ``wer``, with ``metric`` saying which), with its parts."""
    import jiwer

    ref, hyp = normalise(reference, language), normalise(hypothesis, language)
    if language in CER_LANGUAGES:
        ref_c, hyp_c = ref.replace(" ", ""), hyp.replace(" ", "")
        if not ref_c:
            rate = 0.0 if not hyp_c else 1.0
            return {"metric": "cer", "wer": rate, "substitutions": 0, "deletions": 0, "insertions": len(hyp_c),
                    "reference_words": 0, "reference": ref, "hypothesis": hyp}
        out = jiwer.process_characters(ref_c, hyp_c)
        return {"metric": "cer", "wer": round(out.cer, 4), "substitutions": out.substitutions,
                "deletions": out.deletions, "insertions": out.insertions, "reference_words": len(ref_c),
                "reference": ref, "hypothesis": hyp}
    if not ref:
        return {"metric": "wer", "wer": 0.0 if not hyp else 1.0, "substitutions": 0, "deletions": 0,
                "insertions": len(hyp.split()), "reference_words": 0, "reference": ref, "hypothesis": hyp}
    out = jiwer.process_words(ref, hyp)
    return {"metric": "wer", "wer": round(out.wer, 4), "substitutions": out.substitutions, "deletions": out.deletions,
            "insertions": out.insertions, "reference_words": len(ref.split()), "reference": ref, "hypothesis": hyp}


def error_row(name: str, exc: BaseException) -> dict:
    """The row of an input that could not be scored: its name and the error's type and message."""
    return {"input": name, "error": {"type": type(exc).__name__, "message": str(exc)}}


def each_input(inputs: Iterable[str], reference: Mapping[str, Any], score: Callable[[Path, Any], dict]) -> Iterator[dict]:
    """``{"input": raw, **score(path, reference[file name])}`` for each input in order, as it is
    scored; an input the reference does not name, or whose scoring raises, is its
    :func:`error_row` instead (one bad input does not stop the others)."""
    for raw in inputs:
        try:
            name = Path(raw).name
            if name not in reference:
                raise ValueError(f"{raw}: not in the reference file")
            row = score(Path(raw), reference[name])
        except Exception as exc:  # noqa: BLE001 - one bad input is one error row
            yield error_row(raw, exc)
            continue
        yield {"input": raw, **row}


def evaluate_asr_files(inputs: list[str], refs: list[str] | None, options: "SpeechOptions",
                       device: str = "cpu") -> Iterator[dict]:
    """Each input transcribed as the speech stage does and scored (:func:`wer`) against its
    reference: ``refs[i]``, else what :func:`find_reference` finds. A row per input as it is done:
    where the reference came from, the language, the transcriber's facts and the scores; or its
    :func:`error_row` where the input cannot be read, has no reference or cannot be transcribed."""
    from .decode import load_audio
    from .probe import probe
    from .speech import transcribe

    for i, raw in enumerate(inputs):
        path = Path(raw)
        try:
            media = probe(path)
            audio = load_audio(path, media)
            cues, source = find_reference(path, Path(refs[i]) if refs else None)
            if not cues:
                raise FileNotFoundError(f"{path}: no reference (no --ref, sidecar or subtitle stream)")
            transcript, meta = transcribe(audio.samples, options, device)
            meta.pop("regions", None)
        except Exception as exc:  # noqa: BLE001 - one bad input is one error row
            yield error_row(raw, exc)
            continue
        hypothesis = " ".join(s.text for s in transcript.segments)
        score = wer(reference_text(cues, audio.duration_s), hypothesis, options.language or transcript.language)
        yield {"input": raw, "reference_from": source, "language": transcript.language, **meta, **score}


def pool_errors(rows: Iterable[dict]) -> tuple[int, int]:
    """Errors (substitutions, deletions and insertions) and reference units (words, or characters
    for :data:`CER_LANGUAGES`), summed over the scored rows (error rows left out)."""
    errors = units = 0
    for row in rows:
        if "error" not in row:
            errors += row["substitutions"] + row["deletions"] + row["insertions"]
            units += row["reference_words"]
    return errors, units


def asr_total(rows: Iterable[dict]) -> dict | None:
    """The pooled error rate of :func:`evaluate_asr_files`' rows (errors over reference words) and
    the words it is over; None where no row had a reference word."""
    errors, words = pool_errors(rows)
    return {"wer": errors / words, "reference_words": words} if words else None


def read_asr_set(path: str | Path, split: str = "all") -> list[dict]:
    """The items of an ASR set manifest (a JSON list of ``{file, language, text, split, ...}``,
    files relative to the manifest), with ``path`` resolved; only those of ``split`` ("dev",
    "test"; "all": every item). A malformed manifest is a ValueError."""
    path = Path(path)
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
        for item in items:
            item["path"] = path.parent / item["file"]
            if not isinstance(item["language"], str) or not isinstance(item["text"], str):
                raise TypeError("language and text must be strings")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not an ASR set manifest ({exc})") from exc
    return [item for item in items if split == "all" or item.get("split") == split]


def score_asr_item(item: dict, transcript) -> dict:
    """One set item's scores: the error rate in its language, whether the dominant language was
    identified, and, for an item in ``parts`` (a recording that switches language), each part's
    error rate over the segments inside it, the share of speech seconds whose language is right
    and how far the found switch is from the true one."""
    hypothesis = " ".join(s.text for s in transcript.segments)
    row = {"file": item["file"], "language": item["language"], "split": item.get("split"),
           "found_language": transcript.language, "languages": transcript.languages,
           "language_ok": transcript.language == item["language"],
           "untranscribed_s": round(sum(u.end - u.start for u in transcript.untranscribed), 2),
           **{k: v for k, v in wer(item["text"], hypothesis, item["language"]).items()}}
    parts = item.get("parts")
    if parts:
        right = total = 0.0
        row["parts"] = []
        for part in parts:
            inside = [s for s in transcript.segments if part["start"] <= (s.start + s.end) / 2 < part["end"]]
            right += sum(s.end - s.start for s in inside if s.language == part["language"])
            total += sum(s.end - s.start for s in inside)
            score = wer(part["text"], " ".join(s.text for s in inside), part["language"])
            row["parts"].append({"language": part["language"], "metric": score["metric"], "wer": score["wer"]})
        row["language_seconds_ok"] = round(right / total, 3) if total else 0.0
        later = [s.start for s in transcript.segments if len(parts) > 1 and s.language == parts[1]["language"]]
        row["switch_error_s"] = round(abs(min(later) - item["switch_s"]), 2) if later and "switch_s" in item else None
    return row


def evaluate_asr_set(items: list[dict], options: "SpeechOptions", device: str = "cpu") -> list[dict]:
    """Each item of an ASR set transcribed as the speech stage does, and scored (:func:`score_asr_item`)."""
    import time

    from .decode import load_audio
    from .probe import probe
    from .speech import transcribe

    rows = []
    for item in items:
        audio = load_audio(item["path"], probe(item["path"]))
        t0 = time.perf_counter()
        transcript, meta = transcribe(audio.samples, options, device)
        rows.append({**score_asr_item(item, transcript), "model": meta["model"],
                     "seconds": round(time.perf_counter() - t0, 2), "duration_s": round(audio.duration_s or 0.0, 2)})
    return rows


def asr_table(rows: list[dict]) -> list[dict]:
    """Per language: items, the pooled error rate (errors over reference words or characters),
    its metric, and the language-identification accuracy."""
    out = []
    for language in sorted({r["language"] for r in rows if not r.get("parts")}):  # a switching item: its parts
        mine = [r for r in rows if r["language"] == language and not r.get("parts")]
        errors, units = pool_errors(mine)
        out.append({"language": language, "items": len(mine), "metric": mine[0]["metric"],
                    "error_rate": round(errors / units, 4) if units else None,
                    "language_id": round(sum(r["language_ok"] for r in mine) / len(mine), 3)})
    return out


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
    """Transcribe and diarize ``path`` as the pipeline does, and score its speaker timeline
    (``transcript.speaker_turns``: all the speech heard, not only the words) with :func:`der`."""
    from .decode import load_audio
    from .device import resolve_device
    from .probe import probe
    from .speech import transcribe
    from .speech.speakers import diarize

    audio = load_audio(path, probe(path))
    transcript, _ = transcribe(audio.samples, speech, resolve_device(device, speech.backend))
    found = diarize(audio.samples, transcript.segments, speakers, resolve_device(device, "torch"))
    turns = found.turns  # the timeline over all speech heard, as a diarization system's RTTM
    return {**der(reference, turns), "speakers": len({who for *_, who in reference}), "speakers_found": found.count,
            "turns": [{"start": a, "end": b, "speaker": c} for a, b, c in turns]}


def evaluate_speakers(inputs: Iterable[str], reference: Mapping[str, list[tuple[float, float, str]]],
                      speech: "SpeechOptions", speakers: "SpeakerOptions", device: str) -> Iterator[dict]:
    """:func:`score_speakers` for each input (by file name in ``reference``, see :func:`read_turns`),
    a row each as it is done (:func:`each_input`)."""
    return each_input(inputs, reference, lambda path, turns: score_speakers(path, turns, speech, speakers, device))


@dataclass(frozen=True)
class DiarizationTotals:
    """Seconds of missed speech, false alarm, speaker confusion and scored speech, summed over
    the inputs; their pooled diarization error rate is :attr:`der`."""

    missed: float
    false_alarm: float
    confusion: float
    scored_speech: float

    @property
    def der(self) -> float:
        return (self.missed + self.false_alarm + self.confusion) / self.scored_speech

    def as_dict(self) -> dict:
        """The pooled rate (4 decimals) and the totals (2 decimals)."""
        return {"der": round(self.der, 4), "missed": round(self.missed, 2), "false_alarm": round(self.false_alarm, 2),
                "confusion": round(self.confusion, 2), "scored_speech": round(self.scored_speech, 2)}


def pool_speakers(rows: Iterable[dict]) -> DiarizationTotals | None:
    """The totals of :func:`evaluate_speakers`' scored rows; None where no speech was scored."""
    totals = {"missed": 0.0, "false_alarm": 0.0, "confusion": 0.0, "scored_speech": 0.0}
    for row in rows:
        if "error" not in row:
            for key in totals:
                totals[key] += row[key]
    return DiarizationTotals(**totals) if totals["scored_speech"] else None
