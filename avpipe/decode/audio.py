"""Audio decoding: the chosen stream as 16 kHz mono float32, in chunks.

FFmpeg's resampler (through PyAV) mixes down and resamples while decoding, so no full-rate copy
of the track ever exists; ``iter_audio`` hands out fixed-length pieces and ``load_audio`` joins
them only at the target rate (16 kHz mono: 230 MB for an hour).

A mix to mono can lose the sound: stereo whose channels are each other's inverse (a wiring fault,
a "wide" effect) sums to silence. So a file with several channels also keeps them apart at the
target rate, and a piece whose mix holds much less energy than its loudest channel is replaced by
that channel, with a warning (:class:`Downmix`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from ..errors import DecodeError, NoAudioStream
from ..probe import channel_names, open_container

if TYPE_CHECKING:
    import numpy as np

    from ..schema import MediaInfo

#: The rate every track is decoded at, in Hz: what Whisper, Silero VAD and the audio features expect.
SAMPLE_RATE = 16000
#: A mix that keeps less than this share of the energy of the loudest full-range channel (-10 dB)
#: has cancelled: that channel is used instead. Uncorrelated channels keep half or more; only
#: channels in opposite phase fall this low.
CANCEL_RATIO = 0.1
#: Mean energy under which a piece counts as silent (-80 dBFS): silence cannot cancel.
SILENT_ENERGY = 1e-8


@dataclass
class AudioTrack:
    """Mono float32 samples at ``sample_rate``, nominally in [-1, 1] (a stereo mix-down can
    peak slightly above; nothing is clipped); sample 0 is time 0 of the media."""

    samples: "np.ndarray"
    sample_rate: int
    bad_packets: int = 0
    messages: list[str] = field(default_factory=list)
    # What was done to the sound rather than lost from it (a mix that cancelled, replaced).
    warnings: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


class Downmix:
    """Mono at ``rate`` from decoded frames of any layout, guarded against channels that cancel.

    FFmpeg's resampler mixes (its standard matrix: LFE left out, centre and surrounds weighted)
    while a second one keeps each channel apart at the same rate. Pieces are taken out with
    :meth:`take`; in each, when the mix holds less than :data:`CANCEL_RATIO` of the energy of
    the loudest full-range channel, that channel is the piece instead, and ``replaced`` counts
    it. Mono input is passed through one resampler only: one channel cannot cancel.
    """

    def __init__(self, names: list[str], rate: int) -> None:
        import av

        self.mixer = av.AudioResampler(format="flt", layout="mono", rate=rate)
        # Packed samples: PyAV's to_ndarray of a planar frame with more than 8 channels crashes.
        self.splitter = av.AudioResampler(format="flt", rate=rate) if len(names) > 1 else None
        self.names = names
        self.full_range = [i for i, n in enumerate(names) if not n.startswith("LFE")] or list(range(len(names)))
        self.mixed = _Queue()
        self.apart = _Queue()  # (samples, channels) pieces, aligned with ``mixed``
        self.pieces = 0
        self.replaced = 0

    def pad(self, count: int) -> None:
        """Add ``count`` samples of silence (audio that starts after the media's time 0)."""
        import numpy as np

        self.mixed.put(np.zeros(count, dtype=np.float32))
        if self.splitter is not None:
            self.apart.put(np.zeros((count, len(self.names)), dtype=np.float32))

    def push(self, frame) -> None:
        """Add one decoded frame; None flushes what the resamplers still hold."""
        for out in self.mixer.resample(frame):
            self.mixed.put(out.to_ndarray().reshape(-1))
        if self.splitter is not None:
            for out in self.splitter.resample(frame):
                self.apart.put(out.to_ndarray().reshape(-1, len(self.names)))

    def take(self, size: int, final: bool = False) -> Iterator["np.ndarray"]:
        """Yield pieces of ``size`` samples while there are that many; with ``final``, the rest too."""
        while True:
            have = self.mixed.length
            if self.splitter is not None and not final:
                have = min(have, self.apart.length)
            if have == 0 or (have < size and not final):
                return
            n = min(size, have)
            piece = self.mixed.take(n)
            if self.splitter is not None:
                piece = self._guard(piece, self.apart.take(n))
            yield piece

    def _guard(self, mixed: "np.ndarray", apart: "np.ndarray") -> "np.ndarray":
        """The piece to keep: the mix, or its loudest full-range channel when the mix cancelled."""
        import numpy as np

        self.pieces += 1
        energy = np.mean(np.square(apart[:, self.full_range]), axis=0)
        if energy.max() < SILENT_ENERGY:
            return mixed
        if float(np.mean(np.square(mixed))) >= CANCEL_RATIO * float(energy.max()):
            return mixed
        self.replaced += 1
        return np.ascontiguousarray(apart[:, self.full_range[int(energy.argmax())]])

    def warning(self) -> str | None:
        """What the guard did, for the track's warnings; None when every piece is the mix."""
        if not self.replaced:
            return None
        return (f"the {len(self.names)} audio channels ({'+'.join(self.names)}) cancel when mixed to mono "
                f"(one is the other inverted?): in {self.replaced} of {self.pieces} pieces the loudest channel "
                "was used instead of the mix")


class _Queue:
    """Sample arrays in time order and their total length; :meth:`take` removes the first ``n``
    samples as one array (padded with silence when fewer are left: the two resamplers of
    :class:`Downmix` may end a few samples apart)."""

    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []
        self.length = 0

    def put(self, array: "np.ndarray") -> None:
        self.arrays.append(array)
        self.length += len(array)

    def take(self, n: int) -> "np.ndarray":
        import numpy as np

        head, wanted = [], n
        while wanted > 0 and self.arrays:
            first = self.arrays[0]
            if len(first) <= wanted:
                head.append(self.arrays.pop(0))
            else:
                head.append(first[:wanted])
                self.arrays[0] = first[wanted:]
            wanted -= len(head[-1])
        self.length -= n - wanted
        if wanted:
            shape = (wanted, *head[0].shape[1:]) if head else (wanted,)
            head.append(np.zeros(shape, dtype=np.float32))
        return np.concatenate(head)


def iter_audio(
    path: str | Path,
    media: "MediaInfo",
    sample_rate: int = SAMPLE_RATE,
    chunk_s: float = 30.0,
    max_bad_packets: int = 50,
    report: list[str] | None = None,
    warnings: list[str] | None = None,
) -> Iterator["np.ndarray"]:
    """Yield consecutive mono float32 chunks of ``chunk_s`` seconds (the last may be shorter).

    Leading silence is inserted when the audio stream starts after the media's time 0, so that
    sample times line up with frame times. Damaged packets are skipped and noted in ``report``;
    chunks whose channels cancelled in the mix are noted (once, at the end) in ``warnings``.
    """
    import av

    if media.audio_stream is None:
        raise NoAudioStream("no audio stream", path)
    chunk_len = max(1, int(chunk_s * sample_rate))
    bad = 0
    started = False
    with open_container(path) as container:
        stream = container.streams[media.audio_stream]
        downmix = Downmix(channel_names(stream.codec_context), sample_rate)  # before anything reads the layout
        origin = container.start_time / 1_000_000 if container.start_time else 0.0
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
            for frame in frames:
                if not started:
                    started = True
                    lead = (frame.time - origin) if frame.time is not None else 0.0
                    if lead > 0:
                        downmix.pad(int(round(lead * sample_rate)))
                downmix.push(frame)
            yield from downmix.take(chunk_len)
        downmix.push(None)
        yield from downmix.take(chunk_len, final=True)
    if not started:
        raise DecodeError(f"no frame of audio stream {media.audio_stream} could be decoded", path)
    if warnings is not None and downmix.warning():
        warnings.append(downmix.warning())


def load_audio(path: str | Path, media: "MediaInfo", sample_rate: int = SAMPLE_RATE, max_bad_packets: int = 50) -> AudioTrack:
    """The whole chosen audio stream as one :class:`AudioTrack` at ``sample_rate``."""
    import numpy as np

    messages: list[str] = []
    warnings: list[str] = []
    # Filled in place, sized from the probed duration (grown if the stream runs longer), so the
    # track exists once in memory, never as chunks plus their concatenation.
    samples = np.empty(int((media.duration_s or 0.0) * sample_rate) + sample_rate, dtype=np.float32)
    filled = 0
    for chunk in iter_audio(path, media, sample_rate, max_bad_packets=max_bad_packets, report=messages,
                            warnings=warnings):
        if filled + len(chunk) > len(samples):
            samples = np.resize(samples, max(filled + len(chunk), int(len(samples) * 1.25)))
        samples[filled : filled + len(chunk)] = chunk
        filled += len(chunk)
    return AudioTrack(samples=samples[:filled], sample_rate=sample_rate, bad_packets=len(messages),
                      messages=messages[:5], warnings=warnings)
