"""Test media, made here with the exact commands kept: clips from FFmpeg's lavfi sources
(``RECIPES``), slideshows of real photos, and the annotated evaluation sets built from real
footage and voices (``shot_set``, ``speaker_set``, ``search_set``). The ``ffmpeg`` binary is
imageio-ffmpeg's static build; no system FFmpeg is needed."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import imageio_ffmpeg

if TYPE_CHECKING:
    import numpy as np

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


#: Real footage nobody here made, read where Debian's opencv-doc installs it: a film clip
#: (Megamind, 23.976 fps, four shots) and a static street camera (vtest, 10 fps, 79.5 s).
FILM = PHOTOS / "Megamind.avi"
STREET = PHOTOS / "vtest.avi"
NASA = Path(__file__).resolve().parent.parent / "sample_videos" / "nasa_13013.mp4"
#: Output picture of the edited items.
EDIT_SIZE, EDIT_FPS = (480, 270), 25


def _piece_filter(index: int, piece: dict) -> str:
    """Filter chain for one input of :func:`edit`: to EDIT_SIZE at EDIT_FPS, plus the piece's own
    ``vf`` (a pan's crop, a shake, a flash)."""
    w, h = EDIT_SIZE
    if piece.get("photo"):
        # A still photo scaled to cover ``cover`` pixels wide; ``vf`` crops the moving window.
        chain = f"scale={piece['cover']}:-2,{piece['vf']}"
    else:
        chain = (f"fps={EDIT_FPS},scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h}"
                 + (f",{piece['vf']}" if piece.get("vf") else ""))
    return f"[{index}:v]{chain},setsar=1,format=yuv420p,settb=AVTB,setpts=PTS-STARTPTS[p{index}]"


def edit(out: Path, pieces: list[dict], joins: list[tuple]) -> dict:
    """Edit real footage into ``out`` and return its reference: the transitions (with their
    spans, known from the edit) and no ``quiet`` spans (the caller adds what it knows).

    A piece is ``{"src", "start", "dur"}`` (a stretch of a video) or ``{"src", "photo": True,
    "dur", "cover", "vf"}`` (a photo panned by a crop). ``joins[k]`` joins piece k and k+1:
    ``("cut",)``, ``("dissolve", d)`` (a cross-fade over d seconds, FFmpeg's xfade "fade") or
    ``("fade", out_s, black_s, in_s)`` (fade out to black, hold black, fade in).
    """
    cmd = [FFMPEG, "-y", "-v", "error"]
    for p in pieces:
        if p.get("photo"):
            cmd += ["-loop", "1", "-framerate", str(EDIT_FPS), "-t", str(p["dur"]), "-i", str(p["src"])]
        else:
            cmd += ["-ss", str(p["start"]), "-t", str(p["dur"]), "-i", str(p["src"])]
    w, h = EDIT_SIZE
    fades = {k: j for k, j in enumerate(joins) if j[0] == "fade"}
    graph = []
    chains: dict[int, list[str]] = {}
    for k, (_, out_s, _, in_s) in fades.items():
        chains.setdefault(k, []).append(f"fade=t=out:st={pieces[k]['dur'] - out_s:.3f}:d={out_s}")
        chains.setdefault(k + 1, []).append(f"fade=t=in:st=0:d={in_s}")
    for i, p in enumerate(pieces):
        chain = _piece_filter(i, p)
        if i in chains:
            chain = chain.replace(f"[p{i}]", "," + ",".join(chains[i]) + f"[p{i}]")
        graph.append(chain)
    transitions, cur, length = [], "p0", float(pieces[0]["dur"])
    for k, join in enumerate(joins):
        nxt, dur = f"p{k + 1}", float(pieces[k + 1]["dur"])
        if join[0] == "fade" and join[2] > 0:
            graph.append(f"color=c=black:s={w}x{h}:r={EDIT_FPS}:d={join[2]},format=yuv420p,settb=AVTB[b{k}]")
            graph.append(f"[{cur}][b{k}]concat=n=2:v=1:a=0,settb=AVTB[c{k}]")
            cur = f"c{k}"
        if join[0] == "dissolve":
            d = join[1]
            graph.append(f"[{cur}][{nxt}]xfade=transition=fade:duration={d}:offset={length - d:.3f}[j{k}]")
            transitions.append({"kind": "dissolve", "start": round(length - d, 3), "end": round(length, 3)})
            length += dur - d
        else:
            graph.append(f"[{cur}][{nxt}]concat=n=2:v=1:a=0,settb=AVTB[j{k}]")
            if join[0] == "cut":
                transitions.append({"kind": "cut", "start": round(length, 3), "end": round(length, 3)})
            else:
                _, out_s, black_s, in_s = join
                transitions.append({"kind": "fade", "start": round(length - out_s, 3),
                                    "end": round(length + black_s + in_s, 3)})
                length += black_s
            length += dur
        cur = f"j{k}"
    cmd += ["-filter_complex", ";".join(graph), "-map", f"[{cur}]", "-r", str(EDIT_FPS), "-c:v", "libx264",
            "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", str(out)]
    subprocess.run(cmd, check=True, timeout=300)
    return {"video": out.name, "fps": EDIT_FPS, "duration": round(length, 3), "transitions": transitions, "quiet": []}


def _clip(start: float, dur: float, src: Path = FILM, **extra) -> dict:
    return {"src": src, "start": start, "dur": dur, **extra}


def _pan(photo: str, dur: float, cover: int, x: str, y: str = "(ih-270)/2") -> dict:
    return {"src": PHOTOS / photo, "photo": True, "dur": dur, "cover": cover, "vf": f"crop=480:270:x='{x}':y='{y}'"}


def _quiet_between(item: dict, kind: str, guard: float = 0.5) -> list[dict]:
    """The stretches of ``item`` between its transitions (``guard`` seconds clear of each)."""
    edges = [0.0, *[x for tr in item["transitions"] for x in (tr["start"], tr["end"])], item["duration"]]
    spans = []
    for a, b in zip(edges[::2], edges[1::2]):
        if b - a > 2 * guard:
            spans.append({"kind": kind, "start": round(a + guard, 3), "end": round(b - guard, 3)})
    return spans


def shot_set(folder: Path) -> tuple[list[Path], Path]:
    """Build the annotated shot set of `avpipe eval shots` in ``folder``: the videos and
    ``shots.jsonl`` (one reference a line: transitions with their kind and span, and the
    ``quiet`` spans where no cut belongs). Every picture is real footage or real photos; the
    edits (cuts, dissolves, fades, flashes, pans, shake) are made here, so their times are
    known exactly (every duration is a whole number of frames at 25 fps). The three real clips
    are annotated by hand, frame by frame (see README)."""
    import json
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    items = []
    # 1. The film clip as it is: three hard cuts between dark shots of similar colours. Its
    #    first frame is black (the clip's start, not a transition).
    shutil.copyfile(FILM, folder / "film_megamind.avi")
    items.append({"video": "film_megamind.avi", "fps": 23.976, "duration": 11.261, "transitions": [
        {"kind": "cut", "start": 4.129, "end": 4.129}, {"kind": "cut", "start": 6.465, "end": 6.465},
        {"kind": "cut", "start": 8.383, "end": 8.383}], "quiet": [], "made": "Megamind.avi from opencv-doc, unchanged"})
    # 2. NASA's clip, its 320x180 25 fps stream: a dissolve (5.04-6.12 s) and a hard cut (8.08 s).
    subprocess.run([FFMPEG, "-y", "-v", "error", "-i", str(NASA), "-map", "0:v:0", "-c", "copy",
                    str(folder / "nasa_dissolve_cut.mp4")], check=True, timeout=60)
    items.append({"video": "nasa_dissolve_cut.mp4", "fps": 25, "duration": 13.0, "transitions": [
        {"kind": "dissolve", "start": 5.04, "end": 6.12}, {"kind": "cut", "start": 8.08, "end": 8.08}],
        "quiet": [{"kind": "static", "start": 0.5, "end": 4.5}, {"kind": "static", "start": 8.6, "end": 12.9}],
        "made": "sample_videos/nasa_13013.mp4, its first video stream copied"})
    # 3. A static street camera, 79.5 s, people walking: no cut at all.
    shutil.copyfile(STREET, folder / "static_street.avi")
    items.append({"video": "static_street.avi", "fps": 10, "duration": 79.5, "transitions": [],
                  "quiet": [{"kind": "static", "start": 0.0, "end": 79.5}], "made": "vtest.avi from opencv-doc, unchanged"})
    # 4. The film re-cut: hard cuts between its dark shots in a new order, two dissolves and a
    #    fade through black.
    item = edit(folder / "film_recut.mp4",
                [_clip(0.3, 3.6), _clip(6.6, 1.6), _clip(4.2, 2.2), _clip(8.5, 2.8), _clip(1.0, 2.8), _clip(4.2, 2.0)],
                [("cut",), ("cut",), ("dissolve", 1.0), ("fade", 0.4, 0.4, 0.6), ("dissolve", 0.6)])
    items.append({**item, "made": "Megamind.avi re-cut (FFmpeg trim, concat, xfade fade, fade)"})
    # 5. Dissolves of 0.5 to 2 s and a dip to black between street, NASA, film and a photo.
    item = edit(folder / "mixed_dissolves.mp4",
                [_clip(5, 6, STREET), _clip(8.5, 4.4, NASA), _clip(4.2, 2.2), _pan("building.jpg", 5, 560, "10+t*8"),
                 _clip(40, 6, STREET), _clip(0.5, 4.4, NASA)],
                [("dissolve", 2.0), ("dissolve", 1.0), ("dissolve", 0.6), ("fade", 1.0, 0.0, 1.0), ("dissolve", 1.6)])
    items.append({**item, "made": "vtest, NASA, Megamind and building.jpg joined with xfade and fades"})
    # 6. Cuts between similar photos (a chessboard from five poses; one building from two
    #    viewpoints), each panned slowly.
    photos = ["left01.jpg", "left02.jpg", "left05.jpg", "left09.jpg", "left12.jpg", "leuvenA.jpg", "leuvenB.jpg"]
    item = edit(folder / "similar_photos.mp4", [_pan(p, 3.0, 640, "20+t*25") for p in photos],
                [("cut",)] * (len(photos) - 1))
    item["quiet"] = _quiet_between(item, "pan")
    items.append({**item, "made": "opencv-doc photos left*.jpg, leuven*.jpg; a slow crop pan each; concat"})
    # 7. Fast pans and a whip pan over photos, with hard cuts between them.
    item = edit(folder / "fast_pans.mp4",
                [_pan("building.jpg", 3.6, 1920, "t*400"), _pan("aero1.jpg", 3.6, 1600, "1100-t*300"),
                 _pan("starry_night.jpg", 3.6, 1440, "t*250", "t*120"), _pan("stuff.jpg", 1.6, 2400, "t*1200")],
                [("cut",), ("cut",), ("cut",)])
    item["quiet"] = _quiet_between(item, "pan")
    items.append({**item, "made": "opencv-doc photos scaled up and crossed by a moving crop (250-1200 px/s); concat"})
    # 8. The street camera shaken by hand (a wandering crop), with three flashes: two white
    #    frames at 12 s, a brightness burst of three frames at 30 s, one white frame at 47.5 s.
    shake = ("scale=560:315,crop=480:270:x='40+25*sin(2*PI*t*1.3)+10*sin(2*PI*t*4.1)':"
             "y='22+15*sin(2*PI*t*1.7)+6*sin(2*PI*t*5.3)',"
             "drawbox=c=white:t=fill:enable='between(t,12,12.07)',eq=brightness=0.5:enable='between(t,30,30.11)',"
             "drawbox=c=white:t=fill:enable='between(t,47.5,47.53)'")
    item = edit(folder / "handheld_flashes.mp4", [_clip(0, 60, STREET, vf=shake)], [])
    item["quiet"] = [{"kind": "handheld", "start": 0.0, "end": 60.0}] + [
        {"kind": "flash", "start": a - 0.5, "end": a + 0.6} for a in (12.0, 30.0, 47.5)]
    items.append({**item, "made": "vtest.avi with a wandering crop (shake) and drawbox/eq flashes"})
    # 9. Dissolves between moving shots (pans, shake, a zoom), where the linear-blend test has
    #    the most to lose, then a cut into the film.
    zoom = {"src": PHOTOS / "home.jpg", "photo": True, "dur": 3.2, "cover": 960,
            "vf": "zoompan=z='1+0.5*on/80':d=1:x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2':s=480x270:fps=25"}
    item = edit(folder / "moving_dissolves.mp4",
                [_pan("building.jpg", 4.0, 1600, "t*150"), _pan("aero1.jpg", 4.0, 1200, "600-t*120"),
                 _clip(20, 4.0, STREET, vf="scale=560:315,crop=480:270:x='40+30*sin(2*PI*t*1.1)':y='22+15*sin(2*PI*t*1.9)'"),
                 zoom, _clip(6.6, 1.6)],
                [("dissolve", 1.2), ("dissolve", 0.8), ("dissolve", 1.0), ("cut",)])
    items.append({**item, "made": "building.jpg and aero1.jpg panned, vtest shaken, home.jpg zoomed, Megamind; "
                                  "xfade and concat"})
    # 10. A fixed camera on a tree, a frame every 0.4 s or so, with a hand waved into view near
    #     the end: no cut.
    shutil.copyfile(PHOTOS / "tree.avi", folder / "static_tree_hand.avi")
    items.append({"video": "static_tree_hand.avi", "fps": 15, "duration": 29.6, "transitions": [],
                  "quiet": [{"kind": "static", "start": 0.0, "end": 29.6}], "made": "tree.avi from opencv-doc, unchanged"})
    ref = folder / "shots.jsonl"
    ref.write_text("".join(json.dumps(x) + "\n" for x in items))
    return [folder / x["video"] for x in items], ref


def _pcm(source: Path, start: float = 0.0, end: float | None = None) -> "np.ndarray":
    """16 kHz mono float32 samples of ``source`` (any FFmpeg input), from ``start`` to ``end`` s."""
    import numpy as np

    cmd = [FFMPEG, "-v", "error", "-ss", str(start), "-i", str(source)]
    cmd += ["-t", str(end - start)] if end is not None else []
    raw = subprocess.run([*cmd, "-map", "0:a:0", "-ac", "1", "-ar", "16000", "-f", "s16le", "-"],
                         check=True, capture_output=True, timeout=60).stdout
    return np.frombuffer(raw, np.int16).astype(np.float32) / 32768.0


def _espeak(voice: str, text: str) -> "np.ndarray":
    """A sentence spoken by espeak-ng in ``voice``, as 16 kHz samples, silence trimmed."""
    import shutil
    import tempfile

    import numpy as np

    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise FileNotFoundError("espeak-ng is not installed (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "line.wav"
        subprocess.run([espeak, "-v", voice, "-s", "150", "-w", str(wav), text], check=True, timeout=60)
        x = _pcm(wav)
    loud = np.flatnonzero(np.abs(x) > 0.02)
    return x[loud[0]:loud[-1] + 1] if len(loud) else x


def _dialogue(out: Path, lines: list[tuple[str, "np.ndarray"]], gap_s: float = 0.5) -> dict:
    """Lines (speaker, samples) one after another with ``gap_s`` of silence between, as an MP4
    over a grey picture; returns the reference turns."""
    import numpy as np

    gap = np.zeros(int(gap_s * 16000), np.float32)
    audio, turns, t = [gap], [], gap_s
    for speaker, x in lines:
        turns.append({"start": round(t, 3), "end": round(t + len(x) / 16000, 3), "speaker": speaker})
        audio += [x, gap]
        t += (len(x) + len(gap)) / 16000
    _write_mp4(out, np.concatenate(audio))
    return {"video": out.name, "turns": turns}


def _write_mp4(out: Path, audio: "np.ndarray") -> None:
    """16 kHz samples as an MP4's AAC track under a grey picture."""
    import tempfile
    import wave

    import numpy as np

    samples = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "audio.wav"
        with wave.open(str(wav), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes(samples.tobytes())
        subprocess.run([FFMPEG, "-y", "-v", "error", "-f", "lavfi", "-i", "color=c=gray:size=160x120:rate=5",
                        "-i", str(wav), "-shortest", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
                        "-b:a", "96k", str(out)], check=True, timeout=120)


#: The espeak-ng lines of the made dialogues: (voice, sentence).
ESPEAK_DIALOGUE = [
    ("en-us", "Good morning. Did you see the launch yesterday afternoon?"),
    ("en+f3", "I did. The rocket climbed so fast that I almost missed it."),
    ("en-us", "The second stage separated right on time, they said."),
    ("en+f3", "And the booster landed back on the ship a few minutes later."),
    ("en-us", "Next month they will try again with a heavier payload."),
    ("en+f3", "Then I will take the whole afternoon off to watch it."),
]
ESPEAK_THREE = [
    ("en-us", "Welcome back to the show. Today we talk about gardens."),
    ("en+f3", "Thank you. Spring is the best time to plant tomatoes."),
    ("en-gb-x-rp+m7", "I disagree. Autumn is better for most vegetables."),
    ("en-us", "Why is that? Most people start their seeds in spring."),
    ("en+f3", "Because the soil is warm and the days are getting longer."),
    ("en-gb-x-rp+m7", "But the autumn rain means you hardly need to water them."),
]


def speaker_set(folder: Path) -> tuple[list[Path], Path]:
    """Build the annotated set of `avpipe eval speakers` in ``folder``: the videos and
    ``speakers.jsonl`` (the reference turns of each). Real voices where we have them: NASA's
    narrator and President Kennedy (``../shared/media``), alternated A B A B from their own
    recordings at their pauses (``sample_videos/``), and the narrator alone; and made voices (espeak-ng), two
    alternating and three in turn. Turn times are known from the assembly."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    nasa, jfk = NASA, NASA.parent / "jfk.mp4"
    items = []
    # Real voices: the narrator's two sentences (0.2-4.9 s, 5.15-12.9 s of the clip) and
    # Kennedy's line cut at its pauses ("And so my fellow Americans, ask not" 0.3-4.3 s; "what
    # your country can do for you, ask what you can do for your country" 5.4-10.35 s).
    lines = [("narrator", _pcm(nasa, 0.2, 4.9)), ("kennedy", _pcm(jfk, 0.3, 4.3)),
             ("narrator", _pcm(nasa, 5.15, 12.9)), ("kennedy", _pcm(jfk, 5.4, 10.35))]
    items.append({**_dialogue(folder / "real_two_voices.mp4", lines), "made": "NASA narration and jfk.mp4, alternated"})
    items.append({**_dialogue(folder / "real_one_voice.mp4", [("narrator", _pcm(nasa, 0.2, 12.9))]),
                  "made": "NASA narration alone"})
    items.append({**_dialogue(folder / "espeak_two_voices.mp4", [(v, _espeak(v, s)) for v, s in ESPEAK_DIALOGUE]),
                  "made": "espeak-ng en-us and en+f3, alternating"})
    items.append({**_dialogue(folder / "espeak_three_voices.mp4", [(v, _espeak(v, s)) for v, s in ESPEAK_THREE]),
                  "made": "espeak-ng en-us, en+f3 and en-gb-x-rp+m7 in turn"})
    ref = folder / "speakers.jsonl"
    ref.write_text("".join(json.dumps(x) + "\n" for x in items))
    return [folder / x["video"] for x in items], ref


def _film_frame(index: int) -> "np.ndarray":
    """Frame ``index`` (from 0) of the Megamind clip, BGR."""
    import av

    with av.open(str(FILM)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="bgr24")
    raise IndexError(index)


def _skimage_photo(name: str) -> "np.ndarray":
    """One of scikit-image's bundled photos (astronaut: NASA, public domain; chelsea, coffee:
    CC0 per scikit-image's data README), RGB."""
    from skimage import data

    return getattr(data, name)()


def _write_images(folder: Path, items: list[dict], key: str) -> tuple[list[Path], Path]:
    import json

    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for item in items:
        source = item.pop("_from")
        if isinstance(source, tuple):  # ("film", frame) or ("skimage", name)
            image = Image.fromarray(_film_frame(source[1])[:, :, ::-1].copy() if source[0] == "film"
                                    else _skimage_photo(source[1]))
        else:
            image = Image.open(PHOTOS / source).convert("RGB")
        image.save(folder / item["image"])
    ref = folder / f"{key}.jsonl"
    ref.write_text("".join(json.dumps(x) + "\n" for x in items))
    return [folder / x["image"] for x in items], ref


#: Faces drawn by hand (x, y, w, h in pixels) on real pictures nobody here made: frames of the
#: Megamind clip (an animated film: stylised but not frontal-only faces, dim light, a face in the
#: background), scikit-image's astronaut, and opencv-doc's footballer and two basketball photos,
#: whose second man is in profile. The boxes were taken from the CNN detector's output where it
#: was right (checked by eye on every image) and drawn where it was wrong; matching is by centres
#: (avpipe/vision/evaluate.py), so box style favours no detector. Messi's stadium crowd (faces of
#: 10-20 px) is an ignore region. The face-free photos count false faces.
FACE_SET = [
    {"image": "film_022.png", "_from": ("film", 22), "faces": [[263, 197, 125, 143], [444, 184, 70, 81]]},
    {"image": "film_044.png", "_from": ("film", 44), "faces": [[228, 166, 134, 150], [465, 177, 64, 81]]},
    {"image": "film_066.png", "_from": ("film", 66), "faces": [[225, 208, 139, 154], [469, 164, 61, 76]]},
    {"image": "film_088.png", "_from": ("film", 88), "faces": [[256, 142, 127, 166], [474, 165, 63, 78]]},
    {"image": "film_110.png", "_from": ("film", 110), "faces": [[399, 118, 152, 203]]},
    {"image": "film_132.png", "_from": ("film", 132), "faces": [[419, 141, 146, 200]]},
    {"image": "film_154.png", "_from": ("film", 154), "faces": [[229, 137, 150, 182]]},
    {"image": "film_176.png", "_from": ("film", 176), "faces": [[217, 146, 149, 179]]},
    {"image": "film_198.png", "_from": ("film", 198), "faces": [[276, 149, 162, 189]]},
    {"image": "film_220.png", "_from": ("film", 220), "faces": [[263, 62, 262, 351]]},
    {"image": "film_242.png", "_from": ("film", 242), "faces": [[266, 69, 240, 306]]},
    {"image": "film_264.png", "_from": ("film", 264), "faces": [[310, 94, 226, 277]]},
    {"image": "astronaut.png", "_from": ("skimage", "astronaut"), "faces": [[178, 63, 89, 112]]},
    {"image": "messi5.png", "_from": "messi5.jpg", "faces": [[225, 93, 30, 39]], "ignore": [[0, 0, 548, 200]]},
    {"image": "basketball1.png", "_from": "basketball1.png", "faces": [[72, 92, 31, 41], [510, 55, 43, 67]]},
    {"image": "basketball2.png", "_from": "basketball2.png", "faces": [[70, 91, 32, 41], [517, 51, 45, 71]]},
    *({"image": name.rsplit(".", 1)[0] + ".png", "_from": name, "faces": []}
      for name in ("orange.jpg", "baboon.jpg", "fruits.jpg", "building.jpg", "home.jpg", "stuff.jpg", "leuvenA.jpg",
                   "licenseplate_motion.jpg", "aero1.jpg", "ela_original.jpg", "chicky_512.png", "box_in_scene.png",
                   "rubberwhale1.png", "graf1.png", "apple.jpg", "HappyFish.jpg", "starry_night.jpg",
                   "butterfly.jpg", "squirrel_cls.jpg", "smarties.png")),
    {"image": "chelsea.png", "_from": ("skimage", "chelsea"), "faces": []},
    {"image": "coffee.png", "_from": ("skimage", "coffee"), "faces": []},
]


def face_set(folder: Path) -> tuple[list[Path], Path]:
    """Write :data:`FACE_SET`'s images and ``faces.jsonl`` into ``folder``."""
    import copy

    return _write_images(folder, copy.deepcopy(FACE_SET), "faces")


#: COCO classes each real picture clearly shows (``objects``), and those it shows too small or
#: too ambiguously to require (``maybe``), annotated by eye; presence per image, not boxes.
OBJECT_SET = [
    {"image": "messi5.png", "_from": "messi5.jpg", "objects": ["person", "sports ball"]},
    {"image": "basketball1.png", "_from": "basketball1.png", "objects": ["person", "sports ball"], "maybe": ["chair"]},
    {"image": "basketball2.png", "_from": "basketball2.png", "objects": ["person", "sports ball"], "maybe": ["chair"]},
    {"image": "astronaut.png", "_from": ("skimage", "astronaut"), "objects": ["person"], "maybe": ["airplane"]},
    {"image": "chelsea.png", "_from": ("skimage", "chelsea"), "objects": ["cat"]},
    {"image": "coffee.png", "_from": ("skimage", "coffee"), "objects": ["cup", "spoon"], "maybe": ["bowl", "dining table"]},
    {"image": "chicky_512.png", "_from": "chicky_512.png", "objects": ["dog"], "maybe": ["couch", "bed"]},
    {"image": "home.png", "_from": "home.jpg", "objects": ["bird"]},
    {"image": "licenseplate_motion.png", "_from": "licenseplate_motion.jpg", "objects": ["car"]},
    {"image": "ela_original.png", "_from": "ela_original.jpg", "objects": ["book"]},
    {"image": "apple.png", "_from": "apple.jpg", "objects": ["apple"]},
    {"image": "orange.png", "_from": "orange.jpg", "objects": ["orange"]},
    {"image": "fruits.png", "_from": "fruits.jpg", "objects": ["orange"], "maybe": ["apple"]},
    {"image": "film_044.png", "_from": ("film", 44), "objects": ["person", "wine glass"],
     "maybe": ["dining table", "cup", "chair", "bottle"]},
    {"image": "film_110.png", "_from": ("film", 110), "objects": ["person"], "maybe": ["dining table", "wine glass", "cup"]},
    {"image": "building.png", "_from": "building.jpg", "objects": [], "maybe": ["car", "potted plant", "person"]},
    {"image": "box_in_scene.png", "_from": "box_in_scene.png", "objects": [], "maybe": ["book", "chair"]},
    *({"image": name.rsplit(".", 1)[0] + ".png", "_from": name, "objects": []}
      for name in ("baboon.jpg", "stuff.jpg", "leuvenA.jpg", "aero1.jpg", "rubberwhale1.png", "graf1.png",
                   "HappyFish.jpg", "starry_night.jpg", "butterfly.jpg", "squirrel_cls.jpg", "smarties.png")),
]


def object_set(folder: Path) -> tuple[list[Path], Path]:
    """Write :data:`OBJECT_SET`'s images and ``objects.jsonl`` into ``folder``."""
    import copy

    return _write_images(folder, copy.deepcopy(OBJECT_SET), "objects")


#: The made piece of the sound set: four chords (C, Am, F, G) of four beats under a four-note
#: melody, eight bars at 120 beats a minute (16 s). Written here; rendered by FluidSynth with the
#: FluidR3 General MIDI soundfont (Debian's fluid-soundfont-gm: sampled real instruments, MIT).
CHORDS = [(60, 64, 67), (57, 60, 64), (53, 57, 60), (55, 59, 62)]
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")


def _midi(program: int, drums: bool = False) -> bytes:
    """The piece as a standard MIDI file (format 0, one track) played by General MIDI ``program``;
    with ``drums``, over a rock beat on the drum channel (kick, snare, eighth-note hi-hat)."""
    import struct

    def vlq(n: int) -> bytes:
        out = [n & 0x7F]
        while n > 0x7F:
            n >>= 7
            out.append((n & 0x7F) | 0x80)
        return bytes(reversed(out))

    ticks, events = 480, []
    for bar in range(8):
        chord = CHORDS[bar % 4]
        melody = [chord[2] + 12, chord[1] + 12, chord[0] + 12, chord[1] + 12]
        for beat in range(4):
            for pitch, length, velocity in [*((p - 12, 1.0, 70) for p in chord), (melody[beat], 0.9, 90)]:
                start = (bar * 4 + beat) * ticks
                events += [(start, 1, 0x90, pitch, velocity), (start + int(length * ticks), 0, 0x80, pitch, 0)]
            if drums:
                start = (bar * 4 + beat) * ticks
                hits = [(36 if beat % 2 == 0 else 38, 0), (42, 0), (42, ticks // 2)]
                events += [e for note, at in hits for e in ((start + at, 1, 0x99, note, 100),
                                                             (start + at + ticks // 4, 0, 0x89, note, 0))]
    body = b"\x00\xff\x51\x03" + (500000).to_bytes(3, "big") + bytes([0, 0xC0, program])
    now = 0
    for at, _, status, pitch, velocity in sorted(events):
        body += vlq(at - now) + bytes([status, pitch, velocity])
        now = at
    body += b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, ticks) + b"MTrk" + struct.pack(">I", len(body)) + body


def _render(program: int, drums: bool = False) -> "np.ndarray":
    """The piece played by ``program`` through FluidSynth, as 16 kHz samples (trailing silence cut)."""
    import shutil
    import tempfile

    import numpy as np

    synth = shutil.which("fluidsynth")
    if synth is None or not SOUNDFONT.is_file():
        raise FileNotFoundError("fluidsynth and its soundfont are not installed (apt-get install fluidsynth fluid-soundfont-gm)")
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "piece.mid", Path(tmp) / "piece.wav"
        mid.write_bytes(_midi(program, drums))
        subprocess.run([synth, "-ni", "-q", "-F", str(wav), "-r", "16000", str(SOUNDFONT), str(mid)],
                       check=True, capture_output=True, timeout=120)
        x = _pcm(wav)
    loud = np.flatnonzero(np.abs(x) > 0.01)
    return x[: loud[-1] + 1] if len(loud) else x


def _sine(freq: float, seconds: float, level: float = 0.3) -> "np.ndarray":
    import numpy as np

    return (level * np.sin(2 * np.pi * freq * np.arange(int(seconds * 16000)) / 16000)).astype(np.float32)


def _siren(seconds: float, level: float = 0.3) -> "np.ndarray":
    """A tone sweeping 600 to 1,200 Hz and back every 2 s (a siren): tonal, but neither held nor music."""
    import numpy as np

    t = np.arange(int(seconds * 16000)) / 16000
    freq = 900 + 300 * np.sin(2 * np.pi * t / 2.0)
    return (level * np.sin(2 * np.pi * np.cumsum(freq) / 16000)).astype(np.float32)


def _labelled(out: Path, parts: list[tuple["np.ndarray", list[str]]], gap_s: float = 0.0) -> dict:
    """Audio parts one after another (``gap_s`` of silence between) as an MP4, with each part's
    labels over its span."""
    import numpy as np

    gap = np.zeros(int(gap_s * 16000), np.float32)
    labels, t, audio = [], 0.0, []
    for samples, names in parts:
        labels += [{"label": n, "start": round(t, 3), "end": round(t + len(samples) / 16000, 3)} for n in names]
        audio += [samples, gap]
        t += (len(samples) + len(gap)) / 16000
    _write_mp4(out, np.concatenate(audio))
    return {"video": out.name, "labels": labels}


def sound_set(folder: Path) -> tuple[list[Path], Path]:
    """Build the labelled set of `avpipe eval sounds` in ``folder``: the videos and
    ``sounds.jsonl``. Real: the NASA narration (its music bed, which the tagger hears
    throughout, is a ``maybe``: not checked by ear) and President Kennedy's line with the crowd
    behind him. Made: the piece above on piano and on flute (real instruments' samples), a 440 Hz
    tone and 1 kHz beeps, espeak-ng speech, pink noise, and the piano followed by Kennedy."""
    import json

    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    nasa, jfk = NASA, NASA.parent / "jfk.mp4"
    piano, flute = _render(0), _render(73)
    kennedy = _pcm(jfk, 0.3, 10.35)
    rng = np.random.default_rng(7)
    white = rng.standard_normal(8 * 16000)
    pink = np.fft.irfft(np.fft.rfft(white) / np.sqrt(np.arange(len(white) // 2 + 1) + 1.0), len(white))
    pink = (0.1 * pink / np.abs(pink).max()).astype(np.float32)
    silence = np.zeros(2 * 16000, np.float32)
    items = [
        {**_labelled(folder / "music_piano.mp4", [(piano, ["music"])]), "made": "made piece, FluidSynth piano"},
        {**_labelled(folder / "music_flute.mp4", [(flute, ["music"])]), "made": "made piece, FluidSynth flute"},
        {**_labelled(folder / "tone_440.mp4", [(_sine(440, 8), ["tone"])]), "made": "440 Hz sine, 8 s"},
        {**_labelled(folder / "tone_beeps.mp4", [(_sine(1000, 3), ["tone"]), (silence, []), (_sine(1000, 3), ["tone"])]),
         "made": "1 kHz beeps of 3 s, 2 s apart"},
        {**_labelled(folder / "noise_pink.mp4", [(pink, [])]), "made": "pink noise, 8 s"},
        {**_labelled(folder / "speech_espeak.mp4", [(np.concatenate([_espeak(v, t) for v, t in ESPEAK_DIALOGUE[:3]]),
                                                     ["speech"])]), "made": "espeak-ng, three lines"},
        {**_labelled(folder / "speech_kennedy.mp4", [(kennedy, ["speech"])]), "made": "real: jfk.mp4, 0.3-10.35 s"},
        {"video": "speech_nasa.mp4", "made": "real: the NASA clip's narration, unchanged",
         "labels": [{"label": "speech", "start": 0.2, "end": 12.9}], "maybe": ["music"]},
        {**_labelled(folder / "piano_then_speech.mp4", [(piano[: 8 * 16000], ["music"]), (kennedy, ["speech"])],
                     gap_s=1.0), "made": "8 s of the piano piece, 1 s of silence, Kennedy's line"},
        {**_labelled(folder / "music_band.mp4", [(_render(33, drums=True), ["music"])]),
         "made": "made piece, FluidSynth electric bass over drums"},
        {**_labelled(folder / "music_under_speech.mp4",
                     [(kennedy + 0.25 * piano[: len(kennedy)] / max(float(np.abs(piano).max()), 1e-9), ["speech", "music"])]),
         "made": "Kennedy's line with the piano piece mixed under it (peak 0.25)"},
        {**_labelled(folder / "siren.mp4", [(_siren(8), [])]), "made": "a sine sweeping 600-1,200 Hz and back every 2 s"},
    ]
    _write_mp4(folder / "speech_nasa.mp4", _pcm(nasa))
    ref = folder / "sounds.jsonl"
    ref.write_text("".join(json.dumps(x) + "\n" for x in items))
    return [folder / x["video"] for x in items], ref


if __name__ == "__main__":  # python tests/media.py shots FOLDER: build the shot set
    import sys

    builders = {"shots": shot_set, "speakers": speaker_set, "faces": face_set, "objects": object_set,
                "sounds": sound_set}
    if len(sys.argv) == 3 and sys.argv[1] in builders:
        videos, reference = builders[sys.argv[1]](Path(sys.argv[2]))
        print("\n".join(map(str, [*videos, reference])))
    else:
        sys.exit(f"usage: python tests/media.py {'|'.join(builders)} FOLDER")
