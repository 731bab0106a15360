"""CLIP / SigLIP backend: any contrastive image-text model that transformers loads with
``AutoModel`` (``get_image_features`` / ``get_text_features``), by Hugging Face id (used from the
local cache, never downloaded by a run) or folder.

Images and texts share a space by training, so no bridge is needed; labels are zero-shot: the
image against a prompt vocabulary ("a photo of a {ImageNet class}."), embedded once per process.
No CLIP weights install offline here, so the tests run this code on a tiny random config; it runs
for real wherever the weights are present.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models import local_folder
from .base import unit
from .efficientnet import class_names
from .hierarchy import class_id

if TYPE_CHECKING:
    import numpy as np

    from ..options import VisionOptions

PROMPT = "a photo of a {}."


class ClipEncoder:
    name = "clip"

    def __init__(self, options: "VisionOptions", device: str = "cpu") -> None:
        import torch
        from transformers import AutoImageProcessor, AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from ..errors import PipelineConfigError

        if not options.clip_model:
            raise PipelineConfigError("the clip vision backend needs [vision] clip_model = <hub id or folder>")
        hf_logging.disable_progress_bar()
        folder = local_folder(options.clip_model)
        self.options, self.device = options, device
        self.model_name = options.clip_model
        self.dtype = torch.float16 if device == "cuda" else torch.float32
        self.model = AutoModel.from_pretrained(folder, dtype=self.dtype).eval().to(device)
        self.images = AutoImageProcessor.from_pretrained(folder)
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        # SigLIP was trained on text padded to its full length; CLIP on unpadded text.
        self.padding = "max_length" if "siglip" in self.model.config.model_type else True
        self.names = [n[0] for n in class_names()]
        self.vocabulary = self.encode_texts([PROMPT.format(n) for n in self.names])

    @staticmethod
    def _features(out):
        # transformers 5 may return a model output rather than a tensor
        return out if hasattr(out, "float") else getattr(out, "pooler_output", out[0])

    def encode_texts(self, texts: list[str]) -> "np.ndarray":
        import numpy as np
        import torch

        out = []
        for lo in range(0, len(texts), 256):
            tokens = self.tokenizer(texts[lo : lo + 256], padding=self.padding, truncation=True, return_tensors="pt")
            with torch.inference_mode():
                feats = self._features(self.model.get_text_features(**tokens.to(self.device)))
            out.append(feats.float().cpu().numpy())
        return unit(np.concatenate(out)).astype(np.float32)

    def encode_images(self, images: list["np.ndarray"]) -> tuple["np.ndarray", list[list[tuple[str, float, str]]], None]:
        import numpy as np
        import torch

        vectors = []
        for lo in range(0, len(images), self.options.batch_size):
            pixels = self.images(images=images[lo : lo + self.options.batch_size], return_tensors="pt")["pixel_values"]
            with torch.inference_mode():
                feats = self._features(self.model.get_image_features(pixel_values=pixels.to(self.device, self.dtype)))
            vectors.append(feats.float().cpu().numpy())
        vectors = unit(np.concatenate(vectors)) if vectors else np.zeros((0, self.vocabulary.shape[1]), np.float32)
        scale = float(self.model.logit_scale.detach().exp()) if hasattr(self.model, "logit_scale") else 100.0
        logits = scale * vectors @ self.vocabulary.T
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        o = self.options
        labels = [[(self.names[c], round(float(p[c]), 4), class_id(int(c))) for c in np.argsort(-p)[: o.top_k]
                   if p[c] >= o.min_score] for p in probs]
        return vectors.astype(np.float32), labels, None  # its embeddings are its features
