"""faster-whisper backend (CTranslate2): int8 on CPU, float16 on CUDA, batched on request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models import REGISTRY, resolve
from .base import RawSegment, RawWord, group_words

if TYPE_CHECKING:
    import numpy as np

    from ..options import SpeechOptions


class FasterWhisperBackend:
    name = "faster-whisper"

    def __init__(self, options: "SpeechOptions", device: str) -> None:
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        self.options = options
        self.model_name = options.model
        folder = resolve(options.model)
        spec = REGISTRY.get(options.model)
        compute = options.compute_type
        if compute == "auto":
            compute = "float16" if device == "cuda" else "int8"
        self.model = WhisperModel(str(folder), device=device, compute_type=compute,
                                  cpu_threads=options.cpu_threads, local_files_only=True)
        self.english_only = (spec.english_only if spec else False) or not self.model.model.is_multilingual
        # faster-whisper's batched pipeline (GPU) cuts its input with its own VAD into windows of
        # up to 30 s and decodes batch_size of them at once; it is given our speech pieces.
        self.batched = BatchedInferencePipeline(self.model) if options.batch_size > 1 else None

    def transcribe(self, audio: "np.ndarray", language: str | None) -> tuple[list[RawSegment], str | None]:
        o = self.options
        common = dict(language="en" if self.english_only else language, beam_size=o.beam_size,
                      word_timestamps=True, condition_on_previous_text=False,
                      compression_ratio_threshold=o.compression_ratio_threshold,
                      log_prob_threshold=o.log_prob_threshold, no_speech_threshold=o.no_speech_threshold)
        if self.batched is not None:
            segments, info = self.batched.transcribe(audio, batch_size=o.batch_size, vad_filter=True, **common)
        else:
            segments, info = self.model.transcribe(audio, vad_filter=False, **common)
        out = []
        for s in segments:  # a generator: decoding happens here
            words = [RawWord(w.start, w.end, w.word, w.probability) for w in (s.words or [])]
            raw = RawSegment(s.start, s.end, s.text, words, s.avg_logprob, s.no_speech_prob)
            # batched mode gives one segment per 30 s window: split it into sentences
            out.extend(group_words(words, like=raw) if self.batched is not None and words else [raw])
        return out, info.language
