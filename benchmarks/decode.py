"""Decode-stage speed: decord vs PyAV on the same files, same sampling, in one run.

Prints, per clip and backend, the median wall time of the decode + shots pass over ``--repeat``
runs, the real-time factor (media seconds per wall second), sampled frames per second, peak
memory (RSS of a fresh process), and the ratio decord / PyAV. Clips: the NASA clip (when
``../shared/media`` is present) and generated 10-minute 640x360 clips with short (1 s) and long
(10 s) keyframe intervals, cached in ``benchmarks/.cache``.

    .venv/bin/python benchmarks/decode.py [--repeat 3] [--minutes 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
SHARED = HERE.parent.parent / "shared" / "media"

CHILD = """
import dataclasses, json, resource, sys, tempfile, time
from pathlib import Path
from avpipe.config import load_pipeline
from avpipe.pipeline import process_video
p = load_pipeline()
p = dataclasses.replace(p, stages=("probe", "decode", "shots"), decode=dataclasses.replace(p.decode, backend=sys.argv[2]))
t0 = time.perf_counter()
r = process_video(Path(sys.argv[1]), "bench", Path(tempfile.mkdtemp()), p)
wall = time.perf_counter() - t0
print(json.dumps({"wall": wall, "duration": r.video.duration_s, "frames": len(r.keyframes) or None,
                  "decoded": r.stages["decode"].seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "errors": [e.message for e in r.errors]}))
"""


def make_clip(minutes: int, gop: int) -> Path:
    import imageio_ffmpeg

    out = CACHE / f"gen_{minutes}min_gop{gop}.mp4"
    if not out.exists():
        CACHE.mkdir(exist_ok=True)
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error",
               "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=25:duration={minutes * 60}",
               "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={minutes * 60}",
               "-c:v", "libx264", "-preset", "ultrafast", "-crf", "35", "-g", str(gop), "-pix_fmt", "yuv420p",
               "-c:a", "aac", "-b:a", "32k", str(out)]
        print("generating", out.name, ":", " ".join(cmd), file=sys.stderr)
        subprocess.run(cmd, check=True)
    return out


def measure(path: Path, backend: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), backend], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--minutes", type=int, default=10)
    args = parser.parse_args()
    clips = []
    if (SHARED / "nasa_13013.mp4").exists():
        clips.append(SHARED / "nasa_13013.mp4")
    clips += [make_clip(args.minutes, 25), make_clip(args.minutes, 250)]
    print(f"{'clip':<24} {'backend':<7} {'median s':>9} {'x real time':>11} {'peak MB':>8}")
    for clip in clips:
        medians = {}
        for backend in ("pyav", "decord"):
            runs = [measure(clip, backend) for _ in range(args.repeat)]
            wall = statistics.median(r["wall"] for r in runs)
            medians[backend] = wall
            print(f"{clip.name:<24} {backend:<7} {wall:>9.2f} {runs[0]['duration'] / wall:>11.1f}"
                  f" {max(r['peak_mb'] for r in runs):>8.0f}")
        print(f"{clip.name:<24} ratio decord/pyav time: {medians['decord'] / medians['pyav']:.2f}")


if __name__ == "__main__":
    main()
