"""The keyframes stage: the chosen keyframes into the result, their JPEG thumbnails into
``keyframes/`` beside it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..atomic import atomic_write_bytes
from .base import Stage, VideoContext

if TYPE_CHECKING:
    import numpy as np


def encode_thumbnail(image: "np.ndarray", size: int, quality: int) -> bytes:
    """An RGB frame as JPEG bytes, scaled so its longest side is at most ``size`` pixels."""
    import cv2

    h, w = image.shape[:2]
    scale = min(1.0, size / max(h, w))
    if scale < 1.0:
        image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


class KeyframeStage(Stage):
    """``result.keyframes`` from the shots stage's candidates, with thumbnails written."""

    name = "keyframes"
    needs = ("frames",)

    def run(self, ctx: VideoContext) -> None:
        from ..schema import Keyframe

        out = []
        for candidate in ctx.keyframe_images:
            thumb = None
            if ctx.options.keyframes.thumbnails and candidate.jpeg:
                thumb = f"keyframes/{int(round(candidate.t * 1000)):08d}.jpg"
                atomic_write_bytes(ctx.work_dir / thumb, candidate.jpeg)
            out.append(Keyframe(t=round(candidate.t, 3), shot=candidate.shot, thumbnail=thumb))
        ctx.result.keyframes = out
