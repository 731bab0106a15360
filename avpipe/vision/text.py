"""The text side of the shared space for the efficientnet backend: a sentence-transformers
encoder, all-MiniLM-L6-v2 by default (bundled, English); a multilingual one by registry name
(``multilingual-minilm``, ``multilingual-e5-base``, ``bge-m3``: from the Hugging Face cache) or
folder makes the whole space read every language, since the keyframes are mixes of class names
embedded by the same encoder (ConSE)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..cache import once
from ..models import resolve

if TYPE_CHECKING:
    import numpy as np


class MiniLMText:
    """Unit-length sentence embeddings from a sentence-transformers model (MiniLM: 384-d), with
    the registry's input prefix for it (E5's "query: ")."""

    def __init__(self, model: str = "minilm", device: str = "cpu") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a bundled folder needs no hub
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no per-worker "Loading weights" bars in batch logs

        from ..models import REGISTRY

        self.model_name = model
        spec = REGISTRY.get(model)
        self.prefix = spec.text_prefix if spec else ""
        self.model = SentenceTransformer(str(resolve(model)), device=device, local_files_only=True)

    def encode(self, texts: list[str], batch_size: int = 64) -> "np.ndarray":
        import numpy as np

        texts = [self.prefix + t for t in texts] if self.prefix else texts
        vectors = self.model.encode(texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
                                    show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


@once
def load_text(model: str = "minilm", device: str = "cpu") -> MiniLMText:
    """The sentence encoder ``model`` on ``device``, loaded once per process (the vision encoder,
    the emotion head, keywords, summaries and questions all share it)."""
    return MiniLMText(model, device)
