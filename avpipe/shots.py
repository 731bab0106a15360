"""Shot detection and keyframe choice on the sampled frames, in one streaming pass.

A cut is declared between two neighbouring sampled frames when their colour distributions
differ enough: HSV histograms (16 hue x 4 saturation x 4 value bins, on a 64-pixel-high copy)
compared with the Hellinger (Bhattacharyya) distance, 0 for identical and 1 for disjoint. This
is the "content" criterion of PySceneDetect's ContentDetector in histogram form; we do not use
that package because it pins the GUI build of OpenCV and decodes the file a second time.

Cuts land on the sampled grid (0.5 s at 2 fps): a cut at 3.2 s is reported at the first sample
after it. Keyframes are the sharpest sample (variance of the Laplacian) of each shot, and of each
``keyframe_interval_s`` piece of a long shot. Only the current candidate's pixels are held; a
chosen keyframe is kept as a small JPEG (``encode``), so a 10-hour video's keyframes cost
megabytes, not gigabytes.
"""


from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from .schema import Event, Shot

if TYPE_CHECKING:
    import numpy as np

    from .decode.base import Frame
    from .options import ShotOptions


@dataclass
class KeyframeCandidate:
    """A keyframe: its time, shot and sharpness, with its pixels while it is a candidate and
    its encoded thumbnail (``jpeg``) once chosen."""

    t: float
    shot: int
    sharpness: float
    image: "np.ndarray | None"
    jpeg: bytes | None = None


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
class ShotDetector:
    """Consumes sampled frames in time order; ``finish`` returns shots, keyframes and events."""

    options: "ShotOptions"
    # Turns a chosen keyframe's pixels into the bytes kept for it (a JPEG thumbnail); None
    # keeps no pixels at all.
    encode: "Callable[[np.ndarray], bytes] | None" = None
    cuts: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    keyframes: list[KeyframeCandidate] = field(default_factory=list)
    _prev_hist: "np.ndarray | None" = None
    _last_cut: float = 0.0
    _piece_start: float = 0.0
    _best: KeyframeCandidate | None = None
    _last_t: float = 0.0
    _step: float = 0.5

    def add(self, frame: "Frame") -> None:
        hist = colour_histogram(frame.image)
        if self._prev_hist is not None:
            self._step = max(1e-3, frame.t - self._last_t)
            distance = histogram_distance(self._prev_hist, hist)
            if distance > self.options.threshold and frame.t - self._last_cut >= self.options.min_shot_s:
                self._close_piece()
                self.cuts.append(frame.t)
                self.scores.append(min(1.0, distance))
                self._last_cut = self._piece_start = frame.t
            elif frame.t - self._piece_start >= self.options.keyframe_interval_s:
                self._close_piece()
                self._piece_start = frame.t
        self._prev_hist = hist
        self._last_t = frame.t
        score = sharpness(frame.image)
        if self._best is None or score > self._best.sharpness:
            self._best = KeyframeCandidate(frame.t, len(self.cuts), score, frame.image)

    def _close_piece(self) -> None:
        if self._best is not None:
            best = self._best
            best.jpeg = self.encode(best.image) if self.encode else None
            best.image = None
            self.keyframes.append(best)
            self._best = None

    def finish(self, duration_s: float) -> tuple[list[Shot], list[KeyframeCandidate], list[Event]]:
        """Close the last shot at ``duration_s`` (or just after the last frame, if longer)."""
        self._close_piece()
        if self._prev_hist is None:
            return [], [], []
        end = max(duration_s, self._last_t + self._step * 0.5)
        bounds = [0.0, *self.cuts, end]
        shots = [Shot(start=round(a, 3), end=round(b, 3)) for a, b in zip(bounds, bounds[1:])]
        events = [
            Event(start=round(t, 3), end=round(t, 3), kind="shot_change", label=f"shot {i + 1}", score=round(s, 3))
            for i, (t, s) in enumerate(zip(self.cuts, self.scores))
        ]
        return shots, self.keyframes, events
