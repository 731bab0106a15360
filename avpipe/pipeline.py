"""One video through the stages of a pipeline.

A pipeline (:class:`~avpipe.options.PipelineOptions`, from a file by :mod:`avpipe.config`) is an
ordered list of stage names (:mod:`avpipe.stages`) plus options per stage. Frame consumers all
see each sampled frame during the single decode pass, so no stage holds the whole video in
memory and nothing is decoded twice.

A stage that fails records a :class:`~avpipe.schema.StageError` and the stages that needed its
artifact are skipped; the video still gets a result that says what is missing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from . import __version__
from .errors import PipelineConfigError
from .options import PipelineOptions
from .schema import Result, VideoInfo
from .stages import stage_class, wiring_problem
from .stages.base import Stage, VideoContext


def build_stages(options: PipelineOptions) -> list[Stage]:
    """Instantiate the pipeline's stages; the decode stage gets the frame consumers after it, and
    decodes the audio track when a later stage reads it. Options made in code rather than read
    from a file get the same ordering rule (:func:`avpipe.stages.wiring_problem`)."""
    from .stages.decode import DecodeStage

    problem = wiring_problem(options.stages)
    if problem:
        raise PipelineConfigError(problem)
    built: list[Stage] = [stage_class(name)() for name in options.stages if name != "decode"]
    if "decode" in options.stages:
        consumers = [s for s in built if type(s).on_frame is not Stage.on_frame]
        wants_audio = any("audio" in (*s.reads, *s.optional_reads) for s in built)
        built.insert(options.stages.index("decode"), DecodeStage(consumers, audio=wants_audio))
    return built


def _start_ahead(later: list[Stage], ctx: VideoContext) -> None:
    """Each of the ``later`` stages that can run now starts its background work, if it has any
    (:meth:`~avpipe.stages.base.Stage.ahead`)."""
    for stage in later:
        if stage.ready(ctx):
            stage.ahead(ctx)


def process_video(path: Path, video_id: str, work_dir: Path, options: PipelineOptions,
                  notify: Callable[[str, object], None] | None = None) -> Result:
    """Run every stage of ``options`` on one video and return its result.

    Files the stages write (thumbnails, ``vectors.npz``, ``identity.npz``) go into ``work_dir``. Only a probe
    failure (missing, empty or unreadable file) raises; every later failure is recorded in
    ``result.errors``. ``notify(kind, value)`` tells a supervising process how far it got:
    ``duration`` (seconds of media, after probe), ``decode_backend`` (name) and ``decode_done``.
    """
    result = Result(
        avpipe_version=__version__,
        pipeline=options.name,
        video=VideoInfo(path=str(path), video_id=video_id, has_audio=False, has_video=False),
    )
    ctx = VideoContext(path=path, video_id=video_id, work_dir=work_dir, options=options, result=result,
                       notify=notify or (lambda kind, value: None))
    if "speech" in options.stages and options.speech.backend == "faster-whisper":
        from .threads import ctranslate2_before_torch

        ctranslate2_before_torch()  # vision loads torch first, and speech would be slower for it
    stages = build_stages(options)
    for i, stage in enumerate(stages):
        if stage.name != "probe" and not stage.ready(ctx):
            continue
        ctx.start_ahead = lambda later=stages[i + 1:]: _start_ahead(later, ctx)
        t0 = time.perf_counter()
        try:
            stage.run(ctx)
        except Exception as exc:
            if stage.name == "probe":
                raise
            ctx.fail(stage.name, exc)
            stage.status = "error"
        seconds = time.perf_counter() - t0 - stage.excluded_seconds
        ctx.record(stage.name, seconds, backend=stage.backend, model=stage.model, status=stage.status,
                   notes=stage.notes, ahead_seconds=stage.ahead_seconds)
        ctx.start_ahead()
    vectors = ctx.vectors()
    if vectors:  # the embeddings and per-window arrays of the video
        from .atomic import atomic_write_npz

        atomic_write_npz(work_dir / "vectors.npz", **vectors)
    identity = ctx.identity.arrays()
    if identity:  # face descriptors and voice vectors, for the folder's people index
        from .atomic import atomic_write_npz

        atomic_write_npz(work_dir / "identity.npz", **identity)
    return result
