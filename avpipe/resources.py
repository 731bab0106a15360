"""How many worker processes this machine can hold: cores and memory, not only what was asked.

Each worker loads its own copy of the models (Whisper in CTranslate2, the vision encoder, the
voice encoders...): 2.4 GB at the peak for the default pipeline on a 30-minute video. Asking for
8 workers on a 2-core, 24 GB machine used to start 8 copies and run the machine out of memory.
So a batch takes ``min(asked, cores, memory / per-worker peak)`` workers and says why when that
is fewer than asked.

The per-worker peak is measured, not guessed: every worker reports its peak resident memory
(``ru_maxrss``) with each video, and the batch keeps the largest ever seen for the pipeline in
``$AVPIPE_HOME/worker-peaks.json``. Before any measurement, :data:`DEFAULT_PEAK_MB` stands in.

Memory available is the smaller of the kernel's ``MemAvailable`` and what the cgroup (a
container's memory limit) still allows, so a pod with ``limits.memory: 16Gi`` on a 512 GB node
is planned for 16 GB.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

#: Per-worker peak before one was measured for the pipeline: the default pipeline's measured
#: peak on the 30-minute benchmark (2,446 MB), rounded up.
DEFAULT_PEAK_MB = 2600.0
#: The share of the available memory that workers may plan to fill (the rest: the driver, the
#: page cache that decoding needs, other programs).
MEMORY_SHARE = 0.85
PEAKS_FILE = "worker-peaks.json"


def cores() -> int:
    """The cores this process may run on (its affinity: a container's or taskset's share)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def available_memory_mb() -> float | None:
    """Memory that new processes can still take, in MB: the smaller of the kernel's
    ``MemAvailable`` and the room left under this cgroup's limit; None when neither is known."""
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) / 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
            found.append(max(0.0, (int(limit) - used) / 2**20))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def _peaks_path() -> Path:
    from .models import home

    return home() / PEAKS_FILE


def _read_peaks() -> dict:
    try:
        peaks = json.loads(_peaks_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return peaks if isinstance(peaks, dict) else {}


def measured_peak_mb(pipeline_name: str) -> float | None:
    """The largest per-worker peak measured so far for this pipeline, in MB."""
    value = _read_peaks().get(pipeline_name)
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def record_peak_mb(pipeline_name: str, peak_mb: float) -> None:
    """Keep ``peak_mb`` as this pipeline's per-worker peak when it is the largest seen. A cache
    that cannot be written (a read-only home) only loses the measurement."""
    from .atomic import atomic_write_text

    peaks = _read_peaks()
    if peak_mb <= float(peaks.get(pipeline_name) or 0):
        return
    peaks[pipeline_name] = round(peak_mb, 1)
    try:
        path = _peaks_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(peaks, indent=1, sort_keys=True) + "\n")
    except OSError:
        pass


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB.

    Linux's ``VmHWM`` first: ``ru_maxrss`` survives ``execve``, so a worker spawned (fork, then
    exec) by a large process would report its parent's peak as its own. Elsewhere ``ru_maxrss``
    (KiB on Linux, bytes on macOS)."""
    import resource
    import sys

    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1 << 20 if sys.platform == "darwin" else 1 << 10)


@dataclass(frozen=True)
class WorkerPlan:
    """How many workers a batch runs, and, when fewer than asked, the sentence that says why."""

    workers: int
    warning: str | None = None


def plan_workers(asked: int, pipeline_name: str) -> WorkerPlan:
    """``min(asked, cores, memory / per-worker peak)``, at least one; ``asked <= 1`` is kept as
    it is (0 runs in this process, 1 is always possible)."""
    if asked <= 1:
        return WorkerPlan(asked)
    n_cores = cores()
    free = available_memory_mb()
    peak = measured_peak_mb(pipeline_name)
    per_worker = peak or DEFAULT_PEAK_MB
    by_memory = asked if free is None else max(1, int(free * MEMORY_SHARE // per_worker))
    workers = max(1, min(asked, n_cores, by_memory))
    if workers == asked:
        return WorkerPlan(workers)
    why = [f"{n_cores} core{'s' * (n_cores != 1)}"]
    if free is not None:
        source = "measured peak" if peak else "estimate; measured after the first videos"
        why.append(f"{free / 1024:.1f} GB of memory available at about {per_worker / 1024:.1f} GB "
                   f"per worker ({source})")
    return WorkerPlan(workers, f"--workers {asked} lowered to {workers}: {' and '.join(why)}; "
                               "each worker holds its own copy of the models")
