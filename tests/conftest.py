"""Shared fixtures: generated media (see tests/media/), the shared real clips, bad inputs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
SHARED_MEDIA = ROOT.parent / "shared" / "media"
sys.path.insert(0, str(TESTS))

import media  # noqa: E402


@pytest.fixture(scope="session")
def gen(tmp_path_factory):
    """``gen("three_shots.mp4")`` -> path of that generated clip (made once per session)."""
    folder = tmp_path_factory.mktemp("generated")
    return lambda name: media.make(name, folder)


@pytest.fixture(scope="session")
def shared_media() -> Path:
    if not (SHARED_MEDIA / "nasa_13013.mp4").exists():
        pytest.skip("../shared/media is not beside this checkout (a user's clone has none)")
    return SHARED_MEDIA


@pytest.fixture(scope="session")
def nasa(shared_media) -> Path:
    return shared_media / "nasa_13013.mp4"


@pytest.fixture(scope="session")
def bad_inputs(gen, tmp_path_factory) -> dict[str, Path]:
    """Every kind of bad input the batch must survive, by name."""
    folder = tmp_path_factory.mktemp("bad")
    out = {}
    out["empty"] = folder / "empty.mp4"
    out["empty"].write_bytes(b"")
    out["text"] = folder / "notes.mp4"
    out["text"].write_text("this is a text file, not a video\n")
    whole = gen("faststart.mp4").read_bytes()
    out["truncated"] = folder / "truncated.mp4"
    out["truncated"].write_bytes(whole[: len(whole) // 2])
    # Corrupt video: keep the container header and the first half, overwrite a stretch of the
    # media data after it with a repeating garbage pattern.
    corrupt = bytearray(whole)
    start = len(whole) // 3
    corrupt[start : start + len(whole) // 3] = (b"\x00\xff\x13\x37" * len(whole))[: len(whole) // 3]
    out["corrupt"] = folder / "corrupt.mp4"
    out["corrupt"].write_bytes(bytes(corrupt))
    out["audio_only"] = gen("audio_only.m4a")
    out["no_audio"] = gen("no_audio.mp4")
    out["cinepak"] = gen("cinepak.avi")
    out["msmpeg4"] = gen("msmpeg4.avi")
    odd = folder / "my clips ñandú" / "vidéo été.mp4"
    odd.parent.mkdir()
    odd.write_bytes(gen("no_audio.mp4").read_bytes())
    out["odd_path"] = odd
    out["missing"] = folder / "does-not-exist.mp4"
    return out
