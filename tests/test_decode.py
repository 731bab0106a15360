import subprocess

import numpy as np
import pytest

from avpipe.decode import iter_audio, load_audio, open_frames, sample_times
from avpipe.decode.base import decord_usable
from avpipe.errors import NoAudioStream
from avpipe.options import DecodeOptions
from avpipe.probe import probe

BACKENDS = ["pyav"] + (["decord"] if decord_usable() else [])


def test_sample_times_fps_and_cap():
    assert sample_times(3.0, 2.0, 100) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    capped = sample_times(3600.0, 2.0, 100)
    assert len(capped) == 100 and capped[-1] < 3600 and capped[1] == pytest.approx(36.0)
    assert sample_times(0.0, 2.0, 10) == [0.0]  # no known duration (a still image): its first frame


@pytest.mark.parametrize("backend", BACKENDS)
def test_frames_sampled_resized_and_timed(nasa, backend):
    media = probe(nasa)
    frames = list(open_frames(nasa, media, DecodeOptions(fps=2.0, short_side=224), backend=backend))
    assert 25 <= len(frames) <= 27
    times = [f.t for f in frames]
    assert times == sorted(times) and times[0] < 0.05 and times[-1] < 13.1
    # each sample lies within half a frame of the 0.5 s grid
    assert all(abs(t - round(t * 2) / 2) < 0.02 for t in times)
    assert frames[0].image.shape == (224, 398, 3) and frames[0].image.dtype == np.uint8


@pytest.mark.skipif(not decord_usable(), reason="decord is not installed on this platform")
def test_backends_agree(nasa):
    media = probe(nasa)
    opts = DecodeOptions(fps=1.0)
    a = list(open_frames(nasa, media, opts, backend="pyav"))
    b = list(open_frames(nasa, media, opts, backend="decord"))
    n = min(len(a), len(b))
    assert n >= 12
    for fa, fb in zip(a[:n], b[:n]):
        assert fa.t == pytest.approx(fb.t, abs=0.02)
        # same picture (different scalers): mean absolute difference well under 10 grey levels
        assert np.abs(fa.image.astype(int) - fb.image.astype(int)).mean() < 10


def test_frames_iterate_lazily(nasa):
    reader = open_frames(nasa, probe(nasa), DecodeOptions())
    it = iter(reader)
    first = next(it)
    assert first.t < 0.1 and reader.report.frames == 1  # nothing decoded ahead of the consumer


@pytest.mark.parametrize("backend", BACKENDS)
def test_rotated_frames_are_upright(gen, backend):
    """Our frame must equal FFmpeg's own auto-rotated picture."""
    import media

    path = gen("rotated.mp4")
    frame = next(iter(open_frames(path, probe(path), DecodeOptions(), backend=backend)))
    assert frame.image.shape == (160, 120, 3)  # 160x120 coded, shown as 120 wide x 160 high
    raw = subprocess.run([media.FFMPEG, "-v", "error", "-i", str(path), "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    reference = np.frombuffer(raw, np.uint8).reshape(160, 120, 3)
    assert np.abs(reference.astype(int) - frame.image.astype(int)).mean() < 8


def test_multi_stream_decodes_the_chosen_stream(gen):
    path = gen("multi_stream.mkv")
    media = probe(path)
    assert media.video_stream == 1  # 320x240 beats 160x120
    # Matroska flags the first audio track as default: the default flag outranks sample rate.
    assert media.audio_stream == 2
    frame = next(iter(open_frames(path, media, DecodeOptions(short_side=1000))))
    assert frame.image.shape == (240, 320, 3)


@pytest.mark.parametrize("name", ["cinepak.avi", "msmpeg4.avi", "vfr.mkv"])
def test_old_codecs_and_vfr_decode(gen, name):
    path = gen(name)
    frames = list(open_frames(path, probe(path), DecodeOptions(fps=2.0)))
    assert len(frames) >= 3 and frames[0].image.ndim == 3


def test_audio_is_16k_mono_float32(shared_media):
    path = shared_media / "jfk.flac"
    track = load_audio(path, probe(path))
    assert track.sample_rate == 16000 and track.samples.dtype == np.float32 and track.samples.ndim == 1
    assert track.duration_s == pytest.approx(11.0, abs=0.05)
    assert 0.1 < np.abs(track.samples).max() < 1.5  # a mix-down may peak a little over 1


def test_audio_comes_in_bounded_chunks(gen):
    path = gen("silent_60s.mp4")
    chunks = list(iter_audio(path, probe(path), chunk_s=10.0))
    assert [len(c) for c in chunks[:-1]] == [160000] * (len(chunks) - 1)
    total = sum(len(c) for c in chunks) / 16000
    assert total == pytest.approx(60.0, abs=0.1)
    assert max(np.abs(c).max() for c in chunks) == 0.0  # digital silence stays silent


def test_tone_has_the_right_pitch(gen):
    path = gen("three_shots.mp4")
    track = load_audio(path, probe(path))
    spectrum = np.abs(np.fft.rfft(track.samples[16000:32000]))
    assert np.argmax(spectrum) == pytest.approx(440, abs=2)  # 1 s window: bin = Hz


def test_no_audio_stream_raises(gen):
    path = gen("no_audio.mp4")
    with pytest.raises(NoAudioStream):
        list(iter_audio(path, probe(path)))


def test_a_pipe_written_webm_is_sampled_to_its_end(gen):
    """No duration in its header: the probe's measured one drives the sampling (not one frame,
    as for a still), through PyAV (decord will not open such a file)."""
    path = gen("piped_three_shots.webm")
    info = probe(path)
    reader = open_frames(path, info, DecodeOptions(fps=2.0))
    times = [f.t for f in reader]
    assert reader.name == "pyav"
    assert len(times) == 26 and times[-1] == pytest.approx(12.5, abs=0.05)
    tone = gen("piped_tone.mka")
    assert load_audio(tone, probe(tone)).duration_s == pytest.approx(5.0, abs=0.05)
