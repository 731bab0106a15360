"""decord frame reader: random access to the sampled frames in batches.

decord builds a frame-timestamp index on open and decodes only what is asked, in batches
(bounded memory: ``BATCH`` frames at a time). It reads the stream FFmpeg ranks best, so it is
not given multi-stream files (see ``choose_backend``); it applies display rotation itself. It
runs inside a worker process because it can hang or abort on broken input.
"""

from __future__ import annotations

import os
from typing import Iterator

from ..errors import DecodeError
from .base import Frame, ReaderBase, sample_times, target_size, video_duration

#: Frames decoded per call; bounds memory at BATCH x frame size.
BATCH = 16


class DecordReader(ReaderBase):
    """Sampled frames through decord's ``VideoReader``."""

    name = "decord"

    def __iter__(self) -> Iterator[Frame]:
        import decord
        import numpy as np

        # decord's bundled FFmpeg prints every damaged NAL unit; what matters reaches the report.
        decord.logging.set_level(decord.logging.QUIET)
        info = self.media.streams[self.media.video_stream]
        # decord applies the display rotation itself, and sizes the rotated (displayed) picture.
        upright_w, upright_h = (info.height, info.width) if (info.rotation or 0) % 180 == 90 else (info.width, info.height)
        width, height = target_size(upright_w, upright_h, self.options.short_side)
        try:
            reader = decord.VideoReader(os.fspath(self.path), width=width, height=height, num_threads=2)
        except decord.DECORDError as exc:  # type: ignore[attr-defined]
            hint = " (its header gives no duration: backend auto or pyav reads it)" if self.media.duration_measured else ""
            raise DecodeError(f"decord could not open the video{hint}: {exc}", self.path) from exc
        count = len(reader)
        if count == 0:
            raise DecodeError("decord found no frames", self.path)
        starts = reader.get_frame_timestamp(np.arange(count))[:, 0]
        duration = video_duration(self.media) or float(starts[-1])
        times = sample_times(duration, self.options.fps, self.options.max_frames)
        half_frame = 0.5 / (info.fps or reader.get_avg_fps() or 25.0)
        # The first frame at or after each target (less half a frame), as the PyAV reader does;
        # targets past the last frame have none.
        picks = np.searchsorted(starts, np.asarray(times) - half_frame)
        picks = np.unique(picks[picks < count])
        for lo in range(0, len(picks), BATCH):
            chunk = picks[lo : lo + BATCH]
            try:
                batch = reader.get_batch(chunk.tolist()).asnumpy()
            except decord.DECORDError as exc:  # type: ignore[attr-defined]
                self.report.stopped_early_at = float(starts[chunk[0]])
                self.report.messages.append(f"decord stopped: {exc}")
                break
            for index, image in zip(chunk, batch):
                self.report.frames += 1
                # A copy, so that a frame kept downstream does not pin its whole batch.
                yield Frame(t=float(starts[index]), image=image.copy())
        if self.report.frames == 0:
            raise DecodeError("no frame could be decoded", self.path)
