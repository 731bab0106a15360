"""The image-encoder protocol and its registry."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol

from ..cache import once
from ..errors import PipelineConfigError

if TYPE_CHECKING:
    import numpy as np

    from ..options import VisionOptions


class ImageEncoder(Protocol):
    """Images and texts into one space (unit vectors, so a dot product is a cosine)."""

    name: str
    model_name: str

    def encode_images(
        self, images: list["np.ndarray"]
    ) -> tuple["np.ndarray", list[list[tuple[str, float, str | None]]], "np.ndarray | None"]:
        """RGB uint8 images -> (embeddings [N, D] in the shared space, per image the top labels
        as (name, score, WordNet synset id or None), the encoder's own features [N, F] when they
        differ from the embeddings)."""
        ...

    def encode_texts(self, texts: list[str]) -> "np.ndarray":
        """Texts -> embeddings [N, D] in the same space as the images."""
        ...


_ENCODERS = {
    "efficientnet-lite0": "avpipe.vision.efficientnet:EfficientNetConSE",
    "clip": "avpipe.vision.clip:ClipEncoder",
}

@once
def load_encoder(options: "VisionOptions", device: str = "cpu") -> ImageEncoder:
    """The encoder for ``options`` on ``device``, loaded once per process."""
    if options.backend not in _ENCODERS:
        raise PipelineConfigError(f"unknown vision backend {options.backend!r}; known: {', '.join(_ENCODERS)}")
    module, cls = _ENCODERS[options.backend].split(":")
    return getattr(importlib.import_module(module), cls)(options, device)


@once
def load_faces(min_face_frac: float, detector: str = "cnn", min_confidence: float = 0.5):
    """The face analyser, loaded once per process."""
    from .faces import FaceAnalyzer

    return FaceAnalyzer(min_face_frac, detector, min_confidence)


@once
def load_objects(backend: str, model: str | None, min_score: float, device: str = "cpu"):
    """The object detector (:mod:`avpipe.vision.objects`), loaded once per process."""
    from .objects import TransformersDetector, YoloTiny

    if backend == "yolov3-tiny":
        return YoloTiny(min_score)
    if backend == "transformers":
        if not model:
            raise PipelineConfigError('[vision] object_backend = "transformers" needs object_model = <hub id or folder>')
        return TransformersDetector(model, min_score, device)
    raise PipelineConfigError(f"unknown object backend {backend!r}; known: yolov3-tiny, transformers")


@once
def load_ocr(min_score: float):
    """The on-screen-text reader, loaded once per process."""
    from .ocr import ScreenText

    return ScreenText(min_score)


def unit(x: "np.ndarray") -> "np.ndarray":
    """Rows scaled to length 1 (zero rows stay zero)."""
    import numpy as np

    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def mix_in(vectors: "np.ndarray", rows: list[int], extra: "np.ndarray", weight: float = 1.0) -> "np.ndarray":
    """``vectors`` with ``extra[j]`` added to row ``rows[j]`` as text evidence of what that row
    shows (a keyframe's caption, its objects in words): the unit length sum of the row and
    ``weight`` times the evidence, both in the shared space (1.0: their mean). Returns a new array."""
    import numpy as np

    out = np.array(vectors, dtype=np.float32, copy=True)
    for i, v in zip(rows, extra):
        out[i] = unit(out[i] + weight * np.asarray(v, np.float32))
    return out
