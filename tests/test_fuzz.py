"""A bounded fuzz of the result path: random bytes, truncated, spliced and bit-flipped real files
through ``avpipe probe`` and ``avpipe run``. Whatever comes in, every command ends in time with
no traceback, and every input becomes one ``ok`` or ``error`` line.

Beside the damaged files come intact ones of the shapes that once crashed or misled (#22):
channel layouts drawn at random (mono, quad, 5.1, 7.1, 7.1 in a custom order, stereo whose
channels cancel), with no video, a video, or a video beside a one-frame picture track; and
test_media_hardening's clips (a raw stream of unknown duration, a video stream with no frame, an
animated WebP). Those must never crash a worker, and they are damaged like the rest.

The inputs come from a fixed seed, so a failure reproduces; FUZZ_SEED, FUZZ_CASES and
FUZZ_SHAPES in the environment widen the search by hand (``FUZZ_CASES=300 pytest tests/test_fuzz.py``).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import media
import test_media_hardening as hardening

SEED = int(os.environ.get("FUZZ_SEED", "20261128"))
CASES = int(os.environ.get("FUZZ_CASES", "30"))
SHAPES = int(os.environ.get("FUZZ_SHAPES", "6"))
#: Channel layouts a shaped case is drawn from ("cancel": stereo, the right channel the left inverted).
LAYOUTS = ["mono", "quad", "5.1", "7.1", "FL+FR+FC+LFE+SL+SR+BL+BR", "cancel"]
#: test_media_hardening's clips taken as they are.
HARDENING = ["custom_71.mov", "cancel_tone.mkv", "still_first.mkv", "raw.h264", "zero_frames.mkv", "anim.webp"]
#: Suffixes the folder walk takes whatever the content (avpipe.discover), so every case is an input.
SUFFIXES = [".mp4", ".mkv", ".avi", ".webm", ".mov"]
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


def _shape(rng: np.random.Generator) -> tuple[str, str]:
    """One intact clip of a random shape: (file name, ffmpeg arguments, output last as in
    tests/media/clips.py's recipes). PCM in MOV where the layout is a custom order (the MOV ``chan``
    atom keeps it), FLAC in Matroska otherwise; 1 to 3 s."""
    layout = LAYOUTS[int(rng.integers(len(LAYOUTS)))]
    seconds = int(rng.integers(1, 4))
    video = ["none", "video", "video+still"][int(rng.integers(3))]
    args = f"-f lavfi -i sine=frequency={int(rng.integers(200, 900))}:sample_rate=44100:duration={seconds} "
    maps = "-map 0:a "
    if video != "none":
        args += f"-f lavfi -i testsrc2=size=160x120:rate=10:duration={seconds} "
        maps += "-map 1:v -c:v libx264 -pix_fmt yuv420p "
    if video == "video+still":
        args += "-f lavfi -i color=c=red:size=640x480:rate=10:duration=0.1 "
        maps += "-map 2:v -c:v:1 mjpeg "
    mix = "pan=stereo|c0=c0|c1=-1*c0" if layout == "cancel" else f"aformat=channel_layouts={layout}"
    custom = "+" in layout
    codec, suffix = ("pcm_s16le", ".mov") if custom else ("flac", ".mkv")
    name = f"{layout.replace('+', '')}-{video.replace('+', '-')}-{seconds}s{suffix}"
    return name, f"{args}{maps}-af {mix} -c:a {codec}"


@pytest.fixture(scope="module")
def fuzz_folder(gen, tmp_path_factory) -> tuple[Path, set[str]]:
    """The folder of cases, and the names of those that are intact (never to crash a worker)."""
    folder = tmp_path_factory.mktemp("fuzz")
    made = tmp_path_factory.mktemp("fuzz_sources")
    rng = np.random.default_rng(SEED)
    intact: dict[str, Path] = {}
    for _ in range(SHAPES):
        name, args = _shape(rng)
        out = made / name
        if not out.exists():
            subprocess.run([media.FFMPEG, "-y", "-hide_banner", "-loglevel", "error", *shlex.split(args), str(out)],
                           check=True, timeout=120)
        intact[f"shape-{name}"] = out
    for name in HARDENING:
        if name == "anim.webp" and not hardening.has_encoder("libwebp_anim"):
            continue
        # A suffix the folder walk takes: FFmpeg picks the demuxer by content, not by name.
        intact[f"hard-{name}" + ("" if Path(name).suffix in SUFFIXES else ".mkv")] = hardening.make(name, made)
    for name, path in intact.items():
        (folder / name).write_bytes(path.read_bytes())
    sources = [gen(name).read_bytes() for name in ("faststart.mp4", "three_shots.mp4", "multi_stream.mkv",
                                                     "msmpeg4.avi", "audio_only.m4a")]
    sources += [path.read_bytes() for path in intact.values()]
    for i, data in enumerate(_mutants(sources, CASES, rng)):
        (folder / f"case{i:03d}{SUFFIXES[i % len(SUFFIXES)]}").write_bytes(data)
    return folder, set(intact)


def test_probe_answers_every_damaged_file_with_json(fuzz_folder):
    folder, _ = fuzz_folder
    for path in sorted(folder.iterdir()):
        done = subprocess.run([sys.executable, "-m", "avpipe", "probe", str(path)], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode in (0, 1), (path.name, done.stderr)
        assert "Traceback" not in done.stderr, (path.name, done.stderr)
        facts = json.loads(done.stdout)
        assert ("error" in facts) == (done.returncode == 1), path.name


def test_run_gives_every_damaged_file_one_ok_or_error_line(fuzz_folder, tmp_path):
    fuzz_folder, intact = fuzz_folder
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
            # A well-formed file may be refused (no decoder), never kill its worker.
            assert not (Path(r["input"]).name in intact and r["error"]["type"] in ("WorkerCrashed", "WorkerTimeout")), r
    assert not (out / ".avpipe-tmp").exists()
