"""The decode stage: the one pass over the video that hands every sampled frame to the frame
consumers (:mod:`avpipe.decode`), and, before it, the audio track when a later stage needs it."""

from __future__ import annotations

import time

from ..errors import DecodeError, NoVideoStream
from ..schema import StageError
from .base import Stage, VideoContext


class DecodeStage(Stage):
    """The audio track, then frames to the consumers as they are decoded (nothing holds the whole video)."""

    name = "decode"
    section = "decode"
    reads = ("media",)
    writes = ("frames", "audio")

    def __init__(self, consumers: list[Stage], audio: bool) -> None:
        super().__init__()
        self.consumers = consumers
        self.audio = audio

    def run(self, ctx: VideoContext) -> None:
        problems = 0
        if self.audio and ctx.media.audio_stream is not None:
            from ..decode import load_audio

            try:
                ctx.audio = load_audio(ctx.path, ctx.media, max_bad_packets=ctx.options.decode.max_bad_packets)
                self.notes += ctx.audio.warnings  # e.g. channels that cancel in a mono mix: one was used
                if ctx.audio.bad_packets:
                    ctx.result.errors.append(StageError(stage="decode", type="PartialDecode", message=(
                        f"{ctx.audio.bad_packets} damaged audio packets skipped")))
                    problems += 1
            except Exception as exc:  # noqa: BLE001 - the video part may still be fine
                ctx.fail(self.name, exc)
                problems += 1
        # The audio first: a later stage may start on it (the speech stage hears it in the
        # background) while the frames are decoded.
        ctx.start_ahead()
        if ctx.media.video_stream is None:
            ctx.fail(self.name, NoVideoStream("no video stream: frames, shots and keyframes are missing", ctx.path))
            problems += 1
        else:
            problems += self._video(ctx)
        ctx.failed.discard(self.name)  # what did decode is kept; errors say what did not
        produced = ctx.frames_decoded > 0 or ctx.audio is not None
        self.status = "error" if not produced else ("partial" if problems else "ok")

    def _video(self, ctx: VideoContext) -> int:
        """Decode the sampled frames; returns 1 when something went wrong (recorded), else 0."""
        from ..decode import open_frames

        glances = any(c.wants_glances(ctx) for c in self.consumers)
        reader = open_frames(ctx.path, ctx.media, ctx.options.decode, glances=glances)
        try:
            try:
                self._drive(ctx, reader)
            except DecodeError:
                if reader.name != "decord" or ctx.frames_decoded or ctx.options.decode.backend != "auto":
                    raise
                # decord could not read what FFmpeg's own demuxer could: try PyAV before giving up.
                reader = open_frames(ctx.path, ctx.media, ctx.options.decode, backend="pyav", glances=glances)
                self._drive(ctx, reader)
        except Exception as exc:  # noqa: BLE001 - recorded; the audio may still be fine
            ctx.fail(self.name, exc)
            return 1
        report = reader.report
        if report.stopped_early_at is not None:
            # Later stages must not describe time that was never decoded.
            ctx.video_end_s = report.stopped_early_at + 1.0 / ctx.options.decode.fps
        if report.stopped_early_at is not None or report.bad_packets:
            note = "; ".join(report.messages) or f"{report.bad_packets} damaged video packets skipped"
            ctx.result.errors.append(StageError(stage="decode", type="PartialDecode", message=note))
            return 1
        return 0

    def _drive(self, ctx: VideoContext, reader) -> None:
        self.backend = reader.name
        ctx.notify("decode_backend", reader.name)
        consumers = list(self.consumers)
        spent = {c.name: 0.0 for c in consumers}
        glancers = {c.name for c in consumers if c.wants_glances(ctx)}
        for frame in reader:
            if frame.image is not None:
                ctx.frames_decoded += 1
            for consumer in list(consumers):
                t0 = time.perf_counter()
                try:
                    if frame.glance is not None and consumer.name in glancers:
                        consumer.on_glance(ctx, frame)
                    if frame.image is not None:
                        consumer.on_frame(ctx, frame)
                except Exception as exc:  # noqa: BLE001 - one consumer's bug must not stop decode
                    ctx.fail(consumer.name, exc)
                    consumers.remove(consumer)
                spent[consumer.name] += time.perf_counter() - t0
        # Glances are made for the consumers that read them: their time is theirs too.
        for name in glancers:
            spent[name] += reader.report.glance_seconds / len(glancers)
        for name, seconds in spent.items():
            ctx.record(name, seconds)
        self.excluded_seconds = sum(spent.values())  # the consumers' time is theirs, not decode's
        ctx.notify("decode_done", None)
