"""Vision: right labels on real photos nobody here made, and text finds the right frame."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

PHOTOS = Path("/usr/share/doc/opencv-doc/examples/data")  # Debian's opencv-doc sample images


@pytest.fixture(scope="module")
def photos() -> Path:
    if not (PHOTOS / "orange.jpg").exists():
        pytest.skip("Debian's opencv-doc sample images are not installed (apt-get install opencv-doc)")
    return PHOTOS


@pytest.fixture(scope="module")
def encoder():
    from avpipe.options import VisionOptions
    from avpipe.vision import load_encoder

    return load_encoder(VisionOptions())


def _rgb(path: Path) -> np.ndarray:
    import cv2

    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.mark.parametrize("photo, expected", [
    ("orange.jpg", {"orange"}),
    ("baboon.jpg", {"baboon"}),
    ("squirrel_cls.jpg", {"fox squirrel"}),
    ("butterfly.jpg", {"ringlet", "admiral", "monarch"}),  # all three are butterflies
    ("messi5.jpg", {"soccer ball"}),
])
def test_top1_label_on_real_photos(photos, encoder, photo, expected):
    _, labels = encoder.encode_images([_rgb(photos / photo)])
    assert labels[0] and labels[0][0][0] in expected, labels[0]


def test_embeddings_are_unit_vectors_in_the_text_space(photos, encoder):
    vectors, _ = encoder.encode_images([_rgb(photos / "orange.jpg"), _rgb(photos / "baboon.jpg")])
    texts = encoder.encode_texts(["an orange", "a monkey"])
    assert vectors.shape == (2, 384) and texts.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    similarity = texts @ vectors.T
    assert similarity[0, 0] > similarity[0, 1] and similarity[1, 1] > similarity[1, 0]


@pytest.fixture(scope="module")
def photo_video(photos, tmp_path_factory) -> Path:
    """Four photos, 3 s each, as one 480x270 video (orange, baboon, butterfly, squirrel)."""
    import media

    out = tmp_path_factory.mktemp("photos") / "photos.mp4"
    names = ["orange.jpg", "baboon.jpg", "butterfly.jpg", "squirrel_cls.jpg"]
    cmd = [media.FFMPEG, "-y", "-v", "error"]
    for name in names:
        cmd += ["-loop", "1", "-framerate", "10", "-t", "3", "-i", str(photos / name)]
    scale = "".join(f"[{i}:v]scale=480:270:force_original_aspect_ratio=decrease,pad=480:270:-1:-1,setsar=1[v{i}];"
                    for i in range(len(names)))
    concat = "".join(f"[v{i}]" for i in range(len(names))) + f"concat=n={len(names)}:v=1:a=0[v]"
    cmd += ["-filter_complex", scale + concat, "-map", "[v]", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out)]
    subprocess.run(cmd, check=True, timeout=120)
    return out


def test_text_query_finds_the_right_frame(photo_video, tmp_path, encoder):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "avpipe", "run", str(photo_video), "--out", str(out), "--quiet"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    folder = next(p for p in out.iterdir() if p.is_dir())
    result = json.loads((folder / "result.json").read_text())
    assert [round(s["start"]) for s in result["shots"]] == [0, 3, 6, 9]
    assert result["keyframes"][0]["labels"][0]["label"] == "orange"
    vectors = np.load(folder / "vectors.npz")
    times, frames = vectors["keyframe_t"], vectors["keyframes"].astype(np.float32)
    for query, (start, end) in {"an orange": (0, 3), "a monkey": (3, 6), "a butterfly": (6, 9),
                                "a squirrel": (9, 12)}.items():
        best = times[int(np.argmax(frames @ encoder.encode_texts([query])[0]))]
        assert start <= best < end, (query, best)


def test_bundled_weights_verify():
    proc = subprocess.run([sys.executable, "-m", "avpipe", "models", "verify"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout
    checked = {json.loads(line)["model"]: json.loads(line)["ok"] for line in proc.stdout.splitlines()}
    assert checked == {"tiny.en": True, "base": True, "minilm": True, "efficientnet-lite0": True}
