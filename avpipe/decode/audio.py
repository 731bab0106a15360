"""Audio decoding: the chosen stream as 16 kHz mono float32, in chunks.

FFmpeg's resampler (through PyAV) mixes down and resamples while decoding, so no full-rate copy
of the track ever exists; ``iter_audio`` hands out fixed-length pieces and ``load_audio`` joins
them only at the target rate (16 kHz mono: 230 MB for an hour).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from ..errors import DecodeError, NoAudioStream
from ..probe import open_container

if TYPE_CHECKING:
    import numpy as np

    from ..schema import MediaInfo

#: The rate every track is decoded at, in Hz: what Whisper, Silero VAD and the audio features expect.
SAMPLE_RATE = 16000


@dataclass
class AudioTrack:
    """Mono float32 samples at ``sample_rate``, nominally in [-1, 1] (a stereo mix-down can
    peak slightly above; nothing is clipped); sample 0 is time 0 of the media."""

    samples: "np.ndarray"
    sample_rate: int
    bad_packets: int = 0
    messages: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def iter_audio(
    path: str | Path,
    media: "MediaInfo",
    sample_rate: int = SAMPLE_RATE,
    chunk_s: float = 30.0,
    max_bad_packets: int = 50,
    report: list[str] | None = None,
) -> Iterator["np.ndarray"]:
    """Yield consecutive mono float32 chunks of ``chunk_s`` seconds (the last may be shorter).

    Leading silence is inserted when the audio stream starts after the media's time 0, so that
    sample times line up with frame times. Damaged packets are skipped and noted in ``report``.
    """
    import av
    import numpy as np

    if media.audio_stream is None:
        raise NoAudioStream("no audio stream", path)
    chunk_len = max(1, int(chunk_s * sample_rate))
    pending: list[np.ndarray] = []
    pending_len = 0
    emitted = 0
    bad = 0
    with open_container(path) as container:
        stream = container.streams[media.audio_stream]
        origin = container.start_time / 1_000_000 if container.start_time else 0.0
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)

        def take(arrays: list[np.ndarray]) -> Iterator[np.ndarray]:
            nonlocal pending, pending_len, emitted
            for a in arrays:
                pending.append(a)
                pending_len += len(a)
            while pending_len >= chunk_len:
                joined = np.concatenate(pending)
                yield joined[:chunk_len]
                emitted += chunk_len
                rest = joined[chunk_len:]
                pending, pending_len = ([rest] if len(rest) else []), len(rest)

        started = False
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
                bad = 0
            except (av.InvalidDataError, av.FFmpegError) as exc:
                bad += 1
                if report is not None:
                    report.append(f"skipped a damaged audio packet: {exc}")
                if bad >= max_bad_packets:
                    break
                continue
            out: list[np.ndarray] = []
            for frame in frames:
                if not started:
                    started = True
                    lead = (frame.time - origin) if frame.time is not None else 0.0
                    if lead > 0:
                        out.append(np.zeros(int(round(lead * sample_rate)), dtype=np.float32))
                for resampled in resampler.resample(frame):
                    out.append(resampled.to_ndarray().reshape(-1).astype(np.float32, copy=False))
            yield from take(out)
        tail = [r.to_ndarray().reshape(-1).astype(np.float32, copy=False) for r in resampler.resample(None)]
        yield from take(tail)
        if pending_len:
            yield np.concatenate(pending)
    if not started:
        raise DecodeError(f"no frame of audio stream {media.audio_stream} could be decoded", path)


def load_audio(path: str | Path, media: "MediaInfo", sample_rate: int = SAMPLE_RATE, max_bad_packets: int = 50) -> AudioTrack:
    """The whole chosen audio stream as one :class:`AudioTrack` at ``sample_rate``."""
    import numpy as np

    messages: list[str] = []
    # Filled in place, sized from the probed duration (grown if the stream runs longer), so the
    # track exists once in memory, never as chunks plus their concatenation.
    samples = np.empty(int((media.duration_s or 0.0) * sample_rate) + sample_rate, dtype=np.float32)
    filled = 0
    for chunk in iter_audio(path, media, sample_rate, max_bad_packets=max_bad_packets, report=messages):
        if filled + len(chunk) > len(samples):
            samples = np.resize(samples, max(filled + len(chunk), int(len(samples) * 1.25)))
        samples[filled : filled + len(chunk)] = chunk
        filled += len(chunk)
    return AudioTrack(samples=samples[:filled], sample_rate=sample_rate, bad_packets=len(messages), messages=messages[:5])
