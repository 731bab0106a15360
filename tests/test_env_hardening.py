"""The environment a batch runs in (#22, "Hardening"): ids that cannot collide, folders the walk
cannot enter, a model cache that cannot be written, nothing written outside the places a run is
given, and a clean stderr. Each test reproduces one row of the red-team table (its number is in
the test's docstring)."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from avpipe.discover import discover, video_id_for


def old_digest(path: Path) -> str:
    """The 8-hex hash ids had before #22: 4-byte blake2b of the resolved path."""
    return hashlib.blake2b(os.path.realpath(path).encode(), digest_size=4).hexdigest()


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir())


def cli(*args: str, env: dict[str, str], cwd: Path | None = None, wrap: list[str] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*wrap, sys.executable, "-m", "avpipe", *args], capture_output=True, text=True,
                          timeout=600, env=env, cwd=cwd)


def bare_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose every place to write is a fresh folder under ``tmp_path``: HOME,
    AVPIPE_HOME and TMPDIR (no XDG_*, HF_HOME or the like pointing elsewhere)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    for name, folder in [("HOME", "home"), ("AVPIPE_HOME", "avpipe_home"), ("TMPDIR", "tmp")]:
        (tmp_path / folder).mkdir()
        env[name] = str(tmp_path / folder)
    return env


# --------------------------------------------------------------------------- 00: ids


def test_two_inputs_whose_old_ids_collide_get_two_ids(tmp_path):
    """Row 00: with 32-bit ids, `camA/clip.mp4` and `camB/clip.mp4` met for some A, B (the table's
    cam44623 and cam75235 under its prefix); here the pair is found for this test's own folder."""
    seen: dict[str, Path] = {}
    for n in range(2_000_000):  # the first collision comes after ~80,000 names
        path = tmp_path / f"cam{n:05d}" / "clip.mp4"
        a = seen.setdefault(old_digest(path), path)
        if a != path:
            b = path
            break
    for p in (a, b):
        p.parent.mkdir()
        p.write_bytes(b"")  # taken by its name; its content does not matter here
    assert old_digest(a) == old_digest(b)
    found = discover([str(tmp_path)])
    assert len(found) == 2 and found[0].video_id != found[1].video_id
    assert video_id_for(a) != video_id_for(b)


def test_video_ids_carry_64_bits_of_the_path():
    """Row 00: the hash in an id has 16 hex digits."""
    assert re.fullmatch(r"clip-[0-9a-f]{16}", video_id_for(Path("/videos/cam1/clip.mp4")))


def test_a_batch_never_gives_two_inputs_one_id(tmp_path, monkeypatch):
    """Row 00: should two paths' hashes still meet, the later input gets an id of its own."""
    import avpipe.discover

    monkeypatch.setattr(avpipe.discover, "video_id_for", lambda path, salt=0: f"clip-{salt:016x}")
    for folder in "abc":
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "clip.mp4").write_bytes(b"")
    named = [str(tmp_path / "a" / "clip.mp4"), str(tmp_path)]  # a/clip.mp4 twice: still one input
    ids = [item.video_id for item in discover(named)]
    assert ids == ["clip-0000000000000000", "clip-0000000000000001", "clip-0000000000000002"]


# --------------------------------------------------------------------------- 4: unreadable places


def test_a_folder_the_walk_may_not_list_is_reported(tmp_path, monkeypatch):
    """Row 4, a folder the user cannot read. Tests run as root, whom a mode of 000 does not stop,
    so the refusal is the one the kernel gives other users, raised by ``os.scandir``."""
    (tmp_path / "open").mkdir()
    (tmp_path / "open" / "a.mp4").write_bytes(b"")
    (tmp_path / "closed").mkdir()
    (tmp_path / "closed" / "b.mp4").write_bytes(b"")
    scandir = os.scandir

    def refusing(path=".", *args):
        if Path(path) == tmp_path / "closed":
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return scandir(path, *args)

    monkeypatch.setattr(os, "scandir", refusing)
    unreadable: list[tuple[Path, OSError]] = []
    found = discover([str(tmp_path)], unreadable=unreadable)
    assert [Path(i.input).name for i in found] == ["a.mp4"]
    assert [(path, type(exc)) for path, exc in unreadable] == [(tmp_path / "closed", PermissionError)]


def bury(folder: Path, name: str, depth: int = 40) -> None:
    """Create the empty file ``name`` ``depth`` folders of 120 characters below ``folder``: past
    PATH_MAX (4096 bytes), so made with mkdir and open relative to an open folder, which has no
    such limit."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d" * 120, dir_fd=fd)
            inner = os.open("d" * 120, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        os.close(os.open(name, os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    finally:
        os.close(fd)


def test_a_folder_deeper_than_path_max_is_reported(tmp_path):
    """Row 4, a file 40 folders deep: the walk cannot list the folders whose path is longer than
    PATH_MAX."""
    bury(tmp_path, "deep.mp4")
    (tmp_path / "shallow.mp4").write_bytes(b"")
    unreadable: list[tuple[Path, OSError]] = []
    found = discover([str(tmp_path)], unreadable=unreadable)
    assert [Path(i.input).name for i in found] == ["shallow.mp4"]
    assert len(unreadable) == 1 and unreadable[0][1].errno == errno.ENAMETOOLONG
    assert len(os.fsencode(unreadable[0][0])) >= 4096


@pytest.mark.slow
def test_a_batch_with_a_folder_it_cannot_enter_is_not_all_ok(tmp_path, gen):
    """Row 4, end to end: one `discover` line per place in log.jsonl and on stderr, exit 1."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(gen("no_audio.mp4"), folder / "ok.mp4")
    bury(folder, "deep.mp4")
    light = tmp_path / "light.toml"
    light.write_text('name = "light"\nstages = ["probe", "decode"]\n')
    out = tmp_path / "out"
    done = cli("run", str(folder), "--out", str(out), "--pipeline", str(light), "--quiet", env={**os.environ})
    assert done.returncode == 1, done.stderr
    lines = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines() if '"discover"' in x]
    assert len(lines) == 1 and lines[0]["status"] == "error" and "File name too long" in done.stderr
    assert [json.loads(x)["input"] for x in (out / "index.jsonl").read_text().splitlines()] == [str(folder / "ok.mp4")]


# --------------------------------------------------------------------------- 5: a cache that cannot be written


def test_a_derived_cache_that_cannot_be_written_is_made_for_the_run(tmp_path, monkeypatch):
    """Row 5 at the function: the cache's folder cannot be created (a file stands where a folder
    of AVPIPE_HOME would be: the OS refuses even root), yet the table is made, with one warning."""
    import numpy as np

    from avpipe import models

    (tmp_path / "home").write_text("a file, not a folder")
    monkeypatch.setenv("AVPIPE_HOME", str(tmp_path / "home" / "avpipe"))
    made = []

    def build(path: Path) -> None:
        made.append(path)
        np.save(path, np.arange(10.0))

    table = models.home() / "models" / "table.npy"
    with pytest.warns(UserWarning, match="cannot be written") as caught:
        first = models.derived(table, build)
    assert [w.category.__name__ for w in caught] == ["CacheNotWritable"]
    assert np.load(first).sum() == 45 and not str(first).startswith(str(tmp_path / "home"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second use: the same table, no second warning
        assert models.derived(table, build) == first and len(made) == 1


def read_only(folder: Path) -> list[str]:
    """The command prefix that runs a command with ``folder`` on a read-only bind mount (in a
    user and mount namespace of its own: even root cannot write there, nothing outside changes)."""
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && shift && exec "$@"'
    wrap = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", str(folder)]
    probe = subprocess.run([*wrap, "sh", "-c", f'! touch "{folder}/probe" 2>/dev/null'], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no read-only bind mount here (user namespaces off?): {probe.stderr.decode().strip()}")
    return wrap


@pytest.mark.slow
def test_a_read_only_avpipe_home_still_gives_whole_results(tmp_path, gen):
    """Row 5 end to end: with AVPIPE_HOME read-only the video is ok, not partial, with labels,
    objects and embeddings, and stderr says once why the run started slower."""
    env = bare_env(tmp_path)
    wrap = read_only(Path(env["AVPIPE_HOME"]))
    pipeline = tmp_path / "vision.toml"
    pipeline.write_text('name = "vision"\nstages = ["probe", "decode", "shots", "keyframes", "vision"]\n')
    out = tmp_path / "out"
    done = cli("run", str(gen("three_shots.mp4")), "--out", str(out), "--pipeline", str(pipeline), "--quiet",
               env=env, wrap=wrap)
    assert done.returncode == 0, done.stderr
    record = json.loads((out / "index.jsonl").read_text())
    assert record["status"] == "ok" and not record.get("partial"), record
    result = json.loads((out / record["result"]).read_text())
    assert result["errors"] == [] and result["stages"]["vision"]["status"] == "ok"
    assert any(k["labels"] for k in result["keyframes"])  # "web site" for the test pattern
    import numpy as np

    with np.load(out / record["video_id"] / "vectors.npz") as vectors:
        assert vectors["keyframes"].shape == (len(result["keyframes"]), 384)
    assert done.stderr.count("CacheNotWritable") == 1, done.stderr
    assert files_under(Path(env["AVPIPE_HOME"])) == []


# --------------------------------------------------------------------------- 8: nothing written elsewhere


def test_onnxruntime_keeps_no_telemetry_once_avpipe_is_imported(tmp_path):
    """Row 8 at its source: onnxruntime's import starts Microsoft's 1DS telemetry, which writes a
    device id and an event database under ~/.cache/Microsoft and a session file (`.ses`) in the
    temporary folder; avpipe turns it off before any stage can import onnxruntime."""
    env = bare_env(tmp_path)
    subprocess.run([sys.executable, "-c", "import avpipe, onnxruntime"], env=env, check=True, cwd=tmp_path / "home")
    assert files_under(Path(env["HOME"])) == []
    assert files_under(Path(env["TMPDIR"])) == []


@pytest.mark.slow
def test_a_run_writes_only_into_out_avpipe_home_and_the_temporary_folder(tmp_path, gen):
    """Row 8 end to end: the default pipeline on a tiny clip, with HOME, AVPIPE_HOME and TMPDIR
    fresh folders and the working folder a fourth: HOME and the working folder stay empty, and
    the temporary folder holds no telemetry."""
    env = bare_env(tmp_path)
    (tmp_path / "cwd").mkdir()
    out = tmp_path / "out"
    done = cli("run", str(gen("three_shots.mp4")), "--out", str(out), "--quiet", env=env, cwd=tmp_path / "cwd")
    assert done.returncode == 0, done.stderr
    assert files_under(Path(env["HOME"])) == []
    assert files_under(tmp_path / "cwd") == []
    assert ".ses" not in files_under(Path(env["TMPDIR"]))


# --------------------------------------------------------------------------- 10: a clean stderr


def test_prosody_of_a_video_without_voiced_pitch_warns_nothing():
    """Row 10: segments where no pitch was measured (a whisper, music, a tone) left a prosody
    column without any value, and numpy warned "Mean of empty slice" on stderr."""
    from avpipe.schema import Prosody, Segment
    from avpipe.understand.fusion import prosody_matrix

    segments = [Segment(start=0.0, end=1.0, text="a", prosody=Prosody(loudness_db=-20.0, rate_wps=2.0)),
                Segment(start=1.0, end=2.0, text="b", prosody=Prosody(loudness_db=-18.0, rate_wps=4.0)),
                Segment(start=2.0, end=3.0, text="c")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        z = prosody_matrix(segments)
    assert z[:, 0].tolist() == [-1.0, 1.0, 0.0]  # loudness standardised over the segments that have it
    assert z[:, 1:3].abs().sum() == 0  # no pitch anywhere: the typical value, 0
    assert z[:, 3].tolist() == [-1.0, 1.0, 0.0]
