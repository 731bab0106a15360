"""Probe stage: container and stream facts through PyAV, and the choice of streams to use.

Cheap by design: it demuxes a few hundred packets of the candidate video streams (to tell
variable from constant frame rate, and a one-frame stream from a moving picture) and decodes one
frame of each (display rotation lives in frame side data), so it can run before anything that
might hang or crash on a broken file. It never decodes audio, and reads each audio layout through
:func:`channel_names`, the one safe way (see there).

A file whose header gives no duration at all (Matroska or WebM written to a pipe, as browsers'
MediaRecorder and live dumps write it: the muxer cannot go back to fill it in) gets its
durations from the stream itself, the end of its last packets, in one demux-only pass
(:func:`_durations_from_packets`; no decoding, a few seconds for hours of footage).
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

from .errors import MediaOpenError
from .schema import MediaInfo, StreamInfo

#: How many video packets to read when deciding whether the frame rate varies.
VFR_SCAN_PACKETS = 300
#: Relative spread of frame durations above which a stream counts as variable-frame-rate.
VFR_TOLERANCE = 0.02
#: A video stream shorter than this share of the longest one is not the video (a preview, a
#: title card), however many pixels it has.
COMPARABLE_LENGTH = 0.9


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


def channel_names(ctx) -> list[str]:
    """The channel names of an audio codec context (``["FL", "FR"]``), read so that PyAV can
    decode the stream without freeing its channel layout twice.

    PyAV 18 hands out ``ctx.layout`` (and ``ctx.channels``, which goes through it) as a shallow
    copy that frees the layout's channel map when the copy dies. Only a *custom-order* layout has
    such a map: channels FFmpeg cannot write as a bit mask, such as a MOV ``chan`` atom listing
    7.1 as FL+FR+FC+LFE+SL+SR+BL+BR. After the first read the context holds freed memory, and
    the process dies on a heap abort or a segfault, often only when the file is closed.

    So the layout is read here once, and before that copy dies the context gets a layout built
    from a bit mask (which has no map) with the same channel count: the same layout when the
    channels are in FFmpeg's own order, else FFmpeg's default for that count (7.1 for eight).
    The names returned are the original ones, in the order of the samples. Call it on a context
    that is not open yet (not decoded from), before anything else reads its layout.
    """
    import av

    if ctx.is_open:
        raise RuntimeError("channel_names() must be called before the audio stream is decoded")
    original = ctx.layout  # the one read: dangerous to drop before the context is given another
    names = [channel.name for channel in original.channels]
    if names:  # a layout of no channels (a damaged header) has no map to lose
        ctx.layout = av.AudioLayout(_safe_layout(names))
    del original
    return names


@functools.lru_cache(maxsize=1)
def _native_order() -> list[str]:
    """FFmpeg's channel names by channel id (its native order): FL, FR, FC, LFE, BL, ..."""
    import av

    return [channel.name for channel in av.AudioLayout("0x" + "f" * 16).channels]


def _safe_layout(names: list[str]) -> str:
    """A layout string for ``len(names)`` channels that FFmpeg parses into a bit-mask layout."""
    import av

    order = _native_order()
    ids = [order.index(n) if n in order else -1 for n in names]
    if -1 not in ids and ids == sorted(set(ids)):  # already in native order: keep it as it is
        return hex(sum(1 << i for i in ids))
    try:
        return av.AudioLayout(f"{len(names)}c").name  # FFmpeg's default for the count
    except ValueError:  # no default for this count (9, 11, ...): the first channels by id
        named = [i for i, n in enumerate(order) if not n.startswith("USR")][: len(names)]
        return hex(sum(1 << i for i in named)) if len(named) == len(names) else f"{len(names)} channels"


def _seconds(value, time_base) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def _tag_seconds(stream) -> float | None:
    """A stream's length from its ``DURATION`` tag (Matroska and WebM keep it there, as
    ``HH:MM:SS.nnnnnnnnn``, and leave the stream's own duration unset)."""
    found = re.fullmatch(r"(\d+):(\d\d):(\d\d(?:\.\d+)?)", (stream.metadata.get("DURATION") or "").strip())
    if not found:
        return None
    hours, minutes, seconds = found.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _webp_is_animated(path: str | Path) -> bool:
    """Whether ``path`` is an animated WebP: a ``VP8X`` header with its animation flag set."""
    with open(path, "rb") as f:
        head = f.read(21)
    return len(head) == 21 and head[:4] == b"RIFF" and head[8:16] == b"WEBPVP8X" and bool(head[20] & 0x02)


def _no_decoder(path: str | Path, stream, info: StreamInfo) -> str | None:
    """Why a video or audio stream cannot be decoded here, or None when it can (as far as the
    header tells): no decoder in this FFmpeg at all, or one that cannot read the stream's header."""
    if info.type not in ("video", "audio"):
        return None
    if stream.codec_context is None:
        return f"a {info.type} stream with no decoder (codec unknown to this FFmpeg)"
    if info.type == "video" and not info.width:
        if info.codec == "webp" and _webp_is_animated(path):  # FFmpeg decodes still WebP only
            return "a video stream with no decoder (webp animation)"
        return f"a video stream whose header its decoder cannot read ({info.codec})"
    if info.type == "audio" and not info.sample_rate:
        return f"an audio stream whose header its decoder cannot read ({info.codec})"
    return None


def _stream_info(stream) -> StreamInfo:
    ctx = stream.codec_context
    kind = stream.type if stream.type in ("video", "audio", "subtitle", "data", "attachment") else "unknown"
    info = StreamInfo(
        index=stream.index,
        type=kind,
        codec=getattr(ctx, "name", None) if ctx is not None else None,
        duration_s=_seconds(stream.duration, stream.time_base) or _tag_seconds(stream),
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
        info.channels = len(channel_names(ctx)) or None
        info.bit_rate = ctx.bit_rate or None
    return info


def _is_still(info: StreamInfo, packets: dict[int, int]) -> bool:
    """One frame or less: by the container's count, by its duration, or by the scan (a single
    packet where another video stream showed many)."""
    if info.frames == 1:
        return True
    if info.duration_s is not None and info.fps and info.duration_s * info.fps < 1.5:
        return True
    most = max(packets.values(), default=0)
    return info.index in packets and packets[info.index] <= 1 < most


def choose_video_stream(streams: list[StreamInfo], packets: dict[int, int] | None = None) -> tuple[int | None, str]:
    """Pick the video stream to decode: the moving picture that runs longest, and among those of
    comparable length the most pixels, then the default flag, then order.

    Cover images (attached pictures) are never chosen: they are one still, not the video; nor is
    any other one-frame stream (a thumbnail track, ``packets`` counted by the probe's scan) while
    a moving one exists, nor a stream much shorter than the longest, however large.
    """
    packets = packets or {}
    candidates = [s for s in streams if s.type == "video" and not s.attached_pic and s.width]
    if not candidates:
        return None, "video: none (no decodable video stream)"
    moving = [s for s in candidates if not _is_still(s, packets)] or candidates
    longest = max((s.duration_s for s in moving if s.duration_s), default=None)
    # A stream of unknown length is not held against it: only a known, clearly shorter one is out.
    comparable = [s for s in moving if not (longest and s.duration_s) or s.duration_s >= COMPARABLE_LENGTH * longest]
    best = max(comparable, key=lambda s: ((s.width or 0) * (s.height or 0), s.default, -s.index))
    why = f"video: stream {best.index} ({best.codec} {best.width}x{best.height}"
    why += f" @ {best.fps:.3f} fps)" if best.fps else ")"
    if len(comparable) > 1:
        why += f", the largest of {len(comparable)} video streams"
    passed = [f"stream {s.index} ({'one frame' if s not in moving else 'shorter'})"
              for s in candidates if s not in comparable]
    if passed:
        why += "; passed over " + ", ".join(passed)
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


def _varies(pts_seen: list[int]) -> bool | None:
    """Whether the frame durations between these timestamps vary (None: too few to tell)."""
    pts_seen = sorted(pts_seen)
    durations = sorted(b - a for a, b in zip(pts_seen, pts_seen[1:]) if b > a)
    if len(durations) < 2:
        return None
    median = durations[len(durations) // 2]
    # Ignore the extreme ends (an edit list's first frame, a last short frame).
    core = durations[len(durations) // 10 : len(durations) - len(durations) // 10 or None]
    return any(abs(d - median) > VFR_TOLERANCE * median for d in core)


def _scan_video(container, infos: list[StreamInfo]) -> dict[int, int]:
    """Read the start of the candidate video streams in one pass: fill each one's ``vfr`` and
    ``rotation``, and return how many packets of each were seen (at most about
    :data:`VFR_SCAN_PACKETS` a stream)."""
    pts_seen: dict[int, list[int]] = {info.index: [] for info in infos}
    packets = dict.fromkeys(pts_seen, 0)
    rotation = dict.fromkeys(pts_seen, 0)
    decoded: set[int] = set()
    try:
        for packet in container.demux(*(container.streams[i] for i in pts_seen)):
            index = packet.stream.index
            if packet.size:  # not the empty packet that ends each stream
                packets[index] += 1
            if packet.pts is not None:
                pts_seen[index].append(packet.pts)
            if index not in decoded:
                for frame in packet.decode():
                    rotation[index] = int(getattr(frame, "rotation", 0) or 0)
                    decoded.add(index)
                    break
            if sum(packets.values()) > VFR_SCAN_PACKETS * len(infos):
                break
    except Exception:  # noqa: BLE001 - a broken stream still gets its other facts
        pass
    for info in infos:
        vfr = _varies(pts_seen[info.index])
        if vfr is not None:
            info.vfr = vfr
        info.rotation = rotation[info.index] % 360
    return packets


def _durations_from_packets(path: str | Path, indices: list[int]) -> tuple[dict[int, float], float | None]:
    """Read every packet of streams ``indices`` (demux only, nothing decoded) and return each
    stream's duration from its own start to the end of its last packet (the latest
    ``pts + duration``: packets come in decoding order), and the container's duration from its
    start time to the latest of those ends. A video packet with no duration counts one frame.

    For files whose header says nothing of their length; a damaged tail ends the pass early,
    with what was read so far.
    """
    ends: dict[int, float] = {}
    with open_container(path) as container:
        streams = [container.streams[i] for i in indices]
        frame = {s.index: (1.0 / float(s.average_rate or s.guessed_rate or 25)) if s.type == "video" else 0.0
                 for s in streams}
        try:
            for packet in container.demux(*streams):
                if packet.pts is None or packet.time_base is None:
                    continue
                index = packet.stream.index
                end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                if not packet.duration:
                    end += frame[index]
                if end > ends.get(index, float("-inf")):
                    ends[index] = end
        except Exception:  # noqa: BLE001 - a broken tail: the packets read so far still tell
            pass
        starts = {s.index: _seconds(s.start_time, s.time_base) or 0.0 for s in streams}
        origin = container.start_time / 1_000_000 if container.start_time else 0.0
    durations = {i: end - starts[i] for i, end in ends.items() if end > starts[i]}
    total = max(ends.values()) - origin if ends else None
    return durations, total if total and total > 0 else None


def probe(path: str | Path) -> MediaInfo:
    """Return container and stream facts for ``path`` and the streams the pipeline will use.

    Raises :class:`MediaOpenError` when the file is missing, empty or not a media container, and
    when none of its streams can be used because they have no decoder (an animated WebP).
    """
    container = open_container(path)
    with container:
        streams = [_stream_info(s) for s in container.streams]
        duration = container.duration / 1_000_000 if container.duration else None
        unknown = [s.index for s in streams if s.type in ("video", "audio") and not s.duration_s and not s.attached_pic]
        measured = duration is None and bool(unknown)
        if measured:  # the header says nothing of the length: the packets do
            durations, duration = _durations_from_packets(path, unknown)
            for info in streams:
                info.duration_s = durations.get(info.index, info.duration_s)
        undecodable = [(info, why) for stream, info in zip(container.streams, streams)
                       if (why := _no_decoder(path, stream, info))]
        videos = [s for s in streams if s.type == "video" and not s.attached_pic and s.width]
        packets = _scan_video(container, videos) if videos else {}
        v_index, v_why = choose_video_stream(streams, packets)
        a_index, a_why = choose_audio_stream(streams)
        if v_index is None and a_index is None and undecodable:
            raise MediaOpenError("; ".join(f"stream {info.index}: {why}" for info, why in undecodable), path)
        choice = [v_why, a_why]
        for at, (kind, index) in enumerate((("video", v_index), ("audio", a_index))):
            why_not = [f"stream {info.index}: {why}" for info, why in undecodable if info.type == kind]
            if index is None and why_not:
                choice[at] = f"{kind}: none ({'; '.join(why_not)})"
        if duration is None:
            known = [s.duration_s for s in streams if s.duration_s]
            duration = max(known) if known else None
        return MediaInfo(
            path=str(path),
            size_bytes=Path(path).stat().st_size,
            format=container.format.name if container.format else None,
            duration_s=duration,
            duration_measured=measured,
            streams=streams,
            video_stream=v_index,
            audio_stream=a_index,
            choice=choice,
        )
