"""Speech-stage speed per backend on the same audio and the same weights, in one run.

The audio (``--audio``):
  * ``narration`` (default): the first ``--seconds`` of 30 minutes of varied speech, GoEmotions
    sentences read by espeak-ng (``benchmarks/pipeline.py``'s long video, made once into
    ``benchmarks/.cache``; needs espeak-ng and ``../shared/data``). Its script is the reference,
    so each row also gets a word error rate: speed is only worth having at the same accuracy.
  * ``clips``: the shared JFK and NASA clips joined (with 1 s pauses) and repeated. The same
    sentences again and again make Whisper's compression-ratio guard re-decode windows at its
    fallback temperatures, so this measures the guards as much as the model.
  * any media file; ``--reference TEXT`` gives the text it was read from, for the error rate.

Each backend is loaded first (not timed), then the whole speech stage (VAD, model, guards) runs
``--repeat`` times; the median is reported as a real-time factor (audio seconds per wall second),
with the ratio of each backend's speed to openai-whisper's. ``faster-whisper:int8:sequential``
decodes with one multi-threaded decoder instead of 26 s pieces side by side
(``SpeechOptions.parallel_pieces``), as openai-whisper does.

    .venv/bin/python benchmarks/asr.py [--model tiny.en] [--seconds 600] [--repeat 3] [--threads 2]
                                       [--beam 5] [--backends faster-whisper:int8,openai-whisper:auto]
                                       [--audio narration|clips|MEDIA [--reference TEXT]] [--batch N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "media"
SAMPLES = Path(__file__).resolve().parents[1] / "sample_videos"


def speech_audio(seconds: float, path: str | None = None):
    """The first ``seconds`` of ``path``'s audio; with no path, the clips joined and repeated."""
    import numpy as np

    from avpipe.decode import load_audio
    from avpipe.probe import probe

    if path and path != "clips":
        return load_audio(Path(path), probe(path)).samples[: int(seconds * 16000)]

    clips = [SHARED / "jfk.flac", SHARED / "nasa_13013.mp4"]
    if not clips[0].exists():
        clips = [SAMPLES / "jfk.mp4", SAMPLES / "nasa_13013.mp4"]
    parts = []
    for clip in clips:
        parts += [load_audio(clip, probe(clip)).samples, np.zeros(16000, np.float32)]
    one = np.concatenate(parts)
    return np.tile(one, int(np.ceil(seconds * 16000 / len(one))))[: int(seconds * 16000)]


def prefix_wer(script: str, hypothesis: str) -> float:
    """WER of ``hypothesis`` against the start of ``script`` whose length fits it best (the
    audio is the first part of a reading of the script)."""
    from avpipe.evaluate import normalise, wer

    ref, n = normalise(script).split(), len(normalise(hypothesis).split())
    if n == 0:
        return 1.0
    return min(wer(" ".join(ref[:length]), hypothesis)["wer"] for length in range(int(n * 0.85), int(n * 1.15) + 2))


def main() -> None:
    from avpipe.options import SpeechOptions
    from avpipe.speech import transcribe
    from avpipe.speech.base import load_backend

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--beam", type=int, default=SpeechOptions().beam_size,
                        help="beam size for every backend (1: greedy; default: the pipeline's)")
    parser.add_argument("--audio", default="narration", metavar="narration|clips|MEDIA",
                        help="what to transcribe (see above)")
    parser.add_argument("--reference", default=None, metavar="TEXT",
                        help="text the --audio was read from: adds each backend's word error rate")
    parser.add_argument("--batch", type=int, default=1, help="faster-whisper batch size (its batched pipeline when > 1)")
    parser.add_argument("--backends", default="faster-whisper:int8,faster-whisper:int8:sequential,openai-whisper:auto",
                        help="comma-separated backend:compute[:sequential] to measure (others: faster-whisper:float32, "
                             "transformers:auto)")
    args = parser.parse_args()
    if args.audio == "narration":
        from pipeline import CACHE, long_video  # benchmarks/pipeline.py

        args.audio = str(long_video(30))
        args.reference = args.reference or str(CACHE / "narration.txt")
    audio = speech_audio(args.seconds, args.audio)
    script = Path(args.reference).read_text(encoding="utf-8") if args.reference else None
    runs = [(spec.split(":") + ["auto"])[:2] + [spec.endswith(":sequential")] for spec in args.backends.split(",")]
    medians: dict[str, float] = {}
    print(f"audio: {len(audio) / 16000:.0f} s of speech; model {args.model}; beam {args.beam}; {args.threads} CPU threads")
    print(f"{'backend':<27} {'compute':<8} {'median s':>9} {'x real time':>11} {'words':>6}" + (f" {'WER':>6}" if script else ""))
    for backend, compute, sequential in runs:
        options = SpeechOptions(backend=backend, model=args.model, compute_type=compute, cpu_threads=args.threads,
                                beam_size=args.beam, batch_size=args.batch if backend == "faster-whisper" else 1,
                                parallel_pieces=not sequential, language="en")  # the narration is English:
        # the backends are compared, not the language head (benchmarks/languages.py measures it)
        load_backend(options, "cpu")
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            transcript, _ = transcribe(audio, options, "cpu")
            times.append(time.perf_counter() - t0)
        median = statistics.median(times)
        name = backend + (" (sequential)" if sequential else "")
        medians[f"{name} ({compute})"] = median
        words = sum(len(s.words) for s in transcript.segments)
        error = f" {prefix_wer(script, ' '.join(s.text for s in transcript.segments)):>6.3f}" if script else ""
        print(f"{name:<27} {compute:<8} {median:>9.2f} {len(audio) / 16000 / median:>11.1f} {words:>6}{error}")
    base = medians.get("openai-whisper (auto)")
    for name, median in medians.items():
        if base and not name.startswith("openai-whisper"):
            print(f"{name} / openai-whisper speed: {base / median:.2f}x")


if __name__ == "__main__":
    main()
