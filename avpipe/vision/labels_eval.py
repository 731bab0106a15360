"""``avpipe eval labels``: the vision encoder's ImageNet labels against subjects that people
named, read through WordNet (:mod:`avpipe.vision.hierarchy`).

A reference is JSON lines, one photo each: ``{"image": "photos/a.jpg", "label": "monkey"}``
(``"photo"`` is read as ``"image"``; the path relative to the file), optionally with
``"split"`` (``dev``/``test``; :func:`evaluate_labels` takes one). The label is a noun of the
photo's main subject, as its source named it; it names one or more WordNet synsets.

Scored per photo:

- **top-1 / top-5**, hypernym-aware: a predicted class is right when it lies under the named
  synset (a baboon for "monkey", a tabby for "cat"), as ImageNet's own hierarchy says.
- **what the frame is said to show**, three ways on the same predictions:
  ``top1`` (the top label whatever its score: what keyframes showed before concepts),
  ``top1_sure`` (the top label only when its score reaches :data:`~avpipe.vision.hierarchy.SURE`,
  else nothing: abstention without WordNet, the baseline), and ``concept`` (the keyframe's
  ``concept``: the top label when sure, else a sure hypernym). Each answer is ``right`` (under
  the named synset), ``general`` (a hypernym of it: "mammal" for an elephant: true, less
  precise), ``wrong``, or ``silent``.

A label that names no synset of the table (the 1,000 classes and the synsets above them, plus
familiar nouns below those) cannot be scored and is counted as ``unscorable``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..options import VisionOptions


def read_labels(path: str | Path, split: str | None = None) -> list[dict]:
    """The reference photos (absolute paths) with their labels, of ``split`` when given."""
    from ..evaluate import json_lines

    path = Path(path)
    items = []
    for n, item in json_lines(path):
        image = item.get("image") or item.get("photo")
        if not image:
            raise ValueError(f"{path}:{n}: a line needs \"image\" (or \"photo\")")
        if split is not None and item.get("split") != split:
            continue
        items.append({**item, "image": str((path.parent / image).resolve())})
    return items


def named_synsets(label: str) -> tuple[str, ...]:
    """The synsets a reference noun names: the whole phrase, else its head (last) word."""
    from .hierarchy import query_concepts

    found = query_concepts(label)
    whole = [s for words, s in found if words.replace("-", " ") == label.lower().replace("-", " ")]
    named = whole[0] if whole else (found[-1][1] if found else ())
    return tuple(s for s in named if not s.startswith("coco:"))  # a detector's class: no ImageNet label is one


def judge(said: str | None, truth: tuple[str, ...]) -> str:
    """``right``, ``general``, ``wrong`` or ``silent`` for one answer (a synset id or None)."""
    from .hierarchy import ancestors

    if said is None:
        return "silent"
    if set(truth) & ancestors(said):
        return "right"
    if any(said in ancestors(t) for t in truth):
        return "general"
    return "wrong"


def evaluate_labels(items: list[dict], options: "VisionOptions", device: str = "cpu") -> dict:
    """The report: per photo rows and the summary (see the module's docstring)."""
    import numpy as np
    from PIL import Image

    from ..schema import Label
    from . import load_encoder
    from .hierarchy import SURE, name, sure_label

    encoder = load_encoder(options, device)
    rows = []
    for item in items:
        truth = named_synsets(item["label"]) if item.get("label") else ()
        if not truth:
            rows.append({"image": Path(item["image"]).name, "label": item.get("label"), "unscorable": True})
            continue
        with Image.open(item["image"]) as img:
            rgb = np.array(img.convert("RGB"))
        _, found, _ = encoder.encode_images([rgb])
        labels = [Label(label=f[0], score=f[1], id=f[2] if len(f) > 2 else None) for f in found[0]]
        ids = [label.id for label in labels]
        concept = sure_label(labels)
        top = labels[0] if labels else None
        rows.append({
            "image": Path(item["image"]).name, "label": item["label"],
            "top": [[label.label, label.score] for label in labels],
            "top1_hit": bool(ids) and judge(ids[0], truth) == "right",
            "top5_hit": any(judge(i, truth) == "right" for i in ids[:5]),
            "top1": judge(top.id if top else None, truth),
            "top1_sure": judge(top.id if top and top.score >= SURE else None, truth),
            "concept": judge(concept.id if concept else None, truth),
            "concept_said": name(concept.id) if concept else None,
        })
    scored = [r for r in rows if not r.get("unscorable")]
    n = len(scored)
    summary: dict = {"photos": len(rows), "scored": n, "unscorable": len(rows) - n,
                     "backend": getattr(encoder, "name", options.backend)}
    if n:
        summary["top1"] = round(sum(r["top1_hit"] for r in scored) / n, 3)
        summary["top5"] = round(sum(r["top5_hit"] for r in scored) / n, 3)
        for way in ("top1", "top1_sure", "concept"):
            summary[f"said_{way}"] = {kind: sum(r[way] == kind for r in scored)
                                      for kind in ("right", "general", "wrong", "silent")}
    return {"summary": summary, "rows": rows}
