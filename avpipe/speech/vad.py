"""Voice activity detection with Silero VAD (the ONNX model faster-whisper ships), and the
bookkeeping that lets a model see only speech while its timestamps stay those of the media."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

SAMPLE_RATE = 16000
#: Audio is run through the VAD in windows of this many seconds (bounded memory).
VAD_WINDOW_S = 60.0


def speech_regions(audio: "np.ndarray", threshold: float = 0.5, min_silence_s: float = 2.0,
                   pad_s: float = 0.4, merge_gap_s: float = 1.0) -> list[tuple[float, float]]:
    """``[start, end)`` seconds of speech in 16 kHz mono audio; empty for silence, tones, music
    (as far as Silero tells them apart). Regions less than ``merge_gap_s`` apart are joined."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if len(audio) == 0:
        return []
    options = VadOptions(threshold=threshold, min_silence_duration_ms=int(min_silence_s * 1000),
                         speech_pad_ms=int(pad_s * 1000))
    # In windows of VAD_WINDOW_S: Silero's helper copies its input several times over, which
    # for an hour of audio would be gigabytes. A region cut by a window edge is rejoined below.
    step = int(VAD_WINDOW_S * SAMPLE_RATE)
    found = []
    for offset in range(0, len(audio), step):
        window = audio[offset : offset + step]
        found += [(offset + r["start"], offset + r["end"])
                  for r in get_speech_timestamps(window, options, sampling_rate=SAMPLE_RATE)]
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

    def to_media(self, t: float) -> float:
        i = max(0, bisect.bisect_right(self.offsets, t) - 1)
        return self.starts[i] + min(t - self.offsets[i], self.lengths[i])


def pieces(audio: "np.ndarray", regions: list[tuple[float, float]], max_piece_s: float,
           cut_long: bool = True) -> list[Piece]:
    """Group speech regions into pieces of at most ``max_piece_s`` seconds of speech. A longer
    single region is split at that length, or, with ``cut_long=False``, kept whole as a piece of
    its own (for backends that chunk long audio themselves, with overlap)."""
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
            current, length = [(a, a + max_piece_s)], max_piece_s
            flush()
            a += max_piece_s
        if length + (b - a) > max_piece_s:
            flush()
        current.append((a, b))
        length += b - a
    flush()
    return out
