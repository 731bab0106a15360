"""Keyframes that follow content: at least one per shot, and a new one inside a shot when what
it shows has moved on from the keyframe that stands for it.

Sampled frames are split into *pieces*: a piece ends at a shot boundary, after
``keyframe_interval_s``, or when the picture has drifted from the piece's keyframe so far (its
sharpest frame) by more than ``drift`` for two samples in a row (a pan that reaches a new
subject, a zoom, someone walking into an empty room; one odd sample is an occlusion, not a
drift). Drift compares the colour histograms (Hellinger distance) and the layout (mean absolute
difference of 16x9 grey copies, at the best shift of up to two cells, doubled so both read
0..1) and takes the larger. A piece is at least ``min_keyframe_gap_s`` long, which bounds the
keyframes of a video at one per that many seconds plus one per shot.

Each piece's keyframe is its sharpest sample (variance of the Laplacian: blur and fades score
low), never a frame inside a dissolve or fade (a blend of two shots) when the piece has
another. A shot that starts between two samples and ends before the next (shorter than the
sampling step) has no sample: for it, *spares* (frames that were not sampled, offered where a
cut may start a shot) count as samples; a spare that falls in a shot already begun is dropped.

Only the current best's pixels are held; a chosen keyframe is kept as a small JPEG
(``encode``: :func:`encode_thumbnail`), so a 10-hour video's keyframes cost megabytes; the
stages that look at them decode it with :func:`decode_jpeg`. Frames wait (bounded: the
detector's look-ahead and SPAN_S, a few seconds) until the shot boundaries around them are
final.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from .histogram import colour_histogram, histogram_distance, sharpness

if TYPE_CHECKING:
    import numpy as np

    from ..options import KeyframeOptions
    from .base import Transition


#: How far before its middle a gradual transition can start (half the longest one expected).
SPAN_S = 1.5


@dataclass
class KeyframeCandidate:
    """A keyframe: its time, shot and sharpness, with its pixels while it is a candidate and
    its encoded thumbnail (``jpeg``) once chosen. ``why`` says what opened its piece: "shot",
    "interval" or "drift"."""

    t: float
    shot: int
    sharpness: float
    image: "np.ndarray | None"
    jpeg: bytes | None = None
    why: str = "shot"
    look: tuple | None = None  # (colour histogram, grey layout) for drift


def encode_thumbnail(image: "np.ndarray", size: int, quality: int) -> bytes:
    """An RGB frame as JPEG bytes, scaled so its longest side is at most ``size`` pixels."""
    import cv2

    h, w = image.shape[:2]
    scale = min(1.0, size / max(h, w))
    if scale < 1.0:
        image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def decode_jpeg(jpeg: bytes) -> "np.ndarray":
    """A keyframe's JPEG thumbnail back as an RGB array (what the vision models read)."""
    import cv2
    import numpy as np

    return cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


#: The grey layout drift compares, and the shifts (in its cells) it forgives: a camera that
#: moves by up to an eighth of the picture still shows the same thing.
LAYOUT = (16, 9)
SHIFTS = [(dx, dy) for dx in (-2, -1, 0, 1, 2) for dy in (-1, 0, 1)]


def look_of(image: "np.ndarray") -> tuple:
    """What drift compares: the colour histogram and a 16x9 grey layout (float, 0..1)."""
    import cv2
    import numpy as np

    grey = cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), LAYOUT, interpolation=cv2.INTER_AREA)
    return colour_histogram(image), grey.astype(np.float32) / 255.0


def layout_distance(a: "np.ndarray", b: "np.ndarray") -> float:
    """Mean absolute difference of two grey layouts at the best of SHIFTS (on their overlap)."""
    import numpy as np

    h, w = a.shape
    best = 1.0
    for dx, dy in SHIFTS:
        pa = a[max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)]
        pb = b[max(0, -dy):h + min(0, -dy), max(0, -dx):w + min(0, -dx)]
        best = min(best, float(np.abs(pa - pb).mean()))
    return best


def drift_between(a: tuple, b: tuple) -> float:
    """How far two looks are apart, 0..1: the larger of the colour and the layout distances."""
    return max(histogram_distance(a[0], b[0]), min(1.0, 2.0 * layout_distance(a[1], b[1])))


@dataclass
class KeyframeChooser:
    """``add`` sampled frames; ``advance`` with the final transitions once they are known up to
    a time; ``finish`` at the end. ``keyframes`` holds the chosen ones, in time order."""

    options: "KeyframeOptions"
    encode: "Callable[[np.ndarray], bytes] | None" = None
    keyframes: list[KeyframeCandidate] = field(default_factory=list)
    _waiting: deque = field(default_factory=deque)  # frames (t, image, spare) not yet placed
    _used: int = 0  # transitions already applied
    _shot: int = 0
    _piece_start: float = 0.0
    _why: str = "shot"
    _best: KeyframeCandidate | None = None
    _drifted: int = 0  # samples in a row that drifted from the piece's keyframe

    def add(self, t: float, image: "np.ndarray", spare: bool = False) -> None:
        """The next frame in time order: a sampled one, or a ``spare``, used only to open a shot
        that no sampled frame opens."""
        self._waiting.append((t, image, spare))

    def advance(self, transitions: list["Transition"], until: float) -> None:
        """Place the waiting frames before ``until``: every transition before it is final.
        Frames wait SPAN_S longer, so that a gradual transition whose middle is just after
        ``until`` is known over its whole span."""
        while self._waiting and self._waiting[0][0] < until - SPAN_S:
            self._place(*self._waiting.popleft(), transitions)

    def finish(self, transitions: list["Transition"]) -> list[KeyframeCandidate]:
        self.advance(transitions, float("inf"))
        self._close_piece()
        return self.keyframes

    def _place(self, t: float, image: "np.ndarray", spare: bool, transitions: list["Transition"]) -> None:
        o = self.options
        new_shot = False
        while self._used < len(transitions) and transitions[self._used].t <= t:
            self._used += 1
            new_shot = True
        if spare and not new_shot:
            return  # this shot already has a frame: the spare is not needed
        look = look_of(image) if o.drift > 0 else None
        # A frame inside a dissolve or fade is a blend of two shots: it opens no drift piece,
        # and is chosen only if its piece has nothing else.
        blend = any(tr.kind != "cut" and tr.start <= t <= tr.end
                    for tr in transitions[max(0, self._used - 2):self._used + 2])
        if new_shot:
            self._open_piece(t, "shot")
        elif t - self._piece_start >= o.keyframe_interval_s:
            self._open_piece(t, "interval")
        elif look is not None and not blend and self._best is not None and self._best.look is not None:
            drifted = drift_between(look, self._best.look) > o.drift
            self._drifted = self._drifted + 1 if drifted else 0
            if self._drifted >= 2 and t - self._piece_start >= o.min_keyframe_gap_s:
                self._open_piece(t, "drift")
        self._shot = self._used
        score = sharpness(image) * (0.01 if blend else 1.0)
        if self._best is None or score > self._best.sharpness:
            self._best = KeyframeCandidate(t, self._shot, score, image, why=self._why, look=look)

    def _open_piece(self, t: float, why: str) -> None:
        self._close_piece()
        self._piece_start, self._why, self._drifted = t, why, 0

    def _close_piece(self) -> None:
        if self._best is not None:
            best, self._best = self._best, None
            best.jpeg = self.encode(best.image) if self.encode else None
            best.image = best.look = None
            self.keyframes.append(best)
