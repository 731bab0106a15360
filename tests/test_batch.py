"""The batch CLI end to end: every bad input becomes a clear record, the rest completes."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from avpipe.discover import discover, video_id_for
from avpipe.schema import json_schema

AVPIPE = [sys.executable, "-m", "avpipe"]


def run_cli(*args, env=None):
    return subprocess.run([*AVPIPE, *map(str, args)], capture_output=True, text=True, timeout=600, env=env)


def read_index(out: Path) -> dict[str, dict]:
    lines = (out / "index.jsonl").read_text(encoding="utf-8").splitlines()
    return {json.loads(line)["input"]: json.loads(line) for line in lines}


def assert_clean(out: Path):
    """Nothing half-written: no temporary folders or files left anywhere under out."""
    leftovers = [p for p in out.rglob("*") if ".avpipe-tmp" in p.parts or p.name.endswith(".tmp") or ".old." in p.name]
    assert leftovers == []


@pytest.fixture(scope="module")
def bad_batch(bad_inputs, gen, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    good = gen("three_shots.mp4")
    inputs = [bad_inputs[k] for k in bad_inputs] + [good]
    proc = run_cli("run", *inputs, "--out", out, "--workers", "2", "--quiet")
    return proc, out, read_index(out), {k: str(v) for k, v in bad_inputs.items()}, str(good)


def test_batch_with_bad_inputs_exits_1_and_finishes_the_rest(bad_batch):
    proc, out, index, bad, good = bad_batch
    assert proc.returncode == 1, proc.stderr
    assert len(index) == len(bad) + 1
    assert index[good]["status"] == "ok" and index[good]["partial"] is False
    result = json.loads((out / index[good]["result"]).read_text())
    jsonschema.validate(result, json_schema())
    assert len(result["shots"]) == 3
    assert "failed" in proc.stderr and "notes.mp4" in proc.stderr
    assert_clean(out)


@pytest.mark.parametrize("case, status, error_type", [
    ("empty", "error", "MediaOpenError"),
    ("text", "error", "MediaOpenError"),
    ("missing", "error", "MediaOpenError"),
])
def test_unreadable_inputs_are_error_records(bad_batch, case, status, error_type):
    _, out, index, bad, _ = bad_batch
    record = index[bad[case]]
    assert record["status"] == status
    assert record["error"]["type"] == error_type and record["error"]["message"]
    assert not (out / record["video_id"]).exists()  # no result folder for a failed input


@pytest.mark.parametrize("case, has_video, has_audio, error_type", [
    ("audio_only", False, True, "NoVideoStream"),
    ("truncated", True, True, "PartialDecode"),
    ("corrupt", True, True, "PartialDecode"),
    ("no_audio", True, False, None),
    ("cinepak", True, False, None),
    ("msmpeg4", True, True, None),
    ("odd_path", True, False, None),
])
def test_readable_inputs_give_results_that_say_what_is_missing(bad_batch, case, has_video, has_audio, error_type):
    _, out, index, bad, _ = bad_batch
    record = index[bad[case]]
    assert record["status"] == "ok", record
    result = json.loads((out / record["result"]).read_text(encoding="utf-8"))
    jsonschema.validate(result, json_schema())
    assert result["video"]["has_video"] is has_video and result["video"]["has_audio"] is has_audio
    assert result["video"]["path"] == bad[case]
    types = [e["type"] for e in result["errors"]]
    if error_type is None:
        assert types == [] and record["partial"] is False
        assert result["shots"] and result["keyframes"]
    else:
        assert error_type in types and record["partial"] is True


def test_truncated_file_describes_only_what_was_decoded(bad_batch):
    _, out, index, bad, _ = bad_batch
    result = json.loads((out / index[bad["truncated"]]["result"]).read_text())
    assert result["shots"][-1]["end"] < 5.0  # the stream stops near 2.8 s of its stated 6 s


def test_thumbnails_exist_for_every_keyframe(bad_batch):
    _, out, index, _, good = bad_batch
    folder = out / index[good]["video_id"]
    result = json.loads((folder / "result.json").read_text())
    for k in result["keyframes"]:
        assert (folder / k["thumbnail"]).read_bytes()[:2] == b"\xff\xd8"  # JPEG


def test_video_ids_are_stable_and_distinct(tmp_path, gen):
    a, b = tmp_path / "a" / "clip.mp4", tmp_path / "b" / "clip.mp4"
    for p in (a, b):
        p.parent.mkdir()
        shutil.copy(gen("no_audio.mp4"), p)
    assert video_id_for(a) == video_id_for(Path(os.path.relpath(a)))  # same file, same id
    assert video_id_for(a) != video_id_for(b)
    assert video_id_for(a).startswith("clip-")
    assert video_id_for(Path("/x/vidéo été.mp4")).startswith("video_ete-")


def test_folders_are_walked_by_content(tmp_path, gen):
    (tmp_path / "sub" / ".hidden").mkdir(parents=True)
    shutil.copy(gen("no_audio.mp4"), tmp_path / "sub" / "noext")  # video without an extension
    shutil.copy(gen("cinepak.avi"), tmp_path / "sub" / "old.AVI")
    (tmp_path / "broken.mp4").write_text("not a video")  # video name, not video content
    (tmp_path / "readme.txt").write_text("hello")
    shutil.copy(gen("audio_only.m4a"), tmp_path / "song.m4a")  # audio: not a video file
    shutil.copy(gen("no_audio.mp4"), tmp_path / "sub" / ".hidden" / "x.mp4")
    found = sorted(Path(i.input).name for i in discover([str(tmp_path)]))
    assert found == ["broken.mp4", "noext", "old.AVI"]
    # the same file named twice (directly and through its folder) is processed once
    assert len(discover([str(tmp_path / "sub" / "noext"), str(tmp_path)])) == 3


def test_rerun_replaces_results_atomically(tmp_path, gen):
    clip = gen("no_audio.mp4")
    out = tmp_path / "out"
    assert run_cli("run", clip, "--out", out, "--quiet").returncode == 0
    first = read_index(out)[str(clip)]
    marker = out / first["video_id"] / "stale.txt"
    marker.write_text("from an older run")
    assert run_cli("run", clip, "--out", out, "--quiet").returncode == 0
    assert read_index(out)[str(clip)]["status"] == "skipped" and marker.exists()  # finished: not redone
    assert run_cli("run", clip, "--out", out, "--quiet", "--force").returncode == 0
    assert not marker.exists() and (out / first["video_id"] / "result.json").exists()
    assert_clean(out)


@pytest.mark.parametrize("args", [
    ["run", "x.mp4"],  # --out missing
    ["run", "x.mp4", "--out", "o", "--formats", "json,docx"],
    ["run", "x.mp4", "--out", "o", "--pipeline", "nonesuch"],
    ["dance"],
])
def test_usage_errors_exit_2(tmp_path, args):
    proc = subprocess.run([*AVPIPE, *args], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr


def test_all_ok_exits_0_and_help_imports_nothing_heavy(tmp_path, gen):
    proc = run_cli("run", gen("no_audio.mp4"), "--out", tmp_path, "--quiet")
    assert proc.returncode == 0 and "1 ok" in proc.stderr
    code = "import sys; from avpipe.cli import build_parser; build_parser(); import avpipe.schema; " \
           "print(sorted(m for m in ('torch', 'av', 'cv2', 'numpy', 'decord') if m in sys.modules))"
    heavy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert heavy == "[]"


def _ffmpeg_duration(path: Path) -> float:
    """Duration as FFmpeg's own command line reports it (``Duration: HH:MM:SS.ss``)."""
    import re

    import media

    text = subprocess.run([media.FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    h, m, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", text).groups()
    return int(h) * 3600 + int(m) * 60 + float(s)


def test_sample_videos_all_give_valid_results(tmp_path):
    """What `make demo` does: every sample video gets a schema-valid result."""
    samples = Path(__file__).resolve().parent.parent / "sample_videos"
    videos = sorted(p for p in samples.iterdir() if p.suffix == ".mp4")
    assert len(videos) >= 3
    proc = run_cli("run", samples, "--out", tmp_path, "--quiet")
    assert proc.returncode == 0, proc.stderr
    index = read_index(tmp_path)
    assert sorted(Path(k).name for k in index) == [v.name for v in videos]
    for video in videos:
        record = index[str(video)]
        assert record["status"] == "ok" and not record["partial"]
        result = json.loads((tmp_path / record["result"]).read_text())
        jsonschema.validate(result, json_schema())
        assert abs(result["video"]["duration_s"] - _ffmpeg_duration(video)) <= 0.1
        assert result["shots"] and result["keyframes"]
