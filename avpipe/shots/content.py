"""PySceneDetect's ``ContentDetector`` (``scenedetect-headless``, BSD-3-Clause) on the glances
(48x27 pixels) of every decoded frame: the one decode pass feeds it, nothing decodes twice.

The library does the scoring and the deciding: each glance goes to
``ContentDetector.process_frame``, which scores the change from the frame before as the mean
absolute difference of hue, saturation and luma (its default weights; no edges), calls a frame
whose score reaches ``content_threshold`` (27, the library's default) a cut, and keeps scenes
at least ``min_scene_len`` frames long by merging the cuts of a burst (its ``FlashFilter`` in
``MERGE`` mode, 15 frames, the library's default: a flash or a strobe is one cut at most, at the
burst's last frame above threshold). Here the library's cut frames only become
:class:`~.base.Transition` records at that frame's time, with the frame's score, and pass
through the :class:`~.base.Settler` (``min_shot_s``) like every other backend's.

Why glances and not bigger pictures: the score is a mean over pixels, so it changes little with
the picture's size for a cut (the whole picture changes); at 48x27 it is smoother than at
PySceneDetect's own working size (downscaled to at least 256 pixels wide), which lowers the
score of motion and noise, not of cuts. ``avpipe eval shots`` measures both (``content`` on
glances, and the ``pyscenedetect`` baseline, which decodes the file itself at full size).

Gradual transitions: ContentDetector finds cuts only, and every boundary it reports is a
``"cut"``. A dissolve or fade slow enough that no single frame changes by ``content_threshold``
is not found at all; a fast one (a few frames) comes out as one cut at its steepest frame. It has
no dissolve or fade rule, so it invents no gradual transition inside a fade to black, over
fading titles or on a camera move; a fade to black and back in is at most two cuts, merged into
one when they are less than ``min_scene_len`` frames apart.

Candidates come out of the library at most ``event_buffer_length`` frames late (the merge
filter), so everything before that is final.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .base import Settler, Transition

if TYPE_CHECKING:
    import numpy as np

    from ..options import ShotOptions

#: ContentDetector's ``min_scene_len`` default, in frames.
MIN_SCENE_FRAMES = 15


def _content_detector(threshold: float):
    """A fresh ``ContentDetector`` with the library's defaults but ``threshold``; an ImportError
    that says what to install when PySceneDetect is missing."""
    try:
        from scenedetect.detectors import ContentDetector
    except ImportError as exc:
        raise ImportError("[shots] backend = \"content\" needs PySceneDetect: pip install scenedetect-headless "
                          f"({exc})") from exc
    return ContentDetector(threshold=threshold, min_scene_len=MIN_SCENE_FRAMES)


@dataclass
class ContentCutDetector:
    """Streaming ContentDetector over glances: ``add`` each, then ``finish``."""

    options: "ShotOptions"
    fps: float
    name: str = "content"
    settler: Settler = field(init=False)
    #: The library's score of every frame so far (the change from the frame before).
    scores: "array" = field(default_factory=lambda: array("f"))
    _t: "array" = field(default_factory=lambda: array("d"))  # every frame's time
    _n: int = 0

    def __post_init__(self) -> None:
        from scenedetect import FrameTimecode

        self.settler = Settler(self.options.min_shot_s)
        self.detector = _content_detector(self.options.content_threshold)
        self._rate = self.fps if self.fps and self.fps > 0 else 25.0
        self._timecode = FrameTimecode

    @property
    def transitions(self) -> list[Transition]:
        return self.settler.final

    def add(self, t: float, glance: "np.ndarray") -> None:
        """The next decoded frame's glance (uint8 HxWx3, RGB), at ``t`` seconds."""
        import cv2

        n = self._n
        self._t.append(t)
        self._n += 1
        # The library reads BGR, as OpenCV decodes it; the glances are RGB.
        cuts = self.detector.process_frame(self._timecode(n, self._rate), cv2.cvtColor(glance, cv2.COLOR_RGB2BGR))
        # The score process_frame just computed (ContentDetector keeps it; 0 on the first frame).
        self.scores.append(float(getattr(self.detector, "_frame_score", None) or 0.0))
        self._propose(cuts)
        behind = self.detector.event_buffer_length
        if n - behind > 0:
            self.settler.settle(self._t[n - behind - 1])

    def finish(self) -> list[Transition]:
        """What the library still holds at the end; every transition, final."""
        if self._n:
            self._propose(self.detector.post_process(self._timecode(self._n - 1, self._rate)))
        return self.settler.finish()

    def _propose(self, cuts: list) -> None:
        for cut in cuts:
            i = min(max(int(cut.frame_num), 0), self._n - 1)
            if i == 0:
                continue  # the first frame starts the video, not a shot
            t = self._t[i]
            score = round(min(1.0, self.scores[i] / (2 * self.options.content_threshold)), 3)
            self.settler.propose(Transition(t, "cut", score, t, t))
