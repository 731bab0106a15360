"""``avpipe eval faces`` and ``avpipe eval objects``: the vision stage's detectors against
annotated images.

References are JSON lines, one image each (the image's file name, matched to the inputs by name):

* faces: ``{"image": "a.png", "faces": [[x, y, w, h], ...], "ignore": [[x, y, w, h], ...]}`` in
  pixels. A found face is right when it and a reference face each hold the other's centre (box
  styles differ between detectors: the cascade's are square, the CNN's taller, so overlap
  thresholds would favour one); each reference face matches once. A found face whose centre lies
  in an ``ignore`` box (a crowd of tiny faces, say) counts neither way.
* objects: ``{"image": "a.png", "objects": ["person", ...], "maybe": ["chair", ...]}``: the COCO
  classes the image clearly shows, and those it shows too small or too ambiguously to require. A
  class found in the image is right when it is in ``objects``, ignored when in ``maybe``, false
  otherwise; presence per image, not boxes.

:func:`evaluate_vision` runs either with a pipeline's ``[vision]`` options, as ``avpipe eval``
does; :func:`unlisted` names the images a reference lacks, before any model loads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from ..options import VisionOptions

Box = tuple[float, float, float, float]


def read_reference(path: str | Path, key: str) -> dict[str, dict]:
    """Image name -> its reference line (``key`` must be in every line)."""
    out = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        item = json.loads(line)
        if "image" not in item or key not in item:
            raise ValueError(f"{path}:{n}: a line needs \"image\" and \"{key}\"")
        out[Path(item["image"]).name] = item
    return out


def read_rgb(path: Path) -> "np.ndarray":
    """An image file as RGB uint8, or ValueError. Read by Pillow: OpenCV's libpng has been seen to
    reject PNGs ("bad parameters to zlib") once other native libraries share the process."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.array(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{path}: not an image ({exc})") from exc


def _inside(point: tuple[float, float], box: Box) -> bool:
    return box[0] <= point[0] <= box[0] + box[2] and box[1] <= point[1] <= box[1] + box[3]


def _centre(box: Box) -> tuple[float, float]:
    return box[0] + box[2] / 2, box[1] + box[3] / 2


def match_faces(found: list[Box], truth: list[Box], ignore: list[Box]) -> dict:
    """True positives, false positives and misses of ``found`` against ``truth`` (pixel boxes)."""
    used: set[int] = set()
    tp = fp = 0
    for box in found:
        hit = next((i for i, t in enumerate(truth)
                    if i not in used and _inside(_centre(box), t) and _inside(_centre(t), box)), None)
        if hit is not None:
            used.add(hit)
            tp += 1
        elif not any(_inside(_centre(box), g) for g in ignore):
            fp += 1
    return {"tp": tp, "fp": fp, "fn": len(truth) - len(used)}


def prf(tp: int, fp: int, fn: int) -> dict:
    """Precision, recall and F1 (1.0 where nothing was there to find or to get wrong)."""
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0}


def evaluate_faces(images: list[Path], reference: dict[str, dict], detector: str, min_face_frac: float,
                   min_confidence: float) -> dict:
    """One face detector over the images: totals, precision/recall/F1 and the per-image counts."""
    from .base import load_faces

    faces = load_faces(min_face_frac, detector, min_confidence)
    rows, totals = [], {"tp": 0, "fp": 0, "fn": 0}
    for path in images:
        ref = reference[path.name]
        found = [box for box, _ in faces.detect(read_rgb(path))]
        counts = match_faces(found, [tuple(b) for b in ref["faces"]], [tuple(b) for b in ref.get("ignore", [])])
        for k in totals:
            totals[k] += counts[k]
        rows.append({"image": path.name, **counts, "found": [list(b) for b in found]})
    return {"detector": detector, "images": len(images), "faces": totals["tp"] + totals["fn"], **totals,
            **prf(**totals), "per_image": rows}


def evaluate_objects(images: list[Path], reference: dict[str, dict], backend: str, model: str | None,
                     min_score: float, device: str = "cpu") -> dict:
    """The object detector over the images: presence precision/recall/F1, overall and per class."""
    from .base import load_objects

    detector = load_objects(backend, model, min_score, device)
    rows, per_class = [], {}
    totals = {"tp": 0, "fp": 0, "fn": 0}
    for path in images:
        ref = reference[path.name]
        things = detector(read_rgb(path))
        found = {t.label for t in things}
        truth, maybe = set(ref["objects"]), set(ref.get("maybe", ()))
        counts = {"tp": len(found & truth), "fp": len(found - truth - maybe), "fn": len(truth - found)}
        for k in totals:
            totals[k] += counts[k]
        for label in found | truth:
            if label in truth:
                outcome = "tp" if label in found else "fn"
            elif label in maybe:
                continue
            else:
                outcome = "fp"
            c = per_class.setdefault(label, {"tp": 0, "fp": 0, "fn": 0})
            c[outcome] += 1
        rows.append({"image": path.name, **counts, "found": [[t.label, t.score] for t in things],
                     "missed": sorted(truth - found), "false": sorted(found - truth - maybe)})
    classes = {k: {**v, **prf(v["tp"], v["fp"], v["fn"])} for k, v in sorted(per_class.items())}
    return {"backend": backend, "min_score": min_score, "images": len(images), **totals, **prf(**totals),
            "per_class": classes, "per_image": rows}


def unlisted(images: Iterable[Path], reference: Mapping[str, dict]) -> list[str]:
    """The file names of ``images`` that ``reference`` has no line for."""
    return [p.name for p in images if p.name not in reference]


def evaluate_vision(what: str, images: list[Path], reference: dict[str, dict], options: "VisionOptions",
                    detector: str | None = None, min_score: float | None = None, device: str = "cpu") -> list[dict]:
    """``what`` ("faces" or "objects") over the images with the vision stage's ``options``: a
    report per face detector (``detector``: "cnn", "haar", "both" for one each, default the
    options'), or the object detector's one report. ``min_score`` stands for the options' least
    confidence (``face_min_confidence``, ``object_min_score``) where given."""
    if what == "faces":
        detectors = ("cnn", "haar") if detector == "both" else (detector or options.face_detector,)
        least = min_score if min_score is not None else options.face_min_confidence
        return [evaluate_faces(images, reference, d, options.min_face_frac, least) for d in detectors]
    least = min_score if min_score is not None else options.object_min_score
    return [evaluate_objects(images, reference, options.object_backend, options.object_model, least, device)]
