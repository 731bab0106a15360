"""Speed of the people stage and index: what a face descriptor costs, and how long the people
index of a large folder takes to build and to update.

    .venv/bin/python benchmarks/people.py [--videos 1000] [--repeats 5]

* **Descriptor**: dlib's 5 landmarks + ResNet descriptor per face (the vision stage describes at
  most ``[people] per_track`` sightings per face track), median of ``--repeats`` runs of 20 faces,
  beside the CNN face detector on the same 480x360 frame (what every keyframe already pays).
* **Index**: a folder of ``--videos`` results written for the purpose (4 face tracks and 2
  speakers each, 50 people in all): the first build, an update with nothing new (the common
  case after a batch that changed nothing), and an update after 10 new videos; medians.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def descriptor_seconds(repeats: int) -> tuple[float, float]:
    """Median seconds per face of the descriptor, and per frame of the detector."""
    import numpy as np
    from skimage import data

    from avpipe.vision.base import load_faces
    from avpipe.vision.identity import load_describer

    image = np.ascontiguousarray(data.astronaut()[:360, :480])  # NASA photo, public domain: one face
    detector, describer = load_faces(0.05, "cnn", 0.8), load_describer()
    h, w = image.shape[:2]
    (x, y, bw, bh), _ = detector.detect(image)[0]
    box = (x / w, y / h, bw / w, bh / h)
    per_face, per_frame = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        describer.describe(image, [box] * 20)
        per_face.append((time.perf_counter() - t0) / 20)
        t0 = time.perf_counter()
        for _ in range(5):
            detector.detect(image)
        per_frame.append((time.perf_counter() - t0) / 5)
    return statistics.median(per_face), statistics.median(per_frame)


def index_seconds(videos: int, repeats: int) -> dict:
    """Median seconds of the index's first build, a no-change update and a 10-video update."""
    import numpy as np
    from test_people import _video

    from avpipe.people import update

    rng = np.random.default_rng(0)
    faces = {f"p{n}": rng.normal(0, 0.09, 128).astype(np.float32) for n in range(50)}
    first, unchanged, added = [], [], []
    for _ in range(repeats):
        root = Path(tempfile.mkdtemp(prefix="people-bench-"))
        try:
            import test_people

            test_people.FACES.update(faces)
            for n in range(videos):
                who = [f"p{(n * 7 + k) % 50}" for k in range(4)]
                _video(root, f"v{n:05d}", [(p, [float(2 * k), float(2 * k + 1)]) for k, p in enumerate(who)],
                       [("x", 0.0, 3.0), ("y", 4.0, 6.0)])
            t0 = time.perf_counter()
            update(root)
            first.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            update(root)
            unchanged.append(time.perf_counter() - t0)
            for n in range(videos, videos + 10):
                _video(root, f"v{n:05d}", [(f"p{n % 50}", [0.0, 1.0])], [("x", 0.0, 3.0)])
            t0 = time.perf_counter()
            update(root)
            added.append(time.perf_counter() - t0)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return {"first_build_s": statistics.median(first), "no_change_s": statistics.median(unchanged),
            "ten_new_videos_s": statistics.median(added)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    face, frame = descriptor_seconds(args.repeats)
    print(f"face descriptor: {face * 1000:.1f} ms per face (median of {args.repeats}); the CNN detector on the "
          f"same 480x360 frame: {frame * 1000:.1f} ms; ratio {face / frame:.2f}")
    index = index_seconds(args.videos, max(1, min(args.repeats, 3)))
    print(f"people index of {args.videos} videos ({args.videos * 6} members): first build "
          f"{index['first_build_s']:.2f} s, update with nothing new {index['no_change_s']:.2f} s, "
          f"update after 10 new videos {index['ten_new_videos_s']:.2f} s (medians)")


if __name__ == "__main__":
    main()
