"""The frame-reader protocol, timestamp sampling and the backend registry."""

from __future__ import annotations

import importlib
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Protocol

from ..errors import PipelineConfigError

if TYPE_CHECKING:
    import numpy as np

    from ..options import DecodeOptions
    from ..schema import MediaInfo


@dataclass
class Frame:
    """One decoded frame: presentation time in seconds, and upright RGB ``uint8`` HxWx3 pictures.

    ``image`` is the sampled picture (``fps`` per second, ``short_side`` high); it is None for a
    frame that was not sampled. ``glance`` is a tiny copy of *every* decoded frame (``GLANCE``
    pixels), made only when the reader was asked for glances: the full-rate signal that shot
    detection reads from the same decode pass.

    ``picture``, on a frame with a glance but no ``image``, makes that frame's picture as a
    sampled one would be (same size, upright) when called, while the frame is the one being
    handed out: so a shot too short to hold a sample still gets a keyframe, and only those
    frames cost a conversion.
    """

    t: float
    image: "np.ndarray | None"
    glance: "np.ndarray | None" = None
    picture: "Callable[[], np.ndarray] | None" = None


#: Width and height of a glance: TransNetV2's input size, which the cheap detector reads too.
GLANCE = (48, 27)


@dataclass
class DecodeReport:
    """What a reader could not do; filled while iterating, read after."""

    frames: int = 0
    bad_packets: int = 0
    stopped_early_at: float | None = None
    messages: list[str] = field(default_factory=list)
    # Seconds spent making glances: shot detection's share of decoding, charged to it.
    glance_seconds: float = 0.0


class FrameReader(Protocol):
    """Yields sampled frames in time order; a backend is one class with this shape."""

    name: str
    report: DecodeReport

    def __iter__(self) -> Iterator[Frame]: ...


class ReaderBase:
    """What every backend keeps: the file, its probe facts, the options, and the report."""

    name = "base"

    def __init__(self, path: Path, media: "MediaInfo", options: "DecodeOptions", glances: bool = False) -> None:
        self.path, self.media, self.options = path, media, options
        self.glances = glances
        self.report = DecodeReport()


def sample_times(duration_s: float, fps: float, max_frames: int) -> list[float]:
    """Evenly spaced sample timestamps in ``[0, duration_s)``: ``fps`` per second, at most
    ``max_frames`` (the spacing widens for long videos). A stream of no known duration (a still
    image, whatever its name; a stream whose header says nothing) gets its first frame."""
    if fps <= 0 or max_frames <= 0:
        return []
    if duration_s <= 0:
        return [0.0]
    count = min(int(duration_s * fps) + 1, max_frames)
    step = max(1.0 / fps, duration_s / count)
    return [k * step for k in range(count) if k * step < duration_s]


def video_duration(media: "MediaInfo") -> float:
    """Seconds of the chosen video stream: its own duration where known (a container's can be
    longer, when the audio runs on), else the container's."""
    stream = media.streams[media.video_stream] if media.video_stream is not None else None
    known = [d for d in (stream.duration_s if stream else None, media.duration_s) if d]
    return min(known) if known else 0.0


def target_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """Output (width, height) with the shorter side scaled down to ``short_side`` (never up)."""
    short = min(width, height)
    if short <= short_side:
        return width, height
    scale = short_side / short
    return max(2, round(width * scale)), max(2, round(height * scale))


def upright(image: "np.ndarray", rotation: int) -> "np.ndarray":
    """Apply a display rotation (degrees counter-clockwise, FFmpeg's display matrix) to an image."""
    import numpy as np

    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(image, k=k)) if k else image


_BACKENDS = {"pyav": "avpipe.decode.pyav:PyAVReader", "decord": "avpipe.decode.decord:DecordReader"}


def decord_usable() -> bool:
    """decord ships x86_64 wheels only; elsewhere it is not installed at all."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    return importlib.util.find_spec("decord") is not None


def choose_backend(media: "MediaInfo", requested: str, glances: bool = False) -> str:
    """Resolve ``auto``: decord for files with one video stream, PyAV otherwise.

    decord always reads the stream FFmpeg ranks best, so files with several video streams go to
    PyAV, which decodes exactly the chosen stream. Glances (every frame) need PyAV: it decodes
    every frame anyway, while decord decodes only what is asked. decord will not open a file
    whose header gives no duration ("broken metadata": a pipe-written WebM), so that one goes
    to PyAV too, with the duration the probe measured.
    """
    if requested != "auto":
        if requested not in _BACKENDS:
            raise PipelineConfigError(f"unknown decode backend {requested!r}; known: auto, {', '.join(_BACKENDS)}")
        if glances and requested != "pyav":
            raise PipelineConfigError(f"decode backend {requested!r} cannot give every frame to shot detection; "
                                      "use auto or pyav, or [shots] backend = \"histogram\"")
        return requested
    if glances:
        return "pyav"
    videos = [s for s in media.streams if s.type == "video" and not s.attached_pic]
    stream = media.streams[media.video_stream] if media.video_stream is not None else None
    if decord_usable() and len(videos) == 1 and stream is not None and not media.duration_measured:
        return "decord"
    return "pyav"


def open_frames(path: str | Path, media: "MediaInfo", options: "DecodeOptions", backend: str | None = None,
                glances: bool = False) -> FrameReader:
    """A reader of ``media``'s chosen video stream, sampled and resized as ``options`` say; with
    ``glances``, every decoded frame also comes as a :data:`GLANCE`-sized picture."""
    name = choose_backend(media, backend or options.backend, glances)
    module, cls = _BACKENDS[name].split(":")
    return getattr(importlib.import_module(module), cls)(Path(path), media, options, glances)
