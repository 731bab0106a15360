"""The basic named clips: short synthetic videos made by FFmpeg's lavfi sources (test patterns,
SMPTE bars, plain colours, sines, noise, silence), each kept here as its exact command
(``RECIPES``), so that a test asks for a clip by name (``make(name, folder)``, the ``gen``
fixture of conftest.py) and gets it made by the same command every time. Nothing in them is real material:
made here, no rights reserved (sample_videos/three_shots.mp4 is made by the same recipe).
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from .common import FFMPEG

#: name -> ffmpeg arguments (after ``ffmpeg -y -hide_banner -loglevel error``), output last.
RECIPES: dict[str, str] = {
    # Three 3-second shots with hard cuts at 3 s and 6 s, and a 440 Hz tone.
    "three_shots.mp4": (
        "-f lavfi -i testsrc2=size=320x240:rate=25:duration=3 "
        "-f lavfi -i smptebars=size=320x240:rate=25:duration=3 "
        "-f lavfi -i color=c=0x206030:size=320x240:rate=25:duration=3 "
        "-f lavfi -i sine=frequency=440:sample_rate=44100:duration=9 "
        "-filter_complex [0:v][1:v][2:v]concat=n=3:v=1:a=0[v] "
        "-map [v] -map 3:a -c:v libx264 -crf 32 -pix_fmt yuv420p -c:a aac -b:a 32k -shortest"
    ),
    # Video only, no audio stream.
    "no_audio.mp4": "-f lavfi -i testsrc2=size=160x120:rate=10:duration=3 -c:v libx264 -pix_fmt yuv420p",
    # Audio only (AAC in MP4): no video stream.
    "audio_only.m4a": "-f lavfi -i sine=frequency=300:sample_rate=16000:duration=3 -c:a aac",
    # Old codecs in AVI.
    "cinepak.avi": "-f lavfi -i testsrc2=size=160x120:rate=10:duration=2 -c:v cinepak",
    "msmpeg4.avi": (
        "-f lavfi -i testsrc2=size=160x120:rate=10:duration=2 "
        "-f lavfi -i sine=frequency=500:duration=2 -c:v msmpeg4 -c:a pcm_s16le"
    ),
    # Rotated 90 degrees by display matrix: top half red, bottom half blue in coded pixels.
    "rotated.mp4": (
        "-noautorotate -display_rotation 90 -f lavfi -i color=c=red:size=160x120:rate=10:duration=2 "
        "-vf drawbox=x=0:y=60:w=160:h=60:color=blue:t=fill -c:v libx264 -pix_fmt yuv420p"
    ),
    # Two video streams of different sizes and two audio streams of different rates.
    "multi_stream.mkv": (
        "-f lavfi -i testsrc2=size=160x120:rate=10:duration=2 "
        "-f lavfi -i testsrc2=size=320x240:rate=10:duration=2 "
        "-f lavfi -i sine=frequency=300:sample_rate=8000:duration=2 "
        "-f lavfi -i sine=frequency=600:sample_rate=44100:duration=2 "
        "-map 0:v -map 1:v -map 2:a -map 3:a -c:v libx264 -pix_fmt yuv420p -c:a flac"
    ),
    # Variable frame rate: frames kept at irregular gaps, timestamps passed through.
    "vfr.mkv": (
        "-f lavfi -i testsrc2=size=160x120:rate=30:duration=4 "
        "-vf select='lt(mod(n\\,10)\\,3)' -fps_mode vfr -c:v libx264 -pix_fmt yuv420p"
    ),
    # Moov atom first (faststart), so a file cut short still opens: used for truncation tests.
    "faststart.mp4": (
        "-f lavfi -i testsrc2=size=320x240:rate=25:duration=6 "
        "-f lavfi -i sine=frequency=440:duration=6 "
        "-c:v libx264 -g 25 -pix_fmt yuv420p -c:a aac -movflags +faststart"
    ),
    # One hour, tiny picture and low-rate audio: for memory bounds, fast to make (~4 s, 17 MB).
    "hour_tiny.mp4": (
        "-f lavfi -i testsrc2=size=96x64:rate=2:duration=3600 "
        "-f lavfi -i sine=frequency=440:sample_rate=8000:duration=3600 "
        "-c:v libx264 -preset ultrafast -g 60 -pix_fmt yuv420p -c:a aac -b:a 8k"
    ),
    # 60 s of a steady tone plus pink noise over test bars: sound, but no speech.
    "tone_noise_60s.mp4": (
        "-f lavfi -i smptebars=size=160x120:rate=5:duration=60 "
        "-f lavfi -i sine=frequency=1000:sample_rate=16000:duration=60 "
        "-f lavfi -i anoisesrc=color=pink:amplitude=0.3:sample_rate=16000:duration=60 "
        "-filter_complex [1:a][2:a]amix=inputs=2[a] -map 0:v -map [a] "
        "-c:v libx264 -pix_fmt yuv420p -c:a aac"
    ),
    # The same, two minutes long: the baseline the hour is compared with.
    "two_min_tiny.mp4": (
        "-f lavfi -i testsrc2=size=96x64:rate=2:duration=120 "
        "-f lavfi -i sine=frequency=440:sample_rate=8000:duration=120 "
        "-c:v libx264 -preset ultrafast -g 60 -pix_fmt yuv420p -c:a aac -b:a 8k"
    ),
    # 60 s of digital silence over a still picture.
    "silent_60s.mp4": (
        "-f lavfi -i color=c=gray:size=160x120:rate=5:duration=60 "
        "-f lavfi -i anullsrc=channel_layout=mono:sample_rate=16000 "
        "-t 60 -c:v libx264 -pix_fmt yuv420p -c:a aac"
    ),
    # Written to a pipe, as browsers' MediaRecorder and live dumps write WebM: the muxer cannot
    # go back, so the header holds no duration (nor does any stream). Three shots of 4, 4 and
    # 5 s (cuts at 4 and 8 s; the first one moves) and a tone, 13 s in all. See PIPED.
    "piped_three_shots.webm": (
        "-f lavfi -i testsrc2=size=160x120:rate=25:duration=4 "
        "-f lavfi -i smptebars=size=160x120:rate=25:duration=4 "
        "-f lavfi -i color=c=0x206030:size=160x120:rate=25:duration=5 "
        "-f lavfi -i sine=frequency=440:sample_rate=48000:duration=13 "
        "-filter_complex [0:v][1:v][2:v]concat=n=3:v=1:a=0[v] "
        "-map [v] -map 3:a -c:v libvpx -b:v 300k -deadline realtime -c:a libopus -b:a 32k -f webm"
    ),
    # Audio only, 5 s of a tone in Matroska written to a pipe: no duration in the header either.
    "piped_tone.mka": "-f lavfi -i sine=frequency=300:sample_rate=16000:duration=5 -c:a flac -f matroska",
    # Shots shorter than the sampling step (0.5 s at the default 2 fps), each between two samples:
    # 3.2 s of a test pattern, five frames (0.2 s at 25 fps) of bars, 2.8 s of green and five
    # frames of red at the end. Cuts at 3.2, 3.4 and 6.2 s; 6.4 s in all.
    "short_shots.mp4": (
        "-f lavfi -i testsrc2=size=160x120:rate=25:duration=3.2 "
        "-f lavfi -i smptebars=size=160x120:rate=25:duration=0.2 "
        "-f lavfi -i color=c=0x206030:size=160x120:rate=25:duration=2.8 "
        "-f lavfi -i color=c=0xc02020:size=160x120:rate=25:duration=0.2 "
        "-filter_complex [0:v][1:v][2:v][3:v]concat=n=4:v=1:a=0[v] "
        "-map [v] -c:v libx264 -crf 28 -pix_fmt yuv420p"
    ),
}

#: Recipes written to FFmpeg's standard output (``... pipe:1 > NAME``), not to a file it can
#: seek in: what a pipe-written file is.
PIPED = {"piped_three_shots.webm", "piped_tone.mka"}


def command(name: str, out: Path) -> list[str]:
    """The full FFmpeg command that makes ``name`` at ``out`` (for a :data:`PIPED` one, that
    writes it to standard output, which :func:`make` sends to ``out``)."""
    return [FFMPEG, "-y", "-hide_banner", "-loglevel", "error", *shlex.split(RECIPES[name]),
            "pipe:1" if name in PIPED else str(out)]


def make(name: str, folder: Path) -> Path:
    """Generate ``name`` into ``folder`` (once) and return its path."""
    out = folder / name
    if not out.exists():
        if name in PIPED:
            with open(out, "wb") as stdout:
                subprocess.run(command(name, out), check=True, timeout=120, stdout=stdout)
        else:
            subprocess.run(command(name, out), check=True, timeout=120)
    return out
