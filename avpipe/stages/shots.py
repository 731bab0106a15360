"""The shots stage: shot boundaries and the choice of keyframes (:mod:`avpipe.shots`), fed a
glance of every decoded frame and each sampled frame during decode."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import PipelineConfigError
from ..options import PipelineOptions
from .base import ModelUse, Stage, VideoContext

if TYPE_CHECKING:
    from ..decode.base import Frame
    from ..shots import ShotDetector


def _detector(ctx: VideoContext) -> "ShotDetector":
    if ctx.shot_detector is None:
        from functools import partial

        from ..device import resolve_device
        from ..shots import ShotDetector
        from ..shots.keyframes import encode_thumbnail

        o, kf = ctx.options.shots, ctx.options.keyframes
        stream = ctx.media.streams[ctx.media.video_stream] if ctx.media.video_stream is not None else None
        device = resolve_device(ctx.options.device, "torch") if o.backend == "transnetv2" else "cpu"
        ctx.shot_detector = ShotDetector(o, fps=(stream.fps if stream and stream.fps else 25.0), device=device,
                                         encode=partial(encode_thumbnail, size=kf.thumbnail_size, quality=kf.jpeg_quality),
                                         keyframes=kf)
    return ctx.shot_detector


class ShotStage(Stage):
    """Shots, shot_change events, and keyframe candidates (kept as JPEG thumbnails)."""

    name = "shots"
    section = "shots"
    reads = ("frames",)
    writes = ("shots", "keyframe candidates", "events")

    @classmethod
    def models(cls, options: PipelineOptions) -> list[ModelUse]:
        return [ModelUse("[shots] backend", "transnetv2")] if options.shots.backend == "transnetv2" else []

    @classmethod
    def check(cls, options: PipelineOptions, where: str) -> None:
        if options.shots.backend != "histogram" and options.decode.backend == "decord":
            raise PipelineConfigError(f"{where}: [shots] backend = {options.shots.backend!r} reads every frame, which "
                                      "the decord reader does not give; use [decode] backend = \"auto\" or \"pyav\", "
                                      "or [shots] backend = \"histogram\"")

    def wants_glances(self, ctx: VideoContext) -> bool:
        return ctx.options.shots.backend != "histogram"

    def on_glance(self, ctx: VideoContext, frame: "Frame") -> None:
        _detector(ctx).add_glance(frame.t, frame.glance, frame.picture)

    def on_frame(self, ctx: VideoContext, frame: "Frame") -> None:
        _detector(ctx).add(frame.t, frame.image)

    def run(self, ctx: VideoContext) -> None:
        detector = _detector(ctx)
        shots, keyframes, events = detector.finish(ctx.end_s() or 0.0)
        self.backend = detector.detector.name
        if self.backend == "transnetv2":
            self.model = "transnetv2"
        ctx.result.shots = shots
        ctx.add_events(events)
        ctx.keyframe_images = keyframes
