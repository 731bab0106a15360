"""Atomic writes: whole files only, and the mode the umask gives (not mkstemp's 0600)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

from avpipe.atomic import atomic_write_bytes, file_mode, publish_dir, umask


def test_umask_is_read_without_changing_it():
    before = os.umask(0o022)
    os.umask(before)
    assert umask() == before and os.umask(before) == before
    assert file_mode() == 0o666 & ~before


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    import pytest

    target = tmp_path / "a.json"
    atomic_write_bytes(target, b"old")

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_publish_dir_replaces_a_folder_whole(tmp_path):
    old, new = tmp_path / "v", tmp_path / "tmp-v"
    old.mkdir()
    (old / "result.json").write_text("old")
    new.mkdir()
    (new / "result.json").write_text("new")
    publish_dir(new, old)
    assert (old / "result.json").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["v"]


def test_every_output_of_a_run_gets_the_umask_mode(tmp_path, gen):
    out = tmp_path / "out"
    code = ("import os, sys; os.umask(0o002); from avpipe.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    done = subprocess.run([sys.executable, "-c", code, "run", str(gen("three_shots.mp4")), "--out", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"result.json", "report.html", "transcript.srt", "transcript.vtt", "vectors.npz", "index.jsonl",
            "index.html", "manifest.json"} <= names and any(p.suffix == ".jpg" for p in files)
    modes = {str(p.relative_to(out)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert set(modes.values()) == {oct(0o664)}, modes
