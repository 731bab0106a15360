"""The speakers stage: who says each segment and word, and who speaks when over all the speech
heard (``transcript.speaker_turns``; :mod:`avpipe.speech.speakers`), and a speaker_change
event where the turn passes between segments."""

from __future__ import annotations

from ..options import PipelineOptions
from .base import ModelUse, Stage, VideoContext


class SpeakerStage(Stage):
    """Diarization over the transcript: speakers on segments and words; segments split at turns."""

    name = "speakers"
    section = "speakers"
    reads = ("audio", "segments")
    writes = ("speaker turns", "events")

    @classmethod
    def models(cls, options: PipelineOptions) -> list[ModelUse]:
        return [ModelUse("[speakers]", "resemblyzer-ge2e")]

    def run(self, ctx: VideoContext) -> None:
        from ..device import resolve_device
        from ..schema import Event, SpeakerTurn
        from ..speech.speakers import diarize

        found = diarize(ctx.audio.samples, ctx.result.transcript.segments, ctx.options.speakers,
                        device=resolve_device(ctx.options.device, "torch"))
        segments = found.segments
        ctx.result.transcript.segments = segments
        ctx.result.transcript.speaker_turns = [SpeakerTurn(start=a, end=b, speaker=who) for a, b, who in found.turns]
        self.backend, self.model = "ge2e-agglomerative", "resemblyzer-ge2e"
        if ctx.options.people.voices and found.voices:  # each voice, for the folder's people index
            import numpy as np

            ctx.identity.speakers = [name for name, _, _ in found.voices]
            ctx.identity.voices = np.stack([vector for _, vector, _ in found.voices]).astype(np.float32)
            ctx.identity.voice_seconds = np.array([seconds for *_, seconds in found.voices], np.float32)
        spoken = [s for s in segments if s.speaker]
        ctx.add_events([Event(start=b.start, end=b.start, kind="speaker_change", label=f"{a.speaker} -> {b.speaker}")
                        for a, b in zip(spoken, spoken[1:]) if a.speaker != b.speaker])
