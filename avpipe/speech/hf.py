"""transformers backend: ``WhisperForConditionalGeneration`` through the ASR pipeline,
30-second chunks decoded ``batch_size`` at a time, word timestamps from cross-attention (DTW).

Any Hub Whisper works (large-v3-turbo, distil-whisper) by registry name or folder, used from the
Hugging Face cache; the bundled models are converted once from their CTranslate2 files
(:func:`avpipe.speech.convert.write_transformers_folder`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..decode.audio import SAMPLE_RATE
from ..models import REGISTRY
from .base import RawSegment, RawWord, group_words
from .convert import cached_conversion

if TYPE_CHECKING:
    import numpy as np

    from ..options import SpeechOptions


def transformers_folder(model: str) -> Path:
    """A folder ``from_pretrained`` can load: the model itself if it is one, the Hugging Face
    cache copy of its registry entry, or a conversion of its CTranslate2 files (made once)."""
    path = Path(model).expanduser()
    weights = any(path.glob("*.safetensors")) or (path / "pytorch_model.bin").exists()
    if (path / "config.json").exists() and weights:
        return path
    spec = REGISTRY.get(model)
    if spec and spec.hf_transformers:
        from huggingface_hub import snapshot_download

        try:
            return Path(snapshot_download(spec.hf_transformers, local_files_only=True))
        except Exception:  # noqa: BLE001 - not cached here: fall back to converting
            pass
    return cached_conversion(model, "transformers")[1]


class TransformersWhisperBackend:
    name = "transformers"

    def __init__(self, options: "SpeechOptions", device: str) -> None:
        import torch
        from transformers import pipeline
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        self.options, self.device = options, device
        self.model_name = options.model
        if options.cpu_threads > 0:
            torch.set_num_threads(options.cpu_threads)
        folder = transformers_folder(options.model)
        dtype = torch.float16 if device == "cuda" else torch.float32
        self.pipe = pipeline("automatic-speech-recognition", model=str(folder), device=device, dtype=dtype,
                             ignore_warning=True)
        if self.pipe.tokenizer.pad_token is None:  # needed to batch chunks
            self.pipe.tokenizer.pad_token = self.pipe.tokenizer.eos_token or "<|endoftext|>"
        self.english_only = not getattr(self.pipe.model.generation_config, "is_multilingual", False)

    def _detect_language(self, audio: "np.ndarray") -> str:
        import torch

        features = self.pipe.feature_extractor(audio[: 30 * SAMPLE_RATE], sampling_rate=SAMPLE_RATE, return_tensors="pt")
        inputs = features.input_features.to(self.pipe.model.device, self.pipe.model.dtype)
        with torch.no_grad():
            token = self.pipe.model.detect_language(inputs)[0].item()
        return self.pipe.tokenizer.convert_ids_to_tokens(token).strip("<|>")

    #: Speech regions are joined into pieces of at most this many seconds, one Whisper window
    #: each: the pipeline's own stitching of overlapping 30 s chunks loses words on long
    #: pause-free audio (it is marked experimental), so it is left only for long single regions.
    piece_s = 30.0
    long_pieces_ok = True

    def transcribe(self, audio: "np.ndarray", language: str | None,
                   task: str = "transcribe") -> tuple[list[RawSegment], str | None]:
        results, language = self.transcribe_many([audio], language, task)
        return results[0], language

    def transcribe_many(self, pieces: list["np.ndarray"], language: str | None,
                        task: str = "transcribe") -> tuple[list[list[RawSegment]], str | None]:
        generate: dict = {"num_beams": max(1, self.options.beam_size)}
        if self.english_only:
            language = "en"
        elif pieces:
            language = language or self._detect_language(pieces[0])
            # Always name the task: with none, multilingual checkpoints made without
            # forced_decoder_ids drift into repetition.
            generate |= {"language": language, "task": task}
        inputs = [{"raw": audio, "sampling_rate": SAMPLE_RATE} for audio in pieces]
        results = self.pipe(inputs, return_timestamps="word", chunk_length_s=30,
                            batch_size=max(1, self.options.batch_size), generate_kwargs=generate)
        out = []
        for audio, result in zip(pieces, results):
            words = []
            for chunk in result.get("chunks", []):
                start, end = chunk["timestamp"]
                if start is None:
                    continue
                end = end if end is not None else min(len(audio) / SAMPLE_RATE, start + 0.5)
                words.append(RawWord(float(start), float(end), chunk["text"], 1.0))
            out.append(group_words(words))
        return out, language
