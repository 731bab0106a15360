"""The summary stage: paragraph, highlights and chapters (:mod:`avpipe.understand.summary`).

A summary must not state what was not measured: a video whose speech was never transcribed is
not "without speech". Before summarising, the stage asks of each input it would describe
(:data:`DESCRIBED`) whether its stage ran; where not, the summary says why, the reason is
recorded in ``result.errors`` (type ``NotMeasured``) and so the video is ``partial``.
"""

from __future__ import annotations

from ..device import resolve_device
from ..errors import PipelineConfigError
from ..options import PipelineOptions
from ..schema import StageError
from .base import ModelUse, Stage, VideoContext, text_model_use

#: What a summary without a transcript describes: the stage that measures it, and how to say it
#: was not measured.
DESCRIBED: dict[str, str] = {"speech": "speech was not transcribed", "shots": "shots were not detected"}


def not_measured(ctx: VideoContext) -> dict[str, str]:
    """For each stage of :data:`DESCRIBED` whose result is unknown for this video, why: it is not
    in the pipeline, it failed, or it could not run (what it needs is missing). A video without
    an audio track has measurably no speech, so that is no gap."""
    gaps = {}
    for stage, what in DESCRIBED.items():
        if stage == "speech" and ctx.media is not None and ctx.media.audio_stream is None:
            continue
        left = ctx.result.transcript.untranscribed if stage == "speech" else []
        if left:
            seconds = sum(u.end - u.start for u in left)
            languages = ", ".join(sorted({u.language or "unknown" for u in left}))
            gaps[stage] = f"{what}: {seconds:.0f} s of speech in {languages} was heard, but {left[0].reason}"
            continue
        if stage not in ctx.options.stages:
            gaps[stage] = f"{what}: the pipeline has no {stage!r} stage"
        elif stage in ctx.failed:
            error = next((e for e in ctx.result.errors if e.stage == stage), None)
            gaps[stage] = f"{what}: the {stage} stage failed" + (f" ({error.type}: {error.message})" if error else "")
        elif stage not in ctx.result.stages:
            gaps[stage] = f"{what}: the {stage} stage could not run (what it reads is missing; see the errors)"
    return gaps


class SummaryStage(Stage):
    """Extractive by default; a generative model when the pipeline names one."""

    name = "summary"
    section = "summary"
    optional_reads = ("segments", "segment vectors", "caption vectors", "captions", "phrases", "shots", "keyframes",
                      "keyframe labels", "emotions", "events")
    writes = ("summary",)

    @classmethod
    def models(cls, options: PipelineOptions) -> list[ModelUse]:
        o = options.summary
        return [text_model_use(options), *([ModelUse("[summary] model", o.model, ("transformers",))]
                                           if o.backend == "transformers" else [])]

    @classmethod
    def check(cls, options: PipelineOptions, where: str) -> None:
        o = options.summary
        if o.backend == "transformers" and not o.model:
            raise PipelineConfigError(f"{where} [summary] model: the transformers backend needs a hub id or folder")
        if o.max_highlights < o.min_highlights:
            raise PipelineConfigError(f"{where} [summary] max_highlights = {o.max_highlights} is below "
                                      f"min_highlights = {o.min_highlights}")

    def run(self, ctx: VideoContext) -> None:
        from ..understand import summary

        o = ctx.options.summary
        self.backend = o.backend
        gaps = {} if ctx.result.transcript.segments else not_measured(ctx)
        vectors = ctx.segment_vectors.vectors if ctx.segment_vectors is not None else None
        c = ctx.caption_vectors
        ctx.result.summary = summary.summarise(ctx.result, vectors, o, ctx.options.vision,
                                               resolve_device(ctx.options.device, "torch"),
                                               captions=(c.t, c.vectors) if c is not None else None,
                                               phrases=ctx.phrases, not_measured=gaps)
        self.model = o.model
        if gaps:
            self.status = "partial"
            self.notes += list(gaps.values())
            # a failed stage's own error is in the result already; the others are said here
            ctx.result.errors += [StageError(stage=self.name, type="NotMeasured", message=why)
                                  for stage, why in gaps.items() if stage not in ctx.failed]
