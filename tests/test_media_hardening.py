"""Media that looks ordinary and is not (#22, "Hardening"): a 7.1 layout in an order FFmpeg keeps
as a channel map, stereo whose channels cancel in a mono mix, an animated WebP, a one-frame
picture track beside the video. Each test reproduces one row of the red-team table; the bounded
soak over the same media lives in test_fuzz.

The clips are made here with the exact commands kept (``RECIPES``, run like tests/media/clips.py's),
from FFmpeg's lavfi sources and the repository's own ``sample_videos/jfk.mp4``.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import media

JFK = Path(__file__).resolve().parent.parent / "sample_videos" / "jfk.mp4"

#: name -> ffmpeg arguments (after ``ffmpeg -y -hide_banner -loglevel error``), output last, as
#: in tests/media/clips.py; ``{jfk}`` is sample_videos/jfk.mp4. ``zero_frames.mkv`` is made by
#: :func:`zero_frames` instead (ffmpeg opens no encoder for a stream that gets no frame).
RECIPES: dict[str, str] = {
    # 7.1 PCM in MOV, its channels listed as FL+FR+FC+LFE+SL+SR+BL+BR in the `chan` atom: not
    # FFmpeg's own channel order, so it is read back as a custom-order layout (a channel map).
    "custom_71.mov": (
        "-f lavfi -i testsrc2=size=160x120:rate=10:duration=3 "
        "-f lavfi -i sine=frequency=440:sample_rate=44100:duration=3 "
        "-map 0:v -map 1:a -af aformat=channel_layouts=FL+FR+FC+LFE+SL+SR+BL+BR "
        "-c:v libx264 -pix_fmt yuv420p -c:a pcm_s16le"
    ),
    # 5.1 AAC beside a video: a native layout, mixed by FFmpeg's matrix.
    "surround_51.mp4": (
        "-f lavfi -i testsrc2=size=160x120:rate=10:duration=3 "
        "-f lavfi -i sine=frequency=330:sample_rate=48000:duration=3 "
        "-map 0:v -map 1:a -af aformat=channel_layouts=5.1 -c:v libx264 -pix_fmt yuv420p -c:a aac"
    ),
    # Quad FLAC, audio only.
    "quad.mkv": "-f lavfi -i sine=frequency=550:sample_rate=22050:duration=3 -af aformat=channel_layouts=quad -c:a flac",
    # Kennedy's speech with the right channel the left one inverted: a mono mix is silence.
    "cancel_jfk.mp4": "-i {jfk} -map 0:v -map 0:a -af pan=stereo|c0=c0|c1=-1*c0 -c:v copy -c:a aac -b:a 96k",
    # The same trick on a tone, lossless: the mix cancels to the last bit.
    "cancel_tone.mkv": (
        "-f lavfi -i testsrc2=size=160x120:rate=10:duration=3 "
        "-f lavfi -i sine=frequency=300:sample_rate=16000:duration=3 "
        "-map 0:v -map 1:a -af pan=stereo|c0=c0|c1=-1*c0 -c:v libx264 -pix_fmt yuv420p -c:a flac"
    ),
    # An animated WebP: FFmpeg's webp decoder reads still pictures only.
    "anim.webp": "-f lavfi -i testsrc=size=160x120:rate=5:duration=1 -c:v libwebp_anim -loop 0",
    # A one-frame 1920x1080 MJPEG track first (so Matroska flags it default), then the 6 s video.
    "still_first.mkv": (
        "-f lavfi -i color=c=red:size=1920x1080:rate=25:duration=0.04 "
        "-f lavfi -i testsrc2=size=320x240:rate=25:duration=6 "
        "-f lavfi -i sine=frequency=440:duration=6 "
        "-map 0:v -map 1:v -map 2:a -c:v:0 mjpeg -c:v:1 libx264 -pix_fmt yuv420p -c:a aac"
    ),
    # A raw H.264 stream: no container, so no duration and no timestamps.
    "raw.h264": "-f lavfi -i testsrc2=size=160x120:rate=10:duration=2 -c:v libx264 -pix_fmt yuv420p -f h264",
}


def zero_frames(out: Path) -> None:
    """An MKV whose mpeg4 160x120 video stream holds no frame, beside 2 s of a 440 Hz tone (AAC,
    16 kHz mono), written with PyAV: the stream is declared and never given a packet."""
    import av

    t = np.arange(2 * 16000) / 16000
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
    with av.open(str(out), "w") as container:
        video = container.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        audio = container.add_stream("aac", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in [*audio.encode(frame), *audio.encode(None)]:
            container.mux(packet)


def make(name: str, folder: Path) -> Path:
    """Generate ``name`` into ``folder`` (once) and return its path."""
    out = folder / name
    if out.exists():
        return out
    if name == "zero_frames.mkv":
        zero_frames(out)
    else:
        args = [a.format(jfk=JFK) for a in shlex.split(RECIPES[name])]
        subprocess.run([media.FFMPEG, "-y", "-hide_banner", "-loglevel", "error", *args, str(out)], check=True,
                       timeout=120)
    return out


def has_encoder(name: str) -> bool:
    """Whether tests/media's ffmpeg build has the encoder ``name``."""
    listing = subprocess.run([media.FFMPEG, "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    return any(line.split()[1:2] == [name] for line in listing.splitlines() if line.strip())


@pytest.fixture(scope="module")
def hard(tmp_path_factory):
    """``hard("custom_71.mov")`` -> path of that clip (made once per module)."""
    folder = tmp_path_factory.mktemp("hardening")
    return lambda name: make(name, folder)


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "avpipe", *args], capture_output=True, text=True, timeout=timeout)


def run_one(path: Path, tmp_path: Path, stages: str) -> dict:
    """``avpipe run`` on one file with ``stages``; its index record, with the result beside it."""
    pipeline = tmp_path / "p.toml"
    pipeline.write_text(f'name = "hard"\nstages = [{stages}]\n[speech]\nbeam_size = 1\n')
    out = tmp_path / "out"
    done = cli("run", str(path), "--out", str(out), "--pipeline", str(pipeline), "--quiet", "--no-index")
    assert "Traceback" not in done.stderr, done.stderr
    (record,) = [json.loads(x) for x in (out / "index.jsonl").read_text(encoding="utf-8").splitlines()]
    if record["status"] == "ok":
        record["result_json"] = json.loads((out / record["result"]).read_text(encoding="utf-8"))
    return record


def test_a_custom_order_71_layout_is_probed_and_decoded_without_a_crash(hard, tmp_path):
    """Row 6. PyAV frees a custom-order layout's channel map twice once anything reads it: the
    probe's channel count was a segfault (exit 139), the worker's decode a heap abort."""
    path = hard("custom_71.mov")
    done = cli("probe", str(path))
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    facts = json.loads(done.stdout)
    assert facts["audio_stream"] == 1 and facts["streams"][1]["channels"] == 8
    # The whole track, decoded in a child so that a crash fails this test, not the session.
    code = ("import sys, numpy as np; from avpipe.probe import probe; from avpipe.decode import load_audio; "
            "t = load_audio(sys.argv[1], probe(sys.argv[1])); s = t.samples[16000:32000]; "
            "print(t.duration_s, int(np.argmax(np.abs(np.fft.rfft(s)))), t.warnings)")
    decoded = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert decoded.returncode == 0, (decoded.returncode, decoded.stderr[-2000:])
    seconds, pitch, warnings = decoded.stdout.split(maxsplit=2)
    assert float(seconds) == pytest.approx(3.0, abs=0.05)
    assert int(pitch) == pytest.approx(440, abs=2)  # 1 s window: bin = Hz; the tone survived the mix
    assert warnings.strip() == "[]"  # eight channels in phase: the mix stands
    record = run_one(path, tmp_path, '"probe", "decode", "shots", "keyframes", "speech"')
    assert record["status"] == "ok" and not record["result_json"]["errors"], record


def test_channels_that_cancel_in_the_mix_give_the_speech_back(hard):
    """Row 7. L = speech, R = -speech: the mono mix was silence, so no segment at all."""
    from avpipe.decode import load_audio
    from avpipe.evaluate import normalise
    from avpipe.options import SpeechOptions
    from avpipe.probe import probe
    from avpipe.speech import transcribe

    path = hard("cancel_jfk.mp4")
    track = load_audio(path, probe(path))
    assert float(np.sqrt(np.mean(np.square(track.samples)))) > 0.05  # the old mix: about 0.0002
    assert len(track.warnings) == 1 and "cancel when mixed to mono" in track.warnings[0]
    transcript, _ = transcribe(track.samples, SpeechOptions(beam_size=1))
    assert "my fellow americans" in normalise(" ".join(s.text for s in transcript.segments))
    # Ordinary stereo (the same speech in both channels) keeps the mix, with no warning.
    plain = load_audio(JFK, probe(JFK))
    assert plain.warnings == [] and np.abs(plain.samples).max() > 0.5


def test_mixes_that_do_not_cancel_are_left_alone(hard):
    """The guard fires on opposite phase only: 5.1 and quad mix as FFmpeg mixes them."""
    from avpipe.decode import load_audio
    from avpipe.probe import probe

    for name, hz in (("surround_51.mp4", 330), ("quad.mkv", 550)):
        path = hard(name)
        track = load_audio(path, probe(path))
        assert track.warnings == [] and track.duration_s == pytest.approx(3.0, abs=0.05), name
        spectrum = np.abs(np.fft.rfft(track.samples[16000:32000]))
        assert int(np.argmax(spectrum)) == pytest.approx(hz, abs=2), name
    tone = hard("cancel_tone.mkv")
    assert "cancel" in load_audio(tone, probe(tone)).warnings[0]


@pytest.mark.skipif(not has_encoder("libwebp_anim"), reason="this ffmpeg build has no libwebp_anim encoder")
def test_an_animated_webp_is_named_as_a_stream_with_no_decoder(hard, tmp_path):
    """Row 11. The stream was listed with no size and the error said the container held neither
    a video nor an audio stream."""
    path = hard("anim.webp")
    done = cli("probe", str(path))
    assert done.returncode == 1, done.stderr
    error = json.loads(done.stdout)["error"]
    assert error["type"] == "MediaOpenError"
    assert "a video stream with no decoder (webp animation)" in error["message"]
    record = run_one(path, tmp_path, '"probe", "decode", "shots", "keyframes"')
    assert record["status"] == "error"
    assert "a video stream with no decoder (webp animation)" in record["error"]["message"]


def test_a_one_frame_picture_track_is_not_taken_for_the_video(hard):
    """Row 16. The largest stream won: a one-frame 1920x1080 MJPEG track, Matroska's default, so
    the result had one keyframe. Now the 6 s video is chosen, its length read from the tag."""
    from avpipe.decode import open_frames
    from avpipe.options import DecodeOptions
    from avpipe.probe import probe

    path = hard("still_first.mkv")
    info = probe(path)
    assert info.streams[0].default and (info.streams[0].width, info.streams[0].height) == (1920, 1080)
    assert info.video_stream == 1
    assert info.streams[1].duration_s == pytest.approx(6.0, abs=0.05)  # Matroska's DURATION tag
    assert "passed over stream 0 (one frame)" in info.choice[0]
    frames = list(open_frames(path, info, DecodeOptions(fps=2.0, short_side=1000)))
    assert len(frames) >= 11 and frames[0].image.shape == (240, 320, 3)


def test_unknown_durations_and_empty_streams_end_in_a_record(hard, tmp_path):
    """A raw stream with no duration is one sampled frame; a video stream with no frame is an
    error of the decode stage beside the audio that worked."""
    from avpipe.probe import probe

    raw = probe(hard("raw.h264"))
    assert raw.video_stream == 0 and raw.duration_s is None
    record = run_one(hard("zero_frames.mkv"), tmp_path, '"probe", "decode", "shots", "keyframes", "speech"')
    assert record["status"] == "ok" and record["partial"]
    assert [e["stage"] for e in record["result_json"]["errors"]] == ["decode"]


def test_the_decode_stage_says_which_channel_it_used(hard, tmp_path):
    """Row 7 in the result: the note is in ``stages.decode.notes``, and the video is not partial
    (nothing was lost: the louder channel holds the speech)."""
    import dataclasses

    from avpipe.config import load_pipeline
    from avpipe.pipeline import process_video

    light = dataclasses.replace(load_pipeline(), stages=("probe", "decode", "audio"))  # audio: decode reads it
    result = process_video(hard("cancel_jfk.mp4"), "x", tmp_path, light)
    assert result.errors == [] and result.video.has_audio
    notes = result.stages["decode"].notes
    assert notes and "cancel when mixed to mono" in notes[0]
    plain = process_video(JFK, "y", tmp_path, light)
    assert plain.stages["decode"].notes is None
