"""Fusion of what is said, how it is said and what is seen: one ``torch.nn.Module``, three
strategies (chosen by ``[fusion] strategy`` in the pipeline file).

Inputs, per video (all in the shared 384-d text-image space where they are embeddings):
  * speech segments: text embedding ``text [S, 384]``, prosody features ``prosody [S, P]``
    (standardised against the video's median), and the per-modality predictions over the seven
    emotions from the text head and the voice prior (``text_p``, ``voice_p`` [S, 7]);
  * keyframes: embedding ``frames [K, 384]`` and face-expression scores ``face_p [K, 7]`` (the
    mean over the frame's faces; ``has_face [K]`` says whether there were any);
  * ``window [S, K]``: which keyframes lie in each segment's time window (its span widened by
    ``window_s`` each side; the nearest keyframe when none does).

Strategies:
  * ``late``: a weighted mix of the per-modality predictions (face = the mean over the window's
    faces); weights renormalised over the modalities present.
  * ``early``: the features concatenated into one linear head. Initialised so that it starts as
    the late mix in log space, so it is sensible before any training.
  * ``hybrid``: cross-attention. Each segment's query (text embedding and prosody) attends to
    the keyframes in its window (keys: frame embedding and face scores). The projections start
    as the identity on the shared-space part and zero elsewhere, so untrained attention is a
    softmax of cosine similarities in the shared space at temperature ``tau``: a sentence about
    a telescope attends to the frame that shows one. The attended face scores replace the plain
    window mean in the mix; the attention weights are kept (which frames informed which
    sentence), and the attended similarity is the segment's visual salience.

``avpipe train align`` trains the query/key projections (InfoNCE) and saves them; a pipeline
points ``[fusion] align_weights`` at the file to use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    import numpy as np

EMOTIONS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")
#: FER-2013's labels (the face model's) onto the seven above.
FACE_TO_EMOTION = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "joy", "neutral": "neutral",
                   "sad": "sadness", "surprise": "surprise"}
STRATEGIES = ("early", "late", "hybrid")
EPS = 1e-6


@dataclass
class FusionInputs:
    text: torch.Tensor  # [S, D] unit text embeddings of the segments
    prosody: torch.Tensor  # [S, P] standardised prosody features
    text_p: torch.Tensor  # [S, 7]
    voice_p: torch.Tensor  # [S, 7]
    frames: torch.Tensor  # [K, D] unit keyframe embeddings
    face_p: torch.Tensor  # [K, 7]
    has_face: torch.Tensor  # [K] bool
    window: torch.Tensor  # [S, K] bool
    #: [S] bool: the text head can read the segment (its language is one the head was trained on,
    #: or it has an English translation); None: every segment.
    text_here: torch.Tensor | None = None


@dataclass
class FusionOutput:
    probs: torch.Tensor  # [S, 7] fused emotion
    by_modality: dict[str, torch.Tensor]  # name -> [S, 7]; a modality absent for a segment is NaN
    attention: torch.Tensor  # [S, K]: weights over each segment's window (rows sum to 1); zeros outside
    salience: torch.Tensor  # [S]: attention-weighted cosine between the segment and its frames
    evidence: torch.Tensor  # [S, D]: the attended visual embedding


class Fusion(nn.Module):
    """The three fusion strategies over one video's segments and keyframes."""

    def __init__(self, dim: int = 384, prosody_dim: int = 4, strategy: str = "hybrid", tau: float = 0.05,
                 weights: tuple[float, float, float] = (0.5, 0.3, 0.2)) -> None:
        super().__init__()
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown fusion strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
        self.strategy, self.tau, self.dim, self.prosody_dim = strategy, tau, dim, prosody_dim
        n = len(EMOTIONS)
        # hybrid: queries from [text; prosody], keys from [frame; face scores]
        self.query = nn.Linear(dim + prosody_dim, dim, bias=False)
        self.key = nn.Linear(dim + n, dim, bias=False)
        with torch.no_grad():
            self.query.weight.zero_()
            self.query.weight[:, :dim] = torch.eye(dim)
            self.key.weight.zero_()
            self.key.weight[:, :dim] = torch.eye(dim)
        # late / hybrid mixing weights (text, face, voice), kept positive through a log
        self.log_weights = nn.Parameter(torch.log(torch.tensor(weights, dtype=torch.float32)))
        # early: [text emb, prosody, window frame mean, log text_p, log face_p, log voice_p] -> 7
        self.early = nn.Linear(dim + prosody_dim + dim + 3 * n, n)
        with torch.no_grad():
            self.early.weight.zero_()
            self.early.bias.zero_()
            base = 2 * dim + prosody_dim
            for m, w in enumerate(weights):
                self.early.weight[:, base + m * n : base + (m + 1) * n] = w * torch.eye(n)

    def attend(self, x: FusionInputs) -> tuple[torch.Tensor, torch.Tensor]:
        """Attention [S, K] over each window and the raw similarity scores [S, K]."""
        q = nn.functional.normalize(self.query(torch.cat([x.text, x.prosody], -1)), dim=-1)
        k = nn.functional.normalize(self.key(torch.cat([x.frames, x.face_p], -1)), dim=-1)
        sim = q @ k.T
        logits = (sim / self.tau).masked_fill(~x.window, float("-inf"))
        return torch.softmax(logits, -1).nan_to_num(0.0), sim

    def _mix(self, parts: list[torch.Tensor], present: list[torch.Tensor]) -> torch.Tensor:
        """Weighted geometric mix of probabilities, over the modalities present per segment."""
        w = self.log_weights.exp()
        total = torch.zeros_like(parts[0])
        norm = torch.zeros(parts[0].shape[0], 1)
        for i, (p, here) in enumerate(zip(parts, present)):
            here = here.float().unsqueeze(-1)
            total = total + here * w[i] * torch.log(p.clamp(min=EPS))
            norm = norm + here * w[i]
        return torch.softmax(total / norm.clamp(min=EPS), -1)

    def forward(self, x: FusionInputs) -> FusionOutput:
        s = x.text.shape[0]
        face_w = (x.window & x.has_face.unsqueeze(0)).float()  # [S, K] windows' frames with faces
        has_face = face_w.sum(-1) > 0
        face_mean = (face_w @ x.face_p) / face_w.sum(-1, keepdim=True).clamp(min=1)
        attention, sim = self.attend(x)
        salience = (attention * sim).sum(-1)
        evidence = attention @ x.frames
        text_here = x.text_here if x.text_here is not None else torch.ones(s, dtype=torch.bool)
        voice_here = x.voice_p.sum(-1) > 0
        if self.strategy == "hybrid":
            # the face evidence the attention chose, among frames that have faces
            weighted = attention * x.has_face.float().unsqueeze(0)
            face = (weighted @ x.face_p) / weighted.sum(-1, keepdim=True).clamp(min=EPS)
            face = torch.where(has_face.unsqueeze(-1), face, face_mean)
        else:
            face = face_mean
        if self.strategy == "early":
            frame_mean = (x.window.float() @ x.frames) / x.window.float().sum(-1, keepdim=True).clamp(min=1)
            logs = [torch.log(p.clamp(min=EPS)) * here.float().unsqueeze(-1)
                    for p, here in ((x.text_p, text_here), (face, has_face), (x.voice_p, voice_here))]
            probs = torch.softmax(self.early(torch.cat([x.text, x.prosody, frame_mean, *logs], -1)), -1)
        else:
            probs = self._mix([x.text_p, face, x.voice_p], [text_here, has_face, voice_here])
        nan = torch.full_like(face, float("nan"))
        by_modality = {"text": torch.where(text_here.unsqueeze(-1), x.text_p, nan),
                       "face": torch.where(has_face.unsqueeze(-1), face, nan),
                       "voice": torch.where(voice_here.unsqueeze(-1), x.voice_p, nan)}
        return FusionOutput(probs=probs, by_modality=by_modality, attention=attention, salience=salience,
                            evidence=evidence)

    def load_alignment(self, path: Path) -> None:
        """Query/key projections trained by ``avpipe train align`` (a safetensors file)."""
        from safetensors.torch import load_file

        tensors = load_file(str(path))
        with torch.no_grad():
            self.query.weight.copy_(tensors["query.weight"])
            self.key.weight.copy_(tensors["key.weight"])


def windows(seg_times: "np.ndarray", frame_times: "np.ndarray", window_s: float) -> torch.Tensor:
    """[S, K] mask: keyframes within each segment's ``[start - window_s, end + window_s]``; a
    segment with none gets its nearest keyframe, so every row attends somewhere."""
    import numpy as np

    s = torch.from_numpy(np.asarray(seg_times, np.float32).reshape(-1, 2))
    f = torch.from_numpy(np.asarray(frame_times, np.float32))
    mask = (f.unsqueeze(0) >= s[:, :1] - window_s) & (f.unsqueeze(0) <= s[:, 1:] + window_s)
    if f.numel():
        middle = s.mean(-1, keepdim=True)
        nearest = (f.unsqueeze(0) - middle).abs().argmin(-1)
        empty = ~mask.any(-1)
        mask[empty, nearest[empty]] = True
    return mask


def face_scores(keyframes: list) -> tuple[torch.Tensor, torch.Tensor]:
    """Per keyframe: the mean face-expression scores over its faces in :data:`EMOTIONS` order,
    and whether it had any face."""
    out = torch.zeros(len(keyframes), len(EMOTIONS))
    has = torch.zeros(len(keyframes), dtype=torch.bool)
    for i, k in enumerate(keyframes):
        scored = [f.scores for f in k.faces if f.scores]
        for scores in scored:
            for name, value in scores.items():
                if FACE_TO_EMOTION.get(name) in EMOTIONS:
                    out[i, EMOTIONS.index(FACE_TO_EMOTION[name])] += value / len(scored)
        has[i] = bool(scored)
    return out, has


def prosody_matrix(segments: list) -> torch.Tensor:
    """[S, 4] prosody features (loudness, pitch level, pitch range, rate) of transcript segments,
    each standardised over the video's segments; a missing value is 0 (the video's typical one)."""
    import numpy as np

    rows = np.array([[s.prosody.loudness_db, s.prosody.pitch_hz, s.prosody.pitch_range_st, s.prosody.rate_wps]
                     if s.prosody else [None] * 4 for s in segments], dtype=float).reshape(-1, 4)
    if not len(rows):
        return torch.zeros(0, 4)
    # Only features some segment has: a column with no value at all (no voiced pitch anywhere in
    # the video) would make numpy warn "Mean of empty slice"; it stays 0.
    measured = ~np.isnan(rows).all(axis=0)
    mean, std = np.zeros(4), np.zeros(4)
    mean[measured] = np.nanmean(rows[:, measured], axis=0)
    std[measured] = np.nanstd(rows[:, measured], axis=0)
    z = (rows - mean) / np.where(std > 0, std, 1.0)
    return torch.from_numpy(np.nan_to_num(z)).float()


def emotion_timeline(segments: list) -> tuple[list, list]:
    """Runs of segments with the same fused emotion as timeline spans, and an emotion_change
    event where one run gives way to the next. With speakers, each speaker has a timeline of
    their own (a run is one speaker's; its change events name them)."""
    from ..schema import EmotionSpan, Event

    timeline: list[EmotionSpan] = []
    last: dict[str | None, int] = {}  # speaker -> index of their latest span
    events = []
    for segment in segments:
        e, who = segment.emotion, segment.speaker
        mine = timeline[last[who]] if who in last else None
        if mine is not None and mine.label == e.label and last[who] == len(timeline) - 1:
            timeline[-1] = mine.model_copy(update={"end": segment.end, "score": max(mine.score, e.scores[e.label])})
            continue
        if mine is not None and mine.label != e.label:
            events.append(Event(start=segment.start, end=segment.end, kind="emotion_change",
                                label=(f"{who}: " if who else "") + f"{mine.label} -> {e.label}", score=e.scores[e.label]))
        last[who] = len(timeline)
        timeline.append(EmotionSpan(start=segment.start, end=segment.end, label=e.label, score=e.scores[e.label],
                                    speaker=who))
    return timeline, events
