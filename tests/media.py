"""Generated test media: every clip is made by FFmpeg's lavfi sources, with the exact command
kept here (the ``ffmpeg`` binary is imageio-ffmpeg's static build; no system FFmpeg needed)."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import imageio_ffmpeg

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
#: Real photos nobody here made: Debian's opencv-doc sample images (`apt-get install opencv-doc`).
PHOTOS = Path("/usr/share/doc/opencv-doc/examples/data")

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
}


def command(name: str, out: Path) -> list[str]:
    """The full FFmpeg command that makes ``name`` at ``out``."""
    return [FFMPEG, "-y", "-hide_banner", "-loglevel", "error", *shlex.split(RECIPES[name]), str(out)]


def make(name: str, folder: Path) -> Path:
    """Generate ``name`` into ``folder`` (once) and return its path."""
    out = folder / name
    if not out.exists():
        subprocess.run(command(name, out), check=True, timeout=120)
    return out


def slideshow(images: list[Path], out: Path, size: str = "480:270", seconds: int = 3,
              narration: list[str] | None = None) -> Path:
    """A video of still photos, ``seconds`` each, letterboxed to ``size`` (FFmpeg's concat).

    With ``narration`` (one sentence per photo), each sentence is spoken by espeak-ng (Debian's
    ``espeak-ng`` package) at the start of its photo, and the video gets that audio track.
    """
    import shutil
    import tempfile

    cmd = [FFMPEG, "-y", "-v", "error"]
    for image in images:
        cmd += ["-loop", "1", "-framerate", "10", "-t", str(seconds), "-i", str(image)]
    graph = "".join(f"[{i}:v]scale={size}:force_original_aspect_ratio=decrease,pad={size}:-1:-1,setsar=1[v{i}];"
                    for i in range(len(images)))
    graph += "".join(f"[v{i}]" for i in range(len(images))) + f"concat=n={len(images)}:v=1:a=0[v]"
    maps = ["-map", "[v]"]
    with tempfile.TemporaryDirectory() as tmp:
        if narration:
            espeak = shutil.which("espeak-ng")
            if espeak is None:
                raise FileNotFoundError("espeak-ng is not installed (apt-get install espeak-ng)")
            for i, sentence in enumerate(narration):
                wav = Path(tmp) / f"{i}.wav"
                subprocess.run([espeak, "-s", "140", "-w", str(wav), sentence], check=True, timeout=60)
                cmd += ["-i", str(wav)]
            base = len(images)
            graph += ";" + "".join(f"[{base + i}:a]aresample=16000,apad=whole_dur={seconds}[a{i}];"
                                   for i in range(len(narration)))
            graph += "".join(f"[a{i}]" for i in range(len(narration))) + f"concat=n={len(narration)}:v=0:a=1[a]"
            maps += ["-map", "[a]", "-c:a", "aac", "-b:a", "64k"]
        cmd += ["-filter_complex", graph, *maps, "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out)]
        subprocess.run(cmd, check=True, timeout=120)
    return out


#: The labelled set of `avpipe eval search`: slideshows of Debian's opencv-doc photos (real
#: photos and pictures nobody here made; `apt-get install opencv-doc`), 3 s a photo, letterboxed
#: to 480x270 by :func:`slideshow`. For each photo: a text query naming what a person sees in it,
#: and an image query made from the photo itself (its centre 70 %, scaled to 60 %: not the frame
#: the video holds). Each query's moment is its photo's 3 s shot.
SEARCH_SET: dict[str, list[tuple[str, str]]] = {
    "slides_a.mp4": [("orange.jpg", "an orange"), ("baboon.jpg", "a monkey"), ("butterfly.jpg", "a butterfly"),
                     ("squirrel_cls.jpg", "a squirrel"), ("apple.jpg", "an apple")],
    "slides_b.mp4": [("messi5.jpg", "a football player kicking a ball"), ("chicky_512.png", "a dog"),
                     ("building.jpg", "a building"), ("licenseplate_motion.jpg", "the back of a car"),
                     ("smarties.png", "colourful sweets")],
    "slides_c.mp4": [("HappyFish.jpg", "a cartoon fish"), ("fruits.jpg", "sliced fruit"),
                     ("starry_night.jpg", "a painting of a night sky"), ("aero1.jpg", "an aerial view of a town"),
                     ("home.jpg", "a palace with towers")],
}


def search_set(folder: Path, seconds: int = 3) -> tuple[list[Path], Path]:
    """Build :data:`SEARCH_SET` in ``folder``: the videos, the image queries and ``queries.jsonl``."""
    import json

    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    videos, lines = [], []
    for name, photos in SEARCH_SET.items():
        videos.append(slideshow([PHOTOS / p for p, _ in photos], folder / name, seconds=seconds))
        for i, (photo, text) in enumerate(photos):
            span = {"video": name, "start": i * seconds, "end": (i + 1) * seconds}
            with Image.open(PHOTOS / photo) as img:
                w, h = img.size
                crop = img.convert("RGB").crop((int(w * 0.15), int(h * 0.15), int(w * 0.85), int(h * 0.85)))
                crop = crop.resize((max(1, int(crop.width * 0.6)), max(1, int(crop.height * 0.6))))
                query = folder / "queries" / f"{Path(photo).stem}.jpg"
                query.parent.mkdir(exist_ok=True)
                crop.save(query, quality=90)
            lines.append({"text": text, **span})
            lines.append({"image": f"queries/{query.name}", **span})
    (folder / "queries.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return videos, folder / "queries.jsonl"
