"""openai-whisper backend: the reference implementation, in PyTorch.

Weights, in order: a local ``.pt`` checkpoint given as the model; openai-whisper's own
checkpoint for the model's name when it is in its cache (``~/.cache/whisper``; downloaded there
only by ``avpipe models fetch``); else the bundled CTranslate2 weights converted once into
avpipe's cache (:mod:`avpipe.speech.convert`), with the alignment heads their config names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..models import REGISTRY
from .base import RawSegment, RawWord
from .convert import alignment_heads, cached_conversion

if TYPE_CHECKING:
    import numpy as np

    from ..options import SpeechOptions

TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def openai_cache_file(name: str) -> Path | None:
    """openai-whisper's own downloaded checkpoint for ``name``, if it is on disk."""
    import whisper

    url = whisper._MODELS.get(name)
    if url is None:
        return None
    root = Path(os.getenv("XDG_CACHE_HOME", Path.home() / ".cache")) / "whisper"
    path = root / os.path.basename(url)
    return path if path.exists() else None


class OpenAIWhisperBackend:
    name = "openai-whisper"

    def __init__(self, options: "SpeechOptions", device: str) -> None:
        import torch
        import whisper

        self.options, self.device = options, device
        self.model_name = options.model
        if options.cpu_threads > 0:
            torch.set_num_threads(options.cpu_threads)
        spec = REGISTRY.get(options.model)
        heads: list[tuple[int, int]] = []
        if options.model.endswith(".pt") and Path(options.model).is_file():
            checkpoint = Path(options.model)
        elif spec and spec.openai_name and openai_cache_file(spec.openai_name):
            checkpoint = None
        else:
            folder, checkpoint = cached_conversion(options.model, "openai-whisper")
            heads = alignment_heads(folder)
        if checkpoint is None:
            self.model = whisper.load_model(spec.openai_name, device=device)  # from its cache
        else:
            self.model = whisper.load_model(str(checkpoint), device=device)
        if heads:
            mask = torch.zeros(self.model.dims.n_text_layer, self.model.dims.n_text_head, dtype=torch.bool)
            for layer, head in heads:
                mask[layer, head] = True
            self.model.register_buffer("alignment_heads", mask.to_sparse().to(device), persistent=False)
        self.english_only = not self.model.is_multilingual

    def transcribe(self, audio: "np.ndarray", language: str | None,
                   task: str = "transcribe") -> tuple[list[RawSegment], str | None]:
        o = self.options
        result = self.model.transcribe(
            audio, language="en" if self.english_only else language, task=task,
            temperature=TEMPERATURES, beam_size=o.beam_size if o.beam_size > 1 else None,
            word_timestamps=True, condition_on_previous_text=False, fp16=self.device == "cuda",
            compression_ratio_threshold=o.compression_ratio_threshold, logprob_threshold=o.log_prob_threshold,
            no_speech_threshold=o.no_speech_threshold, verbose=None)
        out = []
        for s in result["segments"]:
            words = [RawWord(w["start"], w["end"], w["word"], w["probability"]) for w in s.get("words", [])]
            out.append(RawSegment(s["start"], s["end"], s["text"], words, s.get("avg_logprob"), s.get("no_speech_prob")))
        return out, result.get("language")
