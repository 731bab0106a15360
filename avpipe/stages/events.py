"""The events stage: speech turns, visual labels entering and leaving, keywords; then one merged,
time-ordered list of every event (:mod:`avpipe.understand.events`)."""

from __future__ import annotations

from ..options import PipelineOptions
from .base import ModelUse, Stage, VideoContext, text_model_use


class EventStage(Stage):
    """Adds its own events to those earlier stages made, and merges near duplicates."""

    name = "events"
    section = "events"
    optional_reads = ("segments", "shots", "keyframe labels", "phrases", "events")
    writes = ("events", "phrases")

    @classmethod
    def models(cls, options: PipelineOptions) -> list[ModelUse]:
        return [text_model_use(options)] if options.events.keywords else []

    def run(self, ctx: VideoContext) -> None:
        from ..understand import events

        o = ctx.options.events
        r = ctx.result
        found = events.speech_turns(r.transcript.segments, o.turn_gap_s)
        found += events.label_events(r.keyframes, r.shots, r.video.duration_s or 0.0, o.label_min_score)
        if r.transcript.segments and o.keywords:
            from ..understand.loaders import encoder_reads
            from ..vision.text import load_text

            model = ctx.options.vision.text_model
            if encoder_reads(model, r.transcript.language):
                ctx.phrases = ctx.phrases or events.Phrases(load_text(model))
                found += events.keyword_events(r.transcript.segments, o.keywords, ctx.phrases)
            else:  # the sentence encoder does not read this language: keywords by word statistics
                found += events.keyword_events(r.transcript.segments, o.keywords, None)
                self.notes.append(f"keywords by word statistics: the text encoder {model!r} does not read "
                                  f"{r.transcript.language!r}")
        r.events = events.merge([*r.events, *found], o.merge_gap_s)
