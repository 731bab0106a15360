"""Vision-stage speed: keyframes per second for the default encoder (EfficientNet-Lite0 with the
ConSE embedding), face detection + expression (the CNN default and the Haar cascade it replaced,
as a ratio) and object detection (YOLOv3-tiny, two passes), on the same images, in one run.

Images are real photos (Debian's opencv-doc samples when installed, else the sample videos'
keyframes), resized to 480x270 like the keyframe JPEGs the stage reads. The median of
``--repeat`` passes over ``--images`` images is reported.

    .venv/bin/python benchmarks/vision.py [--images 64] [--repeat 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

PHOTOS = Path("/usr/share/doc/opencv-doc/examples/data")


def images(n: int):
    import cv2

    files = sorted(PHOTOS.glob("*.jpg")) if PHOTOS.exists() else []
    if not files:
        raise SystemExit("needs Debian's opencv-doc sample photos (apt-get install opencv-doc)")
    out = []
    while len(out) < n:
        for f in files:
            img = cv2.imread(str(f))
            if img is not None and len(out) < n:
                out.append(cv2.cvtColor(cv2.resize(img, (480, 270), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB))
    return out


def main() -> None:
    import torch

    from avpipe.options import VisionOptions
    from avpipe.vision import load_encoder
    from avpipe.vision.base import load_faces, load_objects

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=VisionOptions.batch_size)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    batch = images(args.images)
    encoder = load_encoder(VisionOptions(batch_size=args.batch))
    o = VisionOptions()
    faces = load_faces(o.min_face_frac, "cnn", o.face_min_confidence)
    haar = load_faces(o.min_face_frac, "haar", o.face_min_confidence)
    objects = load_objects(o.object_backend, o.object_model, o.object_min_score)
    encoder.encode_images(batch[: args.batch])  # warm-up
    objects(batch[0])
    runs = {"encoder (labels + embedding)": lambda: encoder.encode_images(batch),
            "faces, CNN (detect + expression)": lambda: [faces(img) for img in batch],
            "objects (YOLOv3-tiny, 2 passes)": lambda: [objects(img) for img in batch]}
    baseline = {"faces, Haar (the previous default)": lambda: [haar(img) for img in batch]}
    print(f"{args.images} images at 480x270 -> 224 px crops; batch {args.batch}; {args.threads} threads")
    total, medians = 0.0, {}
    for name, fn in {**runs, **baseline}.items():
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        medians[name] = statistics.median(times)
        total += medians[name] if name in runs else 0.0
        print(f"{name:<36} {args.images / medians[name]:7.1f} keyframes/s")
    print(f"{'whole vision stage (default)':<36} {args.images / total:7.1f} keyframes/s")
    ratio = medians["faces, CNN (detect + expression)"] / medians["faces, Haar (the previous default)"]
    print(f"CNN faces take {ratio:.2f}x the Haar cascade's time")


if __name__ == "__main__":
    main()
