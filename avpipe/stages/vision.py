"""The vision stage: labels, faces (and their expression) and on-screen text per keyframe, and
keyframe embeddings in the shared text-image space (:mod:`avpipe.vision`)."""

from __future__ import annotations

from ..device import resolve_device
from .base import KeyframeVectors, Stage, VideoContext


class VisionStage(Stage):
    """Reads each keyframe's thumbnail once, in batches, and hands it to every vision model."""

    name = "vision"
    needs = ("keyframes",)

    def run(self, ctx: VideoContext) -> None:
        import cv2
        import numpy as np

        from ..schema import Face, Label
        from ..vision import load_encoder
        from ..vision.base import load_faces, load_ocr

        pairs = [(k, c) for k, c in zip(ctx.result.keyframes, ctx.keyframe_images) if c.jpeg]
        if not pairs:
            return
        o = ctx.options.vision
        encoder = load_encoder(o, resolve_device(ctx.options.device, "torch"))
        faces = load_faces(o.min_face_frac) if o.faces else None
        reader = load_ocr(o.ocr_min_score) if o.ocr else None
        self.backend, self.model = encoder.name, encoder.model_name
        chunks, features, found_faces, found_text = [], [], [], []
        for lo in range(0, len(pairs), o.batch_size):  # decode only one batch of JPEGs at a time
            batch = pairs[lo : lo + o.batch_size]
            images = [cv2.cvtColor(cv2.imdecode(np.frombuffer(c.jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
                      for _, c in batch]
            vectors, labels, feats = encoder.encode_images(images)
            chunks.append(vectors)
            if feats is not None:
                features.append(feats)
            for (keyframe, _), found, image in zip(batch, labels, images):
                keyframe.labels = [Label(label=name, score=score) for name, score in found]
                if faces is not None:
                    people = faces(image)
                    found_faces.append(people)
                    keyframe.faces = [Face(box=tuple(round(v, 4) for v in f.box), emotion=f.emotion, scores=f.scores)
                                      for f in people]
                if reader is not None:
                    found_text.append(reader(image))
        times = [k.t for k, _ in pairs]
        if faces is not None:
            from ..vision.faces import face_events

            ctx.add_events(face_events(times, found_faces))
        if reader is not None:
            from ..vision.ocr import text_events

            ctx.add_events(text_events(times, found_text, ctx.end_s() or times[-1]))
        ctx.keyframe_vectors = KeyframeVectors(
            t=np.array(times, np.float32), vectors=np.concatenate(chunks).astype(np.float16),
            model=f"{encoder.name}:{encoder.model_name}",
            features=np.concatenate(features).astype(np.float16) if features else None)
