"""Face identity: a 128-d descriptor that is near for two pictures of one person and far for
two people (dlib's ResNet, bundled by ``face-recognition-models``, run by ``dlib-bin``).

A face is aligned on dlib's 5 landmarks (eye corners and nose, found inside the detector's box)
into a 150x150 chip, and the network maps the chip to a vector; two faces whose vectors are
less than about 0.6 apart (Euclidean) are one person by its author's measure on LFW. The
people index (:mod:`avpipe.people`) compares the mean vector of each face track.

Only the CC0 5-point landmark model is used: the package's 68-point model was trained on data
that excludes commercial use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..cache import once

if TYPE_CHECKING:
    import numpy as np

DESCRIPTOR, LANDMARKS = "dlib-face-resnet", "dlib-face-5points"
#: A face at least this large (shorter side, pixels) is described from the keyframe thumbnail;
#: a smaller one from the source frame, decoded again (dlib aligns faces into 150 px chips).
SHARP_PX = 112
#: Width of a face descriptor.
FACE_DIM = 128


class FaceDescriber:
    """dlib's landmark model and descriptor network, loaded from the bundled, sha256-checked files."""

    def __init__(self) -> None:
        import dlib

        from ..models import REGISTRY, resolve

        def path(name: str) -> str:
            return str(resolve(name) / REGISTRY[name].bundled.parts[0][1].split("/")[-1])

        self.landmarks = dlib.shape_predictor(path(LANDMARKS))
        self.network = dlib.face_recognition_model_v1(path(DESCRIPTOR))

    def describe(self, image: "np.ndarray", boxes: list[tuple[float, float, float, float]]) -> "np.ndarray":
        """Descriptors ``[len(boxes), 128]`` (float32) of the faces in ``boxes`` (x, y, w, h as
        fractions of ``image``, an RGB uint8 array)."""
        import dlib
        import numpy as np

        if not boxes:
            return np.zeros((0, FACE_DIM), np.float32)
        h, w = image.shape[:2]
        image = np.ascontiguousarray(image)
        shapes = dlib.full_object_detections()
        for x, y, bw, bh in boxes:
            rect = dlib.rectangle(int(round(x * w)), int(round(y * h)), int(round((x + bw) * w)) - 1,
                                  int(round((y + bh) * h)) - 1)
            shapes.append(self.landmarks(image, rect))
        return np.asarray(self.network.compute_face_descriptor(image, shapes), np.float32).reshape(len(boxes),
                                                                                                  FACE_DIM)


@once
def load_describer() -> FaceDescriber:
    """The face describer, loaded once per process."""
    return FaceDescriber()


#: Photos are searched for faces at most this large (yuface warns that it loses faces in larger
#: pictures, and is slow there); the faces found are described at the photo's full size.
DETECT_SIDE = 960
#: A face the detector is this sure of comes before any it is less sure of, however large.
SURE = 0.8


def photo_faces(image: "np.ndarray", min_confidence: float = 0.5, min_face_px: int = 40
                ) -> list[tuple[tuple[float, float, float, float], "np.ndarray"]]:
    """The faces of a photo (a query of ``avpipe search --face``, an item of ``avpipe eval
    people``), each as its box (fractions) and descriptor: the faces the CNN detector is sure of
    (:data:`SURE`) largest first, then the others down to ``min_confidence``, largest first. A face
    whose shorter side is under ``min_face_px`` pixels is left out, as the vision stage leaves it."""
    import cv2

    from .base import load_faces

    h, w = image.shape[:2]
    scale = min(1.0, DETECT_SIDE / max(h, w))
    small = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA) if scale < 1 else image
    found = load_faces(0.02, "cnn", min_confidence).detect(small)
    sh, sw = small.shape[:2]
    boxes = [((x / sw, y / sh, bw / sw, bh / sh), c) for (x, y, bw, bh), c in found
             if min(bw * w / sw, bh * h / sh) >= min_face_px]
    boxes.sort(key=lambda bc: (bc[1] < SURE, -(bc[0][2] * bc[0][3])))
    chosen = [b for b, _ in boxes]
    return list(zip(chosen, load_describer().describe(image, chosen)))


def pick_sightings(tracks: list, boxes: list[list[tuple[float, float, float, float]]], sizes: list[tuple[int, int]],
                   per_track: int, min_face_px: int) -> list[tuple[int, int, int]]:
    """Which sightings of each face track to describe: its ``per_track`` largest faces whose
    shorter side is at least ``min_face_px`` pixels (``sizes[i]``: keyframe i's width and
    height), as (track number from 1, keyframe index, face index), in keyframe order."""
    picked = []
    for n, track in enumerate(tracks, start=1):
        sides = [(min(boxes[i][j][2] * sizes[i][0], boxes[i][j][3] * sizes[i][1]), i, j) for i, j in track.seen]
        large = sorted((s for s in sides if s[0] >= min_face_px), key=lambda s: (-s[0], s[1]))[:per_track]
        picked += [(n, i, j) for _, i, j in large]
    return sorted(picked, key=lambda p: (p[1], p[2]))
