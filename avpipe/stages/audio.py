"""The audio stage: prosody per speech segment, the voice prior, and loudness classes per window
with silence / loud_sound / music events (:mod:`avpipe.understand.audio_features`)."""

from __future__ import annotations

from .base import AudioWindows, Stage, VideoContext


class AudioStage(Stage):
    """Measures the decoded track around and between what was said."""

    name = "audio"
    needs = ("audio",)

    def run(self, ctx: VideoContext) -> None:
        import numpy as np

        from ..schema import AudioInfo, AudioRegion, Prosody
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
        starts, levels, classes = audio_features.classify_windows(samples, speech, o.window_s,
                                                                  typical.loudness_db if typical else None)
        regions = audio_features.runs(starts, classes, o.window_s, ctx.audio.duration_s)
        ctx.result.audio = AudioInfo(window_s=o.window_s, speech_loudness_db=typical.loudness_db if typical else None,
                                     regions=[AudioRegion(start=round(a, 3), end=round(b, 3), label=c) for a, b, c in regions])
        ctx.add_events(audio_features.region_events(regions, levels, o.window_s, o.min_event_s))
        words = [w for s in segments for w in s.words]
        ctx.audio_windows = AudioWindows(
            t=starts.astype(np.float32), db=levels.astype(np.float16),
            pitch_hz=audio_features.window_pitch(samples, starts, classes, o.window_s).astype(np.float16),
            rate_wps=audio_features.window_rate(words, starts, o.window_s).astype(np.float16))
