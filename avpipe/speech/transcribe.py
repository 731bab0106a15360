"""One function from audio to a guarded transcript, whatever the backend."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..schema import Segment, Transcript, Word
from .base import RawSegment, load_backend, split_long
from .guards import collapse_repeats, compression_ratio, inside, looks_silent
from ..decode.audio import SAMPLE_RATE
from .vad import pieces, speech_regions

if TYPE_CHECKING:
    import numpy as np

    from ..options import SpeechOptions


def _clean(segment: RawSegment, regions: list[tuple[float, float]], end_s: float, o: "SpeechOptions") -> list[Segment]:
    """Apply the guards to one segment (times already in media seconds), then cut it into
    segments of at most ``o.max_segment_s``; an empty list drops it."""
    if looks_silent(segment, o.no_speech_threshold, o.log_prob_threshold):
        return []
    if compression_ratio(segment.text) > o.compression_ratio_threshold:
        return []
    words = inside(segment.words, regions, end_s) if segment.words else []
    words = collapse_repeats(words, o.max_repeats)
    if segment.words and not words:
        return []
    if not words:
        text = segment.text.strip()
        return [Segment(start=round(segment.start, 3), end=round(segment.end, 3), text=text)] if text else []
    out = []
    for part in split_long(words, o.max_segment_s):
        text = "".join(w.word for w in part).strip()
        if text:
            out.append(Segment(start=round(part[0].start, 3), end=round(part[-1].end, 3), text=text,
                               words=[Word(start=round(w.start, 3), end=round(w.end, 3), word=w.word.strip(),
                                           prob=round(float(w.prob), 4)) for w in part]))
    return out


def transcribe(audio: "np.ndarray", options: "SpeechOptions", device: str = "cpu") -> tuple[Transcript, dict]:
    """Transcript of 16 kHz mono ``audio`` and facts about the run (backend, model, speech seconds).

    With VAD on, only speech is decoded: silence, tones and music give an empty transcript
    without the model ever running. With ``drop_outside_speech``, words the model places where
    the VAD heard no speech are dropped, whichever audio the model was given.
    """
    end_s = len(audio) / SAMPLE_RATE
    whole = [(0.0, end_s)] if end_s > 0 else []
    speech = whole
    if options.vad or options.drop_outside_speech:
        speech = speech_regions(audio, options.vad_threshold, options.vad_min_silence_s, options.vad_pad_s,
                                options.vad_merge_gap_s)
    fed = speech if options.vad else whole  # what the model sees
    allowed = speech if options.drop_outside_speech else whole  # where words may stand
    meta = {"backend": options.backend, "model": options.model, "speech_s": round(sum(b - a for a, b in speech), 3),
            "regions": speech}
    if not fed or not allowed:
        return Transcript(language=None, segments=[]), meta
    backend = load_backend(options, device)
    language = "en" if backend.english_only else options.language
    segments: list[Segment] = []
    if getattr(backend, "piece_s", None):
        # Short pieces decoded together (batched); long regions are cut to size, or kept whole
        # for a backend that chunks them itself.
        todo = pieces(audio, fed, min(backend.piece_s, options.max_piece_s), cut_long=not backend.long_pieces_ok)
        results, language = backend.transcribe_many([p.audio for p in todo], language)
    else:
        todo, results = pieces(audio, fed, options.max_piece_s), None
    for i, piece in enumerate(todo):
        if results is None:
            raw, language = backend.transcribe(piece.audio, language)
        else:
            raw = results[i]
        for s in raw:
            s.start, s.end = piece.to_media(s.start), piece.to_media(s.end)
            for w in s.words:
                w.start, w.end = piece.to_media(w.start), piece.to_media(w.end)
            segments.extend(_clean(s, allowed, end_s, options))
    return Transcript(language=language, segments=segments), meta
