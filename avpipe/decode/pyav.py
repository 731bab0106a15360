"""PyAV frame reader: decodes the chosen stream in order and keeps the sampled frames.

Sequential decoding (rather than a seek per sample) is what makes this backend robust: it
handles variable frame rates, streams without an index and damaged packets, which it skips and
counts. Memory stays bounded because only the frame being converted is held.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Iterator

from ..errors import DecodeError
from ..probe import open_container
from .base import GLANCE, Frame, ReaderBase, sample_times, target_size, upright, video_duration

if TYPE_CHECKING:
    import numpy as np

    from ..schema import MediaInfo


class PyAVReader(ReaderBase):
    """Sampled frames of ``media.video_stream`` through FFmpeg's decoders."""

    name = "pyav"

    def __iter__(self) -> Iterator[Frame]:
        import av
        from av.video.reformatter import Interpolation, VideoReformatter

        # A reformatter per output size keeps FFmpeg's scaling context between frames (a frame's
        # own reformat builds a new one each time: 1.5 ms a 1080p glance, against 0.6 here).
        scaler, glancer = VideoReformatter(), VideoReformatter()
        info = self.media.streams[self.media.video_stream]
        duration = video_duration(self.media)
        times = sample_times(duration, self.options.fps, self.options.max_frames)
        half_frame = 0.5 / (info.fps or 25.0)
        width, height = target_size(info.width, info.height, self.options.short_side)
        rotation = info.rotation or 0
        # A glance is upright GLANCE[0] x GLANCE[1]: a frame displayed on its side is scaled
        # to the transposed size in coded pixels, then turned.
        glance_w, glance_h = GLANCE if rotation % 180 == 0 else GLANCE[::-1]
        with open_container(self.path) as container:
            stream = container.streams[info.index]
            stream.thread_type = "AUTO"
            origin = container.start_time / 1_000_000 if container.start_time else 0.0
            k = 0
            bad_in_a_row = 0
            last_t = 0.0
            for packet in container.demux(stream):
                if k >= len(times) and not self.glances:
                    break
                try:
                    frames = packet.decode()
                    bad_in_a_row = 0
                except (av.InvalidDataError, av.FFmpegError) as exc:
                    self.report.bad_packets += 1
                    bad_in_a_row += 1
                    if bad_in_a_row >= self.options.max_bad_packets:
                        self.report.stopped_early_at = last_t
                        self.report.messages.append(f"gave up after {bad_in_a_row} bad packets in a row: {exc}")
                        break
                    continue
                for frame in frames:
                    if frame.time is None:
                        continue
                    t = frame.time - origin
                    last_t = t
                    glance = None
                    if self.glances:
                        started = time.perf_counter()
                        small = glancer.reformat(frame, width=glance_w, height=glance_h, format="rgb24",
                                                 interpolation=Interpolation.AREA)
                        glance = upright(small.to_ndarray(), rotation)
                        self.report.glance_seconds += time.perf_counter() - started

                    def picture(frame=frame) -> "np.ndarray":  # this frame's sampled-size picture
                        return upright(scaler.reformat(frame, width=width, height=height, format="rgb24").to_ndarray(),
                                       rotation)

                    if k >= len(times) or t < times[k] - half_frame:
                        if glance is not None:
                            yield Frame(t=max(t, 0.0), image=None, glance=glance, picture=picture)
                        continue
                    image = picture()
                    # One decoded frame can stand for several targets when sampling faster than
                    # the video's own rate; it is yielded once.
                    while k < len(times) and times[k] - half_frame <= t:
                        k += 1
                    self.report.frames += 1
                    yield Frame(t=max(t, 0.0), image=image, glance=glance)
        if self.report.frames == 0:
            raise DecodeError(f"no frame of video stream {info.index} could be decoded", self.path)
        if k < len(times) and self.report.stopped_early_at is None and times[k] < duration - 1.0:
            # The stream ended (truncated file) well before its stated duration.
            self.report.stopped_early_at = last_t
            self.report.messages.append(f"video stream ended at {last_t:.2f}s of {duration:.2f}s")


#: Longest side of the pictures :func:`pictures_at` decodes.
PICTURE_MAX_SIDE = 1920


def pictures_at(path: str, media: "MediaInfo", times: list[float], max_side: int = PICTURE_MAX_SIDE
                ) -> dict[float, "np.ndarray"]:
    """Upright RGB pictures of ``media.video_stream`` at ``times`` (keyframe times: frames' own
    presentation times), at the source's resolution (scaled down to ``max_side`` at most), by a
    seek to the keyframe before each and decoding forward. For what needs more pixels than the
    sampled frames keep (the face descriptor of a small face); a time that cannot be decoded is
    left out."""
    import av

    info = media.streams[media.video_stream]
    out: dict[float, "np.ndarray"] = {}
    with open_container(path) as container:
        stream = next(s for s in container.streams.video if s.index == media.video_stream)
        scale = min(1.0, max_side / max(info.width or 1, info.height or 1))
        for t in sorted(set(times)):
            try:
                container.seek(max(0, int(t / stream.time_base)), stream=stream, backward=True)
                chosen = None
                for frame in container.decode(stream):
                    if frame.time is None:
                        continue
                    chosen = frame
                    if frame.time >= t - 1e-3:
                        break
            except (av.error.FFmpegError, ValueError):  # damaged here: the thumbnail stays what is used
                continue
            if chosen is not None:
                if scale < 1.0:
                    chosen = chosen.reformat(width=round(chosen.width * scale), height=round(chosen.height * scale))
                out[t] = upright(chosen.to_ndarray(format="rgb24"), info.rotation or 0)
    return out
