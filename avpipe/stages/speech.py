"""The speech stage: the transcript with word timestamps, in the language spoken (:mod:`avpipe.speech`)."""

from __future__ import annotations

from ..device import resolve_device
from .base import Stage, VideoContext


class SpeechStage(Stage):
    """Voice activity detection, the language of each stretch of speech, then Whisper on what
    is speech (the model meant for its language), with the hallucination guards. Speech left
    untranscribed (no model for its language) makes the stage partial."""

    name = "speech"
    needs = ("audio",)

    def run(self, ctx: VideoContext) -> None:
        from ..speech import transcribe
        from ..speech.language import iso639_1

        o = ctx.options.speech
        hint = None
        media = ctx.media
        if media is not None and media.audio_stream is not None:
            tags = [s.language for s in media.streams if s.index == media.audio_stream]
            hint = iso639_1(tags[0]) if tags else None
        transcript, meta = transcribe(ctx.audio.samples, o, device=resolve_device(ctx.options.device, o.backend),
                                      hint=hint)
        ctx.result.transcript = transcript
        ctx.speech_regions = meta.get("regions")
        self.backend, self.model = meta["backend"], meta["model"]
        self.notes += meta.get("notes", [])
        if transcript.untranscribed:
            self.status = "partial"
        if meta.get("unchecked"):  # an English-only model heard speech whose language is unknown
            self.status = "partial"
            self.notes.append("the speech was transcribed as English without its language being checked")
