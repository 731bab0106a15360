"""A bounded fuzz of the result path: random bytes, truncated, spliced and bit-flipped real files
through ``avpipe probe`` and ``avpipe run``. Whatever comes in, every command ends in time with
no traceback, and every input becomes one ``ok`` or ``error`` line.

The inputs come from a fixed seed, so a failure reproduces; FUZZ_SEED and FUZZ_CASES in the
environment widen the search by hand (``FUZZ_CASES=300 pytest tests/test_fuzz.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SEED = int(os.environ.get("FUZZ_SEED", "20261128"))
CASES = int(os.environ.get("FUZZ_CASES", "30"))
PIPELINE = ('name = "fuzz"\nstages = ["probe", "decode", "shots", "keyframes", "speech", "audio", "events"]\n'
            '[speech]\nbeam_size = 1\n')


def _mutants(sources: list[bytes], count: int, rng: np.random.Generator) -> list[bytes]:
    """``count`` damaged files made from ``sources`` (each rule picked in turn, parameters random)."""
    out = []
    for i in range(count):
        src = sources[int(rng.integers(len(sources)))]
        rule = i % 6
        if rule == 0:  # random bytes, sometimes none at all
            data = rng.integers(0, 256, int(rng.integers(0, 65536)), dtype=np.uint8).tobytes()
        elif rule == 1:  # cut short anywhere
            data = src[: int(rng.integers(1, len(src)))]
        elif rule == 2:  # the head of one file, the tail of another
            other = sources[int(rng.integers(len(sources)))]
            data = src[: int(rng.integers(1, len(src)))] + other[int(rng.integers(0, len(other))):]
        elif rule == 3:  # bits flipped in the header, where the container describes itself
            buf = bytearray(src)
            for at in rng.integers(0, min(len(buf), 4096), 24):
                buf[int(at)] ^= 1 << int(rng.integers(8))
            data = bytes(buf)
        elif rule == 4:  # a stretch of the media data overwritten with noise
            buf = bytearray(src)
            a = int(rng.integers(len(buf) // 4, len(buf)))
            n = min(len(buf) - a, int(rng.integers(16, 8192)))
            buf[a : a + n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
            data = bytes(buf)
        else:  # a real file's first packets repeated: plausible header, looping content
            head = src[: max(1, len(src) // 8)]
            data = head * int(rng.integers(2, 6))
        out.append(data)
    return out


@pytest.fixture(scope="module")
def fuzz_folder(gen, tmp_path_factory) -> Path:
    sources = [gen(name).read_bytes() for name in ("faststart.mp4", "three_shots.mp4", "multi_stream.mkv",
                                                     "msmpeg4.avi", "audio_only.m4a")]
    folder = tmp_path_factory.mktemp("fuzz")
    suffixes = [".mp4", ".mkv", ".avi", ".webm", ".mov"]
    for i, data in enumerate(_mutants(sources, CASES, np.random.default_rng(SEED))):
        (folder / f"case{i:03d}{suffixes[i % len(suffixes)]}").write_bytes(data)
    return folder


def test_probe_answers_every_damaged_file_with_json(fuzz_folder):
    for path in sorted(fuzz_folder.iterdir()):
        done = subprocess.run([sys.executable, "-m", "avpipe", "probe", str(path)], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode in (0, 1), (path.name, done.stderr)
        assert "Traceback" not in done.stderr, (path.name, done.stderr)
        facts = json.loads(done.stdout)
        assert ("error" in facts) == (done.returncode == 1), path.name


def test_run_gives_every_damaged_file_one_ok_or_error_line(fuzz_folder, tmp_path):
    pipeline = tmp_path / "fuzz.toml"
    pipeline.write_text(PIPELINE)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "avpipe", "run", str(fuzz_folder), "--out", str(out), "--pipeline",
                           str(pipeline), "--timeout", "120", "--quiet", "--no-index"],
                          capture_output=True, text=True, timeout=60 * CASES)
    assert done.returncode in (0, 1), done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    records = [json.loads(x) for x in (out / "index.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(Path(r["input"]).name for r in records) == sorted(p.name for p in fuzz_folder.iterdir())
    assert {r["status"] for r in records} <= {"ok", "error"}
    for r in records:
        if r["status"] == "ok":  # a result that exists is whole and says what is missing
            result = json.loads((out / r["result"]).read_text(encoding="utf-8"))
            assert r["partial"] == bool(result["errors"])
        else:
            assert r["error"]["type"] and r["error"]["message"]
    assert not (out / ".avpipe-tmp").exists()
