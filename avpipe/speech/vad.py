"""Voice activity detection with Silero VAD (the ONNX model faster-whisper ships), and the
bookkeeping that lets a model see only speech while its timestamps stay those of the media."""

from __future__ import annotations

import bisect
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..decode.audio import SAMPLE_RATE

if TYPE_CHECKING:
    import numpy as np

#: Audio is run through the VAD in windows of this many seconds (bounded memory).
VAD_WINDOW_S = 60.0


def speech_regions(audio: "np.ndarray", threshold: float = 0.5, min_silence_s: float = 2.0,
                   pad_s: float = 0.4, merge_gap_s: float = 1.0) -> list[tuple[float, float]]:
    """``[start, end)`` seconds of speech in 16 kHz mono audio; empty for silence, tones, music
    (as far as Silero tells them apart). Regions less than ``merge_gap_s`` apart are joined."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps, get_vad_model

    from ..threads import cpu_threads, side_by_side

    if len(audio) == 0:
        return []
    options = VadOptions(threshold=threshold, min_silence_duration_ms=int(min_silence_s * 1000),
                         speech_pad_ms=int(pad_s * 1000))
    # In windows of VAD_WINDOW_S: Silero's helper copies its input several times over, which
    # for an hour of audio would be gigabytes. A region cut by a window edge is rejoined below.
    # The windows run side by side, one per core (the ONNX session is single-threaded and
    # stateless between calls, and releases the GIL).
    step = int(VAD_WINDOW_S * SAMPLE_RATE)
    get_vad_model()  # loaded once, before the threads share it

    def detect(offset: int) -> list[tuple[int, int]]:
        window = audio[offset : offset + step]
        return [(offset + r["start"], offset + r["end"])
                for r in get_speech_timestamps(window, options, sampling_rate=SAMPLE_RATE)]

    with ThreadPoolExecutor(side_by_side(cpu_threads())) as pool:
        found = [region for regions in pool.map(detect, range(0, len(audio), step)) for region in regions]
    merged: list[tuple[float, float]] = []
    for start, end in found:
        a, b = start / SAMPLE_RATE, end / SAMPLE_RATE
        if merged and a - merged[-1][1] < merge_gap_s:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


@dataclass
class Piece:
    """Speech regions joined end to end, and how to map a time in the piece back to the media."""

    audio: "np.ndarray"
    offsets: list[float]  # start of each region inside the piece
    starts: list[float]  # start of each region in the media
    lengths: list[float]

    def regions(self) -> list[tuple[float, float]]:
        """The media spans the piece is made of."""
        return [(a, a + n) for a, n in zip(self.starts, self.lengths)]

    def to_media(self, t: float) -> float:
        i = max(0, bisect.bisect_right(self.offsets, t) - 1)
        return self.starts[i] + min(t - self.offsets[i], self.lengths[i])


#: A long region is cut at a quiet moment in the last this-fraction of the allowed length,
CUT_SEARCH = 0.3
#: judged in frames this long: frames within CUT_QUIET_DB of the quietest count as quiet, and
#: the latest of them is the cut.
CUT_FRAME_S = 0.1
CUT_QUIET_DB = 6.0


def quiet_cut(audio: "np.ndarray", start: float, end: float) -> float:
    """Where in ``[start, end]`` (seconds) to cut a region too long for one piece: the centre of
    the latest ``CUT_FRAME_S`` frame within ``CUT_QUIET_DB`` of the quietest one. A frame that
    quiet is a pause between words; the latest keeps pieces long (fewer Whisper windows)."""
    import numpy as np

    frame = int(CUT_FRAME_S * SAMPLE_RATE)
    span = audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
    n = len(span) // frame
    if n < 2:
        return end
    energy = np.square(span[: n * frame].reshape(n, frame), dtype=np.float64).mean(axis=1)
    level = 10 * np.log10(energy + 1e-12)
    quiet = np.flatnonzero(level <= level.min() + CUT_QUIET_DB)
    return start + (int(quiet[-1]) + 0.5) * CUT_FRAME_S


def pieces(audio: "np.ndarray", regions: list[tuple[float, float]], max_piece_s: float,
           cut_long: bool = True) -> list[Piece]:
    """Group speech regions into pieces of at most ``max_piece_s`` seconds of speech. A longer
    single region is split, at the quietest moment near that length (:func:`quiet_cut`) so
    that words are not cut in two; with ``cut_long=False`` it is kept whole as a piece of its
    own (for backends that chunk long audio themselves, with overlap)."""
    import numpy as np

    out: list[Piece] = []
    current: list[tuple[float, float]] = []
    length = 0.0

    def flush() -> None:
        nonlocal current, length
        if not current:
            return
        chunks, offsets, starts, lengths, at = [], [], [], [], 0.0
        for a, b in current:
            chunk = audio[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)]
            chunks.append(chunk)
            offsets.append(at)
            starts.append(a)
            lengths.append(len(chunk) / SAMPLE_RATE)
            at += len(chunk) / SAMPLE_RATE
        out.append(Piece(np.concatenate(chunks), offsets, starts, lengths))
        current, length = [], 0.0

    for a, b in regions:
        while cut_long and b - a > max_piece_s:  # one very long region: cut it
            flush()
            cut = quiet_cut(audio, a + (1 - CUT_SEARCH) * max_piece_s, a + max_piece_s)
            current, length = [(a, cut)], cut - a
            flush()
            a = cut
        if length + (b - a) > max_piece_s:
            flush()
        current.append((a, b))
        length += b - a
    flush()
    return out
