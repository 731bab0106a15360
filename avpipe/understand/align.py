"""``avpipe train align``: contrastive training of the fusion's query/key projections.

Each speech segment of a processed video is paired with the keyframes of its time window (the
same window the hybrid fusion attends over). The query is the segment's text embedding with its
prosody; the key is the mean of its window frames' projected keys (frame embedding with face
scores). InfoNCE (symmetric, as in CLIP) pulls each segment towards its own window and away from
the other segments' windows in the batch; an L2 pull towards the starting (identity)
projections keeps what already works in the shared space.

Held-out segments (whole videos when there are three or more, else a fifth of the segments)
measure retrieval before and after: recall@1 is the share of held-out segments whose own window
is the nearest of all held-out windows.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .fusion import EMOTIONS, Fusion, face_scores, prosody_matrix, windows


@dataclass(frozen=True)
class AlignOptions:
    # Passes over the training segments (full batch: the data of a handful of videos is small).
    epochs: int = 200
    lr: float = 1e-3
    # InfoNCE temperature; the fusion attends at the same one.
    tau: float = 0.05
    # Strength of the pull towards the starting projections.
    l2: float = 1e-2
    # The update to each projection has this rank (a small adapter on the identity: a handful
    # of videos cannot fit a full 384 x 388 matrix without learning them by heart).
    rank: int = 8
    # A segment's positive frames: those within its span +- this many seconds (the nearest one
    # when none is); 0 pairs a segment with what is on screen while it is said.
    window_s: float = 0.0
    seed: int = 0


@dataclass
class Pairs:
    video: list[str]
    queries: torch.Tensor  # [N, D + 4]
    keys: list[torch.Tensor]  # per segment: [k, D + 7] its window's frames


def load_pairs(folders: list[Path], window_s: float) -> Pairs:
    """Segment-window pairs from result folders (each with result.json and vectors.npz)."""
    import numpy as np

    from ..schema import Result

    video, queries, keys = [], [], []
    for folder in folders:
        npz = folder / "vectors.npz"
        if not (folder / "result.json").is_file() or not npz.is_file():
            continue
        result = Result.model_validate_json((folder / "result.json").read_text(encoding="utf-8"))
        arrays = np.load(npz)
        if "segments" not in arrays or "keyframes" not in arrays or not len(arrays["keyframe_t"]):
            continue
        segments = result.transcript.segments
        text = torch.from_numpy(arrays["segments"].astype(np.float32))
        frames = torch.from_numpy(arrays["keyframes"].astype(np.float32))
        frame_t = arrays["keyframe_t"]
        encoded = result.keyframes_at(frame_t)
        face_p, _ = face_scores(encoded) if all(encoded) else (torch.zeros(len(frame_t), len(EMOTIONS)), None)
        mask = windows(np.array([[s.start, s.end] for s in segments]), frame_t, window_s)
        q = torch.cat([text, prosody_matrix(segments)], -1)
        k = torch.cat([frames, face_p], -1)
        for i in range(len(segments)):
            video.append(result.video.video_id)
            queries.append(q[i])
            keys.append(k[mask[i]])
    if not queries:
        raise ValueError("no processed videos with speech segments and keyframes in the given folders")
    return Pairs(video=video, queries=torch.stack(queries), keys=keys)


def _encode(wq: torch.Tensor, wk: torch.Tensor, pairs: Pairs, index: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit queries [n, D] and unit window keys [n, D] (mean of the window's frame keys)."""
    q = torch.nn.functional.normalize(pairs.queries[index] @ wq.T, dim=-1)
    k = torch.stack([torch.nn.functional.normalize(pairs.keys[i] @ wk.T, dim=-1).mean(0) for i in index])
    return q, torch.nn.functional.normalize(k, dim=-1)


def recall_at_1(wq: torch.Tensor, wk: torch.Tensor, pairs: Pairs, index: list[int]) -> float:
    """Share of ``index``'s segments whose own window is the nearest among theirs."""
    with torch.no_grad():
        q, k = _encode(wq, wk, pairs, index)
        return float(((q @ k.T).argmax(-1) == torch.arange(len(index))).float().mean())


def split(pairs: Pairs, seed: int) -> tuple[list[int], list[int]]:
    """Train and held-out segment indices: whole videos held out when there are 3 or more."""
    rng = random.Random(seed)
    videos = sorted(set(pairs.video))
    if len(videos) >= 3:
        held = set(rng.sample(videos, max(1, len(videos) // 3)))
        test = [i for i, v in enumerate(pairs.video) if v in held]
    else:
        test = sorted(rng.sample(range(len(pairs.video)), max(2, len(pairs.video) // 5)))
    train = [i for i in range(len(pairs.video)) if i not in set(test)]
    return train, test


def train_align(folders: list[Path], out: Path, options: AlignOptions = AlignOptions(),
                log: Callable[[str], None] = print) -> dict:
    """Train the projections on ``folders``, save them to ``out`` (safetensors) with a JSON
    report beside it, and return the report (loss curve, recall@1 before and after)."""
    from safetensors.torch import save

    from ..atomic import atomic_write_bytes, atomic_write_text

    t0 = time.perf_counter()
    torch.manual_seed(options.seed)
    pairs = load_pairs(folders, options.window_s)
    train, test = split(pairs, options.seed)
    if len(train) < 2:
        raise ValueError(f"only {len(train)} training segments: process more videos first")
    model = Fusion(dim=pairs.queries.shape[1] - 4, tau=options.tau)
    q0, k0 = model.query.weight.detach(), model.key.weight.detach()
    # low-rank updates W = W0 + U V: U starts at zero, so training starts at the identity projections
    g = torch.Generator().manual_seed(options.seed)
    adapters = [torch.zeros(w.shape[0], options.rank) for w in (q0, k0)]
    adapters += [torch.randn(options.rank, w.shape[1], generator=g) / w.shape[1] ** 0.5 for w in (q0, k0)]
    uq, uk, vq, vk = (a.requires_grad_(True) for a in adapters)
    before = recall_at_1(q0, k0, pairs, test)
    optimizer = torch.optim.Adam([uq, uk, vq, vk], lr=options.lr)
    target = torch.arange(len(train))
    losses = []
    for epoch in range(options.epochs):
        dq, dk = uq @ vq, uk @ vk
        q, k = _encode(q0 + dq, k0 + dk, pairs, train)
        logits = q @ k.T / options.tau
        loss = (torch.nn.functional.cross_entropy(logits, target) + torch.nn.functional.cross_entropy(logits.T, target)) / 2
        optimizer.zero_grad()
        (loss + options.l2 * ((dq**2).sum() + (dk**2).sum())).backward()
        optimizer.step()
        losses.append(round(float(loss.detach()), 4))
        if epoch % max(1, options.epochs // 10) == 0 or epoch == options.epochs - 1:
            log(f"epoch {epoch + 1}/{options.epochs}: InfoNCE {losses[-1]:.4f}")
    wq, wk = (q0 + uq @ vq).detach(), (k0 + uk @ vk).detach()
    after = recall_at_1(wq, wk, pairs, test)
    report = {"videos": len(set(pairs.video)), "train_segments": len(train), "held_out_segments": len(test),
              "held_out_videos": sorted({pairs.video[i] for i in test}),
              "recall_at_1_before": round(before, 4), "recall_at_1_after": round(after, 4),
              "train_recall_at_1_before": round(recall_at_1(q0, k0, pairs, train), 4),
              "train_recall_at_1_after": round(recall_at_1(wq, wk, pairs, train), 4),
              "loss_first": losses[0], "loss_last": losses[-1], "losses": losses[:: max(1, len(losses) // 20)],
              "options": options.__dict__, "seconds": round(time.perf_counter() - t0, 2)}
    atomic_write_bytes(out, save({"query.weight": wq.contiguous(), "key.weight": wk.contiguous()}))
    atomic_write_text(out.with_suffix(".json"), json.dumps(report, indent=2) + "\n")
    log(f"recall@1 on {len(test)} held-out segments: {before:.3f} before, {after:.3f} after")
    return report


def result_folders(paths: list[str]) -> list[Path]:
    """Result folders under ``paths`` (an ``avpipe run`` output folder or result folders)."""
    found = []
    for raw in paths:
        path = Path(raw)
        if (path / "result.json").is_file():
            found.append(path)
        else:
            found.extend(sorted(p.parent for p in path.glob("*/result.json")))
    return found
