"""Bounded memory: an hour of media is processed without holding its frames, or its audio at
more than the 16 kHz mono the speech stage needs."""

import json
import subprocess
import sys

import pytest

SCRIPT = """
import json, resource, sys, tempfile
from pathlib import Path
from avpipe.decode import iter_audio
from avpipe.config import load_pipeline
from avpipe.pipeline import process_video
from avpipe.probe import probe

path = Path(sys.argv[1])
result = process_video(path, "hour", Path(tempfile.mkdtemp()), load_pipeline())
samples = sum(len(chunk) for chunk in iter_audio(path, probe(path), chunk_s=30.0))
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "audio_s": samples / 16000, "keyframes": len(result.keyframes),
                  "frames_cap": load_pipeline().decode.max_frames, "errors": len(result.errors)}))
"""


def _measure(path) -> dict:
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(path)], capture_output=True, text=True, check=True,
                         timeout=600)
    return json.loads(out.stdout)


@pytest.mark.slow
def test_an_hour_costs_little_more_memory_than_two_minutes(gen):
    """The whole default pipeline (decode, shots, keyframes, vision, speech) on an hour and on
    two minutes of the same kind of media: peak memory must not grow with the length beyond the
    one thing held whole, the 16 kHz mono track the speech stage reads (230 MB for an hour).
    Holding the frames (7,200 of them), a second copy of the track, or a 48 kHz copy would each
    add hundreds of megabytes more."""
    short = _measure(gen("two_min_tiny.mp4"))
    hour = _measure(gen("hour_tiny.mp4"))
    assert hour["errors"] == 0
    assert hour["audio_s"] == pytest.approx(3600, abs=0.5)
    assert hour["keyframes"] == 360  # one per 10 s of the single long shot
    assert hour["peak_mb"] - short["peak_mb"] < 330, (short, hour)
