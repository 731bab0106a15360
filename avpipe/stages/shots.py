"""The shots stage: shot boundaries and the choice of keyframes (:mod:`avpipe.shots`), fed each
sampled frame during decode."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Stage, VideoContext

if TYPE_CHECKING:
    from ..decode.base import Frame


class ShotStage(Stage):
    """Shots, shot_change events, and keyframe candidates (kept as JPEG thumbnails)."""

    name = "shots"
    needs = ("frames",)

    def on_frame(self, ctx: VideoContext, frame: "Frame") -> None:
        if ctx.shot_detector is None:
            from functools import partial

            from ..shots import ShotDetector
            from .keyframes import encode_thumbnail

            kf = ctx.options.keyframes
            ctx.shot_detector = ShotDetector(ctx.options.shots, partial(encode_thumbnail, size=kf.thumbnail_size,
                                                                        quality=kf.jpeg_quality))
        ctx.shot_detector.add(frame)

    def run(self, ctx: VideoContext) -> None:
        shots, keyframes, events = ctx.shot_detector.finish(ctx.end_s() or 0.0)
        ctx.result.shots = shots
        ctx.add_events(events)
        ctx.keyframe_images = keyframes
