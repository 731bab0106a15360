"""The captions stage: a vision-language model writes one caption per shot, from the shot's
first keyframe (:mod:`avpipe.vision.vlm`). Captions land on the keyframe
(``keyframes[].caption``), as ``caption`` events spanning their shot, and, embedded by the shared
space's text side, in ``vectors.npz`` (``caption_t``, ``captions``) where search and fusion
read them; the summary reads them from the result."""

from __future__ import annotations

from ..device import resolve_device
from ..errors import PipelineConfigError
from ..options import PipelineOptions
from .base import CaptionVectors, ModelUse, Stage, VideoContext, text_model_use


def shot_keyframes(ctx: VideoContext) -> list[int]:
    """Indices of the keyframes to caption: the first of each shot (and any keyframe outside a
    shot), among those that have a JPEG."""
    chosen, seen = [], set()
    for i, (k, c) in enumerate(zip(ctx.result.keyframes, ctx.keyframe_images)):
        if not c.jpeg or (k.shot is not None and k.shot in seen):
            continue
        seen.add(k.shot)
        chosen.append(i)
    return chosen


class CaptionStage(Stage):
    """One batched VLM pass over the shots' keyframes; greedy, so the same video gives the same captions."""

    name = "captions"
    section = "captions"
    reads = ("keyframes",)
    optional_reads = ("shots",)
    writes = ("captions", "caption vectors", "events")

    @classmethod
    def models(cls, options: PipelineOptions) -> list[ModelUse]:
        return [text_model_use(options), ModelUse("[captions] model", options.captions.model, ("transformers",))]

    @classmethod
    def check(cls, options: PipelineOptions, where: str) -> None:
        if not options.captions.model:
            raise PipelineConfigError(f"{where} [captions] model: the captions stage needs a VLM's hub id or folder")

    def run(self, ctx: VideoContext) -> None:
        import numpy as np

        from ..schema import Event
        from ..shots.keyframes import decode_jpeg
        from ..understand.loaders import shared_text_encoder
        from ..vision.vlm import caption, load_vlm

        o = ctx.options.captions
        if not o.model:
            raise PipelineConfigError("the captions stage needs [captions] model = <hub id or folder of a VLM>")
        device = resolve_device(ctx.options.device, "torch")
        chosen = shot_keyframes(ctx)
        if not chosen:
            return
        vlm = load_vlm(o.model, device)
        self.backend, self.model = o.backend, o.model
        images = [decode_jpeg(ctx.keyframe_images[i].jpeg) for i in chosen]
        texts = caption(vlm, images, o.prompt, o.max_new_tokens, o.batch_size)
        keyframes, shots = ctx.result.keyframes, ctx.result.shots
        events = []
        for i, text in zip(chosen, texts):
            k = keyframes[i]
            k.caption = text or None
            if not text:
                continue
            shot = shots[k.shot] if k.shot is not None and k.shot < len(shots) else None
            start, stop = (shot.start, shot.end) if shot else (k.t, k.t)
            events.append(Event(start=start, end=stop, kind="caption", label=text))
        ctx.add_events(events)
        done = [(keyframes[i].t, text) for i, text in zip(chosen, texts) if text]
        if done:
            vectors = shared_text_encoder(ctx.options.vision, device).encode_texts([t for _, t in done])
            ctx.caption_vectors = CaptionVectors(t=np.array([t for t, _ in done], np.float32),
                                                 vectors=np.asarray(vectors).astype(np.float16))
