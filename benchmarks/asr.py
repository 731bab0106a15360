"""Speech-stage speed per backend on the same audio and the same weights, in one run.

The audio is real speech: the shared JFK and NASA clips joined (with 1 s pauses) and repeated
to ``--seconds``. Each backend is loaded first (not timed), then the whole speech stage (VAD,
model, guards) runs ``--repeat`` times; the median is reported as a real-time factor (audio
seconds per wall second), with the ratio faster-whisper / openai-whisper.

    .venv/bin/python benchmarks/asr.py [--model tiny.en] [--seconds 120] [--repeat 3] [--threads 2]
                                       [--beam 1] [--backends faster-whisper:int8,openai-whisper:auto]
                                       [--audio MEDIA] [--batch N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "media"
SAMPLES = Path(__file__).resolve().parents[1] / "sample_videos"


def speech_audio(seconds: float, path: str | None = None):
    import numpy as np

    from avpipe.decode import load_audio
    from avpipe.probe import probe

    if path:  # the first `seconds` of any media file
        return load_audio(Path(path), probe(path)).samples[: int(seconds * 16000)]

    clips = [SHARED / "jfk.flac", SHARED / "nasa_13013.mp4"]
    if not clips[0].exists():
        clips = [SAMPLES / "jfk.mp4", SAMPLES / "nasa_13013.mp4"]
    parts = []
    for clip in clips:
        parts += [load_audio(clip, probe(clip)).samples, np.zeros(16000, np.float32)]
    one = np.concatenate(parts)
    return np.tile(one, int(np.ceil(seconds * 16000 / len(one))))[: int(seconds * 16000)]


def main() -> None:
    from avpipe.options import SpeechOptions
    from avpipe.speech import transcribe
    from avpipe.speech.base import load_backend

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--beam", type=int, default=1, help="beam size for every backend (1: greedy)")
    parser.add_argument("--audio", default=None, metavar="MEDIA",
                        help="measure on the first --seconds of this file (default: the JFK and NASA clips, repeated)")
    parser.add_argument("--batch", type=int, default=1, help="faster-whisper batch size (its batched pipeline when > 1)")
    parser.add_argument("--backends", default="faster-whisper:int8,faster-whisper:float32,openai-whisper:auto,transformers:auto",
                        help="comma-separated backend:compute pairs to measure")
    args = parser.parse_args()
    audio = speech_audio(args.seconds, args.audio)
    runs = [tuple(pair.split(":")) for pair in args.backends.split(",")]
    medians: dict[tuple[str, str], float] = {}
    print(f"audio: {len(audio) / 16000:.0f} s of speech; model {args.model}; beam {args.beam}; {args.threads} CPU threads")
    print(f"{'backend':<16} {'compute':<8} {'median s':>9} {'x real time':>11} {'words':>6}")
    for backend, compute in runs:
        options = SpeechOptions(backend=backend, model=args.model, compute_type=compute, cpu_threads=args.threads,
                                beam_size=args.beam, batch_size=args.batch if backend == "faster-whisper" else 1)
        load_backend(options, "cpu")
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            transcript, _ = transcribe(audio, options, "cpu")
            times.append(time.perf_counter() - t0)
        median = statistics.median(times)
        medians[(backend, compute)] = median
        words = sum(len(s.words) for s in transcript.segments)
        print(f"{backend:<16} {compute:<8} {median:>9.2f} {len(audio) / 16000 / median:>11.1f} {words:>6}")
    base = medians.get(("openai-whisper", "auto"))
    for (backend, compute), median in medians.items():
        if base and backend != "openai-whisper":
            print(f"{backend} ({compute}) / openai-whisper speed: {base / median:.2f}x")


if __name__ == "__main__":
    main()
