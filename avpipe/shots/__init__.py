"""Shot boundaries and keyframes, from the one decode pass.

Four cut detectors share one interface (``add(t, picture)``, ``finish()``, ``transitions``
and their ``settler``):

- ``adaptive`` (:mod:`.adaptive`, the CPU default): cuts, dissolves and fades from a 48x27
  glance of every decoded frame, no model.
- ``transnetv2`` (:mod:`.transnet`): the TransNetV2 network on the same glances; the GPU
  profile's choice, and usable on a CPU when time allows.
- ``histogram`` (:mod:`.histogram`): colour histograms of the sampled frames only; the one that
  works without glances (the decord reader).
- ``content`` (:mod:`.content`): PySceneDetect's ContentDetector on the glances; hard cuts only
  (every boundary a cut), no model.

:class:`ShotDetector` feeds one of them and the keyframe chooser (:mod:`.keyframes`), and turns
the transitions into shots and ``shot_change`` events. ``avpipe eval shots`` (:mod:`.evaluate`)
measures them against annotated footage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from ..schema import Event, Shot
from .base import CutDetector, Transition
from .keyframes import KeyframeCandidate, KeyframeChooser

if TYPE_CHECKING:
    import numpy as np

    from ..options import KeyframeOptions, ShotOptions

__all__ = ["BACKENDS", "CutDetector", "KeyframeCandidate", "ShotDetector", "Transition", "make_detector"]

#: The ``[shots] backend`` choices: each name's :class:`~.base.CutDetector`, made for a video's
#: options, frame rate and device (the module is imported on first use).
BACKENDS: dict[str, "Callable[[ShotOptions, float, str], CutDetector]"] = {
    "adaptive": lambda o, fps, device: _load("adaptive", "AdaptiveDetector")(o, fps),
    "transnetv2": lambda o, fps, device: _load("transnet", "TransNetDetector")(
        o, fps, device=device, batch=8 if device.startswith("cuda") else 1),
    "histogram": lambda o, fps, device: _load("histogram", "HistogramDetector")(o),
    "content": lambda o, fps, device: _load("content", "ContentCutDetector")(o, fps),
}


def _load(module: str, name: str):
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def make_detector(options: "ShotOptions", fps: float, device: str = "cpu") -> CutDetector:
    """The cut detector ``options.backend`` names, for a video of ``fps`` frames a second."""
    if options.backend not in BACKENDS:
        raise ValueError(f"unknown shots backend {options.backend!r}; known: {', '.join(BACKENDS)}")
    return BACKENDS[options.backend](options, fps, device)


@dataclass
class ShotDetector:
    """Feed ``add_glance`` with every decoded frame's glance (when ``reads_glances``) and ``add``
    with every sampled frame, in time order; ``finish`` returns shots, keyframes and events.

    Every shot gets a keyframe, even one shorter than the sampling step (five frames between
    two samples half a second apart): a frame that was not sampled but changed at least
    ``cut_min`` from the frame before (where a cut can start a shot) has its picture made and
    offered to the chooser as a *spare*, which it keeps only for a shot that has no sampled
    frame before it (:class:`~.keyframes.KeyframeChooser`).
    """

    options: "ShotOptions"
    fps: float = 25.0
    device: str = "cpu"
    # Turns a chosen keyframe's pixels into the bytes kept for it (a JPEG thumbnail); None
    # keeps no pixels at all.
    encode: "Callable[[np.ndarray], bytes] | None" = None
    # How keyframes are chosen (interval, drift); the defaults where None.
    keyframes: "KeyframeOptions | None" = None
    last_t: float | None = None
    _step: float = 0.5
    _last_glance: "np.ndarray | None" = None
    detector: CutDetector = field(init=False)
    chooser: KeyframeChooser = field(init=False)

    def __post_init__(self) -> None:
        self.detector = make_detector(self.options, self.fps, self.device)
        from ..options import KeyframeOptions

        self.chooser = KeyframeChooser(self.keyframes or KeyframeOptions(), self.encode)

    @property
    def reads_glances(self) -> bool:
        return self.options.backend != "histogram"

    def add_glance(self, t: float, glance: "np.ndarray",
                   picture: "Callable[[], np.ndarray] | None" = None) -> None:
        """The glance of the next decoded frame; ``picture`` makes its full picture, for a frame
        that is not sampled (None for a sampled one, whose picture comes through :meth:`add`)."""
        from .adaptive import mad

        changed = self._last_glance is not None and mad(glance, self._last_glance) >= self.options.cut_min
        self._last_glance = glance
        self.detector.add(t, glance)
        if picture is not None and changed:
            self.chooser.add(t, picture(), spare=True)
        self.chooser.advance(self.detector.transitions, self.detector.settler.settled)

    def add(self, t: float, image: "np.ndarray") -> None:
        if self.last_t is not None:
            self._step = max(1e-3, t - self.last_t)
        self.last_t = t
        if not self.reads_glances:
            self.detector.add(t, image)
        self.chooser.add(t, image)
        self.chooser.advance(self.detector.transitions, self.detector.settler.settled)

    def finish(self, duration_s: float) -> tuple[list[Shot], list[KeyframeCandidate], list[Event]]:
        """Close the last shot at ``duration_s`` (or just after the last sampled frame, if longer)."""
        transitions = self.detector.finish()
        keyframes = self.chooser.finish(transitions)
        if self.last_t is None:
            return [], [], []
        end = max(duration_s, self.last_t + self._step * 0.5)
        transitions = [tr for tr in transitions if 0 < tr.t < end]
        bounds = [0.0, *(tr.t for tr in transitions), end]
        shots = [Shot(start=round(a, 3), end=round(b, 3), transition=tr.kind if tr else None)
                 for a, b, tr in zip(bounds, bounds[1:], [None, *transitions])]
        events = [Event(start=round(tr.t, 3), end=round(tr.t, 3), kind="shot_change",
                        label=f"{tr.kind} to shot {i + 2}", score=round(tr.score, 3))
                  for i, tr in enumerate(transitions)]
        return shots, keyframes, events
