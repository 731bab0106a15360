"""Stopping a batch the way containers and service managers do, and what a batch may take.

- SIGTERM (``docker stop``, systemd, Kubernetes) mid-batch stops as cleanly as Ctrl-C: every
  finished result listed, page and search index written, a message, exit 143.
- The batch runs as PID 1 in a new PID namespace (as the image's entrypoint runs it): workers
  used to exit at once, thinking their parent dead, and SIGTERM was ignored with ``--workers 0``.
- A result published just before the driver stopped listening is listed, not orphaned.
- Workers are capped by memory as well as cores, from a measured per-worker peak.
- A result folder that holds another file's result is never overwritten.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import alive, children

from avpipe.config import load_pipeline

TESTS = Path(__file__).resolve().parent
LIGHT = 'name = "light"\nstages = ["probe", "decode", "shots", "keyframes"]\n'
#: Runs the CLI with a test worker function (tests/faults.py) in place of the real one.
DRIVER = """
import functools, sys
sys.path.insert(0, {tests!r})
from avpipe import cli, runner
runner.RunOptions = functools.partial(runner.RunOptions, worker_fn={fn!r})
sys.exit(cli.main(sys.argv[1:]))
"""


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    return env


def _inputs(tmp_path: Path, gen, names: list[str]) -> list[str]:
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(gen("no_audio.mp4"), folder / name)
    return [str(folder / name) for name in names]


def _light(tmp_path: Path) -> str:
    path = tmp_path / "light.toml"
    path.write_text(LIGHT)
    return str(path)


def _records(out: Path, name: str = "index.jsonl") -> dict[str, dict]:
    lines = (out / name).read_text(encoding="utf-8").splitlines()
    return {Path(json.loads(line)["input"]).name: json.loads(line) for line in lines}


def _wait_for(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _pid_namespace_works() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", "echo $$"],
                           capture_output=True, text=True)
    return probe.returncode == 0 and probe.stdout.strip() == "1"


needs_pid_namespace = pytest.mark.skipif(not _pid_namespace_works(),
                                         reason="cannot make a PID namespace here (unshare needs root)")


def _start(argv: list[str], fn: str, pid1: bool) -> tuple[subprocess.Popen, int]:
    """Start the CLI (with worker function ``fn``); return the process and the pid of avpipe's
    own process (inside ``unshare`` when ``pid1``: there it is PID 1 of a new namespace)."""
    command = [sys.executable, "-c", DRIVER.format(tests=str(TESTS), fn=fn), *argv]
    if pid1:
        command = ["unshare", "--pid", "--fork", "--mount-proc", *command]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    if not pid1:
        return proc, proc.pid
    _wait_for(lambda: children(proc.pid), 30, "unshare's child")
    return proc, children(proc.pid)[0]


@needs_pid_namespace
def test_a_batch_runs_as_pid_1(tmp_path, gen):
    inputs = _inputs(tmp_path, gen, ["a.mp4", "b.mp4", "c.mp4"])
    out = tmp_path / "out"
    proc = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-m", "avpipe", "run",
                           *inputs, "--out", str(out), "--pipeline", _light(tmp_path), "--workers", "2", "--quiet"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert [r["status"] for r in _records(out).values()] == ["ok", "ok", "ok"]


@pytest.mark.parametrize("pid1", [False, pytest.param(True, marks=needs_pid_namespace)], ids=["child", "pid1"])
@pytest.mark.parametrize("workers", [1, 0])
def test_sigterm_mid_batch_stops_as_cleanly_as_ctrl_c(tmp_path, gen, workers, pid1):
    inputs = _inputs(tmp_path, gen, ["a.mp4", "b.mp4", "hang.mp4", "c.mp4"])
    out = tmp_path / "out"
    argv = ["run", *inputs, "--out", str(out), "--pipeline", _light(tmp_path), "--workers", str(workers), "--quiet"]
    proc, pid = _start(argv, "faults:hang_on_marker", pid1)
    _wait_for(lambda: len(list(out.glob("*/result.json"))) == 2, 300, "two finished results")
    time.sleep(1.0)  # the worker is now on hang.mp4, which never ends
    workers_before = children(pid)
    t0 = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert time.monotonic() - t0 < 30  # well inside a container's grace period
    assert "stopped by SIGTERM" in err and "run the same command again" in err and "Traceback" not in err
    records = _records(out)
    assert sorted(records) == ["a.mp4", "b.mp4"] and {r["status"] for r in records.values()} == {"ok"}
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "a.mp4" in page and "b.mp4" in page
    assert (out / "search").is_dir()  # the search index was brought up to date too
    assert not (out / ".avpipe-tmp").exists()
    _wait_for(lambda: not any(alive(w) for w in workers_before), 10, "the workers to end")
    # the rerun goes on from there
    rerun = subprocess.run([sys.executable, "-m", "avpipe", *argv], capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    records = _records(out)
    assert [records[n]["status"] for n in ("a.mp4", "b.mp4", "hang.mp4", "c.mp4")] == ["skipped", "skipped", "ok", "ok"]


def test_a_result_published_as_the_batch_stops_is_listed(tmp_path, gen):
    inputs = _inputs(tmp_path, gen, ["a.mp4", "late.mp4", "c.mp4"])
    out = tmp_path / "out"
    argv = ["run", *inputs, "--out", str(out), "--pipeline", _light(tmp_path), "--workers", "1", "--quiet"]
    proc, pid = _start(argv, "faults:publish_then_hang", pid1=False)
    _wait_for(lambda: (out / "late-published").exists(), 300, "late.mp4's result")
    os.kill(pid, signal.SIGINT)  # Ctrl-C
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err, err
    records = _records(out)
    assert sorted(records) == ["a.mp4", "late.mp4"]
    assert records["late.mp4"]["status"] == "ok" and (out / records["late.mp4"]["result"]).is_file()
    assert "late.mp4" in (out / "index.html").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- memory


def test_workers_are_capped_by_memory_and_cores(monkeypatch, tmp_path):
    from avpipe import resources

    monkeypatch.setenv("AVPIPE_HOME", str(tmp_path))
    monkeypatch.setattr(resources, "cores", lambda: 2)
    monkeypatch.setattr(resources, "available_memory_mb", lambda: 24_000.0)
    plan = resources.plan_workers(8, "default:auto")
    assert plan.workers == 2 and "--workers 8 lowered to 2" in plan.warning and "2 cores" in plan.warning
    assert resources.plan_workers(2, "default:auto") == resources.WorkerPlan(2)
    assert resources.plan_workers(0, "default:auto") == resources.WorkerPlan(0)  # in-process: as asked
    monkeypatch.setattr(resources, "cores", lambda: 16)
    monkeypatch.setattr(resources, "available_memory_mb", lambda: 10_000.0)
    assert resources.plan_workers(8, "default:auto").workers == 3  # 8,500 MB usable at 2,600 MB each
    resources.record_peak_mb("default:auto", 4_000.0)  # measured: heavier than the estimate
    resources.record_peak_mb("default:auto", 1_000.0)  # a smaller run never lowers the peak
    plan = resources.plan_workers(8, "default:auto")
    assert plan.workers == 2 and "measured peak" in plan.warning
    monkeypatch.setattr(resources, "available_memory_mb", lambda: 1_000.0)
    assert resources.plan_workers(8, "default:auto").workers == 1  # never fewer than one


def test_available_memory_is_read_from_this_machine():
    from avpipe import resources

    free = resources.available_memory_mb()
    assert free is not None and 0 < free < 10**7
    assert resources.cores() >= 1


def test_a_batch_runs_the_planned_workers_and_keeps_their_peak(monkeypatch, tmp_path, gen):
    from avpipe import resources
    from avpipe.runner import RunOptions, run_batch

    monkeypatch.setenv("AVPIPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PYTHONPATH", _env()["PYTHONPATH"])
    monkeypatch.setattr(resources, "cores", lambda: 8)
    monkeypatch.setattr(resources, "available_memory_mb", lambda: 3_500.0)  # room for one worker
    light = dataclasses.replace(load_pipeline(), name="light", stages=("probe", "decode", "shots", "keyframes"))
    out = tmp_path / "out"
    import numpy as np

    # A driver that is large itself: the kernel's ru_maxrss survives fork+exec, so a worker must
    # not report the driver's peak as its own.
    ballast = np.ones(3_500 * 2**20 // 8)
    summary = run_batch(_inputs(tmp_path, gen, ["a.mp4", "b.mp4", "c.mp4"]), out, light,
                        RunOptions(workers=8, progress=False, worker_fn="faults:note_pid"))
    del ballast
    assert [r.status for r in summary.records] == ["ok", "ok", "ok"]
    assert len(set((out / "pids").read_text().split())) == 1
    peak = resources.measured_peak_mb("light:auto")
    assert peak is not None and 50 < peak < 2_000


# --------------------------------------------------------------------------- ids


def test_a_folder_holding_another_files_result_is_never_overwritten(tmp_path, gen):
    from avpipe.discover import Input
    from avpipe.runner import process_one, run_tmp

    light = dataclasses.replace(load_pipeline(), stages=("probe", "decode", "shots", "keyframes"))
    first, second = (Path(p) for p in _inputs(tmp_path, gen, ["cam1-clip.mp4", "cam2-clip.mp4"]))
    out = tmp_path / "out"
    out.mkdir()

    def run(path: Path):  # both get one id, as two colliding hashes would
        return process_one(Input(str(path), path, "clip-0123456789abcdef"), out, light, ("json",),
                           lambda kind, value: None, run_tmp(out, os.getpid())).record

    assert run(first).status == "ok"
    kept = (out / "clip-0123456789abcdef" / "result.json").read_bytes()
    refused = run(second)
    assert refused.status == "error" and refused.error.type == "IdCollision"
    assert "cam1-clip.mp4" in refused.error.message and "kept" in refused.error.message
    assert (out / "clip-0123456789abcdef" / "result.json").read_bytes() == kept
    assert run(first).status == "ok"  # its own file may replace it
