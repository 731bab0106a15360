"""What identifying the spoken language costs on real English speech: the speech stage on the
same audio with the language identified per stretch (the default) and given as English (what
the pipeline did before it knew other languages), alternating, in fresh processes.

    .venv/bin/python benchmarks/language_cost.py [--repeats 2] [AUDIO ...]

Without files it joins the real recordings of the fetched conversation set
(tests/data/conversations: AMI meeting excerpts and real read voices, 24 minutes; see its
PROVENANCE.md). The espeak-ng narration of benchmarks/pipeline.py is not real speech: the head
hears some of it as Latin, and such an island goes to the multilingual model, which real English
did not do here. Prints each run, the medians and their ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SET = ROOT / "tests" / "data" / "conversations"

CHILD = r"""
import json, os, sys, time
from dataclasses import replace
from avpipe.decode.audio import load_audio
from avpipe.probe import probe
from avpipe.options import SpeechOptions
from avpipe.speech import transcribe
audio = load_audio(sys.argv[1], probe(sys.argv[1])).samples
options = SpeechOptions() if sys.argv[2] == "identified" else replace(SpeechOptions(), language="en")
t0 = time.perf_counter()
transcript, meta = transcribe(audio, options)
wall = time.perf_counter() - t0
print(json.dumps({"wall": wall, "seconds": len(audio) / 16000, "model": meta.get("model"),
                  "languages": transcript.languages, "words": sum(len(s.text.split()) for s in transcript.segments)}))
"""


def joined(files: list[Path], out: Path) -> Path:
    """The files one after another, 16 kHz mono (FFmpeg's concat filter)."""
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error"]
    for f in files:
        cmd += ["-i", str(f)]
    graph = "".join(f"[{i}:a]aresample=16000,aformat=channel_layouts=mono[a{i}];" for i in range(len(files)))
    graph += "".join(f"[a{i}]" for i in range(len(files))) + f"concat=n={len(files)}:v=0:a=1[a]"
    subprocess.run([*cmd, "-filter_complex", graph, "-map", "[a]", str(out)], check=True, timeout=600)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("audio", nargs="*", type=Path)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    files = args.audio or sorted([*SET.glob("ami-*.flac"), *SET.glob("conv-*.flac")])
    if not files:
        sys.exit(f"no audio given and {SET} is not here (a fetched set; see the README)")
    with tempfile.TemporaryDirectory() as tmp:
        audio = joined(files, Path(tmp) / "english.wav")
        runs: dict[str, list[dict]] = {"identified": [], "given en": []}
        for k in range(args.repeats):  # ABBA: neither way always runs first
            for mode in (list(runs) if k % 2 == 0 else list(runs)[::-1]):
                done = subprocess.run([sys.executable, "-c", CHILD, str(audio), mode.split()[0]], capture_output=True,
                                      text=True, check=True)
                runs[mode].append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(mode, runs[mode][-1], flush=True)
    medians = {mode: statistics.median(r["wall"] for r in done) for mode, done in runs.items()}
    seconds = runs["identified"][0]["seconds"]
    for mode, wall in medians.items():
        print(f"{mode}: {wall:.1f} s for {seconds:.0f} s of audio ({seconds / wall:.1f}x real time), median of "
              f"{len(runs[mode])}")
    print(f"identification costs {100 * (medians['identified'] / medians['given en'] - 1):+.1f} % of the speech "
          f"stage's time on this audio")


if __name__ == "__main__":
    main()
