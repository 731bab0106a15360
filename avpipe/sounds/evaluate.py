"""``avpipe eval sounds``: the audio stage's sound classes against labelled spans, window by window.

Reference: JSON lines ``{"video": "a.mp4", "labels": [{"label": "music", "start": 0.0, "end":
8.0}, ...], "maybe": ["music"]}`` (``maybe``: classes the file may hold where nobody checked;
they are not scored for that file); the classes scored are ``speech``, ``music``, ``singing`` and ``tone`` (and any
other label the reference uses). Spans of different classes may overlap (music under a
narration). A window is of a class in the reference when a span of it covers at least half the
window; it is of a class in the output when the pipeline would put it in that class's event or
speech region: speech where the voice-activity detector found speech, a tagger class where its
score passes ``tagger_min_score`` and the window is not a held tone, a tone where the tone score
passes ``tone_min_score``; with ``--tagger none``, music where the loudness classes say
music-like (a tonal window outside speech), the previous release's only music. Precision,
recall and F1 per class are over windows: :func:`score_sounds` counts one file's,
:func:`evaluate_sounds` scores each input in turn and :func:`sounds_summary` pools the counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..evaluate import each_input
from ..vision.evaluate import prf

if TYPE_CHECKING:
    from ..options import AudioFeatureOptions, SpeechOptions

SCORED = ("speech", "music", "singing", "tone")


def read_labels(path: str | Path) -> dict[str, tuple[list[tuple[float, float, str]], set[str]]]:
    """Video file name -> (its labelled spans, its unchecked classes); a malformed file is a
    ValueError naming it."""
    out = {}
    try:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                spans = [(float(x["start"]), float(x["end"]), str(x["label"])) for x in item["labels"]]
                out[Path(item["video"]).name] = (spans, set(item.get("maybe", ())))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a sound reference ({exc})") from exc
    return out


def window_labels(samples, speech: list[tuple[float, float]], audio: "AudioFeatureOptions",
                  device: str = "cpu") -> list[set[str]]:
    """The classes the audio stage gives each window of ``samples`` (see the module docstring)."""
    import numpy as np

    from ..decode.audio import SAMPLE_RATE
    from .tagger import MUSIC_FLATNESS, flatness, load_tagger, tone_scores, window_count

    w = audio.window_s
    n = window_count(len(samples), w)
    tagger = load_tagger(audio.tagger, audio.tagger_model, audio.tagger_chunk_s, device)
    sounds = tagger(samples, w, n) if tagger is not None else None
    tone = tone_scores(samples, w, n)
    out: list[set[str]] = []
    for i in range(n):
        a, b = i * w, (i + 1) * w
        found = {"speech"} if any(min(b, y) - max(a, x) >= w / 2 for x, y in speech) else set()
        if tone[i] >= audio.tone_min_score:
            found.add("tone")
        elif sounds is not None:
            found |= {c.lower() for j, c in enumerate(sounds.classes)
                      if c.lower() != "speech" and sounds.scores[i, j] >= audio.tagger_min_score}
        elif "speech" not in found:  # no tagger: the loudness classes' music-like windows
            chunk = samples[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)]
            if float(np.sqrt(np.mean(chunk.astype(np.float64) ** 2))) > 1e-3 and flatness(chunk) < MUSIC_FLATNESS:
                found.add("music")
        out.append(found)
    return out


def truth_labels(spans: list[tuple[float, float, str]], windows: int, window_s: float) -> list[set[str]]:
    """Per window, the reference classes whose spans cover at least half of it."""
    out = []
    for i in range(windows):
        a, b = i * window_s, (i + 1) * window_s
        out.append({label for x, y, label in spans if min(b, y) - max(a, x) >= window_s / 2})
    return out


def score_sounds(path: Path, spans: list[tuple[float, float, str]], maybe: set[str], audio: "AudioFeatureOptions",
                 speech: "SpeechOptions", device: str = "cpu") -> dict:
    """Per-class window counts (tp, fp, fn) of one file, and its windows' labels both ways."""
    from ..decode import load_audio
    from ..probe import probe
    from ..speech.vad import speech_regions

    track = load_audio(path, probe(path))
    regions = speech_regions(track.samples, speech.vad_threshold, speech.vad_min_silence_s, speech.vad_pad_s)
    found = window_labels(track.samples, regions, audio, device)
    truth = truth_labels(spans, len(found), audio.window_s)
    classes = sorted((set(SCORED) | {label for _, _, label in spans}) - maybe)
    counts = {c: {"tp": sum(c in f and c in t for f, t in zip(found, truth)),
                  "fp": sum(c in f and c not in t for f, t in zip(found, truth)),
                  "fn": sum(c not in f and c in t for f, t in zip(found, truth))} for c in classes}
    return {"windows": len(found), "counts": counts,
            "found": [sorted(f) for f in found], "truth": [sorted(t) for t in truth]}


def evaluate_sounds(inputs: Iterable[str], reference: Mapping[str, tuple[list[tuple[float, float, str]], set[str]]],
                    audio: "AudioFeatureOptions", speech: "SpeechOptions", device: str = "cpu") -> Iterator[dict]:
    """:func:`score_sounds` for each input (by file name in ``reference``, see :func:`read_labels`),
    a row each as it is done (:func:`avpipe.evaluate.each_input`)."""
    return each_input(inputs, reference, lambda path, ref: score_sounds(path, *ref, audio, speech, device))


def sounds_summary(rows: Iterable[dict]) -> dict[str, dict]:
    """Per class, in name order: the window counts of the scored rows summed, with precision,
    recall and F1 (:func:`avpipe.vision.evaluate.prf`)."""
    totals: dict[str, dict[str, int]] = {}
    for row in rows:
        for label, counts in row.get("counts", {}).items():
            for k, n in counts.items():
                totals.setdefault(label, {"tp": 0, "fp": 0, "fn": 0})[k] += n
    return {label: {**c, **prf(**c)} for label, c in sorted(totals.items())}
