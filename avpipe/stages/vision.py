"""The vision stage: labels, faces (and their expression), objects and on-screen text per keyframe,
and keyframe embeddings in the shared text-image space (:mod:`avpipe.vision`); a keyframe's
objects in words ("two people, a sports ball") join its embedding as text evidence, so a text
query for "a person" meets the frames that show one."""

from __future__ import annotations

from ..device import resolve_device
from ..errors import PipelineConfigError
from ..options import PipelineOptions
from .base import KeyframeVectors, ModelUse, Stage, VideoContext, text_model_use


#: How much a keyframe's object words count against its picture in its vector. On the search set
#: (README: eval search) 1.0 let "a dog" outrank the baboon for "a monkey" (text recall@1 0.533);
#: 0.5 keeps every ImageNet-named photo first (0.667) and still lets "a cat" find the cat.
OBJECT_WORDS_WEIGHT = 0.5


class VisionStage(Stage):
    """Reads each keyframe's thumbnail once, a few batches at a time, and hands it to every vision
    model. On CPU the encoder's batches and the object detector's images are spread over one lane
    per core (:class:`avpipe.threads.Lanes`); a keyframe's result does not depend on its lane."""

    name = "vision"
    section = "vision"
    reads = ("keyframes",)
    optional_reads = ("shots",)
    writes = ("keyframe labels", "keyframe vectors", "events")

    @classmethod
    def models(cls, options: PipelineOptions) -> list[ModelUse]:
        o, tf = options.vision, ("transformers",)
        uses = [text_model_use(options),
                ModelUse("[vision] clip_model", o.clip_model, tf) if o.backend == "clip"
                else ModelUse("[vision] backend", "efficientnet-lite0")]
        if o.faces:
            uses.append(ModelUse("[vision] faces", "fer-mini-xception"))
            if o.face_detector == "cnn":
                uses.append(ModelUse("[vision] face_detector", "yuface"))
            if options.people.faces:
                uses += [ModelUse("[people] faces", "dlib-face-resnet"), ModelUse("[people] faces", "dlib-face-5points")]
        if o.objects:
            uses.append(ModelUse("[vision] object_model", o.object_model, tf) if o.object_backend == "transformers"
                        else ModelUse("[vision] object_backend", "yolov3-tiny"))
        return uses

    @classmethod
    def check(cls, options: PipelineOptions, where: str) -> None:
        o = options.vision
        if o.backend == "clip" and not o.clip_model:
            raise PipelineConfigError(f"{where} [vision] clip_model: the clip backend needs a hub id or folder")
        if o.objects and o.object_backend == "transformers" and not o.object_model:
            raise PipelineConfigError(f"{where} [vision] object_model: the transformers object backend needs a hub "
                                      "id or folder")

    def run(self, ctx: VideoContext) -> None:
        import numpy as np

        from ..schema import DetectedObject, Face, Label
        from ..shots.keyframes import decode_jpeg
        from ..threads import Lanes, cpu_threads
        from ..vision import load_encoder
        from ..vision.base import load_faces, load_objects, load_ocr, mix_in
        from ..vision.hierarchy import sure_label
        from ..words import object_words

        pairs = [(k, c) for k, c in zip(ctx.result.keyframes, ctx.keyframe_images) if c.jpeg]
        if not pairs:
            return
        o = ctx.options.vision
        device = resolve_device(ctx.options.device, "torch")
        lanes = cpu_threads() if device == "cpu" else 1
        encoder = load_encoder(o, device)
        faces = load_faces(o.min_face_frac, o.face_detector, o.face_min_confidence) if o.faces else None
        # both detectors are torch modules in inference mode: every lane calls the same one
        detector = load_objects(o.object_backend, o.object_model, o.object_min_score, device) if o.objects else None
        reader = load_ocr(o.ocr_min_score) if o.ocr else None
        self.backend, self.model = encoder.name, encoder.model_name
        if detector is not None:
            self.model += f"+{detector.name}"

        chunks, features, found_faces, found_objects, found_text, sizes = [], [], [], [], [], []
        step = o.batch_size * lanes  # JPEGs decoded at a time: a batch per lane
        with Lanes(lanes) as run:
            for lo in range(0, len(pairs), step):
                part = pairs[lo : lo + step]
                images = run.map(decode_jpeg, [c.jpeg for _, c in part])
                sizes += [(image.shape[1], image.shape[0]) for image in images]
                # the encoder's batches are the same whatever the number of lanes
                encoded = run.map(encoder.encode_images,
                                  [images[i : i + o.batch_size] for i in range(0, len(images), o.batch_size)])
                labels = [found for _, batch_labels, _ in encoded for found in batch_labels]
                chunks += [vectors for vectors, _, _ in encoded]
                features += [feats for _, _, feats in encoded if feats is not None]
                # objects side by side; faces and text here: their libraries spread one image over
                # every core themselves (yuface's OpenMP, onnxruntime), and were slower in lanes
                objects = run.map(detector, images) if detector is not None else [None] * len(images)
                seen_faces = [faces(image) if faces is not None else None for image in images]
                texts = [reader(image) if reader is not None else None for image in images]
                for (keyframe, _), found, people, things, text in zip(part, labels, seen_faces, objects, texts):
                    keyframe.labels = [Label(label=f[0], score=f[1], id=f[2] if len(f) > 2 else None) for f in found]
                    keyframe.concept = sure_label(keyframe.labels)
                    if people is not None:
                        found_faces.append(people)
                        keyframe.faces = [Face(box=tuple(round(v, 4) for v in f.box), emotion=f.emotion,
                                               scores=f.scores) for f in people]
                    if things is not None:
                        found_objects.append(things)
                        keyframe.objects = [DetectedObject(label=t.label, score=t.score, box=t.box) for t in things]
                    if text is not None:
                        found_text.append(text)
        times = [k.t for k, _ in pairs]
        shots = [k.shot for k, _ in pairs]
        if faces is not None:
            from ..vision.faces import face_events, face_tracks

            found_tracks = face_tracks(times, shots, found_faces)
            for n, track in enumerate(found_tracks, start=1):
                for i, j in track.seen:
                    pairs[i][0].faces[j].track = n
            ctx.add_events(face_events(times, found_tracks))
            if ctx.options.people.faces and found_tracks:
                self._describe(ctx, pairs, found_tracks, found_faces, sizes)
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

    def _describe(self, ctx: VideoContext, pairs: list, found_tracks: list, found_faces: list,
                  sizes: list[tuple[int, int]]) -> None:
        """Face descriptors of each track's clearest sightings (:mod:`avpipe.vision.identity`)
        into ``ctx.identity`` (identity.npz). A face is described from the keyframe thumbnail
        when it is large there (SHARP_PX); else from the source frame at that time, decoded
        again (the thumbnails keep the sampled frames' 256 px: a face of 100 px in a 640 px video
        is 40 there). Sightings are chosen by their size in the source."""
        import numpy as np

        from ..shots.keyframes import decode_jpeg
        from ..vision.identity import FACE_DIM, SHARP_PX, load_describer, pick_sightings

        o = ctx.options.people
        boxes = [[f.box for f in found] for found in found_faces]
        source = _source_size(ctx)
        picked = pick_sightings(found_tracks, boxes, [source or size for size in sizes], o.per_track, o.min_face_px)
        if not picked:
            return
        by_frame: dict[int, list[int]] = {}
        for row, (_, i, _) in enumerate(picked):
            by_frame.setdefault(i, []).append(row)

        def side(i: int, j: int, size: tuple[int, int]) -> float:
            return min(boxes[i][j][2] * size[0], boxes[i][j][3] * size[1])

        small = [i for i, rows in by_frame.items() if min(side(i, picked[r][2], sizes[i]) for r in rows) < SHARP_PX]
        full: dict[float, np.ndarray] = {}
        if small and source is not None:
            from ..decode.pyav import pictures_at

            try:
                full = pictures_at(str(ctx.path), ctx.media, [pairs[i][0].t for i in small])
            except Exception as exc:  # noqa: BLE001 - the thumbnails are still there to describe from
                self.notes = [*(self.notes or []), f"faces described from thumbnails: the source could not be "
                              f"decoded again ({type(exc).__name__})"]
        describer = load_describer()
        vectors = np.zeros((len(picked), FACE_DIM), np.float32)
        kept = np.zeros(len(picked), bool)
        for i, rows in by_frame.items():
            image = full.get(pairs[i][0].t)
            if image is None:  # the thumbnail: only its faces large enough there
                image = decode_jpeg(pairs[i][1].jpeg)
                rows = [r for r in rows if side(i, picked[r][2], sizes[i]) >= o.min_face_px]
            if rows:
                vectors[rows] = describer.describe(image, [boxes[i][picked[r][2]] for r in rows])
                kept[rows] = True
        if not kept.any():
            return
        picked = [p for p, k in zip(picked, kept) if k]
        ctx.identity.face_t = np.array([pairs[i][0].t for _, i, _ in picked], np.float32)
        ctx.identity.face_index = np.array([j for *_, j in picked], np.int32)
        ctx.identity.face_track = np.array([n for n, *_ in picked], np.int32)
        ctx.identity.faces = vectors[kept]
        self.model += "+dlib-face-resnet"


def _source_size(ctx: VideoContext) -> tuple[int, int] | None:
    """The video's upright width and height in pixels (scaled as
    :func:`avpipe.decode.pyav.pictures_at` decodes it), or None when PyAV cannot give it."""
    media = ctx.media
    if media is None or media.video_stream is None:
        return None
    info = media.streams[media.video_stream]
    if not info.width or not info.height:
        return None
    from ..decode.pyav import PICTURE_MAX_SIDE

    w, h = (info.height, info.width) if (info.rotation or 0) % 180 else (info.width, info.height)
    scale = min(1.0, PICTURE_MAX_SIDE / max(w, h))
    return round(w * scale), round(h * scale)
