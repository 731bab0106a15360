"""Probe stage: container and stream facts through PyAV, and the choice of streams to use.

Cheap by design: it demuxes a few hundred packets of the chosen video stream (to tell variable
from constant frame rate) and decodes one frame (display rotation lives in frame side data), so
it can run before anything that might hang or crash on a broken file.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import MediaOpenError
from .schema import MediaInfo, StreamInfo

#: How many video packets to read when deciding whether the frame rate varies.
VFR_SCAN_PACKETS = 300
#: Relative spread of frame durations above which a stream counts as variable-frame-rate.
VFR_TOLERANCE = 0.02


def open_container(path: str | Path):
    """Open ``path`` with PyAV, turning every failure into :class:`MediaOpenError`."""
    import av

    p = Path(path)
    if not p.exists():
        raise MediaOpenError("no such file", path)
    if p.is_dir():
        raise MediaOpenError("is a folder, not a media file", path)
    if not p.is_file():  # opening a FIFO would wait for a writer forever; a device may never end
        raise MediaOpenError("not a regular file (a FIFO, socket or device): not read", path)
    if p.stat().st_size == 0:
        raise MediaOpenError("file is empty (0 bytes)", path)
    try:
        return av.open(os.fspath(p), metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise MediaOpenError(f"not a readable media container ({reason})", path) from exc


def _seconds(value, time_base) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def _stream_info(stream) -> StreamInfo:
    ctx = stream.codec_context
    kind = stream.type if stream.type in ("video", "audio", "subtitle", "data", "attachment") else "unknown"
    info = StreamInfo(
        index=stream.index,
        type=kind,
        codec=getattr(ctx, "name", None) if ctx is not None else None,
        duration_s=_seconds(stream.duration, stream.time_base),
        language=stream.metadata.get("language") or None,
        title=stream.metadata.get("title") or None,
        default=bool(stream.disposition & 1),  # AV_DISPOSITION_DEFAULT
    )
    if ctx is None:  # no decoder for this codec (or a damaged header): the stream is listed, never chosen
        return info
    if kind == "video":
        rate = stream.average_rate or stream.guessed_rate
        info.width = ctx.width or None
        info.height = ctx.height or None
        info.fps = float(rate) if rate else None
        info.frames = stream.frames or None
        info.attached_pic = bool(stream.disposition & 0x400)  # AV_DISPOSITION_ATTACHED_PIC
    elif kind == "audio":
        info.sample_rate = ctx.sample_rate or None
        info.channels = ctx.channels or None
        info.bit_rate = ctx.bit_rate or None
    return info


def choose_video_stream(streams: list[StreamInfo]) -> tuple[int | None, str]:
    """Pick the video stream to decode: the most pixels, then the default flag, then order.

    Cover images (attached pictures) are never chosen: they are one still, not the video.
    """
    candidates = [s for s in streams if s.type == "video" and not s.attached_pic and s.width]
    if not candidates:
        return None, "video: none (no decodable video stream)"
    best = max(candidates, key=lambda s: ((s.width or 0) * (s.height or 0), s.default, -s.index))
    why = f"video: stream {best.index} ({best.codec} {best.width}x{best.height}"
    why += f" @ {best.fps:.3f} fps)" if best.fps else ")"
    if len(candidates) > 1:
        why += f", the largest of {len(candidates)} video streams"
    return best.index, why


def choose_audio_stream(streams: list[StreamInfo]) -> tuple[int | None, str]:
    """Pick the audio stream for speech: default flag, then sample rate, then channels.

    A higher sample rate keeps more of the voice band before the resampling to 16 kHz.
    """
    candidates = [s for s in streams if s.type == "audio" and s.sample_rate]
    if not candidates:
        return None, "audio: none (no audio stream)"
    best = max(candidates, key=lambda s: (s.default, s.sample_rate or 0, s.channels or 0, -s.index))
    why = f"audio: stream {best.index} ({best.codec} {best.sample_rate} Hz, {best.channels} ch)"
    if len(candidates) > 1:
        why += f", the best of {len(candidates)} audio streams by default flag and sample rate"
    return best.index, why


def _scan_video(container, index: int, info: StreamInfo) -> None:
    """Fill ``vfr`` and ``rotation`` of ``info`` by reading the start of the stream."""
    stream = container.streams[index]
    durations: list[int] = []
    pts_seen: list[int] = []
    rotation = 0
    decoded = False
    try:
        for i, packet in enumerate(container.demux(stream)):
            if packet.pts is not None:
                pts_seen.append(packet.pts)
            if not decoded:
                for frame in packet.decode():
                    rotation = int(getattr(frame, "rotation", 0) or 0)
                    decoded = True
                    break
            if i >= VFR_SCAN_PACKETS:
                break
    except Exception:  # noqa: BLE001 - a broken stream still gets its other facts
        pass
    pts_seen.sort()
    for a, b in zip(pts_seen, pts_seen[1:]):
        if b > a:
            durations.append(b - a)
    if len(durations) >= 2:
        durations.sort()
        median = durations[len(durations) // 2]
        # Ignore the extreme ends (an edit list's first frame, a last short frame).
        core = durations[len(durations) // 10 : len(durations) - len(durations) // 10 or None]
        info.vfr = any(abs(d - median) > VFR_TOLERANCE * median for d in core)
    info.rotation = rotation % 360


def probe(path: str | Path) -> MediaInfo:
    """Return container and stream facts for ``path`` and the streams the pipeline will use.

    Raises :class:`MediaOpenError` when the file is missing, empty or not a media container.
    """
    container = open_container(path)
    with container:
        streams = [_stream_info(s) for s in container.streams]
        v_index, v_why = choose_video_stream(streams)
        a_index, a_why = choose_audio_stream(streams)
        if v_index is not None:
            _scan_video(container, v_index, streams[v_index])
        duration = container.duration / 1_000_000 if container.duration else None
        if duration is None:
            known = [s.duration_s for s in streams if s.duration_s]
            duration = max(known) if known else None
        return MediaInfo(
            path=str(path),
            size_bytes=Path(path).stat().st_size,
            format=container.format.name if container.format else None,
            duration_s=duration,
            streams=streams,
            video_stream=v_index,
            audio_stream=a_index,
            choice=[v_why, a_why],
        )
