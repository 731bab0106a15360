"""End-to-end speed and memory of the default pipeline: real-time factor, per-stage breakdown,
peak memory.

    .venv/bin/python benchmarks/pipeline.py [--minutes 30] [--repeats 3 (0: only the long video)] [--skip-long] [--shots BACKEND]
    .venv/bin/python benchmarks/pipeline.py --language-ab 3 [--minutes 30]

Two measurements, each batch in a fresh process (as `avpipe run` would be), so model loading
is included:
  * the sample videos (sample_videos/), as one batch, repeated ``--repeats`` times (medians);
  * a generated long video: the NASA sample's picture looped to ``--minutes`` minutes (stream
    copy) with varied speech read by espeak-ng (see :func:`long_video`), processed once.
For each: wall time, x real time (media seconds / wall seconds), seconds per stage (summed over
the batch's videos; the model stages include loading their models once), the peak resident
memory of the worker process that did the work (ru_maxrss of the finished children), and the
worker's peak when each stage ended (``stages.<name>.peak_rss_mb``: where it rises is what
raised it).

``--language-ab N`` measures what identifying the spoken language costs English-only speech: the
long video with the language identified (the default), given as English, and given as English
with ``[speech] ahead`` off (the pipeline as it was before it identified languages: the speech
heard in its own turn, not in the background during decode), N rounds, each in another order,
after one warm-up run that is not counted; it prints each round's ratios, the ratio of the
medians, and the same for the worker's CPU seconds. Run it on a quiet machine: another job on
the two cores moved single runs by up to 10 %.
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
CACHE = Path(__file__).resolve().parent / ".cache"

CHILD = r"""
import dataclasses, json, os, resource, sys, time
from avpipe.config import load_pipeline
from avpipe.runner import RunOptions, run_batch
pipeline = load_pipeline("default")
if os.environ.get("BENCH_LANGUAGE"):  # the speech's language given: no language identification
    pipeline = dataclasses.replace(pipeline, speech=dataclasses.replace(pipeline.speech,
                                                                         language=os.environ["BENCH_LANGUAGE"]))
if os.environ.get("BENCH_AHEAD") == "0":  # the speech heard in its own turn, not ahead in the background
    pipeline = dataclasses.replace(pipeline, speech=dataclasses.replace(pipeline.speech, ahead=False))
if os.environ.get("BENCH_SHOTS"):
    pipeline = dataclasses.replace(pipeline, shots=dataclasses.replace(pipeline.shots, backend=os.environ["BENCH_SHOTS"]))
t0 = time.perf_counter()
summary = run_batch(sys.argv[2:], sys.argv[1], pipeline, RunOptions(workers=1, progress=False))
wall = time.perf_counter() - t0
stages, peaks, duration = {}, {}, 0.0
from pathlib import Path
for r in summary.records:
    result = json.loads((Path(sys.argv[1]) / r.result).read_text())
    duration += result["video"]["duration_s"] or 0.0
    for name, info in result["stages"].items():
        stages[name] = stages.get(name, 0.0) + info["seconds"]
        peaks[name] = max(peaks.get(name, 0.0), info.get("peak_rss_mb") or 0.0)
children = resource.getrusage(resource.RUSAGE_CHILDREN)
peak = children.ru_maxrss / 1024
cpu = children.ru_utime + children.ru_stime  # the worker's CPU seconds: less moved by other work on the machine
print(json.dumps({"wall": wall, "cpu": cpu, "duration": duration, "stages": stages, "peak_mb": peak, "stage_peaks": peaks,
                  "status": [r.status for r in summary.records]}))
"""


def measure(inputs: list[str], shots: str | None = None, language: str | None = None, ahead: bool = True) -> dict:
    import os

    env = {**os.environ, **({"BENCH_SHOTS": shots} if shots else {}), **({"BENCH_LANGUAGE": language} if language else {}),
           **({} if ahead else {"BENCH_AHEAD": "0"})}
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run([sys.executable, "-c", CHILD, out, *inputs], capture_output=True, text=True, check=True,
                              env=env)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def long_video(minutes: int) -> Path:
    """``minutes`` of real picture (the NASA sample looped, stream copy) with varied speech:
    GoEmotions dev sentences (Apache-2.0) read by espeak-ng. Looping the sample's own speech would
    not do: the same sentence three times in every 30 s window compresses so well that Whisper's
    compression-ratio rule re-decodes each window at every fallback temperature."""
    import csv
    import shutil

    import imageio_ffmpeg

    CACHE.mkdir(exist_ok=True)
    out = CACHE / f"narrated_{minutes}min.mp4"
    if out.exists():
        return out
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise SystemExit("espeak-ng is needed for the long video (apt-get install espeak-ng), or use --skip-long")
    data = ROOT.parent / "shared" / "data" / "goemotions_ekman" / "dev.tsv"
    with data.open(encoding="utf-8") as f:
        lines = [row[0] for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if len(row[0].split()) >= 6]
    words_needed = minutes * 60 * 150 // 60  # espeak-ng at 150 words per minute
    text, count = [], 0
    for line in lines:
        text.append(line.replace("[NAME]", "Alex").replace("[RELIGION]", "faith"))
        count += len(line.split())
        if count >= words_needed:
            break
    script = CACHE / "narration.txt"
    script.write_text("\n".join(text), encoding="utf-8")
    wav = CACHE / "narration.wav"
    subprocess.run([espeak, "-s", "150", "-f", str(script), "-w", str(wav)], check=True, timeout=1200)
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    subprocess.run([ffmpeg, "-y", "-v", "error", "-stream_loop", "-1", "-i", str(ROOT / "sample_videos" / "nasa_13013.mp4"),
                    "-i", str(wav), "-t", str(minutes * 60), "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy",
                    "-c:a", "aac", "-b:a", "64k", "-ar", "16000", str(out)], check=True, timeout=1200)
    wav.unlink()
    return out


def report(name: str, runs: list[dict]) -> None:
    wall = statistics.median(r["wall"] for r in runs)
    duration = runs[0]["duration"]
    stages = {k: statistics.median(r["stages"].get(k, 0.0) for r in runs) for k in runs[0]["stages"]}
    peak = max(r["peak_mb"] for r in runs)
    print(f"{name}: {duration:.0f} s of media in {wall:.1f} s (median of {len(runs)}): {duration / wall:.1f}x real time; "
          f"peak worker memory {peak:,.0f} MB; status {runs[0]['status']}")
    total = sum(stages.values())
    peaks = runs[0].get("stage_peaks", {})
    for stage, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"    {stage:<10} {seconds:8.2f} s  {100 * seconds / total:5.1f}%  {duration / max(seconds, 1e-9):8.1f}x"
              f"  peak {peaks.get(stage, 0.0):7,.0f} MB when it ended")
    # The shots stage's time includes making the glances it reads during decode.
    print(f"    shot detection: {stages.get('shots', 0.0):.2f} s, {100 * stages.get('shots', 0.0) / wall:.1f}% of the wall time")


#: The ways --language-ab runs the long video: (language given, speech heard ahead).
WAYS = {"identified": (None, True), "given en": ("en", True), "given en, not ahead": ("en", False),
        "identified, not ahead": (None, False)}


def language_ab(args: argparse.Namespace) -> None:
    """--language-ab: the long video each of the four :data:`WAYS`, ``args.language_ab`` rounds,
    each round in another order (ABCD, BCDA, ...); medians, each round's ratios, CPU seconds."""
    video = str(long_video(args.minutes))
    runs: dict[str, list[dict]] = {name: [] for name in WAYS}
    # One run first, not counted: the first process after a while reads every model file and
    # library from disk, and whichever way ran first paid for it (a cold first run was 10 s
    # slower here). The identified way reads every file the others do, and base besides.
    warm = measure([video], args.shots)
    print(f"warm-up run (not counted), language identified: {warm['wall']:.1f} s", flush=True)
    names = list(WAYS)
    for k in range(args.language_ab):
        for name in names[k % len(names):] + names[: k % len(names)]:  # no way always runs first
            language, ahead = WAYS[name]
            runs[name].append(measure([video], args.shots, language=language, ahead=ahead))
            done = runs[name][-1]
            print(f"run {k + 1}, {name}: {done['wall']:.1f} s (decode+shots "
                  f"{done['stages'].get('decode', 0.0) + done['stages'].get('shots', 0.0):.1f} s, vision "
                  f"{done['stages'].get('vision', 0.0):.1f} s, speech {done['stages'].get('speech', 0.0):.1f} s; "
                  f"CPU {done['cpu']:.1f} s)", flush=True)
    for name, done in runs.items():
        report(f"{args.minutes}-minute video, {name}", done)
    for way, base in (("identified", "given en"), ("identified", "given en, not ahead"),
                      ("identified, not ahead", "given en, not ahead"), ("identified", "identified, not ahead")):
        # Each round's runs ran back to back, so their ratio is the least touched by the machine's drift.
        ratio = statistics.median(r["wall"] for r in runs[way]) / statistics.median(r["wall"] for r in runs[base])
        rounds = [a["wall"] / b["wall"] for a, b in zip(runs[way], runs[base])]
        # CPU seconds: what the work costs, whatever else the machine was doing meanwhile.
        cpu = statistics.median(r["cpu"] for r in runs[way]) / statistics.median(r["cpu"] for r in runs[base])
        print(f"{way} against {base}: {100 * (ratio - 1):+.1f} % of the wall time (median against median; "
              f"each round " + ", ".join(f"{100 * (r - 1):+.1f} %" for r in rounds) +
              f"), {100 * (cpu - 1):+.1f} % of the worker's CPU time")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-long", action="store_true")
    parser.add_argument("--shots", default=None, choices=("adaptive", "transnetv2", "histogram"),
                        help="shot detector (default: the default pipeline's)")
    parser.add_argument("--language-ab", type=int, default=0, metavar="N",
                        help="only the long video, N times each way, in rotating order: the default (the language "
                             "identified per stretch of speech), the language given as English (no "
                             "identification), given as English with the speech not heard ahead (what the "
                             "pipeline did before it knew other languages), and identified without hearing "
                             "ahead; medians and their ratios")
    args = parser.parse_args()
    if args.language_ab:
        language_ab(args)
        return
    samples = sorted(str(p) for p in (ROOT / "sample_videos").iterdir() if p.suffix == ".mp4")
    if args.repeats > 0:  # --repeats 0: the long video only
        report("sample_videos/ batch", [measure(samples, args.shots) for _ in range(args.repeats)])
    if not args.skip_long:
        report(f"{args.minutes}-minute video", [measure([str(long_video(args.minutes))], args.shots)])


if __name__ == "__main__":
    main()
