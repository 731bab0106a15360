"""Loaders of the understanding stages' models (the text-emotion head, fusion), each loaded once per
process through :func:`avpipe.cache.once` (a batch worker keeps them)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..cache import once

if TYPE_CHECKING:
    from ..options import FusionOptions, VisionOptions
    from .fusion import Fusion
    from .text_emotion import TextEmotion


def shared_text_encoder(options: "VisionOptions", device: str = "cpu"):
    """What embeds text in the same space as the keyframes: the vision encoder's text side."""
    from ..vision import load_encoder

    return load_encoder(options, device)


#: Text encoders whose names say they read many languages (multilingual-e5, paraphrase-multilingual,
#: bge-m3, LaBSE, XLM-R based); any other is taken to read English only, as the bundled MiniLM does.
MULTILINGUAL_HINTS = ("multilingual", "bge-m3", "labse", "xlm")


def encoder_reads(name: str, language: str | None) -> bool:
    """Whether the text encoder ``name`` (registry name, hub id or folder) reads ``language``
    (None: not known, taken as English): the registry says so, or the name does."""
    from ..models import REGISTRY

    if language in (None, "en"):
        return True
    spec = REGISTRY.get(name)
    return bool(spec and spec.multilingual) or any(hint in name.lower() for hint in MULTILINGUAL_HINTS)


def shared_space_reads(options: "VisionOptions", language: str | None) -> bool:
    """Whether the shared space's text side reads ``language``: where it does not, its
    embeddings of that text are noise, and the summary takes the language-agnostic path."""
    return encoder_reads((options.clip_model or "") if options.backend == "clip" else options.text_model, language)


@once
def load_text_emotion(folder: str | None, device: str = "cpu") -> "TextEmotion":
    from ..vision.text import load_text
    from .text_emotion import TextEmotion

    return TextEmotion(load_text("minilm", device), Path(folder) if folder else None)


@once
def load_fusion(options: "FusionOptions", dim: int) -> "Fusion":
    from .fusion import Fusion

    model = Fusion(dim=dim, strategy=options.strategy, tau=options.tau,
                   weights=(options.text_weight, options.face_weight, options.voice_weight))
    if options.align_weights:
        model.load_alignment(Path(options.align_weights))
    return model.eval()
