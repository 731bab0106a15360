"""Local batch runner: each video in a worker process, with a time limit, results written
atomically, and ``index.jsonl`` saying what became of every input.

Why processes: native decoders (decord above all, issues #373 and #25) can hang or abort the
whole interpreter on a broken file. Here a hang costs one video (the worker is killed at its
deadline) and an abort costs one video (the worker is replaced); the batch goes on. When the
dead worker was inside decord, the video is tried once more with PyAV before it is given up.

Workers are long-lived: each takes videos one after another, so models that later stages load
are loaded once per worker, not once per video.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import multiprocessing as mp
import os
import shutil
import signal
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import wait as wait_any
from pathlib import Path
from typing import Callable

from .discover import Input, discover
from .errors import AvpipeError, WorkerCrashed, WorkerTimeout
from .ledger import KEY_FILE, content_key, entry, finished, pipeline_key
from .options import PipelineOptions
from .schema import ErrorInfo, IndexRecord
from .atomic import atomic_write_text, publish_dir
from .writers import WRITERS, dumps_line

TMP_DIR = ".avpipe-tmp"
#: Time allowed before the duration is known (open and probe), and per second of media after.
BASE_TIMEOUT_S = 300.0
TIMEOUT_PER_MEDIA_SECOND = 3.0
#: index.jsonl is rewritten at most this often while a batch runs (and always at the end).
INDEX_FLUSH_S = 2.0


@dataclass(frozen=True)
class RunOptions:
    # Worker processes; 0 runs videos in this process (no isolation: for debugging).
    workers: int = 1
    # Fixed time limit per video in seconds; None: 300 s plus 3 s per second of media.
    timeout_s: float | None = None
    # Output formats by writer name (avpipe.writers.WRITERS); json is always written.
    formats: tuple[str, ...] = ("json", "srt", "vtt", "html")
    # Show a tqdm progress bar on stderr.
    progress: bool = True
    # "module:function" that handles one video in a worker (tests substitute a faulty one).
    worker_fn: str = "avpipe.runner:process_one"
    # Process only the inputs whose position in the discovered list is i modulo n: (i, n).
    # Shards of one input list (a Kubernetes Indexed Job's pods) cover it exactly once; each
    # writes its own index.shard-i-of-n.jsonl and log.shard-i-of-n.jsonl.
    shard: tuple[int, int] | None = None
    # Skip inputs whose result folder holds a ledger entry for the same content and pipeline.
    resume: bool = True
    # Also print the structured log lines (log.jsonl) on stderr.
    log_stderr: bool = False


@dataclass
class BatchSummary:
    records: list[IndexRecord] = field(default_factory=list)
    index_path: Path | None = None

    @property
    def failed(self) -> int:
        return sum(r.status == "error" for r in self.records)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


# --------------------------------------------------------------------------- one video


def run_tmp(out: Path, run_pid: int) -> Path:
    """Where the batch run with process id ``run_pid`` on this host builds result folders (the
    host is in the name: on a shared file system, runs on other machines are not ours to clean)."""
    return out / TMP_DIR / f"{socket.gethostname()}-{run_pid}"


def process_one(item: Input, out: Path, pipeline: PipelineOptions, formats: tuple[str, ...],
                notify: Callable[[str, object], None], tmp_root: Path) -> IndexRecord:
    """Process one input into ``out/<video_id>/`` and return its index record.

    The result folder is built under ``tmp_root`` (inside ``out/.avpipe-tmp/``) and renamed
    into place only when complete; on failure it is removed and nothing appears under ``out``.
    """
    from .pipeline import process_video

    t0 = time.perf_counter()
    tmp = tmp_root / f"{item.video_id}.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        content = content_key(item.path) if item.path.is_file() else ""
        result = process_video(item.path, item.video_id, tmp, pipeline, notify=notify)
        for name in dict.fromkeys(("json", *formats)):
            WRITERS[name](result, tmp)
        # the ledger entry goes in with the result, in the same rename
        atomic_write_text(tmp / KEY_FILE, json.dumps(entry(item.input, content, pipeline_key(pipeline, formats),
                                                           pipeline.name), indent=1) + "\n")
        publish_dir(tmp, out / item.video_id)
    except Exception as exc:  # noqa: BLE001 - one bad file is one error record
        shutil.rmtree(tmp, ignore_errors=True)
        message = exc.message if isinstance(exc, AvpipeError) else f"{exc}"
        return IndexRecord(input=item.input, video_id=item.video_id, status="error",
                           seconds=round(time.perf_counter() - t0, 3),
                           error=ErrorInfo(type=type(exc).__name__, message=message or type(exc).__name__))
    return IndexRecord(input=item.input, video_id=item.video_id, status="ok",
                       result=f"{item.video_id}/result.json", partial=bool(result.errors),
                       seconds=round(time.perf_counter() - t0, 3))


def _load(ref: str) -> Callable:
    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)


def _worker_main(conn, out: Path, formats: tuple[str, ...], worker_fn: str, tmp_root: Path, threads: int = 0) -> None:
    """Worker loop: receive (input, pipeline), send progress notes and then the record.

    ``threads`` (when > 0 and the user set no ``OMP_NUM_THREADS``) is this worker's share of
    the cores, set before any model library is imported: torch, onnxruntime and avpipe's speech
    stage read it, so N workers do not each start a thread per core."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    _die_with_parent()
    if threads > 0:
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    fn = _load(worker_fn)
    while True:
        task = conn.recv()
        if task is None:
            return
        item, pipeline = task
        record = fn(item, out, pipeline, formats, lambda kind, value: conn.send(("note", kind, value)), tmp_root)
        conn.send(("done", record.model_dump(), None))


def _die_with_parent() -> None:
    """Have the kernel kill this worker when the batch process dies (even by SIGKILL), so a
    killed run leaves no orphan still decoding; a rerun then starts clean."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:  # the parent died before the call
            os._exit(1)


# --------------------------------------------------------------------------- the pool


@dataclass
class _Worker:
    process: mp.Process
    conn: object
    item: Input | None = None
    pipeline: PipelineOptions | None = None
    started: float = 0.0
    deadline: float = float("inf")
    in_decord: bool = False
    retried: bool = False


class _Pool:
    def __init__(self, out: Path, run: RunOptions) -> None:
        self.ctx = mp.get_context("spawn")  # no inherited locks or CUDA state
        self.out, self.run = out, run
        self.workers: list[_Worker] = []

    def spawn(self) -> _Worker:
        parent, child = self.ctx.Pipe()
        share = max(1, len(os.sched_getaffinity(0)) // self.run.workers) if self.run.workers > 1 else 0
        process = self.ctx.Process(target=_worker_main, args=(child, self.out, self.run.formats, self.run.worker_fn,
                                                                 run_tmp(self.out, os.getpid()), share),
                                   daemon=True, name="avpipe-worker")
        process.start()
        child.close()
        worker = _Worker(process, parent)
        self.workers.append(worker)
        return worker

    def retire(self, worker: _Worker, kill: bool) -> None:
        if kill and worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=10)
        worker.conn.close()
        self.workers.remove(worker)
        if worker.item is not None:  # remove what the dead worker left half-built
            for leftover in run_tmp(self.out, os.getpid()).glob(f"{worker.item.video_id}.*"):
                shutil.rmtree(leftover, ignore_errors=True)

    def close(self) -> None:
        for worker in list(self.workers):
            try:
                worker.conn.send(None)
            except OSError:
                pass
            worker.process.join(timeout=5)
            self.retire(worker, kill=True)


def _deadline(run: RunOptions, started: float, duration: float | None) -> float:
    if run.timeout_s is not None:
        return started + run.timeout_s
    return started + BASE_TIMEOUT_S + TIMEOUT_PER_MEDIA_SECOND * (duration or 0.0)


def _clean_stale_tmp(out: Path) -> None:
    """Remove temporary folders of earlier runs whose process is gone (killed runs)."""
    root = out / TMP_DIR
    if not root.is_dir():
        return
    host = socket.gethostname()
    for folder in root.iterdir():
        name, _, pid = folder.name.rpartition("-")
        if name != host:
            continue  # another machine's run (shared file system)
        alive = pid.isdigit() and Path(f"/proc/{pid}").exists() and int(pid) != os.getpid()
        if not alive:
            shutil.rmtree(folder, ignore_errors=True)


class _Index:
    """index.jsonl, rewritten atomically (throttled) as records arrive, in input order."""

    def __init__(self, path: Path, order: list[Input]) -> None:
        self.path, self.order = path, {item.input: i for i, item in enumerate(order)}
        self.records: list[IndexRecord] = []
        self.written = 0.0

    def add(self, record: IndexRecord) -> None:
        self.records.append(record)
        if time.monotonic() - self.written >= INDEX_FLUSH_S:
            self.flush()

    def flush(self) -> None:
        ordered = sorted(self.records, key=lambda r: self.order.get(r.input, len(self.order)))
        atomic_write_text(self.path, "".join(dumps_line(r.model_dump(exclude_none=True)) + "\n" for r in ordered))
        self.written = time.monotonic()


class _Log:
    """The structured log: one JSON line per video and stage (``video_id``, ``stage``,
    ``seconds``, ``status``, ``error_type``), appended to ``log.jsonl`` in the out folder."""

    def __init__(self, path: Path, echo: bool) -> None:
        self.path, self.echo = path, echo

    def write(self, record: IndexRecord, out: Path) -> None:
        lines = []
        base = {"time": round(time.time(), 3), "input": record.input, "video_id": record.video_id}
        if record.status == "ok" and record.result:
            try:
                result = json.loads((out / record.result).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                result = {}
            errors = {e["stage"]: e["type"] for e in result.get("errors", [])}
            for stage, info in result.get("stages", {}).items():
                lines.append({**base, "stage": stage, "seconds": info["seconds"], "status": info.get("status", "ok"),
                              "error_type": errors.get(stage)})
        lines.append({**base, "stage": "video", "seconds": record.seconds, "status": record.status,
                      "error_type": record.error.type if record.error else None})
        text = "".join(dumps_line(line) + "\n" for line in lines)
        with open(self.path, "a", encoding="utf-8") as f:  # O_APPEND: whole lines, one writer per file
            f.write(text)
        if self.echo:
            sys.stderr.write(text)


def _names(run: RunOptions) -> tuple[str, str]:
    if run.shard is None:
        return "index.jsonl", "log.jsonl"
    i, n = run.shard
    return f"index.shard-{i}-of-{n}.jsonl", f"log.shard-{i}-of-{n}.jsonl"


def write_batch_page(out: Path, records: list[IndexRecord], order: dict[str, int]) -> None:
    """``index.html`` for the batch; a failure here is reported, never fatal."""
    from .report import write_index

    try:
        write_index(out, sorted(records, key=lambda r: order.get(r.input, 0)))
    except Exception as exc:  # noqa: BLE001 - the results themselves are complete
        print(f"avpipe: index.html not written: {type(exc).__name__}: {exc}", file=sys.stderr)


def skip_finished(items: list[Input], out: Path, pipeline: PipelineOptions, formats: tuple[str, ...]
                  ) -> tuple[list[Input], list[IndexRecord]]:
    """Split inputs into those to process and ``skipped`` records for those already finished
    with the same content and pipeline (see :mod:`avpipe.ledger`)."""
    key = pipeline_key(pipeline, formats)
    todo, skipped = [], []
    for item in items:
        try:
            done = item.path.is_file() and finished(out / item.video_id, content_key(item.path), key)
        except OSError:
            done = False
        if done:
            skipped.append(IndexRecord(input=item.input, video_id=item.video_id, status="skipped",
                                       result=f"{item.video_id}/result.json", seconds=0.0))
        else:
            todo.append(item)
    return todo, skipped


def prepare_batch(inputs: list[str], out: Path, pipeline: PipelineOptions, run: RunOptions
                  ) -> tuple[list[Input], "_Index", "_Log", list[Input], list[IndexRecord]]:
    """What every engine does first: create ``out``, discover the inputs (this shard's), open
    the index and the log, and split the inputs into those to do and those already finished."""
    out.mkdir(parents=True, exist_ok=True)
    items = discover(inputs)
    if run.shard is not None:
        i, n = run.shard
        items = [item for position, item in enumerate(items) if position % n == i]
    index_name, log_name = _names(run)
    index = _Index(out / index_name, items)
    log = _Log(out / log_name, run.log_stderr)
    todo, skipped = skip_finished(items, out, pipeline, run.formats) if run.resume else (items, [])
    return items, index, log, todo, skipped


def run_batch(inputs: list[str], out: str | Path, pipeline: PipelineOptions, run: RunOptions = RunOptions()) -> BatchSummary:
    """Process every video found in ``inputs`` into ``out`` and write ``out/index.jsonl``.

    Never raises for a bad input: each becomes an ``error`` record. Inputs already finished with
    the same content and pipeline are ``skipped`` (no model work). Returns the records in input
    order; ``summary.exit_code`` is the CLI's exit code (1 when any input failed).
    """
    from tqdm import tqdm

    out = Path(out)
    items, index, log, todo, skipped = prepare_batch(inputs, out, pipeline, run)
    _clean_stale_tmp(out)
    bar = tqdm(total=len(items), unit="video", disable=not run.progress, file=sys.stderr, dynamic_ncols=True)

    def finish(record: IndexRecord) -> None:
        index.add(record)
        log.write(record, out)
        bar.update(1)
        bar.set_postfix_str(f"{record.status}: {record.input[-40:]}", refresh=False)

    try:
        for record in skipped:
            finish(record)
        if run.workers <= 0:
            fn = _load(run.worker_fn)
            for item in todo:
                finish(fn(item, out, pipeline, run.formats, lambda kind, value: None, run_tmp(out, os.getpid())))
        elif todo:
            _run_pool(todo, out, pipeline, run, finish)
    finally:
        index.flush()
        bar.close()
        if "html" in run.formats and run.shard is None:
            write_batch_page(out, index.records, index.order)
        shutil.rmtree(run_tmp(out, os.getpid()), ignore_errors=True)
        try:
            (out / TMP_DIR).rmdir()
        except OSError:
            pass
    records = sorted(index.records, key=lambda r: index.order.get(r.input, 0))
    return BatchSummary(records=records, index_path=index.path)


def _run_pool(items: list[Input], out: Path, pipeline: PipelineOptions, run: RunOptions,
              finish: Callable[[IndexRecord], None], pool: "_Pool | None" = None) -> None:
    """Run ``items`` on worker processes; a given ``pool`` is left open for more (Ray actors)."""
    own = pool is None
    pool = pool or _Pool(out, run)
    queue: deque[tuple[Input, PipelineOptions, bool]] = deque((item, pipeline, False) for item in items)
    try:
        while queue or any(w.item for w in pool.workers):
            while queue and (len(pool.workers) < run.workers or any(w.item is None for w in pool.workers)):
                worker = next((w for w in pool.workers if w.item is None), None) or pool.spawn()
                item, pipe, retried = queue.popleft()
                worker.item, worker.pipeline, worker.in_decord = item, pipe, False
                worker.started = time.monotonic()
                worker.deadline = _deadline(run, worker.started, None)
                worker.retried = retried
                worker.conn.send((item, pipe))
            busy = [w for w in pool.workers if w.item is not None]
            timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            wait_any([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=min(timeout, 5.0))
            for worker in busy:
                _service(pool, worker, run, queue, finish)
    finally:
        if own:
            pool.close()


def _service(pool: _Pool, worker: _Worker, run: RunOptions, queue: deque, finish: Callable[[IndexRecord], None]) -> None:
    """Read what a busy worker sent; detect its death or its deadline."""
    item = worker.item
    try:
        while worker.conn.poll():
            kind, a, b = worker.conn.recv()
            if kind == "note" and a == "duration":
                worker.deadline = _deadline(run, worker.started, b)
            elif kind == "note" and a == "decode_backend":
                worker.in_decord = b == "decord"
            elif kind == "note" and a == "decode_done":
                worker.in_decord = False
            elif kind == "done":
                worker.item = None
                finish(IndexRecord.model_validate(a))
                return
    except (EOFError, OSError):
        pass  # the worker died mid-message; handled below
    died = not worker.process.is_alive()
    late = time.monotonic() > worker.deadline
    if not (died or late):
        return
    seconds = time.monotonic() - worker.started
    pool.retire(worker, kill=True)
    if worker.in_decord and not worker.retried:
        # decord hung or aborted: try the same video once more with PyAV.
        pyav = dataclasses.replace(worker.pipeline, decode=dataclasses.replace(worker.pipeline.decode, backend="pyav"))
        queue.appendleft((item, pyav, True))
        return
    if died:
        code = worker.process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        error = WorkerCrashed(f"the worker process died ({how}) while processing this video", item.path)
    else:
        error = WorkerTimeout(f"processing took longer than its limit ({seconds:.0f} s) and was stopped", item.path)
    finish(IndexRecord(input=item.input, video_id=item.video_id, status="error", seconds=round(seconds, 3),
                       error=ErrorInfo(type=type(error).__name__, message=error.message)))
