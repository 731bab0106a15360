import json
import subprocess
import sys

import pytest

from avpipe.errors import MediaOpenError
from avpipe.probe import probe


def test_nasa_picks_largest_video_and_best_audio(nasa):
    info = probe(nasa)
    kinds = [s.type for s in info.streams]
    assert kinds.count("video") == 2 and kinds.count("audio") == 2 and kinds.count("subtitle") == 2
    assert info.video_stream == 3  # 480x270 beats 320x180
    assert info.audio_stream == 4  # 16 kHz beats 8 kHz
    v = info.streams[3]
    assert (v.width, v.height) == (480, 270)
    assert v.fps == pytest.approx(29.97, abs=0.01)
    assert v.vfr is False and v.rotation == 0
    assert info.duration_s == pytest.approx(13.0, abs=0.1)
    assert "largest of 2 video streams" in info.choice[0]
    assert "16000 Hz" in info.choice[1]


def test_rotation_and_vfr(gen):
    assert probe(gen("rotated.mp4")).streams[0].rotation == 90
    assert probe(gen("vfr.mkv")).streams[0].vfr is True
    assert probe(gen("no_audio.mp4")).streams[0].vfr is False


def test_audio_only_and_no_audio(gen):
    a = probe(gen("audio_only.m4a"))
    assert a.video_stream is None and a.audio_stream == 0
    v = probe(gen("no_audio.mp4"))
    assert v.audio_stream is None and v.video_stream == 0


@pytest.mark.parametrize("name, length", [("piped_three_shots.webm", 13.0), ("piped_tone.mka", 5.0)])
def test_a_pipe_written_file_gets_its_duration_from_its_packets(gen, name, length):
    """WebM / Matroska written to a pipe (MediaRecorder, live dumps): no duration in the header,
    nor in any stream; the probe measures it from the last packets, to within a frame."""
    import av

    path = gen(name)
    with av.open(str(path)) as container:  # what makes the case: FFmpeg itself knows no length
        assert container.duration is None and all(s.duration is None for s in container.streams)
    info = probe(path)
    assert info.duration_measured
    assert info.duration_s == pytest.approx(length, abs=0.04)
    chosen = [s for s in info.streams if s.index in (info.video_stream, info.audio_stream)]
    assert chosen and all(s.duration_s == pytest.approx(length, abs=0.04) for s in chosen)
    assert not probe(gen("no_audio.mp4")).duration_measured  # a header that says keeps its word


@pytest.mark.parametrize("case", ["empty", "text", "missing"])
def test_unreadable_files_raise_media_open_error(bad_inputs, case):
    with pytest.raises(MediaOpenError) as info:
        probe(bad_inputs[case])
    assert isinstance(info.value, OSError)  # domain errors subclass built-ins
    assert str(bad_inputs[case]) in str(info.value)


def test_probe_cli_prints_json(nasa, bad_inputs):
    ok = subprocess.run([sys.executable, "-m", "avpipe", "probe", str(nasa)], capture_output=True, text=True)
    assert ok.returncode == 0
    assert json.loads(ok.stdout)["video_stream"] == 3
    bad = subprocess.run([sys.executable, "-m", "avpipe", "probe", str(bad_inputs["text"])], capture_output=True, text=True)
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["error"]["type"] == "MediaOpenError"
