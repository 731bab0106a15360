"""The understanding stages: audio features, fusion (emotion per segment), events, summary.

Each is thin: it gathers what earlier stages left in the :class:`~avpipe.pipeline.VideoContext`
and hands it to the module that does the work (``audio_features``, ``fusion``, ``events``,
``summary``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..pipeline import Stage, VideoContext, resolve_device

if TYPE_CHECKING:
    pass


class AudioStage(Stage):
    """Prosody per speech segment, the voice prior, and loudness classes per window, with
    silence / loud_sound / music events (:mod:`avpipe.understand.audio_features`)."""

    name = "audio"
    needs = ("audio",)

    def run(self, ctx: VideoContext) -> None:
        import numpy as np

        from ..schema import AudioInfo, AudioRegion, Event, Prosody
        from . import audio_features as af

        samples = ctx.audio.samples
        segments = ctx.result.transcript.segments
        found = [af.segment_prosody(samples, s) for s in segments]
        typical = af.median_prosody(found) if found else None
        for segment, p in zip(segments, found):
            segment.prosody = Prosody(**p.__dict__)
        ctx.voice = [af.voice_emotion(p, typical) for p in found]
        speech = ctx.speech_regions if ctx.speech_regions is not None else [(s.start, s.end) for s in segments]
        o = ctx.options.audio
        starts, levels, classes = af.classify_windows(samples, speech, o.window_s,
                                                      typical.loudness_db if typical else None)
        end = len(samples) / af.SAMPLE_RATE
        regions = af.runs(starts, classes, o.window_s, end)
        ctx.result.audio = AudioInfo(window_s=o.window_s, speech_loudness_db=typical.loudness_db if typical else None,
                                     regions=[AudioRegion(start=round(a, 3), end=round(b, 3), label=c) for a, b, c in regions])
        kinds = {"silence": "silence", "loud": "loud_sound", "music-like": "music"}
        events = []
        for a, b, c in regions:
            if c in kinds and (c == "loud" or b - a >= o.min_event_s):
                level = float(levels[int(a / o.window_s) : max(int(a / o.window_s) + 1, int(b / o.window_s))].max())
                score = 1.0 if c != "loud" else round(min(1.0, (level + 40.0) / 40.0), 3)
                events.append(Event(start=round(a, 3), end=round(b, 3), kind=kinds[c], label=c, score=score))
        ctx.add_events(events)
        ctx.arrays["audio_t"] = starts.astype(np.float32)
        ctx.arrays["audio_db"] = levels.astype(np.float16)
        ctx.arrays["audio_pitch_hz"] = af.window_pitch(samples, starts, classes, o.window_s).astype(np.float16)
        ctx.arrays["audio_rate_wps"] = af.window_rate([w for s in segments for w in s.words], starts,
                                                      o.window_s).astype(np.float16)


class FusionStage(Stage):
    """Emotion per speech segment from text, face and voice, fused by the configured strategy,
    with the attention weights; the emotion timeline and emotion_change events
    (:mod:`avpipe.understand.fusion`)."""

    name = "fusion"

    def ready(self, ctx: VideoContext) -> bool:
        return self.name not in ctx.failed and bool(ctx.result.transcript.segments)

    def run(self, ctx: VideoContext) -> None:
        import numpy as np
        import torch

        from ..schema import Attention, Emotion, EmotionSpan, Event
        from . import fusion as fu
        from .models import load_fusion, load_text_emotion, shared_text_encoder

        o = ctx.options.fusion
        device = resolve_device(ctx.options.device, "torch")
        segments = ctx.result.transcript.segments
        texts = [s.text for s in segments]
        encoder = shared_text_encoder(ctx.options.vision, device)
        text_vectors = ctx.arrays.get("segments")
        if text_vectors is None:
            text_vectors = encoder.encode_texts(texts)
            ctx.arrays["segments"] = text_vectors.astype(np.float16)
            ctx.arrays["segment_t"] = np.array([[s.start, s.end] for s in segments], np.float32).reshape(-1, 2)
        head = load_text_emotion(o.text_emotion, device)
        text_p = torch.from_numpy(head(texts)).float()
        voice_p = (torch.tensor([[v[e] for e in fu.EMOTIONS] for v in ctx.voice]) if ctx.voice
                   else torch.zeros(len(segments), len(fu.EMOTIONS)))
        prosody = fu.prosody_matrix(segments)
        frame_t = ctx.arrays.get("keyframe_t", np.zeros(0, np.float32))
        frames = torch.from_numpy(ctx.arrays.get("keyframes", np.zeros((0, text_vectors.shape[1]))).astype(np.float32))
        encoded = ctx.result.keyframes_at(frame_t)  # the keyframes the vision stage encoded, in its order
        face_p, has_face = fu.face_scores(encoded) if all(encoded) else (
            torch.zeros(len(frame_t), 7), torch.zeros(len(frame_t), dtype=torch.bool))
        inputs = fu.FusionInputs(
            text=torch.from_numpy(np.asarray(text_vectors, np.float32)), prosody=prosody, text_p=text_p, voice_p=voice_p,
            frames=frames, face_p=face_p, has_face=has_face,
            window=fu.windows(np.array([[s.start, s.end] for s in segments]), frame_t, o.window_s))
        model = load_fusion(o, text_vectors.shape[1])
        with torch.inference_mode():
            out = model(inputs)
        self.backend, self.model = f"fusion:{o.strategy}", head.card.get("sha256", "")[:12]
        if len(frame_t):  # the attended visual evidence of each segment, in the shared space
            ctx.arrays["segment_evidence"] = out.evidence.numpy().astype(np.float16)
        for i, segment in enumerate(segments):
            scores = {e: round(float(v), 4) for e, v in zip(fu.EMOTIONS, out.probs[i])}
            by = {m: {e: round(float(v), 4) for e, v in zip(fu.EMOTIONS, p[i])}
                  for m, p in out.by_modality.items() if not torch.isnan(p[i]).any()}
            segment.emotion = Emotion(label=max(scores, key=scores.get), scores=scores, by_modality=by)
            if len(frame_t):
                row = out.attention[i]
                segment.attention = [Attention(t=round(float(frame_t[k]), 3), weight=round(float(row[k]), 4))
                                     for k in torch.nonzero(row > 0).flatten().tolist()]
                segment.salience = round(float(out.salience[i]), 4)
        timeline: list[EmotionSpan] = []
        events = []
        for segment in segments:
            e = segment.emotion
            if timeline and timeline[-1].label == e.label:
                timeline[-1] = timeline[-1].model_copy(update={"end": segment.end,
                                                               "score": max(timeline[-1].score, e.scores[e.label])})
                continue
            if timeline:
                events.append(Event(start=segment.start, end=segment.end, kind="emotion_change",
                                    label=f"{timeline[-1].label} -> {e.label}", score=e.scores[e.label]))
            timeline.append(EmotionSpan(start=segment.start, end=segment.end, label=e.label, score=e.scores[e.label]))
        ctx.result.emotion_timeline = timeline
        ctx.add_events(events)


class EventStage(Stage):
    """Speech turns, visual labels entering and leaving, keywords; then one merged, time-ordered
    list (:mod:`avpipe.understand.events`)."""

    name = "events"

    def run(self, ctx: VideoContext) -> None:
        from . import events as ev

        o = ctx.options.events
        r = ctx.result
        found = ev.speech_turns(r.transcript.segments, o.turn_gap_s)
        found += ev.label_events(r.keyframes, r.shots, r.video.duration_s or 0.0, o.label_min_score)
        if r.transcript.segments and o.keywords:
            from ..vision.text import load_text

            found += ev.keyword_events(r.transcript.segments, o.keywords, load_text())
        r.events = ev.merge([*r.events, *found], o.merge_gap_s)


class SummaryStage(Stage):
    """Summary paragraph, highlights and chapters (:mod:`avpipe.understand.summary`)."""

    name = "summary"

    def run(self, ctx: VideoContext) -> None:
        from . import summary as su

        o = ctx.options.summary
        self.backend = o.backend
        ctx.result.summary = su.summarise(ctx.result, ctx.arrays, o, ctx.options.vision,
                                          resolve_device(ctx.options.device, "torch"))
        self.model = o.model
