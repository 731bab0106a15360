"""What every shot detector shares: the :class:`CutDetector` interface, the transition record,
and the bookkeeping that turns a stream of candidate transitions into final ones.

A detector reads pictures in time order and proposes candidates as soon as it has seen enough
frames after them. Candidates can still conflict (a cut proposed at the edge of a fade, two
proposals closer than ``min_shot_s``), so :class:`Settler` holds each one until nothing
later can contend with it, then keeps the strongest of those that do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

#: Which kind wins when two transitions are closer than ``min_shot_s``: a fade through black
#: explains a cut at its edge; a hard cut explains a gradual change next to it.
PRIORITY = {"fade": 3, "cut": 2, "dissolve": 1}


@dataclass
class Transition:
    """A boundary between two shots. ``t`` is where the new shot starts (the middle of a gradual
    change); ``start``..``end`` is the span the change takes (both ``t`` for a cut). ``score`` is
    the detector's confidence in 0..1."""

    t: float
    kind: str  # "cut", "dissolve" or "fade"
    score: float
    start: float
    end: float


@dataclass
class Settler:
    """Holds candidate transitions until ``settle(until)`` says no later candidate can contend
    with them, then moves them into ``final`` (in time order)."""

    min_shot_s: float
    final: list[Transition] = field(default_factory=list)
    #: Every transition before this time is in ``final`` and stays as it is.
    settled: float = float("-inf")
    _pending: list[Transition] = field(default_factory=list)

    def propose(self, candidate: Transition) -> None:
        """A candidate transition (any order among pending ones)."""
        self._pending.append(candidate)

    def drop(self, start: float, end: float) -> None:
        """Forget the pending candidates inside ``start``..``end`` (a fade explains them)."""
        self._pending = [c for c in self._pending if not start <= c.t <= end]

    def _beats(self, a: Transition, b: Transition) -> bool:
        return (PRIORITY[a.kind], a.score) > (PRIORITY[b.kind], b.score)

    def settle(self, until: float) -> None:
        """Finalise the candidates that no candidate proposed from now on can be near: those
        before ``until - min_shot_s``. ``until`` must not decrease."""
        self.settled = max(self.settled, until - self.min_shot_s)
        self._pending.sort(key=lambda c: c.t)
        while self._pending and self._pending[0].t < until - self.min_shot_s:
            candidate = self._pending.pop(0)
            rivals = [c for c in self._pending if c.t - candidate.t < self.min_shot_s]
            if any(self._beats(r, candidate) for r in rivals):
                continue  # a stronger neighbour will speak for this boundary
            for r in rivals:
                self._pending.remove(r)
            if candidate.t < self.min_shot_s:
                continue  # a first "shot" shorter than min_shot_s is the video's start, not a shot
            if self.final and candidate.t - self.final[-1].t < self.min_shot_s:
                continue  # the boundary just before already stands for it
            self.final.append(candidate)

    def finish(self) -> list[Transition]:
        """Everything, final."""
        self.settle(float("inf"))
        return self.final


class CutDetector(Protocol):
    """What :class:`avpipe.shots.ShotDetector` asks of a cut detector (``[shots] backend``; the
    classes :data:`avpipe.shots.BACKENDS` names). It is fed pictures in time order, a glance of
    every decoded frame or, for a detector that reads no glances, each sampled frame."""

    #: Holds the candidates; ``settler.settled`` says up to when ``transitions`` is final.
    settler: Settler

    @property
    def transitions(self) -> list[Transition]:
        """The transitions decided so far, in time order (final up to ``settler.settled``)."""
        ...

    def add(self, t: float, picture: "np.ndarray") -> None:
        """The next picture, at ``t`` seconds."""
        ...

    def finish(self) -> list[Transition]:
        """Every transition, final, once the last picture was added."""
        ...
