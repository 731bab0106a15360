"""``avpipe run --engine ray``: the same pipeline over a Ray cluster, through Ray Data.

The driver discovers the inputs and skips finished ones exactly as the local runner does (same
ledger), then hands the rest to Ray Data as rows. ``map_batches`` runs them in a pool of actors
(``--workers`` of them), each declaring its resources (one CPU; one GPU when the pipeline runs on
CUDA and the cluster has GPUs). Each actor keeps one local worker process (the local runner's
pool), so a video still runs in its own process with its time limit, a native decoder that
aborts or hangs costs that video only, and models are loaded once per actor. Every failure
becomes an error row, never a failed block. The driver writes ``index.jsonl`` and the log
as the rows arrive. Results go straight to the output folder, which on a multi-node cluster must
be a file system every node sees (NFS, a mounted bucket).

Cluster: ``RAY_ADDRESS`` (e.g. ``ray://head:10001`` or ``auto`` on a node of the cluster) picks
an existing one; without it a local cluster is started for the run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

from ..discover import Input
from ..options import PipelineOptions
from ..runner import Batch, BatchSummary, Outcome, RunOptions, WorkerPool
from ..stopping import StopSignals
from ..schema import ErrorInfo, IndexRecord, printable


class VideoActor:
    """A Ray actor: one worker pool of one process, reused for every video it is given."""

    def __init__(self, out: str, pipeline: PipelineOptions, run: RunOptions) -> None:
        self.out, self.pipeline = Path(out), pipeline
        self.pool = WorkerPool(self.out, dataclasses.replace(run, workers=1, progress=False))

    def __call__(self, batch: dict) -> dict:
        rows = []
        for raw, path, video_id, key in zip(batch["input"], batch["path"], batch["video_id"], batch["content_key"]):
            # paths travel as bytes: a file name that is not UTF-8 cannot be an Arrow string
            item = Input(input=str(raw), path=Path(os.fsdecode(bytes(path))), video_id=str(video_id),
                         content_key=key or None)
            done: list[Outcome] = []
            try:
                self.pool.run([item], self.pipeline, done.append)
                outcome = done[0]
            except Exception as exc:  # noqa: BLE001 - an error row, never a failed block
                outcome = Outcome(IndexRecord(input=item.input, video_id=item.video_id, status="error",
                                              error=ErrorInfo(type=type(exc).__name__, message=str(exc) or type(exc).__name__)))
            rows.append(json.dumps({"record": outcome.record.model_dump(), "stages": outcome.stages}))
        return {"outcome": rows}


def _init_ray():
    import ray

    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        ray.init(address=address or None, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                 configure_logging=True)
    import logging

    import ray.data

    logging.getLogger("ray.data").setLevel(logging.WARNING)  # our own lines say what happened
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    return ray


def run_batch_ray(inputs: list[str], out: str | Path, pipeline: PipelineOptions, run: RunOptions | None = None,
                  search: bool = False) -> BatchSummary:
    """Like :func:`avpipe.runner.run_batch`, on Ray Data (see the module docstring)."""
    run = run or RunOptions()
    stop = StopSignals()
    with stop:
        return _run_on_ray(inputs, out, pipeline, run, search, stop)


def _run_on_ray(inputs: list[str], out: str | Path, pipeline: PipelineOptions, run: RunOptions, search: bool,
                stop: StopSignals) -> BatchSummary:
    batch = Batch(inputs, Path(out).resolve(), pipeline, run)
    try:
        if batch.todo:
            ray = _init_ray()
            gpus = ray.cluster_resources().get("GPU", 0)
            use_gpu = pipeline.device == "cuda" or (pipeline.device == "auto" and gpus > 0)
            rows = [{"input": printable(i.input), "path": os.fsencode(Path(i.path).resolve()), "video_id": i.video_id,
                     "content_key": i.content_key or ""} for i in batch.todo]
            data = ray.data.from_items(rows, override_num_blocks=len(rows))
            results = data.map_batches(VideoActor, fn_constructor_kwargs={"out": str(batch.out), "pipeline": pipeline,
                                                                          "run": run},
                                       batch_size=1, concurrency=max(1, run.workers), num_cpus=1,
                                       num_gpus=1 if use_gpu else 0)
            for row in results.iter_rows():
                found = json.loads(row["outcome"])
                outcome = Outcome(IndexRecord.model_validate(found["record"]), found["stages"])
                batch.add(outcome)
                if run.progress:
                    print(f"avpipe[ray]: {outcome.record.status}: {outcome.record.input}", file=sys.stderr)
    finally:
        with stop.closing():
            summary = batch.close(search=search)
    return summary
