"""Who speaks when: speaker diarization over the transcript's words.

Voices are embedded by the GE2E speaker encoder of Resemblyzer (Wan et al. 2018; 3-layer LSTM
over 40 mel bands, 256-d, trained on LibriSpeech, VoxCeleb 1 and 2; Apache-2.0). Its weights
ship in the ``Resemblyzer`` wheel (installed ``--no-deps``: the package itself imports librosa
and webrtcvad, which avpipe does not need), are checked against the registry's sha256 and read
with ``weights_only=True`` into the network defined here. The mel features follow the
encoder's training recipe: 25 ms Hann windows every 10 ms, 40 Slaney mel bands of the power
spectrum (no log), each window's audio brought to -30 dBFS.

Diarization:

1. Speech stretches: the transcript's words and (``vad_turns``) the speech the VAD hears in
   fine pieces (:func:`heard_speech`: what Whisper skipped, overlapped speech and back-channel
   among it), joined where they are less than ``join_gap_s`` apart. Each stretch is cut into
   ``window_s`` windows every ``hop_s`` (a shorter stretch is one window), and each window is
   embedded. Clustering (2) reads the words' windows that do not overlap, and the words (3)
   all the words' windows: so the voices and the words' speakers are those of speech for sure;
   the timeline (3) reads the VAD's windows too.
2. The windows are clustered: average-linkage agglomerative clustering on cosine distance into
   ``count`` clusters when the pipeline gives it; else the number of speakers is estimated: of
   the cuts into 2..``max_speakers`` clusters, the one with the best mean silhouette, if that
   is above ``min_silhouette``, else one speaker. (On the shipped set, true splits score 0.43 to
   0.50 and the best split of one voice 0.24; real two-person meetings in AMI's mix score lower,
   which is why most are found as one speaker: see the README's table.) Then each window moves
   to its nearest cluster centre; two clusters whose centres are more alike than
   ``merge_similarity`` are one voice (one VCTK reader's lines were split at 0.88,
   two AMI speakers' centres were 0.81 to 0.84 apart); and a cluster with less than
   ``min_speaker_s`` of speech joins its nearest neighbour.
3. Each word takes the speaker whose centre is nearest the mean of the windows that cover it;
   a run of at most ``min_turn_words`` words between two turns of one speaker is that
   speaker's. The timeline (``transcript.speaker_turns``) does the same every ``turn_step_s``
   over all the stretches, a turn shorter than ``min_turn_s`` between two of one speaker being
   theirs. Speakers are named ``SPEAKER_1``, ``SPEAKER_2``, ... in order of first words, then of
   first turns (a voice heard and never transcribed).

A segment whose words change speaker is split at that word boundary, so every segment has one
speaker and turns change where the voice does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..cache import once
from ..words import split_text

if TYPE_CHECKING:
    import numpy as np

    from ..options import SpeakerOptions
    from ..schema import Segment

SAMPLE_RATE = 16000
N_FFT, HOP, N_MELS = 400, 160, 40
#: Each window's audio is scaled to this loudness before its features are taken.
TARGET_DBFS = -30.0
#: Voice windows embedded per forward pass (memory grows with it; the vectors do not change).
EMBED_BATCH = 128
#: Speech the VAD hears outside the words' stretches gets voice windows of its own when at least
#: this long; a shorter piece takes the speaker of the nearest window.
MIN_UNCOVERED_S = 0.3


def mel_filters(sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> "np.ndarray":
    """Slaney-style mel filterbank (n_mels x n_fft/2+1), area-normalised, as librosa makes it."""
    import numpy as np

    def to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        return np.where(f < 1000.0, 3.0 * f / 200.0, 15.0 + 27.0 * np.log(np.maximum(f, 1e-9) / 1000.0) / np.log(6.4))

    def to_hz(m):
        m = np.asarray(m, dtype=np.float64)
        return np.where(m < 15.0, 200.0 * m / 3.0, 1000.0 * np.exp((m - 15.0) * np.log(6.4) / 27.0))

    freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges = to_hz(np.linspace(to_mel(0.0), to_mel(sample_rate / 2), n_mels + 2))
    lower = (freqs[None, :] - edges[:-2, None]) / (edges[1:-1] - edges[:-2])[:, None]
    upper = (edges[2:, None] - freqs[None, :]) / (edges[2:] - edges[1:-1])[:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    return (weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]).astype(np.float32)


def mel_frames(samples: "np.ndarray") -> "np.ndarray":
    """(frames, 40) mel power spectrogram of 16 kHz audio, after loudness normalisation."""
    import numpy as np

    x = samples.astype(np.float64)
    rms = float(np.sqrt(np.mean((x * 32767.0) ** 2))) if len(x) else 0.0
    if rms > 0:
        x = x * 10 ** ((TARGET_DBFS - 20 * np.log10(rms / 32767.0)) / 20)
    padded = np.pad(x, N_FFT // 2)
    count = 1 + (len(padded) - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(padded, (count, N_FFT), (padded.strides[0] * HOP, padded.strides[0]))
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic Hann
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    return (power @ _filters().T).astype(np.float32)


@once
def _filters() -> "np.ndarray":
    return mel_filters()


def voice_encoder_class():
    """The GE2E network (defined here, torch imported on first use)."""
    import torch
    from torch import nn

    class VoiceEncoder(nn.Module):
        """LSTM(40 -> 256, 3 layers) -> linear -> ReLU -> unit length: one 256-d voice vector."""

        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(N_MELS, 256, 3, batch_first=True)
            self.linear = nn.Linear(256, 256)

        def forward(self, mels: "torch.Tensor") -> "torch.Tensor":
            _, (hidden, _) = self.lstm(mels)
            raw = torch.relu(self.linear(hidden[-1]))
            return raw / torch.linalg.vector_norm(raw, dim=1, keepdim=True).clamp_min(1e-9)

    return VoiceEncoder


@once
def load_voice_encoder(device: str = "cpu"):
    """The bundled GE2E weights (sha256-checked, ``weights_only=True``) in eval mode."""
    import torch

    from ..models import REGISTRY, resolve

    path = resolve("resemblyzer-ge2e") / REGISTRY["resemblyzer-ge2e"].bundled.parts[0][1].split("/")[-1]
    state = torch.load(path, map_location="cpu", weights_only=True)["model_state"]
    model = voice_encoder_class()()
    # The checkpoint also holds the GE2E loss's similarity scale and bias: training only.
    model.load_state_dict({k: v for k, v in state.items() if not k.startswith("similarity_")})
    return model.to(device).eval()


def embed(pieces: list["np.ndarray"], device: str = "cpu") -> "np.ndarray":
    """Unit 256-d voice vectors of audio pieces (16 kHz), pieces of one length batched."""
    import numpy as np
    import torch

    model = load_voice_encoder(device)
    out = np.zeros((len(pieces), 256), np.float32)
    by_length: dict[int, list[int]] = {}
    for i, piece in enumerate(pieces):
        by_length.setdefault(len(piece), []).append(i)
    with torch.inference_mode():
        for same_length in by_length.values():
            # in batches of EMBED_BATCH: the LSTM keeps every step's output of the whole batch
            # (an hour of speech in one batch held gigabytes)
            for lo in range(0, len(same_length), EMBED_BATCH):
                indices = same_length[lo:lo + EMBED_BATCH]
                mels = torch.from_numpy(np.stack([mel_frames(pieces[i]) for i in indices])).to(device)
                out[indices] = model(mels).float().cpu().numpy()
    return out


@dataclass
class Window:
    start: float
    end: float


def windows_over(words: list[tuple[float, float]], options: "SpeakerOptions", duration: float) -> list[Window]:
    """Windows over the speech stretches that ``words`` (start, end) make."""
    stretches: list[list[float]] = []
    for start, end in sorted(words):
        if stretches and start - stretches[-1][1] < options.join_gap_s:
            stretches[-1][1] = max(stretches[-1][1], end)
        else:
            stretches.append([start, end])
    out = []
    for start, end in stretches:
        if end - start <= options.window_s:
            middle = (start + end) / 2
            half = max(end - start, options.min_window_s) / 2
            out.append(Window(max(0.0, middle - half), min(duration, middle + half)))
            continue
        t = start
        while t + options.window_s < end:
            out.append(Window(t, t + options.window_s))
            t += options.hop_s
        out.append(Window(end - options.window_s, end))
    return out


def cluster(vectors: "np.ndarray", seconds: "np.ndarray", options: "SpeakerOptions") -> "np.ndarray":
    """A cluster index per window (see the module's step 2)."""
    import numpy as np

    n = len(vectors)
    if n < 2:
        return np.zeros(n, int)
    from sklearn.cluster import AgglomerativeClustering

    def split(k: int) -> "np.ndarray":
        return AgglomerativeClustering(n_clusters=k, metric="cosine", linkage="average").fit_predict(vectors)

    if options.count:
        labels = split(min(options.count, n))
    else:
        from sklearn.metrics import silhouette_score

        labels, best = np.zeros(n, int), options.min_silhouette
        for k in range(2, min(options.max_speakers, n - 1) + 1):
            candidate = split(k)
            score = silhouette_score(vectors, candidate, metric="cosine")
            if score > best:
                labels, best = candidate, score
    for _ in range(3):  # move each window to its nearest centre
        centres = _centres(vectors, labels)
        labels = np.argmax(vectors @ centres.T, axis=1)
        labels = np.unique(labels, return_inverse=True)[1]
    while not options.count and labels.max() > 0:  # two clusters this alike are one voice, split
        centres = _centres(vectors, labels)
        alike = centres @ centres.T
        np.fill_diagonal(alike, -1.0)
        a, b = np.unravel_index(int(np.argmax(alike)), alike.shape)
        if alike[a, b] < options.merge_similarity:
            break
        labels[labels == max(a, b)] = min(a, b)
        labels = np.unique(labels, return_inverse=True)[1]
    while not options.count:  # a speaker needs min_speaker_s of speech
        totals = np.bincount(labels, weights=seconds)
        small = int(np.argmin(totals))
        if totals[small] >= options.min_speaker_s or len(totals) == 1:
            break
        moved = labels == small
        similarity = vectors[moved] @ _centres(vectors, labels).T
        similarity[:, small] = -np.inf  # never back into the cluster being dissolved
        labels[moved] = np.argmax(similarity, axis=1)
        labels = np.unique(labels, return_inverse=True)[1]
    return labels


def _centres(vectors: "np.ndarray", labels: "np.ndarray") -> "np.ndarray":
    import numpy as np

    centres = np.stack([vectors[labels == k].mean(axis=0) for k in range(labels.max() + 1)])
    return centres / np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-9)


@dataclass
class Diarization:
    """What :func:`diarize` found: the segments with their speakers (split at turns), the
    speaker timeline over all the speech heard (``turns``: (start, end, speaker), words or
    not), and how many speakers."""

    segments: list["Segment"]
    turns: list[tuple[float, float, str]]
    count: int
    # each speaker's voice: (name, unit mean voice vector of its cluster, seconds of its words)
    voices: list[tuple[str, "np.ndarray", float]] = field(default_factory=list)


def heard_speech(samples: "np.ndarray") -> list[tuple[float, float]]:
    """Speech the VAD hears, in fine pieces (pauses from 0.3 s split it): the stretches the
    speaker timeline covers beside the words, so a turn no word was transcribed in (an
    overlapped "yeah", crosstalk Whisper skipped) still has its speaker."""
    from .vad import speech_regions

    return speech_regions(samples, min_silence_s=0.3, pad_s=0.1, merge_gap_s=0.3)


def diarize(samples: "np.ndarray", segments: list["Segment"], options: "SpeakerOptions",
            device: str = "cpu", heard: list[tuple[float, float]] | None = None) -> Diarization:
    """Speakers on every segment and word (segments split where the speaker changes) and on
    the timeline of all speech (the words' stretches and, with ``options.vad_turns``, what the
    VAD hears: ``heard``, or :func:`heard_speech` when not given)."""
    import numpy as np

    words = [(w.start, w.end) for s in segments for w in s.words if w.end > w.start]
    if not words:
        return Diarization(segments, [], 0)
    duration = len(samples) / SAMPLE_RATE
    if options.vad_turns and heard is None:
        heard = heard_speech(samples)
    # The voices are found on the words' windows (speech for sure); the VAD's other stretches
    # get windows of their own, which only the timeline reads: where the VAD hears noise or a
    # cough, it may mislabel a moment of the timeline, never split a voice or move a word.
    windows = windows_over(words, options, duration)
    extra = [(a, b) for a, b in (heard or []) if b > a] if options.vad_turns else []
    # windows only where the words' windows are not (a VAD region mostly overlaps a word stretch)
    unheard = _outside(extra, _stretches(words, options.join_gap_s), MIN_UNCOVERED_S)
    others = windows_over(unheard, options, duration) if unheard else []
    pieces = [samples[int(w.start * SAMPLE_RATE):max(int(w.start * SAMPLE_RATE) + HOP, int(w.end * SAMPLE_RATE))]
              for w in windows + others]
    embedded = embed(pieces, device)
    vectors = embedded[:len(windows)]
    # The number of speakers is chosen on windows that do not overlap: overlapping neighbours
    # share audio, look alike, and would pass for small speakers of their own.
    apart, last_end = [], -1.0
    for i, w in enumerate(windows):
        if w.start >= last_end - 1e-6:
            apart.append(i)
            last_end = w.end
    labels = cluster(vectors[apart], np.array([windows[i].end - windows[i].start for i in apart]), options)
    centres = _centres(vectors[apart], labels)

    def nearest(found: list[Window], vecs: "np.ndarray"):
        starts, ends = np.array([w.start for w in found]), np.array([w.end for w in found])

        def speaker_at(t: float) -> int:
            """The cluster whose centre is nearest the mean of the windows covering ``t``."""
            covering = (starts <= t) & (t <= ends)
            if not covering.any():
                gaps = np.abs((starts + ends) / 2 - t)
                covering = gaps == gaps.min()
            return int(np.argmax(centres @ vecs[covering].mean(axis=0)))

        return speaker_at

    by_words = nearest(windows, vectors)
    speaker_of = _smooth([by_words((w.start + w.end) / 2) for s in segments for w in s.words], options.min_turn_words)
    by_all = nearest(windows + others, embedded) if others else by_words
    timeline = _timeline(_stretches(words + extra, options.join_gap_s), by_all, options.turn_step_s,
                         options.min_turn_s)
    names: dict[int, str] = {}
    for k in [*speaker_of, *(k for *_, k in timeline)]:  # in order of first words, then of first turns
        names.setdefault(k, f"SPEAKER_{len(names) + 1}")
    turns = [(round(a, 3), round(b, 3), names[k]) for a, b, k in timeline]
    spoken = [w for s in segments for w in s.words]
    seconds = {k: 0.0 for k in names}
    for k, w in zip(speaker_of, spoken):
        seconds[k] += max(0.0, w.end - w.start)
    voices = [(name, centres[k].astype(np.float32), round(seconds[k], 3)) for k, name in names.items()]
    return Diarization(_split(segments, [names[k] for k in speaker_of]), turns, len(names), voices)


def _outside(spans: list[tuple[float, float]], stretches: list[list[float]], min_s: float) -> list[tuple[float, float]]:
    """The parts of ``spans`` outside every stretch (both in time order), each at least ``min_s``
    long: the speech the VAD heard where no word was."""
    import bisect

    starts = [a for a, _ in stretches]
    out = []
    for start, end in spans:
        t = start
        i = max(0, bisect.bisect_right(starts, start) - 1)
        while i < len(stretches) and stretches[i][0] < end:
            a, b = stretches[i]
            if b > t:
                if a - t >= min_s:
                    out.append((t, a))
                t = max(t, b)
            i += 1
        if end - t >= min_s:
            out.append((t, end))
    return out


def _stretches(spans: list[tuple[float, float]], join_gap_s: float) -> list[list[float]]:
    """The spans joined where less than ``join_gap_s`` apart, in time order."""
    out: list[list[float]] = []
    for start, end in sorted(spans):
        if out and start - out[-1][1] < join_gap_s:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return out


def _timeline(stretches: list[list[float]], speaker_at, step: float, min_turn_s: float) -> list[tuple[float, float, int]]:
    """Turns over the stretches: each ``step`` takes the speaker at its middle; a turn shorter
    than ``min_turn_s`` between two of one speaker is that speaker's (as :func:`_smooth` does
    for words); neighbouring steps of one speaker are one turn."""
    pieces: list[tuple[float, float, int]] = []
    for start, end in stretches:
        t = start
        while t < end - 1e-9:
            stop = min(end, t + step)
            pieces.append((t, stop, speaker_at((t + stop) / 2)))
            t = stop
    turns = _join(pieces)
    for i in range(1, len(turns) - 1):
        before, now, after = turns[i - 1], turns[i], turns[i + 1]
        if now[1] - now[0] < min_turn_s and before[2] == after[2] and now[0] - before[1] < 1e-6 \
                and after[0] - now[1] < 1e-6:
            now[2] = before[2]
    return [(a, b, k) for a, b, k in _join(turns)]


def _join(pieces) -> list[list]:
    """(start, end, speaker) pieces in time order, touching pieces of one speaker made one."""
    out: list[list] = []
    for a, b, k in pieces:
        if out and out[-1][2] == k and a - out[-1][1] < 1e-6:
            out[-1][1] = b
        else:
            out.append([a, b, k])
    return out


def _smooth(labels: list[int], short: int) -> list[int]:
    """A run of at most ``short`` words between two runs of one speaker becomes that speaker's."""
    runs: list[list[int]] = []  # [label, length]
    for k in labels:
        if runs and runs[-1][0] == k:
            runs[-1][1] += 1
        else:
            runs.append([k, 1])
    for i in range(1, len(runs) - 1):
        if runs[i][1] <= short and runs[i - 1][0] == runs[i + 1][0]:
            runs[i][0] = runs[i - 1][0]
    return [k for k, length in runs for _ in range(length)]


def _split(segments: list["Segment"], speakers: list[str]) -> list["Segment"]:
    """Segments with their speakers; one that changes speaker becomes one per turn."""
    out = []
    i = 0
    for s in segments:
        if not s.words:
            out.append(s)
            continue
        mine = speakers[i:i + len(s.words)]
        i += len(s.words)
        words = [w.model_copy(update={"speaker": who}) for w, who in zip(s.words, mine)]
        if len(set(mine)) == 1:
            out.append(s.model_copy(update={"words": words, "speaker": mine[0]}))
            continue
        turns: list[list] = []
        for w in words:
            if turns and w.speaker == turns[-1][-1].speaker:
                turns[-1].append(w)
            else:
                turns.append([w])
        texts = split_text(s.text, [[w.word for w in turn] for turn in turns])
        for k, (turn, text) in enumerate(zip(turns, texts)):
            start = s.start if k == 0 else turn[0].start
            end = s.end if k == len(turns) - 1 else turn[-1].end
            out.append(s.model_copy(update={"start": start, "end": end, "text": text,
                                            "words": turn, "speaker": turn[0].speaker}))
    return out
