"""The container image's install path, run here as far as this machine allows: the Dockerfile's
own COPY and pip steps into a clean venv, its model steps into a fresh cache, and then the batch
job as PID 1 of a new PID namespace, which is how the image's entrypoint runs it.

No Docker daemon is reachable from here (nor the CUDA base image), so the parts that cannot run
are the apt-get line and the base image; everything the image does with Python runs as written.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from test_stops import needs_pid_namespace

ROOT = Path(__file__).resolve().parents[1]


def _dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (keyword, argument), continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^([A-Z]+)\s+(.*)$", text, re.M)]


def test_the_image_stops_cleanly_and_has_an_init():
    steps = _dockerfile()
    entry = json.loads(dict(steps)["ENTRYPOINT"])
    assert entry == ["/usr/bin/tini", "--", "avpipe"]
    assert any(k == "RUN" and "apt-get install" in v and " tini " in f"{v} " for k, v in steps)
    assert ("STOPSIGNAL", "SIGTERM") in steps


def _room_for_a_second_venv(where: Path) -> None:
    """Skip, saying so, when ``where`` has less free disk than a second install of this venv
    needs (its size and a quarter more for pip's unpacking; torch's CUDA wheels make it 8 GB).

    A full disk is the machine's limit, not the image's: CI once failed here with ENOSPC half
    way through pip. The need is measured from the venv the tests run in, not guessed.
    """
    import sys

    done = subprocess.run(["du", "-sk", sys.prefix], capture_output=True, text=True, timeout=120)
    if done.returncode != 0 or not done.stdout.split():
        return  # cannot tell: try the install, as before
    need = int(done.stdout.split()[0]) * 1024 * 5 // 4
    free = shutil.disk_usage(where).free
    if free < need:
        pytest.skip(f"a second venv needs about {need / 1e9:.1f} GB free under {where}; "
                    f"the disk has {free / 1e9:.1f} GB")


@pytest.mark.slow
@needs_pid_namespace
def test_the_images_install_path_runs_the_batch_as_pid_1(tmp_path):
    _room_for_a_second_venv(tmp_path)
    steps = _dockerfile()
    env_line = next(v for k, v in steps if k == "ENV")
    image_env = dict(re.findall(r"(\w+)=(\S+)", env_line))
    venv = tmp_path / "venv"
    src = tmp_path / "src"
    src.mkdir()
    for keyword, argument in steps:  # the COPY steps, into the build's working folder
        if keyword == "COPY":
            *sources, _ = shlex.split(argument)
            for name in sources:
                (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, src / name)
    env = {**os.environ, "AVPIPE_HOME": str(tmp_path / "cache"), "HF_HOME": str(tmp_path / "cache" / "hf"),
           "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "PYTHONUNBUFFERED": "1"}
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    try:
        for keyword, argument in steps:
            if keyword != "RUN" or "apt-get" in argument or "useradd" in argument:
                continue
            # The image's own paths, and pip's cache allowed: --no-cache-dir keeps the image's
            # layer small, and here it would only make the install fetch every wheel again.
            command = (argument.replace(image_env["PATH"].split(":")[0].rsplit("/", 1)[0], str(venv))
                       .replace("--no-cache-dir ", "").replace('"$MODEL_PROFILE"', "default"))
            done = subprocess.run(["bash", "-c", command], cwd=src, env=env, capture_output=True, text=True,
                                  timeout=1800)
            assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-4000:])
        avpipe = venv / "bin" / "avpipe"
        assert avpipe.exists()
        # the installed package is the copied one, not this checkout
        where = subprocess.run([str(venv / "bin" / "python"), "-c", "import avpipe; print(avpipe.__file__)"],
                               env=env, capture_output=True, text=True, cwd=tmp_path)
        assert str(venv) in where.stdout, where
        out = tmp_path / "out"
        job = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", str(avpipe), "run",
                              str(ROOT / "sample_videos"), "--out", str(out), "--device", "auto", "--workers", "1",
                              "--quiet", "--log-json"], env=env, capture_output=True, text=True, timeout=1800,
                             cwd=tmp_path)
        assert job.returncode == 0, job.stderr[-4000:]
        records = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
        assert len(records) == 3 and all(r["status"] == "ok" and not r.get("partial") for r in records), records
        assert (out / "index.html").is_file() and (out / "search").is_dir()
    finally:
        shutil.rmtree(venv, ignore_errors=True)  # 7 GB: not left for pytest's kept temp folders
