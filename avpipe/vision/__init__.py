"""Vision stage: keyframes -> labels and embeddings in a space shared with text.

Encoders sit behind one protocol (:mod:`avpipe.vision.base`) and a registry of names:

- ``efficientnet-lite0`` (the offline default): bundled ImageNet weights in timm's network; top-k
  ImageNet labels per keyframe, and a frame embedding in the bundled MiniLM sentence space made
  by ConSE (:mod:`avpipe.vision.efficientnet`).
- ``clip``: any CLIP or SigLIP model through transformers, whose image and text towers share a
  space by training (:mod:`avpipe.vision.clip`).
"""

from .base import load_encoder

__all__ = ["load_encoder"]
