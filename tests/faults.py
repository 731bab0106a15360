"""Worker functions that misbehave on purpose, for the runner's isolation tests.

They are imported by name in spawned worker processes (``RunOptions.worker_fn``), so the tests
put this folder on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import time

from avpipe.cache import once
from avpipe.runner import process_one


def abort_on_marker(item, out, pipeline, formats, notify, tmp_root):
    """Abort the whole process (like a native decoder's abort()) for inputs named *crash*."""
    if "crash" in item.path.name:
        os.abort()
    return process_one(item, out, pipeline, formats, notify, tmp_root)


def hang_on_marker(item, out, pipeline, formats, notify, tmp_root):
    """Hang forever (like a decoder stuck in a loop) for inputs named *hang*."""
    if "hang" in item.path.name:
        while True:
            time.sleep(1)
    return process_one(item, out, pipeline, formats, notify, tmp_root)


def abort_in_decord(item, out, pipeline, formats, notify, tmp_root):
    """Abort while decord is the decode backend, for inputs named *crash*: the runner must then
    retry that video with PyAV, which this function lets through."""
    if "crash" in item.path.name and pipeline.decode.backend != "pyav":
        notify("decode_backend", "decord")
        os.abort()
    return process_one(item, out, pipeline, formats, notify, tmp_root)


def slow_model_load(item, out, pipeline, formats, notify, tmp_root):
    """Load a "model" that takes 8 s (once per worker process, through avpipe's model cache)
    before each video's work: with a time limit shorter than that, every video must still pass,
    since the limit covers the video's work, not model loading."""
    _slow_model()
    if "hang" in item.path.name:
        while True:
            time.sleep(1)
    return process_one(item, out, pipeline, formats, notify, tmp_root)


@once
def _slow_model():
    time.sleep(8)
    return object()


def publish_then_hang(item, out, pipeline, formats, notify, tmp_root):
    """For inputs named *late*: publish the result, then hang before reporting it, as a worker
    does when the batch is stopped between its publishing and the driver hearing of it."""
    outcome = process_one(item, out, pipeline, formats, notify, tmp_root)
    if "late" in item.path.name:
        (out / "late-published").write_text("")
        while True:
            time.sleep(1)
    return outcome


def note_pid(item, out, pipeline, formats, notify, tmp_root):
    """Append this worker's pid to ``out/pids`` (one line a video): how many workers ran."""
    with open(out / "pids", "a") as f:
        f.write(f"{os.getpid()}\n")
    return process_one(item, out, pipeline, formats, notify, tmp_root)
