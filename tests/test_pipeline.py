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
    result = process_video(gen("three_shots.mp4"), "x", tmp_path, load_pipeline())
    # a tone, no speech: fusion has no segments to fuse and does not run; the rest all do
    assert set(result.stages) == {"probe", "decode", "shots", "keyframes", "vision", "speech", "audio", "events", "summary"}
    assert result.stages["decode"].backend in ("decord", "pyav")
    assert all(s.seconds >= 0 and s.status == "ok" for s in result.stages.values())
    assert len(result.shots) == 3 and len(result.keyframes) == 3
    assert all((tmp_path / k.thumbnail).stat().st_size > 500 for k in result.keyframes)
    assert result.errors == []
