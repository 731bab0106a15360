"""The vision stage: labels, faces (and their expression), objects and on-screen text per keyframe,
and keyframe embeddings in the shared text-image space (:mod:`avpipe.vision`); a keyframe's
objects in words ("two people, a sports ball") join its embedding as text evidence, so a text
query for "a person" meets the frames that show one."""

from __future__ import annotations

from ..device import resolve_device
from .base import KeyframeVectors, Stage, VideoContext


#: How much a keyframe's object words count against its picture in its vector. On the search set
#: (README: eval search) 1.0 let "a dog" outrank the baboon for "a monkey" (text recall@1 0.533);
#: 0.5 keeps every ImageNet-named photo first (0.667) and still lets "a cat" find the cat.
OBJECT_WORDS_WEIGHT = 0.5


class VisionStage(Stage):
    """Reads each keyframe's thumbnail once, in batches, and hands it to every vision model."""

    name = "vision"
    needs = ("keyframes",)

    def run(self, ctx: VideoContext) -> None:
        import cv2
        import numpy as np

        from ..schema import DetectedObject, Face, Label
        from ..vision import load_encoder
        from ..vision.base import load_faces, load_objects, load_ocr, mix_in
        from ..words import object_words

        pairs = [(k, c) for k, c in zip(ctx.result.keyframes, ctx.keyframe_images) if c.jpeg]
        if not pairs:
            return
        o = ctx.options.vision
        device = resolve_device(ctx.options.device, "torch")
        encoder = load_encoder(o, device)
        faces = load_faces(o.min_face_frac, o.face_detector, o.face_min_confidence) if o.faces else None
        detector = load_objects(o.object_backend, o.object_model, o.object_min_score, device) if o.objects else None
        reader = load_ocr(o.ocr_min_score) if o.ocr else None
        self.backend, self.model = encoder.name, encoder.model_name
        if detector is not None:
            self.model += f"+{detector.name}"
        chunks, features, found_faces, found_objects, found_text = [], [], [], [], []
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
                if detector is not None:
                    things = detector(image)
                    found_objects.append(things)
                    keyframe.objects = [DetectedObject(label=t.label, score=t.score, box=t.box) for t in things]
                if reader is not None:
                    found_text.append(reader(image))
        times = [k.t for k, _ in pairs]
        shots = [k.shot for k, _ in pairs]
        if faces is not None:
            from ..vision.faces import face_events

            ctx.add_events(face_events(times, shots, found_faces))
        vectors = np.concatenate(chunks)
        if detector is not None:
            from ..vision.objects import object_events

            ctx.add_events(object_events(times, shots, found_objects, o.object_min_score))
            words = [(i, object_words(k.objects)) for i, (k, _) in enumerate(pairs)]
            words = [(i, w) for i, w in words if w]
            if words:
                vectors = mix_in(vectors, [i for i, _ in words], encoder.encode_texts([w for _, w in words]),
                                 OBJECT_WORDS_WEIGHT)
        if reader is not None:
            from ..vision.ocr import text_events

            ctx.add_events(text_events(times, found_text, ctx.end_s() or times[-1]))
        ctx.keyframe_vectors = KeyframeVectors(
            t=np.array(times, np.float32), vectors=vectors.astype(np.float16),
            model=f"{encoder.name}:{encoder.model_name}",
            features=np.concatenate(features).astype(np.float16) if features else None)
