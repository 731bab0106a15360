import numpy as np
import pytest

from avpipe.decode import open_frames
from avpipe.decode.base import Frame
from avpipe.options import DecodeOptions, ShotOptions
from avpipe.probe import probe
from avpipe.shots import ShotDetector, histogram_distance, colour_histogram


def _detect(path, fps=2.0, **shot_opts):
    media = probe(path)
    detector = ShotDetector(ShotOptions(**shot_opts))
    for frame in open_frames(path, media, DecodeOptions(fps=fps)):
        detector.add(frame)
    return detector.finish(media.duration_s)


def test_hard_cuts_are_found_at_their_time(gen):
    shots, keyframes, events = _detect(gen("three_shots.mp4"))
    assert [(s.start, s.end) for s in shots] == [(0.0, 3.0), (3.0, 6.0), (6.0, 9.0)]
    assert [e.kind for e in events] == ["shot_change", "shot_change"]
    assert [e.start for e in events] == [3.0, 6.0]
    # one keyframe per shot, inside its shot
    assert [k.shot for k in keyframes] == [0, 1, 2]
    for k in keyframes:
        assert shots[k.shot].start <= k.t < shots[k.shot].end


def test_static_video_is_one_shot_with_periodic_keyframes(gen):
    shots, keyframes, events = _detect(gen("silent_60s.mp4"), keyframe_interval_s=10.0)
    assert len(shots) == 1 and shots[0].start == 0.0 and shots[0].end == pytest.approx(60.0, abs=0.1)
    assert events == []
    assert len(keyframes) == 6  # a 60 s shot: one keyframe per 10 s piece


def test_real_footage_cut(nasa):
    """The NASA clip dissolves around 5 s and cuts at 8.0 s."""
    shots, _, events = _detect(nasa)
    assert 2 <= len(shots) <= 4
    assert any(abs(e.start - 8.0) < 0.6 for e in events)


def test_min_shot_length_suppresses_flicker():
    detector = ShotDetector(ShotOptions(min_shot_s=1.0))
    black = np.zeros((64, 64, 3), np.uint8)
    white = np.full((64, 64, 3), 255, np.uint8)
    for i in range(8):  # alternating every 0.25 s
        detector.add(Frame(t=i * 0.25, image=white if i % 2 else black))
    shots, _, _ = detector.finish(2.0)
    assert len(shots) <= 2


def test_histogram_distance_bounds():
    a = colour_histogram(np.zeros((64, 64, 3), np.uint8))
    b = colour_histogram(np.full((64, 64, 3), 255, np.uint8))
    assert histogram_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert histogram_distance(a, b) == pytest.approx(1.0, abs=1e-6)
