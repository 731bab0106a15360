"""Local batch runner: each video in a worker process, with a time limit, results written
atomically, and ``index.jsonl`` saying what became of every input.

Why processes: native decoders (decord above all, issues #373 and #25) can hang or abort the
whole interpreter on a broken file. Here a hang costs one video (the worker is killed at its
deadline) and an abort costs one video (the worker is replaced); the batch goes on. When the
dead worker was inside decord, the video is tried once more with PyAV before it is given up.

Workers are long-lived: each takes videos one after another, so models that later stages load
are loaded once per worker, not once per video.

Two public pieces serve both engines (this one and :mod:`avpipe.engines.ray`):
:class:`WorkerPool` runs videos in worker processes, and :class:`Batch` owns what a batch
leaves beside the results (``index.jsonl``, ``log.jsonl``, ``index.html``, the search index).
A worker reports each video as an :class:`Outcome`: its index record plus its stage times, so
the driver never re-reads a result to log it.
"""

from __future__ import annotations

import contextlib
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

from .atomic import atomic_write_text, file_mode, publish_dir
from .discover import Input, discover
from .errors import AvpipeError, IdCollision, NoInputs, OutputBusy, WorkerCrashed, WorkerTimeout
from .ledger import KEY_FILE, content_key, entry, finished, made_from, pipeline_key
from .options import PipelineOptions
from .schema import ErrorInfo, IndexRecord, printable
from .search.results import read_records
from .stopping import StopSignals
from .writers import WRITERS, dumps_line

TMP_DIR = ".avpipe-tmp"
#: Time allowed before the duration is known (open and probe), and per second of media after.
BASE_TIMEOUT_S = 300.0
TIMEOUT_PER_MEDIA_SECOND = 3.0
#: Loading models is not part of a video's time: while a worker loads weights its video's clock
#: stops, and the load has this long of its own.
LOAD_TIMEOUT_S = 900.0
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
class Outcome:
    """What became of one input: its ``index.jsonl`` record and, for a result, one entry per
    stage (``stage``, ``seconds``, ``status``, ``error_type``) for the structured log."""

    record: IndexRecord
    stages: list[dict] = field(default_factory=list)


@dataclass
class BatchSummary:
    records: list[IndexRecord] = field(default_factory=list)
    index_path: Path | None = None
    # The search index update: counts of videos added, updated, removed and kept, or why it failed.
    search: dict | None = None
    search_error: str | None = None
    # The people index update (avpipe.people): its counts, or why it failed.
    people: dict | None = None
    people_error: str | None = None
    # Places discovery could not look into (a folder it may not list, a path past PATH_MAX): the
    # videos there are missing from the batch, so it is not all ok.
    unreadable: int = 0

    @property
    def failed(self) -> int:
        return sum(r.status == "error" for r in self.records)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed or self.unreadable else 0


# --------------------------------------------------------------------------- one video


def run_tmp(out: Path, run_pid: int) -> Path:
    """Where the batch run with process id ``run_pid`` on this host builds result folders (the
    host is in the name: on a shared file system, runs on other machines are not ours to clean)."""
    return out / TMP_DIR / f"{socket.gethostname()}-{run_pid}"


def process_one(item: Input, out: Path, pipeline: PipelineOptions, formats: tuple[str, ...],
                notify: Callable[[str, object], None], tmp_root: Path) -> Outcome:
    """Process one input into ``out/<video_id>/`` and say what became of it.

    The result folder is built under ``tmp_root`` (inside ``out/.avpipe-tmp/``) and renamed
    into place only when complete; on failure it is removed and nothing appears under ``out``.
    """
    from .pipeline import process_video

    t0 = time.perf_counter()
    tmp = tmp_root / f"{item.video_id}.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    source = os.path.realpath(item.path)
    try:
        _check_owner(out / item.video_id, source)
        content = item.content_key or (content_key(item.path) if item.path.is_file() else "")
        result = process_video(item.path, item.video_id, tmp, pipeline, notify=notify)
        for name in dict.fromkeys(("json", *formats)):
            WRITERS[name](result, tmp)
        # the ledger entry goes in with the result, in the same rename
        atomic_write_text(tmp / KEY_FILE, json.dumps(entry(item.input, content, pipeline_key(pipeline, formats),
                                                           pipeline.name, source), indent=1) + "\n")
        _check_owner(out / item.video_id, source)  # another run may have published there meanwhile
        publish_dir(tmp, out / item.video_id)
    except Exception as exc:  # noqa: BLE001 - one bad file is one error record
        shutil.rmtree(tmp, ignore_errors=True)
        message = exc.message if isinstance(exc, AvpipeError) else f"{exc}"
        return Outcome(IndexRecord(input=item.input, video_id=item.video_id, status="error",
                                   seconds=round(time.perf_counter() - t0, 3),
                                   error=ErrorInfo(type=type(exc).__name__, message=message or type(exc).__name__)))
    errors = {e.stage: e.type for e in result.errors}
    stages = [{"stage": name, "seconds": info.seconds, "status": info.status, "error_type": errors.get(name)}
              for name, info in result.stages.items()]
    return Outcome(IndexRecord(input=item.input, video_id=item.video_id, status="ok",
                               result=f"{item.video_id}/result.json", partial=bool(result.errors),
                               seconds=round(time.perf_counter() - t0, 3)), stages)


def _check_owner(result_dir: Path, source: str) -> None:
    """Refuse to replace a result folder that holds another file's result (two paths whose ids
    collide): :class:`IdCollision`, and the other result stays as it is."""
    owner = made_from(result_dir)
    if owner is not None and owner != source:
        raise IdCollision(f"its result folder {result_dir.name}/ already holds the result of another file "
                          f"({printable(owner)}); that result is kept: rename or move one of the two files", source)


def _load(ref: str) -> Callable:
    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)


def _worker_main(conn, out: Path, formats: tuple[str, ...], worker_fn: str, tmp_root: Path, threads: int = 0,
                 parent: int = 0) -> None:
    """Worker loop: receive (input, pipeline), send progress notes and then the record with
    this process's peak memory (MB), which the batch keeps to plan its workers next time.

    ``threads`` (when > 0 and the user set no ``OMP_NUM_THREADS``) is this worker's share of
    the cores, set before any model library is imported: torch, onnxruntime and avpipe's speech
    stage read it, so N workers do not each start a thread per core. ``parent`` is the batch
    process's pid."""
    # The parent decides when to stop: Ctrl-C reaches the whole process group, and systemd's
    # stop sends SIGTERM to every process of the unit; the parent then kills busy workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent(parent)
    if threads > 0:
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    import threading

    from tqdm import tqdm

    from .cache import on_load
    from .resources import peak_rss_mb

    # Progress bars of libraries in the worker (weights loading) would otherwise make a
    # multiprocessing lock: a named semaphore that a killed worker leaves for the resource
    # tracker to clean up, with a warning, at the end of the batch.
    tqdm.set_lock(threading.RLock())
    on_load(lambda loading: conn.send(("note", "loading", loading)))
    fn = _load(worker_fn)
    while True:
        task = conn.recv()
        if task is None:
            return
        item, pipeline = task
        outcome = fn(item, out, pipeline, formats, lambda kind, value: conn.send(("note", kind, value)), tmp_root)
        conn.send(("done", outcome, peak_rss_mb()))


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this worker when the batch process dies (even by SIGKILL), so a
    killed run leaves no orphan still decoding; a rerun then starts clean.

    If the parent died before the call, this worker has been handed to another process: its
    parent pid is no longer ``parent``. (Comparing with 1 instead would be wrong where the
    batch itself is PID 1, as the container image runs it, and where a subreaper adopts.)"""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if parent and os.getppid() != parent:
            os._exit(1)


# --------------------------------------------------------------------------- the pool


@dataclass
class _Worker:
    process: mp.Process
    conn: object
    item: Input | None = None
    pipeline: PipelineOptions | None = None
    started: float = 0.0
    deadline: float = float("inf")  # the video's time limit, not counting model loading
    loading_since: float | None = None  # when the worker began loading weights, while it does
    loading_spent: float = 0.0  # seconds spent loading weights during this video
    in_decord: bool = False
    retried: bool = False

    def due(self) -> float:
        """When this worker's video runs out of time: its limit, moved on by the time spent
        loading models; while loading, the load's own limit."""
        if self.loading_since is not None:
            return self.loading_since + LOAD_TIMEOUT_S
        return self.deadline + self.loading_spent


class WorkerPool:
    """Worker processes, each taking videos one after another with a time limit per video.

    :meth:`run` hands out a list of inputs and returns when each has an :class:`Outcome`; the
    pool stays open for more (a Ray actor keeps one for every video it is given) until
    :meth:`close`. A worker that dies or overruns its deadline is killed and replaced, and its
    video becomes an error record; a video whose worker died inside decord is tried once more
    with PyAV first.
    """

    def __init__(self, out: Path, run: RunOptions) -> None:
        self.ctx = mp.get_context("spawn")  # no inherited locks or CUDA state
        self.out, self.run_options = out, run
        self.workers: list[_Worker] = []
        self.peak_mb = 0.0  # the largest peak memory a worker reported, in MB

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run(self, items: list[Input], pipeline: PipelineOptions, finish: Callable[[Outcome], None]) -> None:
        """Process ``items``, calling ``finish`` with each one's outcome as it arrives."""
        run = self.run_options
        size = max(1, run.workers)
        queue: deque[tuple[Input, PipelineOptions, bool]] = deque((item, pipeline, False) for item in items)
        while queue or any(w.item for w in self.workers):
            while queue and (len(self.workers) < size or any(w.item is None for w in self.workers)):
                worker = next((w for w in self.workers if w.item is None), None) or self._spawn()
                item, pipe, retried = queue.popleft()
                worker.item, worker.pipeline, worker.in_decord = item, pipe, False
                worker.started = time.monotonic()
                worker.deadline = _deadline(run, worker.started, None)
                worker.loading_since, worker.loading_spent = None, 0.0
                worker.retried = retried
                worker.conn.send((item, pipe))
            busy = [w for w in self.workers if w.item is not None]
            timeout = max(0.0, min(w.due() for w in busy) - time.monotonic())
            wait_any([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=min(timeout, 5.0))
            for worker in busy:
                self._service(worker, queue, finish)

    def close(self) -> None:
        """Stop every worker: idle ones are asked to leave (5 s in all, then killed); busy ones,
        which only an interrupted batch has, are killed at once, so a stop fits in a container's
        grace period whatever the number of workers."""
        for worker in self.workers:
            if worker.item is None:
                try:
                    worker.conn.send(None)
                except OSError:
                    pass
        deadline = time.monotonic() + 5
        for worker in list(self.workers):
            if worker.item is None:
                worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            self._retire(worker, kill=True)

    def _spawn(self) -> _Worker:
        run = self.run_options
        parent, child = self.ctx.Pipe()
        share = max(1, len(os.sched_getaffinity(0)) // run.workers) if run.workers > 1 else 0
        process = self.ctx.Process(target=_worker_main, args=(child, self.out, run.formats, run.worker_fn,
                                                                 run_tmp(self.out, os.getpid()), share, os.getpid()),
                                   daemon=True, name="avpipe-worker")
        process.start()
        child.close()
        worker = _Worker(process, parent)
        self.workers.append(worker)
        return worker

    def _retire(self, worker: _Worker, kill: bool) -> None:
        if kill and worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=10)
        worker.conn.close()
        self.workers.remove(worker)
        if worker.item is not None:  # remove what the dead worker left half-built
            for leftover in run_tmp(self.out, os.getpid()).glob(f"{worker.item.video_id}.*"):
                shutil.rmtree(leftover, ignore_errors=True)

    def _service(self, worker: _Worker, queue: deque, finish: Callable[[Outcome], None]) -> None:
        """Read what a busy worker sent; detect its death or its deadline."""
        run = self.run_options
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
                elif kind == "note" and a == "loading":
                    now = time.monotonic()
                    if b:
                        worker.loading_since = now
                    elif worker.loading_since is not None:
                        worker.loading_spent += now - worker.loading_since
                        worker.loading_since = None
                elif kind == "done":
                    worker.item = None
                    self.peak_mb = max(self.peak_mb, b or 0.0)
                    finish(a)
                    return
        except (EOFError, OSError):
            pass  # the worker died mid-message; handled below
        died = not worker.process.is_alive()
        late = time.monotonic() > worker.due()
        if not (died or late):
            return
        seconds = time.monotonic() - worker.started
        loading = worker.loading_since is not None
        self._retire(worker, kill=True)
        if worker.in_decord and not worker.retried:
            # decord hung or aborted: try the same video once more with PyAV.
            pyav = dataclasses.replace(worker.pipeline, decode=dataclasses.replace(worker.pipeline.decode, backend="pyav"))
            queue.appendleft((item, pyav, True))
            return
        if died:
            code = worker.process.exitcode
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            error = WorkerCrashed(f"the worker process died ({how}) while processing this video", item.path)
        elif loading:
            error = WorkerTimeout(f"loading the models took longer than {LOAD_TIMEOUT_S:.0f} s and was stopped", item.path)
        else:
            spent = seconds - worker.loading_spent
            error = WorkerTimeout(f"processing took longer than its limit ({spent:.0f} s, not counting "
                                  f"{worker.loading_spent:.0f} s of model loading) and was stopped", item.path)
        finish(Outcome(IndexRecord(input=item.input, video_id=item.video_id, status="error", seconds=round(seconds, 3),
                                   error=ErrorInfo(type=type(error).__name__, message=error.message))))


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


# --------------------------------------------------------------------------- the batch


def skip_finished(items: list[Input], out: Path, pipeline: PipelineOptions, formats: tuple[str, ...]
                  ) -> tuple[list[Input], list[IndexRecord]]:
    """Split inputs into those to process (with their content key, computed once here) and
    ``skipped`` records for those already finished with the same content and pipeline (see
    :mod:`avpipe.ledger`)."""
    key = pipeline_key(pipeline, formats)
    todo, skipped = [], []
    for item in items:
        try:
            content = content_key(item.path) if item.path.is_file() else None
        except OSError:
            content = None
        if content is not None and finished(out / item.video_id, content, key):
            skipped.append(IndexRecord(input=item.input, video_id=item.video_id, status="skipped",
                                       result=f"{item.video_id}/result.json", seconds=0.0))
        else:
            todo.append(dataclasses.replace(item, content_key=content))
    return todo, skipped


class Batch:
    """One batch run into ``out``, whatever the engine: it discovers the inputs (this shard's),
    splits off those already finished, and owns what the batch writes beside the results.

    - ``index.jsonl``: one record per input in input order, rewritten atomically (throttled)
      as outcomes arrive, and at the end;
    - ``log.jsonl``: one JSON line per video and stage (``video_id``, ``stage``, ``seconds``,
      ``status``, ``error_type``), appended;
    - at :meth:`close`, ``index.html`` and (when asked) the search index ``search/``.

    A shard writes ``index.shard-I-of-N.jsonl`` and ``log.shard-I-of-N.jsonl``, and leaves the
    page and the search index to a run over the whole folder.

    The index describes every result in ``out``, not only this batch's: records of earlier runs
    whose results are still there are kept (after this batch's own, in their earlier order). Two
    runs into one folder at once are refused: the batch holds a lock (``.avpipe.lock``, one per
    shard) until :meth:`close`, and a second run fails at once with :class:`OutputBusy`. Inputs
    that hold no video raise :class:`NoInputs` before anything is written.
    """

    def __init__(self, inputs: list[str], out: str | Path, pipeline: PipelineOptions, run: RunOptions) -> None:
        self.out, self.pipeline, self.run = Path(out), pipeline, run
        passed: list[Path] = []
        unreadable: list[tuple[Path, OSError]] = []
        items = discover(inputs, passed, unreadable)
        if not items:  # before anything is created: a usage error, not an empty batch
            raise NoInputs(f"no video found in {' '.join(inputs)} (folders are searched for video files; "
                           "name a file directly to take it whatever it holds)")
        self.out.mkdir(parents=True, exist_ok=True)
        suffix = "" if run.shard is None else f".shard-{run.shard[0]}-of-{run.shard[1]}"
        self._lock_fd = _lock(self.out / f".avpipe{suffix}.lock")
        if run.shard is not None:
            i, n = run.shard
            items = [item for position, item in enumerate(items) if position % n == i]
        self.items = items
        self.order = {printable(item.input): i for i, item in enumerate(items)}  # records hold printable names
        self.index_path = self.out / f"index{suffix}.jsonl"
        self.log_path = self.out / f"log{suffix}.jsonl"
        # Earlier runs' records: kept while their result is there and this batch gave their
        # input (or their folder: the same file named another way) no record of its own.
        self.previous = [r for r in read_records(self.index_path)[0] if r.result]
        self.records: list[IndexRecord] = []
        self._flushed = 0.0
        for path in passed:
            self._note(printable(str(path)), "discover", "skipped", "NotARegularFile",
                       "not a regular file (a FIFO, socket or device): passed over unopened")
        self.unreadable = len(unreadable)
        for path, exc in unreadable:
            self._note(printable(str(path)), "discover", "error", type(exc).__name__,
                       f"could not be read ({exc.strerror or exc}): any video there is missing from this batch")
        self.todo, skipped = (skip_finished(items, self.out, pipeline, run.formats) if run.resume
                              else (items, []))
        for record in skipped:
            self.add(Outcome(record))

    @property
    def earlier(self) -> list[IndexRecord]:
        """The earlier runs' records that the index keeps (see ``previous`` above)."""
        inputs = {r.input for r in self.records}
        ids = {r.video_id for r in self.records}
        return [r for r in self.previous if r.input not in inputs and r.video_id not in ids
                and (self.out / r.result).is_file()]

    def adopt_published(self) -> None:
        """Give a record to every input of this batch whose finished result is in place without
        one: after an interruption, a worker may have published a result just before the driver
        stopped listening. The workers are gone by then, so nothing is published after this."""
        done = {r.input for r in self.records}
        key = pipeline_key(self.pipeline, self.run.formats)
        for item in self.todo:
            folder = self.out / item.video_id
            if printable(item.input) in done or not item.content_key or not finished(folder, item.content_key, key):
                continue
            try:
                errors = json.loads((folder / "result.json").read_text(encoding="utf-8")).get("errors")
            except (OSError, ValueError, AttributeError):
                continue  # not readable: not a finished result after all
            self.add(Outcome(IndexRecord(input=item.input, video_id=item.video_id, status="ok",
                                         result=f"{item.video_id}/result.json", partial=bool(errors), seconds=0.0)))

    def add(self, outcome: Outcome) -> None:
        """Take one input's outcome: into the index (flushed at most every 2 s) and the log."""
        self.records.append(outcome.record)
        self._log(outcome)
        if time.monotonic() - self._flushed >= INDEX_FLUSH_S:
            self.flush()

    def flush(self) -> None:
        """Rewrite ``index.jsonl``: this batch's records so far in input order, then the earlier
        runs' records whose results are still in the folder."""
        atomic_write_text(self.index_path, "".join(dumps_line(r.model_dump(exclude_none=True)) + "\n"
                                                   for r in [*self.ordered(), *self.earlier]))
        self._flushed = time.monotonic()

    def ordered(self) -> list[IndexRecord]:
        return sorted(self.records, key=lambda r: self.order.get(r.input, len(self.order)))

    def close(self, search: bool = False) -> BatchSummary:
        """Write the final index, the batch page, the people index (where a result has faces or
        voices to match) and (``search``) the search index, then let go of the folder's lock; the
        page and the indexes never fail the batch: their errors are reported, the results stand."""
        try:
            self.adopt_published()
            self.flush()
            summary = BatchSummary(records=self.ordered(), index_path=self.index_path, unreadable=self.unreadable)
            if self.run.shard is not None:
                return summary
            if "html" in self.run.formats:
                from .report import write_index

                try:
                    write_index(self.out, [*summary.records, *self.earlier])
                except Exception as exc:  # noqa: BLE001 - the results themselves are complete
                    print(f"avpipe: index.html not written: {type(exc).__name__}: {exc}", file=sys.stderr)
            if any(self.out.glob("*/identity.npz")) or (self.out / "people").is_dir():
                from .people import update as update_people

                try:  # before the search index, which then reads the names it gave
                    summary.people = update_people(self.out)
                except Exception as exc:  # noqa: BLE001 - the results themselves are complete
                    summary.people_error = f"{type(exc).__name__}: {exc}"
            if search:
                from .search import update_index

                try:
                    summary.search = update_index(self.out)
                except Exception as exc:  # noqa: BLE001 - the results themselves are complete
                    summary.search_error = f"{type(exc).__name__}: {exc}"
            return summary
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases the lock
                self._lock_fd = None

    def _note(self, input: str, stage: str, status: str, error_type: str | None, message: str) -> None:
        """A log line about an input that gets no index record (passed over in discovery)."""
        line = {"time": round(time.time(), 3), "input": input, "video_id": None, "stage": stage, "seconds": 0.0,
                "status": status, "error_type": error_type, "message": message}
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(dumps_line(line) + "\n")
        print(f"avpipe: {input}: {message}", file=sys.stderr)

    def _log(self, outcome: Outcome) -> None:
        record = outcome.record
        base = {"time": round(time.time(), 3), "input": record.input, "video_id": record.video_id}
        lines = [{**base, **stage} for stage in outcome.stages]
        lines.append({**base, "stage": "video", "seconds": record.seconds, "status": record.status,
                      "error_type": record.error.type if record.error else None})
        text = "".join(dumps_line(line) + "\n" for line in lines)
        with open(self.log_path, "a", encoding="utf-8") as f:  # O_APPEND: whole lines, one writer per file
            f.write(text)
        if self.run.log_stderr:
            sys.stderr.write(text)


@contextlib.contextmanager
def folder_lock(out: Path):
    """Hold an output folder's lock (as a batch does) for a while: ``avpipe index`` takes it so
    that it never rebuilds the search index under a running batch."""
    fd = _lock(Path(out) / ".avpipe.lock")
    try:
        yield
    finally:
        os.close(fd)


def _lock(path: Path) -> int:
    """Take the output folder's lock (``flock``, released when the returned descriptor is
    closed or the process dies), or raise :class:`OutputBusy` naming who holds it."""
    import fcntl

    import errno

    fd = os.open(path, os.O_RDWR | os.O_CREAT, file_mode())
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            # a file system without locks (some network mounts): say so, and go on unlocked
            print(f"avpipe: {path.parent}: cannot lock the output folder ({exc.strerror}); "
                  "do not start a second run into it until this one ends", file=sys.stderr)
            return fd
        holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "another process"
        os.close(fd)
        raise OutputBusy(f"another avpipe run ({holder}) is writing into this folder; wait for it to finish, "
                         "or give another --out", path.parent) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode())
    return fd


def run_batch(inputs: list[str], out: str | Path, pipeline: PipelineOptions, run: RunOptions = RunOptions(),
              search: bool = False) -> BatchSummary:
    """Process every video found in ``inputs`` into ``out`` and write ``out/index.jsonl``.

    Never raises for a bad input: each becomes an ``error`` record. Inputs already finished with
    the same content and pipeline are ``skipped`` (no model work). With ``search``, the search
    index ``out/search/`` is brought up to date at the end, an interrupted batch's too (Ctrl-C,
    SIGTERM: see :class:`avpipe.stopping.StopSignals`; the interruption is raised after that). The workers are
    as many as asked, cores and memory allowing (:func:`avpipe.resources.plan_workers`). Returns
    the records in input order; ``summary.exit_code`` is the CLI's exit code (1 when any input
    failed).
    """
    from tqdm import tqdm

    from .resources import plan_workers, record_peak_mb

    with StopSignals() as stop:
        batch = Batch(inputs, out, pipeline, run)
        _clean_stale_tmp(batch.out)
        plan = plan_workers(run.workers, _peak_key(pipeline)) if batch.todo else None
        if plan is not None and plan.warning:
            print(f"avpipe: {plan.warning}", file=sys.stderr)
        workers = plan.workers if plan is not None else run.workers
        bar = tqdm(total=len(batch.items), initial=len(batch.records), unit="video", disable=not run.progress,
                   file=sys.stderr, dynamic_ncols=True)

        def finish(outcome: Outcome) -> None:
            batch.add(outcome)
            bar.update(1)
            bar.set_postfix_str(f"{outcome.record.status}: {outcome.record.input[-40:]}", refresh=False)

        pool = None
        try:
            if workers <= 0:
                fn = _load(run.worker_fn)
                for item in batch.todo:
                    finish(fn(item, batch.out, pipeline, run.formats, lambda kind, value: None,
                              run_tmp(batch.out, os.getpid())))
            elif batch.todo:
                with WorkerPool(batch.out, dataclasses.replace(run, workers=workers)) as pool:
                    pool.run(batch.todo, pipeline, finish)
        finally:
            with stop.closing():
                bar.close()
                shutil.rmtree(run_tmp(batch.out, os.getpid()), ignore_errors=True)
                try:
                    (batch.out / TMP_DIR).rmdir()
                except OSError:
                    pass
                if pool is not None and pool.peak_mb > 0:
                    record_peak_mb(_peak_key(pipeline), pool.peak_mb)
                summary = batch.close(search=search)
    return summary


def _peak_key(pipeline: PipelineOptions) -> str:
    """The name a pipeline's measured worker peak is kept under: its name and device."""
    return f"{pipeline.name}:{pipeline.device}"
