import pytest

from avpipe.errors import PipelineConfigError
from avpipe.config import builtin_pipelines, load_pipeline, parse_pipeline
from avpipe.pipeline import build_stages, process_video


def test_default_pipeline_is_shipped_and_readable():
    assert "default" in builtin_pipelines()
    p = load_pipeline("default")
    assert p.name == "default" and p.stages[0] == "probe" and "decode" in p.stages
    assert p.decode.fps == 2.0


def test_pipeline_file_by_path(tmp_path):
    f = tmp_path / "fast.toml"
    f.write_text('stages = ["probe", "decode", "shots"]\n[decode]\nfps = 0.5\n')
    p = load_pipeline(str(f))
    assert p.name == "fast" and p.stages == ("probe", "decode", "shots") and p.decode.fps == 0.5


@pytest.mark.parametrize("text, message", [
    ('stages = ["probe", "dance"]', "unknown stage"),
    ('[decode]\nfsp = 2', "unknown option"),
    ('stages = ["decode", "probe"]', "first stage"),
    ('stages = ["probe", "shots", "decode"]', "after 'decode'"),
    ('colour = "blue"', "unknown keys"),
    ('stages = [', "not valid TOML"),
])
def test_bad_pipelines_say_what_is_wrong(text, message):
    with pytest.raises(PipelineConfigError, match=message):
        build_stages(parse_pipeline(text))


def test_unknown_pipeline_name():
    with pytest.raises(PipelineConfigError, match="unknown pipeline"):
        load_pipeline("nonesuch")


def test_process_video_reports_per_stage(gen, tmp_path):
    import torch

    threads = torch.get_num_threads()
    result = process_video(gen("three_shots.mp4"), "x", tmp_path, load_pipeline())
    assert torch.get_num_threads() == threads  # no stage leaves the thread layout changed
    # a tone, no speech: fusion has no segments to fuse and does not run; the rest all do
    assert set(result.stages) == {"probe", "decode", "shots", "keyframes", "vision", "speech", "audio", "events", "summary"}
    assert result.stages["decode"].backend in ("decord", "pyav")
    assert all(s.seconds >= 0 and s.status == "ok" for s in result.stages.values())
    assert len(result.shots) == 3 and len(result.keyframes) == 3
    assert all((tmp_path / k.thumbnail).stat().st_size > 500 for k in result.keyframes)
    assert result.errors == []


def test_a_pipe_written_webm_has_its_duration_shots_and_keyframes(gen, tmp_path):
    """13 s in three shots, written to a pipe (no duration in its header): once a still image
    (one shot of 0.38 s, one keyframe); now its real length, its three shots, a keyframe in each."""
    options = parse_pipeline('stages = ["probe", "decode", "shots", "keyframes"]\n')
    result = process_video(gen("piped_three_shots.webm"), "x", tmp_path, options)
    assert result.video.duration_s == pytest.approx(13.0, abs=0.04)
    assert [(s.start, s.end) for s in result.shots] == [(0.0, 4.0), (4.0, 8.0), (8.0, pytest.approx(13.0, abs=0.04))]
    assert sorted({k.shot for k in result.keyframes}) == [0, 1, 2]
    assert all(result.shots[k.shot].start <= k.t < result.shots[k.shot].end for k in result.keyframes)
    assert result.errors == [] and all(s.status == "ok" for s in result.stages.values())


@pytest.mark.parametrize("text, message", [
    ('[fusion]\nstrategy = "hybird"', r"\[fusion\] strategy = 'hybird' is not allowed; choose one of: 'hybrid', 'late', 'early'"),
    ('[speech]\nbackend = "whisperx"', r"\[speech\] backend = 'whisperx' is not allowed"),
    ('[summary]\nbackend = "gpt"', r"\[summary\] backend = 'gpt' is not allowed"),
    ('[vision]\nbackend = "resnet"', r"\[vision\] backend = 'resnet' is not allowed"),
    ('device = "gpu"', r"device = 'gpu' is not allowed"),
    ('[decode]\nfps = 0', r"\[decode\] fps = 0 is out of range; it must be > 0"),
    ('[keyframes]\njpeg_quality = 101', r"\[keyframes\] jpeg_quality = 101 is out of range; it must be >= 1 and <= 100"),
    ('[shots]\nthreshold = "high"', r"\[shots\] threshold = 'high' must be of type float"),
    ('[vision]\nfaces = 1', r"\[vision\] faces = 1 must be of type bool"),
    ('[decode]\nmax_frames = 2.5', r"\[decode\] max_frames = 2.5 must be of type int"),
    ('[speech]\nmodel = "tiny"', r"\[speech\] model = 'tiny' is neither a known model \(tiny.en, base"),
    ('[vision]\nbackend = "clip"', r"\[vision\] clip_model: the clip backend needs"),
    ('[summary]\nbackend = "transformers"', r"\[summary\] model: the transformers backend needs"),
    ('[summary]\nmin_highlights = 5\nmax_highlights = 2', "max_highlights = 2 is below min_highlights = 5"),
    ('[fusion]\nalign_weights = "/nonexistent/align.safetensors"', r"\[fusion\] align_weights = .*no such file"),
    ('stages = ["probe", "decode", "decode"]', "listed twice"),
    ('fusion = 3', r"\[fusion\] must be a table"),
])
def test_every_value_is_checked_when_the_file_is_parsed(text, message):
    with pytest.raises(PipelineConfigError, match=message):
        parse_pipeline(text, where="p.toml")


def test_a_bad_pipeline_file_fails_the_run_before_any_video(tmp_path, gen):
    import subprocess
    import sys

    bad = tmp_path / "typo.toml"
    bad.write_text('[fusion]\nstrategy = "hybird"\n')
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "avpipe", "run", str(gen("no_audio.mp4")), "--out", str(out),
                           "--pipeline", str(bad)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "[fusion] strategy = 'hybird'" in done.stderr and "'hybrid', 'late', 'early'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not out.exists()


def test_the_option_choices_match_the_backend_registries():
    """Every ``one_of`` list that names backends equals the keys of the registry that loads them,
    so a choice the file accepts always loads, and a backend added to a registry is allowed."""
    import dataclasses

    from avpipe.decode.base import _BACKENDS as DECODERS
    from avpipe.options import DecodeOptions, ShotOptions, SpeechOptions, VisionOptions
    from avpipe.shots import BACKENDS as CUT_DETECTORS
    from avpipe.speech.base import _BACKENDS
    from avpipe.stages import stage_names
    from avpipe.vision.base import _ENCODERS

    def choices(cls, name):
        return set(next(f for f in dataclasses.fields(cls) if f.name == name).metadata["choices"])

    assert choices(SpeechOptions, "backend") == set(_BACKENDS)
    assert choices(VisionOptions, "backend") == set(_ENCODERS)
    assert choices(ShotOptions, "backend") == set(CUT_DETECTORS)
    assert choices(DecodeOptions, "backend") == {"auto", *DECODERS}
    assert set(stage_names()) >= set(load_pipeline().stages)


SPEECH_ONLY = 'stages = ["probe", "decode", "speech"]\n'


def test_speech_heard_ahead_gives_the_same_transcript_and_says_how_long_it_took(tmp_path):
    """The speech stage hears voice activity and languages in the background while the frames
    are decoded ([speech] ahead, the default): the transcript is the one heard in its own turn,
    and the background seconds are recorded apart from the stage's own."""
    from pathlib import Path

    jfk = Path(__file__).resolve().parent.parent / "sample_videos" / "jfk.mp4"
    ahead = process_video(jfk, "x", tmp_path / "a", parse_pipeline(SPEECH_ONLY))
    inline = process_video(jfk, "x", tmp_path / "b", parse_pipeline(SPEECH_ONLY + "[speech]\nahead = false\n"))
    assert ahead.transcript.model_dump() == inline.transcript.model_dump()
    assert ahead.transcript.language == "en" and len(ahead.transcript.segments) >= 1
    assert ahead.stages["speech"].ahead_seconds > 0 and inline.stages["speech"].ahead_seconds is None
    assert ahead.errors == inline.errors == []


def test_an_error_in_the_speech_heard_ahead_is_the_speech_stages_own(tmp_path, monkeypatch):
    import importlib
    from pathlib import Path

    transcribe_module = importlib.import_module("avpipe.speech.transcribe")  # the package's name is the function

    def broken(*args, **kwargs):
        raise RuntimeError("the language head fell over")

    monkeypatch.setattr(transcribe_module, "hear", broken)
    jfk = Path(__file__).resolve().parent.parent / "sample_videos" / "jfk.mp4"
    result = process_video(jfk, "x", tmp_path, parse_pipeline(SPEECH_ONLY))
    assert [(e.stage, e.type, e.message) for e in result.errors] == [
        ("speech", "RuntimeError", "the language head fell over")]
    assert result.stages["speech"].status == "error" and result.stages["decode"].status == "ok"
    assert result.transcript is None or result.transcript.segments == []
