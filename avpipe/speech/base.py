"""The ASR backend protocol, the segment type backends return, and the backend registry."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ..cache import once
from ..errors import PipelineConfigError

if TYPE_CHECKING:
    import numpy as np

    from ..options import SpeechOptions


@dataclass
class RawWord:
    start: float
    end: float
    word: str  # with its leading space, as Whisper's tokens carry it
    prob: float


@dataclass
class RawSegment:
    """A backend's segment, times in seconds of the audio it was given."""

    start: float
    end: float
    text: str
    words: list[RawWord] = field(default_factory=list)
    avg_logprob: float | None = None
    no_speech_prob: float | None = None


#: A new segment starts after sentence-ending punctuation, or a pause longer than this,
SEGMENT_PAUSE_S = 1.0
#: or longer than this after any punctuation mark (``split_long``),
MARK_PAUSE_S = 0.5
#: or after this many words (``group_words``).
SEGMENT_MAX_WORDS = 40
#: A segment cut for length keeps at least this many words on each side, where it can.
MIN_RUN_WORDS = 3


def _ends_sentence(word: RawWord) -> bool:
    return bool(re.search(r"[.!?]$", word.word.strip()))


def _marked(word: RawWord) -> bool:
    """The word ends with a punctuation mark: a sentence end, comma, colon or semicolon."""
    return bool(re.search(r"[.!?,;:]$", word.word.strip()))


def group_words(words: list[RawWord], like: RawSegment | None = None) -> list[RawSegment]:
    """Sentence-like segments from a word list, for backends that return words in long runs
    (the transformers pipeline; faster-whisper's batched mode, one segment per 30 s window).
    Each new segment keeps ``like``'s probabilities, when given."""
    segments: list[RawSegment] = []
    current: list[RawWord] = []

    def close() -> None:
        if current:
            segments.append(RawSegment(current[0].start, current[-1].end, "".join(w.word for w in current),
                                       list(current), like.avg_logprob if like else None,
                                       like.no_speech_prob if like else None))
            current.clear()

    for w in words:
        if current and (w.start - current[-1].end > SEGMENT_PAUSE_S or len(current) >= SEGMENT_MAX_WORDS):
            close()
        current.append(w)
        if _ends_sentence(w):
            close()
    close()
    return segments


def split_long(words: list[RawWord], max_s: float) -> list[list[RawWord]]:
    """``words`` cut at every pause over ``SEGMENT_PAUSE_S`` (``MARK_PAUSE_S`` after a
    punctuation mark), then into runs of at most ``max_s`` seconds where it can be done, each
    cut at the best word boundary: after a sentence end, else after a comma, at the longest
    pause, near the middle, leaving no fragment of fewer than ``MIN_RUN_WORDS`` words.
    Whisper's segments run up to 30 s, and beam search makes them longer; a subtitle should
    not, and a segment is also the unit the emotion, fusion and search stages label and find."""
    pauses = [i for i in range(1, len(words))
              if words[i].start - words[i - 1].end > (MARK_PAUSE_S if _marked(words[i - 1]) else SEGMENT_PAUSE_S)]
    if pauses:
        bounds = [0, *pauses, len(words)]
        return [run for a, b in zip(bounds, bounds[1:]) for run in split_long(words[a:b], max_s)]
    if len(words) < 2 or words[-1].end - words[0].start <= max_s:
        return [words]
    first, span = words[0].start, words[-1].end - words[0].start

    def score(i: int) -> float:  # a cut between words[i - 1] and words[i]
        mark = 2.0 if _ends_sentence(words[i - 1]) else 1.0 if _marked(words[i - 1]) else 0.0
        pause = min(1.0, max(0.0, words[i].start - words[i - 1].end))
        orphan = 2.0 if min(i, len(words) - i) < MIN_RUN_WORDS else 0.0  # no one-word subtitle
        return mark + 2.0 * pause - abs((words[i].start - first) / span - 0.5) - orphan

    cut = max(range(1, len(words)), key=score)
    return split_long(words[:cut], max_s) + split_long(words[cut:], max_s)


class ASRBackend(Protocol):
    """Transcribes 16 kHz mono float32 audio; loaded once, called many times."""

    name: str
    model_name: str
    english_only: bool

    def transcribe(self, audio: "np.ndarray", language: str | None,
                   task: str = "transcribe") -> tuple[list[RawSegment], str | None]:
        """Segments with word timestamps, and the language used (detected when None given);
        ``task = "translate"``: Whisper's English translation of the speech instead."""
        ...


class BatchASRBackend(ASRBackend, Protocol):
    """A backend that decodes many short pieces together (GPU batching). When its ``piece_s``
    is set it is handed speech regions joined into pieces of at most that many seconds, instead
    of long concatenations; a longer single region is cut to that length unless
    ``long_pieces_ok`` (the backend chunks long audio itself)."""

    piece_s: float | None
    long_pieces_ok: bool

    def transcribe_many(self, pieces: list["np.ndarray"], language: str | None,
                        task: str = "transcribe") -> tuple[list[list[RawSegment]], str | None]:
        """One segment list per piece, and the language used."""
        ...


_BACKENDS = {
    "faster-whisper": "avpipe.speech.faster:FasterWhisperBackend",
    "openai-whisper": "avpipe.speech.openai:OpenAIWhisperBackend",
    "transformers": "avpipe.speech.hf:TransformersWhisperBackend",
}

@once
def load_backend(options: "SpeechOptions", device: str) -> ASRBackend:
    """The backend for ``options`` on ``device``, loaded once per process and reused. With
    ``model = "auto"`` and no language to choose by, the English model (for callers that
    transcribe English; :func:`avpipe.speech.transcribe.model_for` chooses per language)."""
    if options.model == "auto":
        from dataclasses import replace

        return load_backend(replace(options, model=options.english_model or options.multilingual_model), device)
    if options.backend not in _BACKENDS:
        raise PipelineConfigError(f"unknown speech backend {options.backend!r}; known: {', '.join(_BACKENDS)}")
    module, cls = _BACKENDS[options.backend].split(":")
    return getattr(importlib.import_module(module), cls)(options, device)
