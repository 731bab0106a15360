"""The ``histogram`` shot backend: cuts between neighbouring *sampled* frames whose colours
differ, and the picture measures the keyframe choice shares.

A cut is declared between two neighbouring sampled frames when their colour distributions
differ enough: HSV histograms (16 hue x 4 saturation x 4 value bins, on a 64-pixel-high copy)
compared with the Hellinger (Bhattacharyya) distance, 0 for identical and 1 for disjoint.

It needs no glance of every frame, so it is the one backend that works with the decord reader,
but it misses cuts between shots of similar colours and sees only the sampled grid (a cut at
3.2 s is reported at the first sample after it, 3.5 s at 2 fps). The ``adaptive`` backend is
the default.
"""


from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .base import Settler, Transition

if TYPE_CHECKING:
    import numpy as np

    from ..options import ShotOptions


def colour_histogram(image: "np.ndarray") -> "np.ndarray":
    """Normalised 16x4x4 HSV histogram of an RGB image (downscaled first: colours, not detail)."""
    import cv2

    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, round(w * 64 / h)), 64), interpolation=cv2.INTER_AREA) if h > 64 else image
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [16, 4, 4], [0, 180, 0, 256, 0, 256])
    return cv2.normalize(hist, hist, alpha=1.0, norm_type=cv2.NORM_L1).flatten()


def histogram_distance(a: "np.ndarray", b: "np.ndarray") -> float:
    """Hellinger distance between two normalised histograms, in [0, 1]."""
    import cv2

    return float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


def sharpness(image: "np.ndarray") -> float:
    """Variance of the Laplacian of the grey image: higher is sharper (blur and fades score low)."""
    import cv2

    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


@dataclass
class HistogramDetector:
    """Cuts between sampled frames: ``add`` each sampled picture in time order, then ``finish``."""

    options: "ShotOptions"
    name: str = "histogram"
    settler: Settler = field(init=False)
    _prev: "np.ndarray | None" = None

    def __post_init__(self) -> None:
        # At least a second: the sampled frames are half a second apart, so a shorter floor would
        # let every sample of a flicker or of a slow change be a boundary.
        self.settler = Settler(max(self.options.min_shot_s, 1.0))

    @property
    def transitions(self) -> list[Transition]:
        return self.settler.final

    def add(self, t: float, image: "np.ndarray") -> None:
        hist = colour_histogram(image)
        if self._prev is not None:
            distance = histogram_distance(self._prev, hist)
            if distance > self.options.threshold:
                self.settler.propose(Transition(t, "cut", round(min(1.0, distance), 3), t, t))
        self._prev = hist
        self.settler.settle(t)

    def finish(self) -> list[Transition]:
        return self.settler.finish()
