"""faster-whisper backend (CTranslate2): int8 on CPU, float16 on CUDA, batched on request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models import REGISTRY, resolve
from .base import RawSegment, RawWord

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
        self.batched = BatchedInferencePipeline(self.model) if options.batch_size > 1 else None

    def transcribe(self, audio: "np.ndarray", language: str | None) -> tuple[list[RawSegment], str | None]:
        o = self.options
        if self.english_only:
            language = "en"
        common = dict(language=language, beam_size=o.beam_size, word_timestamps=True, vad_filter=False,
                      condition_on_previous_text=False, compression_ratio_threshold=o.compression_ratio_threshold,
                      log_prob_threshold=o.log_prob_threshold, no_speech_threshold=o.no_speech_threshold)
        if self.batched is not None:
            segments, info = self.batched.transcribe(audio, batch_size=o.batch_size, **common)
        else:
            segments, info = self.model.transcribe(audio, **common)
        out = []
        for s in segments:  # a generator: decoding happens here
            words = [RawWord(w.start, w.end, w.word, w.probability) for w in (s.words or [])]
            out.append(RawSegment(s.start, s.end, s.text, words, s.avg_logprob, s.no_speech_prob))
        return out, info.language
