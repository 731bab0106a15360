"""The CPU default shot detector: cuts, dissolves and fades through black from a glance
(48x27 pixels) of every decoded frame, with no model.

Everything is a mean absolute difference (MAD, 0..255) between glances:

- **Cut** at frame *i*: the change into *i* is large (``cut_min``) and ``cut_ratio`` times the
  changes around it (two frames each side), the adaptive rule of PySceneDetect's
  AdaptiveDetector, which keeps fast motion (large changes everywhere) from counting. Pixel
  differences, unlike colour histograms, see a cut between two shots of the same colours.
  Action cuts often lead into or out of a fast-moving shot, whose motion hides the cut in that
  mean: such a change is a cut too when it is ``cut_ratio`` times the changes on the calmer side
  alone and the colours change with it (``COLOUR_MIN``), which a jerk of a handheld camera does
  not do. A
  *flash* (a few bright frames, a camera flash, an explosion) is a large change that goes
  back: when the frame before *i* comes back within a quarter second after it, or the frame
  *i* was already there a quarter second before, *i* is a flash's edge and no cut.
- **Fade through black**: a run of black frames between two shots is one transition, at the
  run's middle. A cut into or out of the black is part of it. A run longer than
  ``LONG_BLACK_S`` is no fade but a shot of its own (a black leader, a pause in a recording):
  the cuts into and out of it stand, and one that lasts to the end is the last shot, not a
  fade-out.
- **Dissolve**: at three scales *w* (a quarter, half and whole second), frame *i* is a dissolve's
  middle when its neighbours *w* frames away differ a lot (``gradual_min``) while *i* is close to
  their average (a cross-fade is a linear blend; a pan or a moving subject is not) and the
  pictures *w* frames further out on each side hardly change (the shots on either side are
  steady relative to the change between them) or, for moving shots, keep their colours while
  the colours across the dissolve change. A run of such frames is one dissolve, at its
  strongest frame. Two blends are not dissolves: one that changes only part of the picture (less
  than ``COVER`` of its pixels: a title fading in or out over a shot), and the dim end of a fade
  from or to black (one picture the other made darker; the fade rule places that boundary, and
  a video that opens by fading in has none).

Decisions need up to two seconds of frames after them; pictures are kept only that long.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .base import Settler, Transition
from .histogram import colour_histogram, histogram_distance

if TYPE_CHECKING:
    import numpy as np

    from ..options import ShotOptions

#: A frame is black when 98 % of its pixels are darker than this (0..255 luma).
BLACK = 24.0
#: A dissolve's middle frame is within this fraction of G (the change across it) of the average
#: of its two neighbours, and each side changes by at most SIDE x G over the same span.
LINEAR = 0.3
SIDE = 0.35
#: Where the sides move (pans, shake), the colours across a dissolve must differ this much
#: (Hellinger distance, 0..1) and SIDE times more than on each side.
COLOUR_MIN = 0.25
#: Mean level (0..255) under which a picture may be the dim end of a fade (see _rescaled).
DIM = 48.0
#: A dissolve changes at least this share of the pixels by half its mean change or more.
COVER = 0.55
#: A change that comes back within this many seconds is a flash, not a cut.
FLASH_S = 0.25
#: Dissolve scales, in seconds (half the span compared).
SCALES_S = (0.25, 0.5, 1.0)
#: Neighbouring frames each side that the adaptive cut rule compares with.
NEIGHBOURS = 2
#: Black lasting longer than this (seconds) is a shot of its own, not the middle of a fade.
LONG_BLACK_S = 5.0


def mad(a: "np.ndarray", b: "np.ndarray") -> float:
    """Mean absolute difference of two float pictures (OpenCV's L1 norm: a quarter of NumPy's
    time at this size, where the per-call cost dominates)."""
    import cv2

    return cv2.norm(a, b, cv2.NORM_L1) / a.size


def _spread(a: "np.ndarray", b: "np.ndarray", across: float) -> bool:
    """Whether the change from ``a`` to ``b`` covers the picture as a change of shot does: at
    least COVER of the pixels change by half the mean change ``across`` or more (in their most
    changed channel). A title fading in or out over a shot changes only where its letters are."""
    import numpy as np

    return float((np.abs(a - b).max(axis=2) >= 0.5 * across).mean()) >= COVER


def _level(picture: "np.ndarray") -> float:
    """A picture's mean over pixels and channels (OpenCV's mean: NumPy's costs more at this size)."""
    import cv2

    return sum(cv2.mean(picture)[:3]) / 3


def _moved(a: "np.ndarray", b: "np.ndarray", change: float) -> bool:
    """Whether ``b`` is ``a`` shifted (a camera move): some shift of up to a quarter of the
    picture's width and height leaves, where the two overlap, less than half of ``change``."""
    h, w = a.shape[:2]
    for dy in range(-(h // 4), h // 4 + 1):
        for dx in range(-(w // 4), w // 4 + 1):
            x = a[max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)]
            y = b[max(0, -dy):h + min(0, -dy), max(0, -dx):w + min(0, -dx)]
            if mad(x, y) < 0.5 * change:
                return True
    return False


def _rescaled(a: "np.ndarray", b: "np.ndarray", across: float, dim: bool = True) -> bool:
    """Whether the darker of the two pictures is the other made darker (the best gain ``k``, by
    least squares, explains it to within LINEAR x its own mean level): a fade from or to black,
    which the fade rule places, not a blend of two shots. With ``dim`` (outside a fade in from
    black) the darker picture must also be dim (mean under DIM): between two shots, one may be a
    darker likeness of the other (a dissolve between two takes of one clean room)."""
    import numpy as np

    x, y = (a, b) if _level(a) <= _level(b) else (b, a)
    level = _level(x)
    if dim and level >= DIM:
        return False
    k = float(np.vdot(x, y) / max(float(np.vdot(y, y)), 1e-6))
    return mad(x, np.float32(k) * y) < LINEAR * max(level, 1.0)


def is_black(glance: "np.ndarray") -> bool:
    """Whether 98 % of a glance's pixels are darker than BLACK (luma)."""
    import cv2
    import numpy as np

    grey = cv2.cvtColor(glance, cv2.COLOR_RGB2GRAY)
    if cv2.mean(grey)[0] > 0.98 * BLACK + 0.02 * 255:  # cannot be: most frames stop here
        return False
    k = max(1, grey.size // 50)
    return bool(np.partition(grey.ravel(), -k)[-k] < BLACK)


@dataclass
class AdaptiveDetector:
    """Streaming detector over glances: ``add`` each, then ``finish``; ``settler.final`` holds
    the transitions decided so far, in time order."""

    options: "ShotOptions"
    fps: float
    name: str = "adaptive"
    settler: Settler = field(init=False)
    _x: dict = field(default_factory=dict)  # frame index -> float32 glance (a sliding window)
    _t: dict = field(default_factory=dict)
    _d: dict = field(default_factory=dict)  # MAD between frame i - 1 and i
    _black: dict = field(default_factory=dict)
    _h: dict = field(default_factory=dict)  # colour histograms, made only where a dissolve is tested
    _n: int = 0  # frames added
    _i: int = 0  # next frame to judge
    _black_from: tuple[int, float] | None = None  # (index, time) of the black run in progress
    _fade_guard: float = -1.0  # no dissolve is proposed before this time (a fade's edges)
    _run: list = field(default_factory=list)  # the dissolve run in progress: [(G, i, t, start, end)]
    #: The fade in from black in progress or last seen: frames (first, last] after the last black
    #: frame, up to the first that darkens (``last`` is None until then).
    _rise: tuple[int, int | None] | None = None
    _last_level: float = 0.0  # the mean level of the last frame added

    def __post_init__(self) -> None:
        fps = self.fps if self.fps and self.fps > 0 else 25.0
        self.settler = Settler(self.options.min_shot_s)
        self.flash = max(2, round(FLASH_S * fps))
        self.scales = sorted({max(2, round(s * fps)) for s in SCALES_S})
        self.ahead = max(2 * self.scales[-1], self.flash, NEIGHBOURS)
        self.margin = SCALES_S[-1] + 0.25  # how far a fade's edges reach (a fade-out's dissolve-like middle)

    @property
    def transitions(self) -> list[Transition]:
        return self.settler.final

    def add(self, t: float, glance: "np.ndarray") -> None:
        """The next decoded frame's glance (uint8 HxWx3), at ``t`` seconds."""
        import numpy as np

        n = self._n
        x = glance.astype(np.float32)
        self._x[n], self._t[n] = x, t
        self._d[n] = mad(x, self._x[n - 1]) if n else 0.0
        self._black[n] = is_black(glance)
        level = _level(x)
        if self._black[n]:
            self._rise = (n, None)
        elif self._rise is not None and self._rise[1] is None and level < self._last_level * 0.995:
            # The first frame that darkens ends it. Until then the rise stays open: over a slow
            # fade in, and also over a steady shot cut in from black (where only a dissolve from
            # that shot to a darker likeness of it would be missed).
            self._rise = (self._rise[0], n - 1)
        self._last_level = level
        self._n += 1
        while self._i + self.ahead < self._n:
            self._judge(self._i)
            self._i += 1
        self._forget()
        if self._i:
            # A black run in progress may still turn out to be a fade that explains a cut at
            # its start: nothing after its start is final before it ends, or grows too long to
            # be a fade.
            until = self._t[self._i - 1]
            if self._black_from is not None and not self._long_black(until):
                until = min(until, self._black_from[1])
            if self._run:  # nor after the start of a dissolve still being measured
                until = min(until, self._run[0][3])
            self.settler.settle(until - self.margin)

    def finish(self) -> list[Transition]:
        """Judge the last frames; every transition, final."""
        while self._i < self._n:
            self._judge(self._i)
            self._i += 1
        self._close_run()
        if self._black_from is not None and not self._long_black(self._t[self._n - 1]):
            # the video ends in a moment of black: a fade out, not a boundary
            self.settler.drop(self._black_from[1] - self.margin, float("inf"))
        return self.settler.finish()

    def _long_black(self, until: float) -> bool:
        """Whether the black run in progress has lasted, up to ``until``, too long to be a fade."""
        return self._black_from is not None and until - self._black_from[1] > LONG_BLACK_S

    def _forget(self) -> None:
        """Drop the frame that has just left the window (frames leave one at a time, in order)."""
        gone = self._i - 2 * self.scales[-1] - 3
        for store in (self._x, self._t, self._d, self._black, self._h):
            store.pop(gone, None)

    def _judge(self, i: int) -> None:
        self._cut(i)
        self._dissolve(i)
        self._fade(i)

    def _cut(self, i: int) -> None:
        o = self.options
        if i < 1:
            return
        change = self._d[i]
        if change < o.cut_min or (self._black[i] and self._black[i - 1]):
            return
        if change < o.cut_ratio * self._usual(i) and not self._motion_cut(i, change):
            return
        if self._flash(i, change):
            return
        t = self._t[i]
        self.settler.propose(Transition(t, "cut", round(min(1.0, change / 64.0), 3), t, t))

    def _usual(self, i: int, side: str = "both") -> float:
        """The mean change of the NEIGHBOURS frames on each side of frame ``i`` (``"both"``), or
        the smaller of the two sides' means (``"calmer"``); at least 1."""
        means = []
        for frames in (range(i - NEIGHBOURS, i), range(i + 1, i + NEIGHBOURS + 1)):
            changes = [self._d[j] for j in frames if j in self._d and j > 0]
            if changes:
                means.append((sum(changes), len(changes)))
        if not means:
            return 1.0
        if side == "calmer":
            return max(1.0, min(total / n for total, n in means))
        return max(1.0, sum(total for total, _ in means) / sum(n for _, n in means))

    def _motion_cut(self, i: int, change: float) -> bool:
        """A cut into or out of a fast-moving shot: the change stands out ``cut_ratio`` times
        against the calmer side alone, and the colours change too (COLOUR_MIN, Hellinger), as
        they do between shots and do not when a handheld camera jerks, and no shift of the
        picture explains the change (``_moved``: a whip pan starting). Action cuts often lead
        into or out of such a shot, whose motion hides the cut in a mean over both sides."""
        return (change >= self.options.cut_ratio * self._usual(i, "calmer")
                and histogram_distance(self._hist(i - 1), self._hist(i)) >= COLOUR_MIN
                and not _moved(self._x[i - 1], self._x[i], change))

    def _flash(self, i: int, change: float) -> bool:
        """Whether the change into frame ``i`` is a flash's edge: the picture before it comes
        back within FLASH_S after it (its start), or the picture after it was there within
        FLASH_S before it (its end)."""
        before, after = self._x[i - 1], self._x[i]
        for j in range(1, self.flash + 1):
            if i + j < self._n and mad(before, self._x[i + j]) < 0.5 * change:
                return True
            if i - 1 - j in self._x and mad(after, self._x[i - 1 - j]) < 0.5 * change:
                return True
        return False

    def _dissolve(self, i: int) -> None:
        best = None
        for w in self.scales:
            if i - 2 * w < 0 or i + 2 * w >= self._n:
                continue
            a, b = self._x[i - w], self._x[i + w]
            across = mad(a, b)
            if across < self.options.gradual_min:
                continue
            if mad(self._x[i], (a + b) * 0.5) > LINEAR * across:
                continue
            if max(mad(self._x[i - 2 * w], a), mad(b, self._x[i + 2 * w])) > SIDE * across:
                # Moving shots change on each side too; their colours, though, stay: the change
                # across must still stand out from the sides in colour-histogram distance.
                h = self._hist
                colours = histogram_distance(h(i - w), h(i + w))
                if colours < COLOUR_MIN or max(histogram_distance(h(i - 2 * w), h(i - w)),
                                               histogram_distance(h(i + w), h(i + 2 * w))) > SIDE * colours:
                    continue
            if not _spread(a, b, across) or _rescaled(a, b, across, dim=not self._rising(i - w)):
                continue  # a title fading in or out over a shot, or a fade from or to black
            if best is None or across > best[0]:
                best = (across, i, self._t[i], self._t[i - w], self._t[i + w])
        if best is not None:
            if self._run and i - self._run[-1][1] > 1:
                self._close_run()
            self._run.append(best)
        elif self._run and i - self._run[-1][1] > 1:
            self._close_run()

    def _rising(self, i: int) -> bool:
        """Whether frame ``i`` is inside a fade in from black: after the last black frame, before
        the first frame that darkens again."""
        if self._rise is None:
            return False
        first, last = self._rise
        return first < i and (last is None or i <= last)

    def _hist(self, i: int) -> "np.ndarray":
        """Frame ``i``'s colour histogram, made once, on demand."""
        if i not in self._h:
            import numpy as np

            self._h[i] = colour_histogram(self._x[i].astype(np.uint8))
        return self._h[i]

    def _close_run(self) -> None:
        if not self._run:
            return
        across, _, t, start, end = max(self._run)
        self._run = []
        if t < self._fade_guard:
            return
        self.settler.propose(Transition(t, "dissolve", round(min(1.0, across / 64.0), 3), start, end))

    def _fade(self, i: int) -> None:
        if self._black[i]:
            if self._black_from is None:
                self._black_from = (i, self._t[i])
            return
        if self._black_from is None:
            return
        end = self._t[i]
        long_black = self._long_black(end)
        (first, start), self._black_from = self._black_from, None
        if long_black:
            return  # the black is a shot itself
        if first == 0:
            # the video opens in a moment of black: no shot before it, so a cut out of it is the
            # first shot's start, not a boundary
            self.settler.drop(0.0, end)
            return
        self.settler.drop(start - self.margin, end + self.margin)
        self._fade_guard = end + self.margin
        self.settler.propose(Transition(round((start + end) / 2, 3), "fade", 1.0, start, end))
