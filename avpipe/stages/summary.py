"""The summary stage: paragraph, highlights and chapters (:mod:`avpipe.understand.summary`)."""

from __future__ import annotations

from ..device import resolve_device
from .base import Stage, VideoContext


class SummaryStage(Stage):
    """Extractive by default; a generative model when the pipeline names one."""

    name = "summary"

    def run(self, ctx: VideoContext) -> None:
        from ..understand import summary

        o = ctx.options.summary
        self.backend = o.backend
        vectors = ctx.segment_vectors.vectors if ctx.segment_vectors is not None else None
        c = ctx.caption_vectors
        ctx.result.summary = summary.summarise(ctx.result, vectors, o, ctx.options.vision,
                                               resolve_device(ctx.options.device, "torch"),
                                               captions=(c.t, c.vectors) if c is not None else None,
                                               phrases=ctx.phrases)
        self.model = o.model
