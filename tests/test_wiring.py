"""Stages declare their wiring (what they read and write, their options section, their models,
their own checks), and a pipeline is checked as a whole from those declarations before any video.

The last test adds a stage the way a contributor would, as one new module, and runs it: no list
elsewhere in the package is edited for it.
"""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

import avpipe.stages as stages_pkg
from avpipe.config import SECTIONS, builtin_pipelines, load_pipeline, model_uses, parse_pipeline
from avpipe.errors import PipelineConfigError
from avpipe.stages import stage_class, stage_names, wiring_problem, writers
from avpipe.stages.base import ARTIFACTS, Stage

SAMPLES = Path(__file__).resolve().parent.parent / "sample_videos"


@pytest.mark.parametrize("name", stage_names())
def test_each_stage_declares_real_artifacts_and_an_options_section_that_exists(name):
    cls = stage_class(name)
    assert cls.name == name and issubclass(cls, Stage)
    assert cls.section is None or cls.section in SECTIONS
    for artifact in (*cls.reads, *cls.optional_reads, *cls.writes):
        assert artifact in ARTIFACTS, (name, artifact)
    written = writers()
    for artifact in (*cls.reads, *cls.optional_reads):
        assert written.get(artifact), f"{name} reads {artifact!r}, which no stage writes"


def test_every_artifact_has_a_writer_and_every_stage_of_the_package_is_found():
    assert set(writers()) == set(ARTIFACTS)
    modules = {p.stem for p in Path(stages_pkg.__file__).parent.glob("*.py")} - {"__init__", "base"}
    assert set(stage_names()) == modules


@pytest.mark.parametrize("name", sorted(builtin_pipelines()))
def test_the_shipped_pipelines_are_wired(name):
    assert wiring_problem(load_pipeline(name).stages) is None


@pytest.mark.parametrize("stages, message", [
    (["probe", "fusion", "speech", "decode"],
     "stage 'fusion' reads segments, which only 'speech' writes; it must come after 'speech'"),
    (["probe", "decode", "vision"], "stage 'vision' reads keyframes, which only 'keyframes' writes; the pipeline needs"),
    (["probe", "decode", "shots", "keyframes", "speech", "fusion", "vision"],
     "stage 'fusion' uses keyframe vectors when it is there, which 'vision' writes only after it; put 'vision' "
     "before 'fusion'"),
    (["probe", "decode", "speech", "summary", "fusion"],
     "stage 'summary' uses segment vectors when it is there, which 'fusion' writes only after it"),
])
def test_a_pipeline_whose_stage_would_read_what_nothing_wrote_is_refused(stages, message):
    assert message in wiring_problem(stages)
    text = "stages = [" + ", ".join(f'"{s}"' for s in stages) + "]"
    with pytest.raises(PipelineConfigError, match=message.replace("(", r"\(")):
        parse_pipeline(text, "wrong", "p.toml")


def test_the_models_a_pipeline_loads_come_from_its_stages():
    options = load_pipeline("default")
    declared = [use for s in options.stages for use in stage_class(s).models(options) if use.name]
    assert {(u.option, u.name) for u in model_uses(options)} == {(u.option, u.name) for u in declared}
    assert model_uses(options)[0].option == "[vision] text_model"
    no_vision = parse_pipeline('stages = ["probe", "decode", "speech"]\n[speech]\nlanguage = "en"', "s")
    assert [u.option for u in model_uses(no_vision)] == ["[speech] english_model", "[speech] multilingual_model"]


def test_a_stage_checks_its_own_option_pairs_only_when_listed():
    text = '[summary]\nmin_highlights = 5\nmax_highlights = 2\n'
    with pytest.raises(PipelineConfigError, match=r"\[summary\] max_highlights = 2 is below min_highlights = 5"):
        parse_pipeline(text, "s", "s.toml")
    parse_pipeline('stages = ["probe", "decode", "shots", "keyframes"]\n' + text, "s", "s.toml")  # no summary stage


EXAMPLE = '''
    """An example stage: the loudest second of the track, as one event."""

    from __future__ import annotations

    from avpipe.schema import Event
    from avpipe.stages.base import Stage, VideoContext


    class LoudestStage(Stage):
        """Finds the loudest second of the decoded audio."""

        name = "loudest"
        reads = ("audio",)
        writes = ("events",)

        def run(self, ctx: VideoContext) -> None:
            import numpy as np

            sr = ctx.audio.sample_rate
            power = [float(np.mean(ctx.audio.samples[i:i + sr] ** 2)) for i in range(0, len(ctx.audio.samples), sr)]
            second = int(np.argmax(power))
            ctx.add_events([Event(start=second, end=second + 1, kind="loudest", label="loudest second")])
            self.backend = "numpy"
'''


def test_a_new_stage_is_one_new_module(tmp_path, monkeypatch):
    """The module below is all the stage is: the package finds it by name, the wiring rule orders
    it, decode gives it the audio it reads, and the result records it."""
    from avpipe.pipeline import process_video

    (tmp_path / "loudest.py").write_text(textwrap.dedent(EXAMPLE))
    monkeypatch.setattr(stages_pkg, "__path__", [*stages_pkg.__path__, str(tmp_path)])
    stage_class.cache_clear()
    try:
        assert "loudest" in stage_names()
        with pytest.raises(PipelineConfigError, match="stage 'loudest' reads audio, which only 'decode' writes; it "
                                                      "must come after 'decode'"):
            parse_pipeline('stages = ["probe", "loudest", "decode"]', "x", "x.toml")
        options = parse_pipeline('stages = ["probe", "decode", "loudest"]', "x", "x.toml")
        assert dataclasses.replace(options).stages[-1] == "loudest"
        result = process_video(SAMPLES / "jfk.mp4", "jfk", tmp_path / "out", options)
    finally:
        monkeypatch.undo()
        stage_class.cache_clear()
    assert result.stages["loudest"].status == "ok" and result.stages["loudest"].backend == "numpy"
    (loudest,) = [e for e in result.events if e.kind == "loudest"]
    assert 0 <= loudest.start < (result.video.duration_s or 0)
    assert not result.errors


def test_a_keyframe_option_in_its_old_section_is_told_its_new_place():
    from avpipe.options import MOVED

    for (old, key), new in MOVED.items():
        assert key not in {f.name for f in dataclasses.fields(SECTIONS[old]())}
        assert key in {f.name for f in dataclasses.fields(SECTIONS[new]())}
    with pytest.raises(PipelineConfigError, match=r"p.toml \[shots\] drift: this option has moved to \[keyframes\]; "
                                                  r"write it as \[keyframes\] drift"):
        parse_pipeline("[shots]\ndrift = 0.2\n", "p", "p.toml")
    assert parse_pipeline("[keyframes]\ndrift = 0.2\n", "p", "p.toml").keyframes.drift == 0.2
