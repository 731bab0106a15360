"""Slideshows of real photos, and the labelled set of `avpipe eval search` made from them.

:func:`slideshow` turns still photos into a video (FFmpeg's concat), optionally narrated one
sentence a photo by espeak-ng (Debian's ``espeak-ng`` package); many tests use it on their own
photos. :data:`SEARCH_SET` is three such slideshows of Debian's opencv-doc sample photos (real
photos and pictures nobody here made; ``apt-get install opencv-doc``), with text queries written
here by eye and image queries cut from the photos themselves (:func:`search_set`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .common import FFMPEG, PHOTOS, _espeak_exe, _write_jsonl


def slideshow(images: list[Path], out: Path, size: str = "480:270", seconds: int = 3,
              narration: list[str] | None = None, audio: Path | None = None) -> Path:
    """A video of still photos, ``seconds`` each, letterboxed to ``size`` (FFmpeg's concat).

    With ``narration`` (one sentence per photo), each sentence is spoken by espeak-ng (Debian's
    ``espeak-ng`` package) at the start of its photo, and the video gets that audio track; with
    ``audio`` (a recording), the video gets its first audio stream, cut at the video's end.
    """
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
            espeak = _espeak_exe()
            for i, sentence in enumerate(narration):
                wav = Path(tmp) / f"{i}.wav"
                subprocess.run([espeak, "-s", "140", "-w", str(wav), sentence], check=True, timeout=60)
                cmd += ["-i", str(wav)]
            base = len(images)
            graph += ";" + "".join(f"[{base + i}:a]aresample=16000,apad=whole_dur={seconds}[a{i}];"
                                   for i in range(len(narration)))
            graph += "".join(f"[a{i}]" for i in range(len(narration))) + f"concat=n={len(narration)}:v=0:a=1[a]"
            maps += ["-map", "[a]", "-c:a", "aac", "-b:a", "64k"]
        elif audio is not None:
            cmd += ["-i", str(audio)]
            maps += ["-map", f"{len(images)}:a:0", "-c:a", "aac", "-b:a", "64k", "-t", str(seconds * len(images))]
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
    folder.mkdir(parents=True, exist_ok=True)
    videos, lines = [], []
    for name, photos in SEARCH_SET.items():
        videos.append(slideshow([PHOTOS / p for p, _ in photos], folder / name, seconds=seconds))
        for i, (photo, text) in enumerate(photos):
            span = {"video": name, "start": i * seconds, "end": (i + 1) * seconds}
            query = folder / "queries" / f"{Path(photo).stem}.jpg"
            _crop_query(PHOTOS / photo, query)
            lines.append({"text": text, **span})
            lines.append({"image": f"queries/{query.name}", **span})
    return videos, _write_jsonl(folder / "queries.jsonl", lines)


#: The outside photo set (fetched, git-ignored): photos whose captions and subjects people outside
#: this project wrote (COCO 2017 captions, scikit-image's and imageio's descriptions); its
#: ``items.jsonl`` and ``PROVENANCE.md`` say where each came from; ``scripts/build_search_outside_set.py`` builds it.
OUTSIDE = Path(__file__).resolve().parents[1] / "data" / "search_outside"
#: Captions longer than this are a docstring's paragraphs, not what a person types in a search box.
QUERY_WORDS = 20


def _crop_query(photo: Path, query: Path) -> None:
    """An image query made from a photo: its centre 70 %, at 60 % of the size (not the video's frame)."""
    from PIL import Image

    with Image.open(photo) as img:
        w, h = img.size
        crop = img.convert("RGB").crop((int(w * 0.15), int(h * 0.15), int(w * 0.85), int(h * 0.85)))
        crop = crop.resize((max(1, int(crop.width * 0.6)), max(1, int(crop.height * 0.6))))
        query.parent.mkdir(exist_ok=True)
        crop.save(query, quality=90)


def outside_search_set(folder: Path, split: str, data: Path = OUTSIDE, per_video: int = 11,
                       seconds: int = 3) -> tuple[list[Path], Path]:
    """Slideshows of the outside set's ``split`` photos (``per_video`` a video, ``seconds`` each,
    in the order of ``items.jsonl``) and ``queries.jsonl``: every caption of at most
    :data:`QUERY_WORDS` words as a text query, and one image query a photo (:func:`_crop_query`),
    each labelled with its photo's shot."""
    import json

    items = [json.loads(line) for line in (data / "items.jsonl").read_text(encoding="utf-8").splitlines() if line]
    items = [i for i in items if i["split"] == split]
    folder.mkdir(parents=True, exist_ok=True)
    videos, lines = [], []
    for n, lo in enumerate(range(0, len(items), per_video)):
        part = items[lo : lo + per_video]
        name = f"outside_{split}_{n + 1}.mp4"
        videos.append(slideshow([data / i["photo"] for i in part], folder / name, seconds=seconds))
        for k, item in enumerate(part):
            span = {"video": name, "start": k * seconds, "end": (k + 1) * seconds}
            lines += [{"text": c, **span} for c in item["captions"] if len(c.split()) <= QUERY_WORDS]
            query = folder / "queries" / f"{Path(item['photo']).stem}.jpg"
            _crop_query(data / item["photo"], query)
            lines.append({"image": f"queries/{query.name}", **span})
    return videos, _write_jsonl(folder / "queries.jsonl", lines)
