"""Text emotion head: seven classes (MELD's: anger, disgust, fear, joy, neutral, sadness,
surprise) on features of the bundled MiniLM sentence encoder.

Features: the mean-pooled token states of each of MiniLM's six layers plus the last layer's
first token (7 x 384 = 2,688 numbers). The sentence embedding alone (the last layer, mean
pooled) loses much of what says *how* something is said; the lower layers keep punctuation and
interjections ("What?!", "Oh my God"), which is most of the signal in short spoken lines.

Head: standardise, one hidden layer (GELU), seven logits. It is trained on Reddit comments
(GoEmotions mapped to Ekman) but meets conversational speech, whose label prior differs, so it is
calibrated on MELD dev: a 7x7 matrix scaling of the log-probabilities, then per-class offsets
that maximise weighted F1. MELD test is never read in training. Trained by ``avpipe train text-emotion``; the weights
(safetensors) and their provenance (JSON, with the sha256 that the loader checks) ship in
``avpipe/understand/weights/``.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..models import ModelChecksumError, sha256_of

if TYPE_CHECKING:
    import numpy as np
    import torch

LABELS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")
WEIGHTS = "text_emotion.safetensors"
CARD = "text_emotion.json"


def weights_dir() -> Path:
    """The folder the shipped weights live in (inside the package)."""
    return Path(str(resources.files("avpipe.understand"))) / "weights"


def clean(text: str) -> str:
    """Typographic quotes to plain ones: MELD's transcripts use both, GoEmotions plain ones."""
    return text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"').strip()


# --------------------------------------------------------------------------- features


class LayerFeatures:
    """MiniLM's per-layer mean-pooled states (+ last-layer first token) for a list of texts."""

    def __init__(self, text_encoder) -> None:
        st = text_encoder.model  # the SentenceTransformer
        self.tokenizer = st.tokenizer
        self.transformer = st[0].auto_model
        self.device = st.device

    def __call__(self, texts: list[str], batch_size: int = 128) -> "np.ndarray":
        import numpy as np
        import torch

        out = []
        for lo in range(0, len(texts), batch_size):
            batch = self.tokenizer([clean(t) for t in texts[lo : lo + batch_size]], padding=True, truncation=True,
                                   max_length=128, return_tensors="pt").to(self.device)
            with torch.inference_mode():
                states = self.transformer(**batch, output_hidden_states=True).hidden_states[1:]
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = [(h * mask).sum(1) / mask.sum(1).clamp(min=1) for h in states]
            out.append(torch.cat([*pooled, states[-1][:, 0]], -1).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 7 * 384), np.float32)


# --------------------------------------------------------------------------- the head


def build_head(in_dim: int, hidden: int) -> "torch.nn.Module":
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(in_dim, hidden), torch.nn.GELU(), torch.nn.Dropout(0.2), torch.nn.Linear(hidden, len(LABELS)))


class TextEmotion:
    """The shipped (or a trained) head: texts -> probabilities over :data:`LABELS`."""

    def __init__(self, text_encoder, folder: Path | None = None) -> None:
        from safetensors.torch import load_file

        folder = folder or weights_dir()
        card = json.loads((folder / CARD).read_text(encoding="utf-8"))
        path = folder / WEIGHTS
        digest = sha256_of(path)
        if digest != card["sha256"]:
            raise ModelChecksumError(f"{path}: sha256 {digest} differs from the card's {card['sha256']}")
        tensors = load_file(str(path))
        self.card = card
        self.mean, self.std = tensors.pop("mean").float(), tensors.pop("std").float()
        self.matrix = tensors.pop("calibration_matrix").float()
        self.bias = tensors.pop("calibration").float()
        self.head = build_head(self.mean.numel(), card["hidden"])
        self.head.load_state_dict({k: v.float() for k, v in tensors.items()})
        self.head.eval()
        self.features = LayerFeatures(text_encoder)

    def logits(self, features: "np.ndarray") -> "np.ndarray":
        import torch

        with torch.inference_mode():
            x = (torch.from_numpy(features).float() - self.mean) / self.std
            return (self.head(x).log_softmax(-1) @ self.matrix + self.bias).numpy()

    def __call__(self, texts: list[str]) -> "np.ndarray":
        """Probabilities [N, 7] (rows sum to 1), calibrated."""
        import torch

        if not texts:
            import numpy as np

            return np.zeros((0, len(LABELS)), np.float32)
        return torch.from_numpy(self.logits(self.features(texts))).softmax(1).numpy()


# --------------------------------------------------------------------------- data


def read_goemotions(path: Path) -> tuple[list[str], "np.ndarray"]:
    """GoEmotions-Ekman TSV: text, comma-separated label ids, comment id. Multi-label rows become
    soft targets (each label an equal share)."""
    import numpy as np

    texts, targets = [], []
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            ids = [int(i) for i in row[1].split(",")]
            target = np.zeros(len(LABELS), np.float32)
            target[ids] = 1.0 / len(ids)
            texts.append(row[0])
            targets.append(target)
    return texts, np.stack(targets)


def read_meld(path: Path) -> tuple[list[str], "np.ndarray"]:
    """MELD CSV: utterances and their label ids."""
    import numpy as np

    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["Utterance"] for r in rows], np.array([LABELS.index(r["Emotion"]) for r in rows])


def weighted_f1(truth: "np.ndarray", predicted: "np.ndarray") -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(truth, predicted, average="weighted", labels=list(range(len(LABELS))), zero_division=0))


# --------------------------------------------------------------------------- training


@dataclass(frozen=True)
class TrainOptions:
    # Hidden units of the head (the weights are about hidden x 2,688 half floats).
    hidden: int = 512
    # Passes over GoEmotions train, batch size, AdamW learning rate and weight decay.
    epochs: int = 6
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-2
    # Heads trained with seeds seed, seed+1, ...; the best on MELD dev (calibrated) is kept.
    seed: int = 0
    seeds: int = 3
    # Train on only this many rows (tests); None: all.
    limit: int | None = None


def calibrate(logits: "np.ndarray", truth: "np.ndarray", rounds: int = 3) -> tuple["np.ndarray", float]:
    """Per-class logit offsets that maximise weighted F1 on a calibration set (coordinate
    ascent over a grid, neutral's offset fixed at 0): the cure for a label prior that differs
    between the training data and the speech it meets."""
    import numpy as np

    bias = np.zeros(len(LABELS), np.float32)
    best = weighted_f1(truth, logits.argmax(1))
    grid = np.linspace(-3, 3, 61, dtype=np.float32)
    for _ in range(rounds):
        for c in range(len(LABELS)):
            if LABELS[c] == "neutral":
                continue
            for value in grid:
                trial = bias.copy()
                trial[c] = value
                score = weighted_f1(truth, (logits + trial).argmax(1))
                if score > best + 1e-9:
                    best, bias = score, trial
    return bias, best


def matrix_scaling(logits: "np.ndarray", truth: "np.ndarray", l2: float = 1e-2) -> tuple["np.ndarray", "np.ndarray"]:
    """Matrix scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks"): a 7x7 map
    and offsets on the log-probabilities, fit by cross-entropy on the calibration set, held near
    the identity by an L2 pull (56 numbers fit on 1,109 utterances)."""
    import numpy as np
    import torch

    z = torch.from_numpy(logits).float().log_softmax(1)
    t = torch.from_numpy(truth)
    eye = torch.eye(len(LABELS))
    w = eye.clone().requires_grad_(True)
    b = torch.zeros(len(LABELS), requires_grad=True)
    optimizer = torch.optim.LBFGS([w, b], max_iter=200)

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(z @ w + b, t) + l2 * ((w - eye) ** 2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return w.detach().numpy().astype(np.float32), b.detach().numpy().astype(np.float32)


def _fit_head(xs: "torch.Tensor", ys: "torch.Tensor", options: "TrainOptions", seed: int,
              log: Callable[[str], None]) -> "torch.nn.Module":
    import torch

    torch.manual_seed(seed)
    head = build_head(xs.shape[1], options.hidden)
    optimizer = torch.optim.AdamW(head.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(options.epochs):
        head.train()
        order = torch.randperm(len(xs), generator=generator)
        total = 0.0
        for lo in range(0, len(xs), options.batch_size):
            idx = order[lo : lo + options.batch_size]
            loss = -(ys[idx] * head(xs[idx]).log_softmax(-1)).sum(-1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        log(f"seed {seed} epoch {epoch + 1}/{options.epochs}: loss {total / len(xs):.4f}")
    return head.eval()


def train(data_dir: Path, meld_dev: Path, out: Path, options: TrainOptions = TrainOptions(),
          text_encoder=None, log: Callable[[str], None] = print) -> dict:
    """Train ``options.seeds`` heads on GoEmotions-Ekman ``train.tsv``, calibrate each on MELD
    dev (matrix scaling, then per-class offsets for weighted F1), keep the one that scores best
    on MELD dev, and write its weights and card into ``out``. Returns the card.

    MELD test is never read here: it stays the held-out benchmark of ``avpipe eval``.
    """
    import torch
    from safetensors.torch import save

    from ..atomic import atomic_write_bytes, atomic_write_text

    from ..vision.text import load_text

    t0 = time.perf_counter()
    text_encoder = text_encoder or load_text()
    featurize = LayerFeatures(text_encoder)
    texts, targets = read_goemotions(data_dir / "train.tsv")
    if options.limit:
        texts, targets = texts[: options.limit], targets[: options.limit]
    log(f"features of {len(texts)} GoEmotions train texts ...")
    x = featurize(texts)
    mean, std = x.mean(0), x.std(0) + 1e-6
    xs, ys = torch.from_numpy((x - mean) / std), torch.from_numpy(targets)
    dev_texts, dev_targets = read_goemotions(data_dir / "dev.tsv")
    dev_x = (featurize(dev_texts) - mean) / std
    meld_texts, meld_truth = read_meld(meld_dev)
    meld_x = (featurize(meld_texts) - mean) / std

    best = None
    for seed in range(options.seed, options.seed + options.seeds):
        head = _fit_head(xs, ys, options, seed, log)
        with torch.inference_mode():
            go_logits = head(torch.from_numpy(dev_x)).numpy()
            meld_logits = head(torch.from_numpy(meld_x)).numpy()
        w, b = matrix_scaling(meld_logits, meld_truth)
        scaled = (torch.from_numpy(meld_logits).log_softmax(1).numpy() @ w) + b
        offsets, calibrated = calibrate(scaled, meld_truth)
        scores = {"goemotions_dev_weighted_f1": round(weighted_f1(dev_targets.argmax(1), go_logits.argmax(1)), 4),
                  "meld_dev_weighted_f1_raw": round(weighted_f1(meld_truth, meld_logits.argmax(1)), 4),
                  "meld_dev_weighted_f1_calibrated": round(calibrated, 4)}
        log(f"seed {seed}: {scores}")
        if best is None or calibrated > best[0]:
            best = (calibrated, seed, head, w, b + offsets, offsets, scores)
    _, seed, head, w, bias, offsets, scores = best

    tensors = {k: v.detach().to(torch.float16).contiguous() for k, v in head.state_dict().items()}
    tensors.update(mean=torch.from_numpy(mean).to(torch.float16), std=torch.from_numpy(std).to(torch.float16),
                   calibration_matrix=torch.from_numpy(w), calibration=torch.from_numpy(bias))
    atomic_write_bytes(out / WEIGHTS, save(tensors))
    card = {
        "labels": list(LABELS),
        "features": "all-MiniLM-L6-v2: mean-pooled states of layers 1-6 + last-layer first token (2688)",
        "hidden": options.hidden,
        "training": {"data": "GoEmotions (Demszky et al. 2020) mapped to Ekman + neutral, train split; "
                             "from monologg/GoEmotions-pytorch; Apache-2.0",
                     "rows": len(texts), "options": options.__dict__, "kept_seed": seed},
        "calibration": {"data": "MELD dev_sent_emo.csv (Poria et al. 2019; GPL-3.0, not shipped): a 7x7 matrix "
                                "scaling of the log-probabilities, then per-class offsets for weighted F1; "
                                "also used to pick the best of the trained seeds",
                        "offsets": [round(float(v), 3) for v in offsets]},
        "scores": scores,
        "seconds": round(time.perf_counter() - t0, 1),
        "sha256": sha256_of(out / WEIGHTS),
    }
    atomic_write_text(out / CARD, json.dumps(card, indent=2) + "\n")
    return card


def evaluate(meld_csv: Path, head: TextEmotion) -> dict:
    """Weighted F1, per-class F1 and the confusion matrix (rows: truth, columns: predicted)."""
    from sklearn.metrics import classification_report, confusion_matrix

    texts, truth = read_meld(meld_csv)
    predicted = head(texts).argmax(1)
    report = classification_report(truth, predicted, labels=list(range(len(LABELS))), target_names=list(LABELS),
                                   output_dict=True, zero_division=0)
    return {"rows": len(texts), "weighted_f1": round(weighted_f1(truth, predicted), 4),
            "per_class_f1": {name: round(report[name]["f1-score"], 4) for name in LABELS},
            "labels": list(LABELS),
            "confusion": confusion_matrix(truth, predicted, labels=list(range(len(LABELS)))).tolist()}
