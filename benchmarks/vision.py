"""Vision-stage speed: keyframes per second for the default encoder (EfficientNet-Lite0 with the
ConSE embedding) and for face detection + expression, on the same images, in one run.

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
    from avpipe.vision.base import load_faces

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=VisionOptions.batch_size)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    batch = images(args.images)
    encoder = load_encoder(VisionOptions(batch_size=args.batch))
    faces = load_faces(VisionOptions.min_face_frac)
    encoder.encode_images(batch[: args.batch])  # warm-up
    runs = {"encoder (labels + embedding)": lambda: encoder.encode_images(batch),
            "faces (detect + expression)": lambda: [faces(img) for img in batch]}
    print(f"{args.images} images at 480x270 -> 224 px crops; batch {args.batch}; {args.threads} threads")
    total = 0.0
    for name, fn in runs.items():
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        median = statistics.median(times)
        total += median
        print(f"{name:<30} {args.images / median:7.1f} keyframes/s")
    print(f"{'whole vision stage':<30} {args.images / total:7.1f} keyframes/s")


if __name__ == "__main__":
    main()
