"""The annotated shot set of `avpipe eval shots`: real footage and real photos, edited here into
known transitions (cuts, dissolves, fades, flashes, pans, shake), so that every transition's time
and span is known exactly; three real clips are used as they are, annotated by hand frame by
frame (see README).

The material nobody here made: Debian's opencv-doc film clip (Megamind), street camera (vtest),
tree camera and photos (``apt-get install opencv-doc``), and NASA's clip in sample_videos/ (a US
federal government work, public domain; sample_videos/SOURCES.md). :func:`edit` is the FFmpeg
editor (trim, concat, xfade, fade, crop pans) that makes the edited items.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .common import FFMPEG, FILM, NASA, PHOTOS, STREET, _write_jsonl

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
    return [folder / x["video"] for x in items], _write_jsonl(folder / "shots.jsonl", items)
