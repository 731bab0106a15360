"""Captions and visual questions with a vision-language model, and the GPU profile.

No VLM weights install offline, so these run the real code paths (transformers'
``AutoModelForImageTextToText``, Qwen2.5-VL's processor and chat template) on a tiny random
Qwen2.5-VL (:mod:`avpipe.vision.random_models`). Its words are random ("w443 w27 ..."), so the
checks are about where captions go, not what they say."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from avpipe.config import load_pipeline, parse_pipeline
from avpipe.errors import PipelineConfigError
from avpipe.schema import Result

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_videos"


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "avpipe", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def vlm_folder(tmp_path_factory) -> Path:
    from avpipe.vision.random_models import save_tiny_vlm

    return save_tiny_vlm(tmp_path_factory.mktemp("vlm") / "tiny-qwen2.5-vl")


@pytest.fixture(scope="module")
def captioned(tmp_path_factory, vlm_folder) -> Path:
    """sample_videos/ processed with the captions stage (and the VLM writing the summary)."""
    default = (ROOT / "pipelines" / "default.toml").read_text(encoding="utf-8")
    text = default.replace('"vision", "speech"', '"vision", "captions", "speech"').replace('name = "default"',
                                                                                          'name = "captioned"')
    text = text.replace('backend = "extractive"      #', f'backend = "transformers"\nmodel = "{vlm_folder}"\n#')
    text += f'\n[captions]\nmodel = "{vlm_folder}"\nmax_new_tokens = 6\nbatch_size = 2\n'
    pipeline = tmp_path_factory.mktemp("p") / "captioned.toml"
    pipeline.write_text(text, encoding="utf-8")
    out = tmp_path_factory.mktemp("captioned") / "out"
    proc = _cli("run", str(SAMPLES), "--out", str(out), "--pipeline", str(pipeline), "--quiet", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    return out


def _results(out: Path) -> dict[str, tuple[Path, Result]]:
    return {p.parent.name.split("-")[0]: (p.parent, Result.model_validate_json(p.read_text(encoding="utf-8")))
            for p in out.glob("*/result.json")}


def test_one_caption_per_shot_on_its_first_keyframe(captioned, vlm_folder):
    for name, (folder, r) in _results(captioned).items():
        assert not r.errors, (name, r.errors)
        assert r.stages["captions"].status == "ok" and r.stages["captions"].model == str(vlm_folder)
        captioned_shots = [k.shot for k in r.keyframes if k.caption]
        assert sorted(captioned_shots) == list(range(len(r.shots))), name  # each shot once
        for i in range(len(r.shots)):
            first = min((k for k in r.keyframes if k.shot == i), key=lambda k: k.t)
            assert first.caption and all(w.startswith("w") for w in first.caption.split())
        events = [e for e in r.events if e.kind == "caption"]
        spans = {(s.start, s.end) for s in r.shots}
        assert events and all((e.start, e.end) in spans for e in events)
        arrays = np.load(folder / "vectors.npz")
        assert len(arrays["caption_t"]) == len(r.shots) and arrays["captions"].shape[1] == arrays["keyframes"].shape[1]


def test_captions_depend_on_the_picture(captioned):
    """Different shots get different words (a model that ignored the image would not)."""
    captions = {k.caption for _, r in _results(captioned).values() for k in r.keyframes if k.caption}
    assert len(captions) >= 3


def test_search_finds_a_caption_in_its_own_shot(captioned):
    r_folder, r = _results(captioned)["three_shots"]
    target = next(k for k in r.keyframes if k.shot == 1 and k.caption)
    proc = _cli("search", target.caption, "--index", str(captioned), "--modality", "frames", "-k", "3")
    assert proc.returncode == 0, proc.stderr
    best = json.loads(proc.stdout.splitlines()[0])
    shot = r.shots[1]
    assert best["video_id"] == r.video.video_id and target.caption in best["text"]
    # the moment is the captioned shot (same-caption shots of this video may join it), not the whole video
    same = [r.shots[k.shot] for k in r.keyframes if k.caption == target.caption]
    assert any(s.start - 0.01 <= best["start"] <= shot.start + 0.01 for s in same)
    assert best["end"] <= max(s.end for s in same) + 0.01


def test_summary_and_prompt_read_the_captions(captioned, vlm_folder):
    from avpipe.understand.summary import timeline_prompt

    for _, r in _results(captioned).values():
        prompt = timeline_prompt(r)
        assert all(k.caption in prompt for k in r.keyframes if k.caption)
        assert r.summary.method == str(vlm_folder) and r.summary.text  # the VLM's language side wrote it


def test_visual_summary_and_chapters_use_captions():
    from avpipe.options import SummaryOptions
    from avpipe.schema import Event, Keyframe, Shot, VideoInfo
    from avpipe.understand.summary import visual_summary

    r = Result(video=VideoInfo(path="x.mp4", video_id="x", duration_s=30.0, has_audio=False, has_video=True),
               shots=[Shot(start=0, end=10), Shot(start=10, end=30)],
               keyframes=[Keyframe(t=1, shot=0, caption="A dog runs on a beach."),
                          Keyframe(t=12, shot=1, caption="A man reads a newspaper")],
               events=[Event(start=0, end=10, kind="caption", label="A dog runs on a beach."),
                       Event(start=10, end=30, kind="caption", label="A man reads a newspaper")])
    s = visual_summary(r, SummaryOptions(min_chapter_s=5))
    assert "A dog runs on a beach." in s.text and "A man reads a newspaper." in s.text
    assert [h.text for h in s.highlights] == ["A dog runs on a beach. (0:00)", "A man reads a newspaper (0:10)"]
    assert s.chapters and s.chapters[0].title == "A dog runs on a beach"  # an untitled chapter takes its caption


def test_caption_closeness_weights_what_is_said_about_what_is_seen():
    from avpipe.schema import Keyframe, Segment, Shot, Transcript, VideoInfo
    from avpipe.understand.summary import caption_closeness

    r = Result(video=VideoInfo(path="x.mp4", video_id="x", duration_s=60.0, has_audio=False, has_video=True),
               transcript=Transcript(segments=[Segment(start=0, end=4, text="a"), Segment(start=40, end=44, text="b")]),
               shots=[Shot(start=0, end=20), Shot(start=20, end=60)], keyframes=[Keyframe(t=1, shot=0)])
    vectors = np.array([[1.0, 0.0], [1.0, 0.0]], np.float32)
    spans = [(s.start, s.end) for s in r.transcript.segments]
    out = caption_closeness(r, spans, vectors, np.array([1.0], np.float32), np.array([[0.6, 0.8]], np.float32))
    assert out[0] == pytest.approx(0.6) and out[1] == 0.0  # the second segment is 20 s past the shot


def test_fusion_takes_captions_as_text_evidence():
    import torch

    from avpipe.stages.base import CaptionVectors
    from avpipe.stages.fusion import with_captions

    frames = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    mixed = with_captions(frames, np.array([0.5, 2.0], np.float32),
                          CaptionVectors(t=np.array([2.0], np.float32), vectors=np.array([[1.0, 0.0]], np.float16)))
    assert torch.equal(mixed[0], frames[0])  # no caption: unchanged
    assert torch.allclose(mixed[1], torch.tensor([0.7071, 0.7071]), atol=1e-4)
    assert torch.equal(frames[1], torch.tensor([0.0, 1.0]))  # the input is not changed


def test_ask_with_a_vlm_looks_at_keyframes_and_cites_them(captioned, vlm_folder):
    folder, r = _results(captioned)["nasa_13013"]
    proc = _cli("ask", str(folder), "Where is the telescope?", "--device", "cpu")  # the VLM that captioned it
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["method"] == str(vlm_folder) and answer["answer"]
    shown = [e for e in answer["evidence"] if e["source"] == "keyframe"]
    assert shown and all((folder / e["thumbnail"]).is_file() for e in shown)
    times = {round(k.t, 3) for k in r.keyframes}
    assert all(round(e["start"], 3) in times for e in shown)
    assert any("Goddard" in e["text"] for e in answer["evidence"])  # the transcript around them went too
    plain = json.loads(_cli("ask", str(folder), "Where is the telescope?", "--retrieval").stdout)
    assert plain["method"] == "retrieval" and "Goddard" in plain["answer"]


def test_ask_vlm_batches_give_the_same_caption_as_one_at_a_time(vlm_folder):
    from avpipe.vision.vlm import caption, load_vlm

    vlm = load_vlm(str(vlm_folder))
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (270 - 40 * i, 480, 3), dtype=np.uint8) for i in range(3)]
    together = caption(vlm, images, max_new_tokens=5, batch_size=3)
    alone = [caption(vlm, [i], max_new_tokens=5)[0] for i in images]
    assert together == alone


def test_gpu_profile_is_shipped_and_names_its_models():
    from avpipe.config import pipeline_models, profile_models

    gpu = load_pipeline("gpu")
    assert "captions" in gpu.stages and gpu.vision.backend == "clip" and gpu.speech.model == "large-v3-turbo"
    assert gpu.vision.text_model == "multilingual-e5-base"  # keywords and summaries in any language
    names = pipeline_models(gpu)
    assert {gpu.vision.clip_model, gpu.captions.model, "large-v3-turbo"} <= set(names)
    assert set(names) <= set(profile_models("gpu"))
    proc = _cli("pipelines")
    assert proc.returncode == 0 and any(line.startswith("gpu:") for line in proc.stdout.splitlines())


def test_gpu_pipeline_without_its_weights_fails_fast_naming_them(tmp_path):
    out = tmp_path / "out"
    proc = _cli("run", str(SAMPLES / "jfk.mp4"), "--pipeline", "gpu", "--out", str(out), "--device", "cpu",
                env={"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    gpu = load_pipeline("gpu")
    for name in (gpu.vision.clip_model, gpu.captions.model, "large-v3-turbo", "multilingual-e5-base"):
        assert name in lines[0]
    assert "avpipe models fetch --profile gpu" in lines[0] and not out.exists()


@pytest.mark.parametrize("text, message", [
    ('stages = ["probe", "decode", "shots", "keyframes", "captions"]', "captions stage needs"),
    ('stages = ["probe", "decode", "captions", "keyframes"]\n[captions]\nmodel = "x"', "after 'keyframes'"),
    ('[captions]\nbackend = "ollama"', "not allowed"),
])
def test_captions_options_are_checked(text, message):
    with pytest.raises(PipelineConfigError, match=message):
        parse_pipeline(text)


def test_gpu_check_smoke_runs_on_the_cpu():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--tiny", "--device", "cpu"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = proc.stdout
    for row in ("whisper", "clip", "siglip", "vlm", "pipeline"):
        assert row in table, table


def test_gpu_profile_runs_on_the_cpu_with_tiny_stand_ins(tmp_path, vlm_folder):
    """pipelines/gpu.toml as shipped, its hub models swapped for tiny random ones of the same
    classes (CLIP for SigLIP, the tiny Qwen2.5-VL, bundled tiny.en for large-v3-turbo, RT-DETR
    and AST of a few channels for the object detector and the sound tagger): every
    option combination of the profile runs (clip space for captions and fusion, batched
    faster-whisper, the VLM writing the summary)."""
    import dataclasses

    from test_sounds import _tiny_tagger_folder
    from test_vision import _tiny_clip_folder, _tiny_detector_folder

    from avpipe.pipeline import process_video

    gpu = load_pipeline("gpu")
    options = dataclasses.replace(
        gpu, device="cpu",
        vision=dataclasses.replace(gpu.vision, clip_model=str(_tiny_clip_folder(tmp_path)), batch_size=4,
                                   text_model="minilm",  # the bundled encoder for multilingual-e5-base
                                   object_model=str(_tiny_detector_folder(tmp_path)), object_min_score=0.0),
        audio=dataclasses.replace(gpu.audio, tagger_model=str(_tiny_tagger_folder(tmp_path))),
        captions=dataclasses.replace(gpu.captions, model=str(vlm_folder), max_new_tokens=4, batch_size=4),
        speech=dataclasses.replace(gpu.speech, model="tiny.en"),
        summary=dataclasses.replace(gpu.summary, model=str(vlm_folder), max_new_tokens=8))
    work = tmp_path / "nasa"
    work.mkdir()
    r = process_video(SAMPLES / "nasa_13013.mp4", "nasa", work, options)
    assert not r.errors, r.errors
    assert r.stages["vision"].backend == "clip" and r.stages["captions"].status == "ok"
    assert r.stages["vision"].model.endswith("+transformers") and any(k.objects for k in r.keyframes)
    assert r.stages["audio"].backend == "tagger:transformers" and r.audio.tagger.endswith("tiny-ast")
    assert r.stages["speech"].status == "ok" and "Goddard" in " ".join(s.text for s in r.transcript.segments)
    assert all(k.caption for k in r.keyframes if k.shot is not None and
               k.t == min(x.t for x in r.keyframes if x.shot == k.shot))
    assert r.summary.method == str(vlm_folder)
    assert any(s.attention for s in r.transcript.segments)  # fusion attended over caption-mixed keyframes
