"""The speech stage: the transcript with word timestamps (:mod:`avpipe.speech`)."""

from __future__ import annotations

from ..device import resolve_device
from .base import Stage, VideoContext


class SpeechStage(Stage):
    """Voice activity detection, then Whisper on what is speech, with the hallucination guards."""

    name = "speech"
    needs = ("audio",)

    def run(self, ctx: VideoContext) -> None:
        from ..speech import transcribe

        o = ctx.options.speech
        transcript, meta = transcribe(ctx.audio.samples, o, device=resolve_device(ctx.options.device, o.backend))
        ctx.result.transcript = transcript
        ctx.speech_regions = meta.get("regions")
        self.backend, self.model = meta["backend"], meta["model"]
