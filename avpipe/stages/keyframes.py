"""The keyframes stage: the chosen keyframes into the result, their JPEG thumbnails into
``keyframes/`` beside it."""

from __future__ import annotations

from ..atomic import atomic_write_bytes
from .base import Stage, VideoContext


class KeyframeStage(Stage):
    """``result.keyframes`` from the shots stage's candidates, with thumbnails written."""

    name = "keyframes"
    section = "keyframes"
    reads = ("keyframe candidates",)
    writes = ("keyframes",)

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
