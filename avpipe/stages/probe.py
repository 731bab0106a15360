"""The probe stage: container and stream facts (:mod:`avpipe.probe`) into ``result.video``."""

from __future__ import annotations

from ..errors import MediaOpenError
from .base import Stage, VideoContext


class ProbeStage(Stage):
    """Opens the file and chooses its streams; the only stage whose failure fails the video."""

    name = "probe"
    writes = ("media",)

    def run(self, ctx: VideoContext) -> None:
        from ..probe import probe

        media = probe(ctx.path)
        ctx.media = media
        v = media.streams[media.video_stream] if media.video_stream is not None else None
        ctx.result.video = ctx.result.video.model_copy(update=dict(
            duration_s=media.duration_s,
            fps=v.fps if v else None,
            width=v.width if v else None,
            height=v.height if v else None,
            rotation=v.rotation if v else None,
            vfr=v.vfr if v else None,
            has_video=v is not None,
            has_audio=media.audio_stream is not None,
            video_stream=media.video_stream,
            audio_stream=media.audio_stream,
            size_bytes=media.size_bytes,
        ))
        ctx.notify("duration", media.duration_s)
        if media.video_stream is None and media.audio_stream is None:
            raise MediaOpenError("the container holds neither a video nor an audio stream", ctx.path)
