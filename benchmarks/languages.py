"""What spoken language identification costs, against the transcription it comes before.

    .venv/bin/python benchmarks/languages.py [--minutes 30] [--repeats 3]

On the long narrated video of ``benchmarks/pipeline.py`` (English read by espeak-ng; made and
cached there): the VAD's speech regions, then, each ``--repeats`` times, in the same process,
language identification (:func:`avpipe.speech.language.identify`, the bundled ``base`` head) and
the English transcription the default then runs (tiny.en). Prints medians: seconds, x real
time, windows probed of all windows, and the identification's share of the two together.
Also the naive alternative measured on the same audio: every window probed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from pipeline import long_video

    from avpipe.decode.audio import load_audio
    from avpipe.options import SpeechOptions
    from avpipe.probe import probe
    from avpipe.speech import language
    from avpipe.speech.transcribe import transcribe
    from avpipe.speech.vad import speech_regions
    from avpipe.threads import cpu_threads

    path = long_video(args.minutes)
    audio = load_audio(path, probe(path)).samples
    duration = len(audio) / 16000
    regions = speech_regions(audio)
    identifier = language.load_identifier("base", "cpu", cpu_threads())
    windows = language.windows(audio, regions)
    calls = []

    def counted(clip):
        calls.append(len(clip))
        return identifier.probs(clip)

    lid, asr, probed, spans = [], [], 0, []
    for _ in range(args.repeats):
        calls.clear()
        t0 = time.perf_counter()
        spans = language.identify(audio, regions, counted)
        lid.append(time.perf_counter() - t0)
        probed = len(calls)
        t0 = time.perf_counter()
        transcribe(audio, SpeechOptions(model="tiny.en", language="en"))
        asr.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _, a, b in windows:
        identifier.probs(audio[int(a * 16000) : int(b * 16000)])
    every = time.perf_counter() - t0
    m_lid, m_asr = statistics.median(lid), statistics.median(asr)
    print(f"{duration:.0f} s of media, {sum(b - a for a, b in regions):.0f} s of speech, {len(windows)} windows")
    print(f"language ID: {m_lid:.2f} s (median of {len(lid)}: {', '.join(f'{x:.2f}' for x in lid)}), "
          f"{duration / m_lid:.0f}x real time, {probed} of {len(windows)} windows probed; found "
          f"{[(s.language, round(s.end - s.start)) for s in spans][:5]}")
    print(f"transcription (tiny.en, as English): {m_asr:.2f} s (median), {duration / m_asr:.1f}x real time")
    print(f"language ID is {100 * m_lid / (m_lid + m_asr):.1f} % of identification + transcription; "
          f"every window probed would take {every:.2f} s ({100 * every / (every + m_asr):.1f} %)")


if __name__ == "__main__":
    main()
