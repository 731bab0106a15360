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
import os
import sys
from pathlib import Path

from ..discover import Input
from ..options import PipelineOptions
from ..runner import BatchSummary, RunOptions, prepare_batch, write_batch_page
from ..schema import ErrorInfo, IndexRecord


class VideoActor:
    """A Ray actor: one local worker pool of one process, reused for every video it is given."""

    def __init__(self, out: str, pipeline: PipelineOptions, run: RunOptions) -> None:
        from ..runner import _Pool

        self.out, self.pipeline = Path(out), pipeline
        self.run = dataclasses.replace(run, workers=1, progress=False)
        self.pool = _Pool(self.out, self.run)

    def __call__(self, batch: dict) -> dict:
        from ..runner import _run_pool

        records = []
        for raw, path, video_id in zip(batch["input"], batch["path"], batch["video_id"]):
            item = Input(input=str(raw), path=Path(str(path)), video_id=str(video_id))
            done: list[IndexRecord] = []
            try:
                _run_pool([item], self.out, self.pipeline, self.run, done.append, pool=self.pool)
                record = done[0]
            except Exception as exc:  # noqa: BLE001 - an error row, never a failed block
                record = IndexRecord(input=item.input, video_id=item.video_id, status="error",
                                     error=ErrorInfo(type=type(exc).__name__, message=str(exc) or type(exc).__name__))
            records.append(record.model_dump_json())
        return {"record": records}


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


def run_batch_ray(inputs: list[str], out: str | Path, pipeline: PipelineOptions, run: RunOptions | None = None
                  ) -> BatchSummary:
    """Like :func:`avpipe.runner.run_batch`, on Ray Data (see the module docstring)."""
    run = run or RunOptions()
    out = Path(out).resolve()
    _, index, log, todo, skipped = prepare_batch(inputs, out, pipeline, run)
    for record in skipped:
        index.add(record)
        log.write(record, out)
    try:
        if todo:
            ray = _init_ray()
            gpus = ray.cluster_resources().get("GPU", 0)
            use_gpu = pipeline.device == "cuda" or (pipeline.device == "auto" and gpus > 0)
            rows = [{"input": i.input, "path": str(Path(i.path).resolve()), "video_id": i.video_id} for i in todo]
            data = ray.data.from_items(rows, override_num_blocks=len(rows))
            results = data.map_batches(VideoActor, fn_constructor_kwargs={"out": str(out), "pipeline": pipeline, "run": run},
                                       batch_size=1, concurrency=max(1, run.workers), num_cpus=1,
                                       num_gpus=1 if use_gpu else 0)
            for row in results.iter_rows():
                record = IndexRecord.model_validate_json(row["record"])
                index.add(record)
                log.write(record, out)
                if run.progress:
                    print(f"avpipe[ray]: {record.status}: {record.input}", file=sys.stderr)
    finally:
        index.flush()
        if "html" in run.formats and run.shard is None:
            write_batch_page(out, index.records, index.order)
    records = sorted(index.records, key=lambda r: index.order.get(r.input, 0))
    return BatchSummary(records=records, index_path=index.path)
