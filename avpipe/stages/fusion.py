"""The fusion stage: emotion per speech segment from text, face and voice, fused by the
configured strategy, with the attention weights; the emotion timeline and emotion_change
events (:mod:`avpipe.understand.fusion`). Shot captions, where the captions stage ran, join their
keyframes' vectors as text evidence of what is seen."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..device import resolve_device
from ..errors import PipelineConfigError
from ..options import PipelineOptions
from .base import CaptionVectors, ModelUse, SegmentVectors, Stage, VideoContext, text_model_use

if TYPE_CHECKING:
    import numpy as np
    import torch


def with_captions(frames: "torch.Tensor", frame_t: "np.ndarray", captions: CaptionVectors) -> "torch.Tensor":
    """Keyframe vectors with each caption added as text evidence of its keyframe
    (:func:`avpipe.vision.base.mix_in`)."""
    import torch

    from ..vision.base import mix_in

    at = {round(float(t), 3): i for i, t in enumerate(frame_t)}
    pairs = [(at[round(float(t), 3)], v) for t, v in zip(captions.t, captions.vectors) if round(float(t), 3) in at]
    if not pairs:
        return frames
    mixed = mix_in(frames.numpy(), [i for i, _ in pairs], [v for _, v in pairs])
    return torch.from_numpy(mixed).to(frames.dtype)


class FusionStage(Stage):
    """Each transcript segment attends to the keyframes around it; its emotion mixes all three."""

    name = "fusion"
    section = "fusion"
    reads = ("segments",)
    optional_reads = ("voice", "keyframes", "keyframe vectors", "caption vectors")
    writes = ("segment vectors", "emotions", "events")

    @classmethod
    def models(cls, options: PipelineOptions) -> list[ModelUse]:
        return [text_model_use(options)]

    @classmethod
    def check(cls, options: PipelineOptions, where: str) -> None:
        for key in ("align_weights", "text_emotion"):
            value = getattr(options.fusion, key)
            if value is not None and not Path(value).expanduser().exists():
                raise PipelineConfigError(f"{where} [fusion] {key} = {value!r}: no such file or folder")

    def run(self, ctx: VideoContext) -> None:
        import numpy as np
        import torch

        from ..schema import Attention, Emotion
        from ..understand import fusion
        from ..understand.loaders import load_fusion, load_text_emotion, shared_text_encoder

        o = ctx.options.fusion
        device = resolve_device(ctx.options.device, "torch")
        segments = ctx.result.transcript.segments
        texts = [s.text for s in segments]
        text_vectors = shared_text_encoder(ctx.options.vision, device).encode_texts(texts)
        ctx.segment_vectors = SegmentVectors(
            t=np.array([[s.start, s.end] for s in segments], np.float32).reshape(-1, 2),
            vectors=text_vectors.astype(np.float16))
        head = load_text_emotion(o.text_emotion, device)
        # The text head reads English (GoEmotions): a segment in another language is read in its
        # English translation when there is one, else its text is left out of its emotion.
        readable = [s.text if s.language in (None, "en") else s.text_en for s in segments]
        text_p = torch.from_numpy(head([t or "" for t in readable])).float()
        text_here = torch.tensor([t is not None for t in readable], dtype=torch.bool)
        if not bool(text_here.all()):
            self.notes.append(f"{int((~text_here).sum())} of {len(segments)} segments are not in English and have "
                              "no translation: their emotion is from face and voice only")
        if any(t is not None and s.language not in (None, "en") for t, s in zip(readable, segments)):
            self.notes.append("segments not in English: the text emotion read their English translation (text_en)")
        voice_p = (torch.tensor([[v[e] for e in fusion.EMOTIONS] for v in ctx.voice]) if ctx.voice
                   else torch.zeros(len(segments), len(fusion.EMOTIONS)))
        kv = ctx.keyframe_vectors
        frame_t = kv.t if kv is not None else np.zeros(0, np.float32)
        frames = torch.from_numpy((kv.vectors if kv is not None else np.zeros((0, text_vectors.shape[1]))).astype(np.float32))
        if ctx.caption_vectors is not None and len(frame_t):
            frames = with_captions(frames, frame_t, ctx.caption_vectors)
        encoded = ctx.result.keyframes_at(frame_t)  # the keyframes the vision stage encoded, in its order
        face_p, has_face = fusion.face_scores(encoded) if all(encoded) else (
            torch.zeros(len(frame_t), 7), torch.zeros(len(frame_t), dtype=torch.bool))
        inputs = fusion.FusionInputs(
            text=torch.from_numpy(np.asarray(text_vectors, np.float32)), prosody=fusion.prosody_matrix(segments),
            text_p=text_p, voice_p=voice_p, frames=frames, face_p=face_p, has_face=has_face,
            window=fusion.windows(np.array([[s.start, s.end] for s in segments]), frame_t, o.window_s),
            text_here=text_here)
        model = load_fusion(o, text_vectors.shape[1])
        with torch.inference_mode():
            out = model(inputs)
        self.backend, self.model = f"fusion:{o.strategy}", head.card.get("sha256", "")[:12]
        if len(frame_t):  # the attended visual evidence of each segment, in the shared space
            ctx.segment_vectors.evidence = out.evidence.numpy().astype(np.float16)
        for i, segment in enumerate(segments):
            scores = {e: round(float(v), 4) for e, v in zip(fusion.EMOTIONS, out.probs[i])}
            by = {m: {e: round(float(v), 4) for e, v in zip(fusion.EMOTIONS, p[i])}
                  for m, p in out.by_modality.items() if not torch.isnan(p[i]).any()}
            segment.emotion = Emotion(label=max(scores, key=scores.get), scores=scores, by_modality=by)
            if len(frame_t):
                row = out.attention[i]
                segment.attention = [Attention(t=round(float(frame_t[k]), 3), weight=round(float(row[k]), 4))
                                     for k in torch.nonzero(row > 0).flatten().tolist()]
                segment.salience = round(float(out.salience[i]), 4)
        ctx.result.emotion_timeline, events = fusion.emotion_timeline(segments)
        ctx.add_events(events)
