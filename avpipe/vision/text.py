"""The text side of the shared space for the offline default: all-MiniLM-L6-v2 (bundled)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..cache import once
from ..models import resolve

if TYPE_CHECKING:
    import numpy as np


class MiniLMText:
    """Sentence embeddings (384-d, unit length) from the bundled sentence-transformers model."""

    def __init__(self, model: str = "minilm", device: str = "cpu") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a bundled folder needs no hub
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no per-worker "Loading weights" bars in batch logs

        self.model_name = model
        self.model = SentenceTransformer(str(resolve(model)), device=device, local_files_only=True)

    def encode(self, texts: list[str], batch_size: int = 64) -> "np.ndarray":
        import numpy as np

        vectors = self.model.encode(texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
                                    show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


@once
def load_text(model: str = "minilm", device: str = "cpu") -> MiniLMText:
    """The sentence encoder ``model`` on ``device``, loaded once per process (the vision encoder,
    the emotion head, keywords, summaries and questions all share it)."""
    return MiniLMText(model, device)
