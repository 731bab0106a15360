"""Build ``tests/data/shots_outside/``: real edited footage that nobody on this project made or
edited, with shot boundaries annotated by hand, for ``avpipe eval shots`` (README, "Shots on
footage from outside").

Run::

    .venv/bin/python scripts/build_shots_outside_set.py [--out tests/data/shots_outside] [--mirror /work/.mirror]

It reads only local bare-git snapshots of four public repositories (``MIRROR/owner+name/repo``,
as the project's fetch tool leaves them) at the commits pinned in :data:`CLIPS`, checks every
file's sha256, and fails with the list of what is missing. It writes (the folder is git-ignored):

- the seven clips, byte for byte as the repositories hold them;
- ``shots.jsonl``: the reference of :mod:`avpipe.shots.evaluate`, one clip a line, with its
  ``split`` and ``footage`` kind;
- ``PROVENANCE.md``: every clip's repository, commit, path, sha256, licence and attribution.

**How the reference was made.** On 2026-12-03, before any shot detector or frame-difference
measure had been run on these files, every frame of every clip was looked at on contact sheets
(every second or third frame, then every frame around each change seen, at up to 320 pixels
wide), and the first frame of each new shot written down. A cut's time is that frame's index
over the frame rate. A gradual transition's span runs from its first changed frame to its last.
Calls that needed judgement, and how they were made:

- A shot that ends in a cut to black, or one that starts with a cut out of black, with black
  between, is one ``fade`` (a fade through black), as the edited set counts it.
- Camera whips, fast tilts into darkness, motion blur, bodies or cars crossing the whole frame
  for one to three frames, laser and explosion flashes, and a visual effect that turns a robot
  into a woman in place are no boundary: the background and the camera's path go on.
- Titles fading in over a shot are no boundary (``quiet`` spans of kind ``title``); the shot
  under a title fading to black, leaving the title card, is a ``fade``.
- The Tears of Steel battle's chaotic shot from 32.83 s to 36.29 s (a robot crashing through a
  window at the camera) was the least sure call: it is annotated as one shot.

**Split**, fixed with the annotation and before any detector ran: the two clips that share
footage (the Sintel fight excerpt is inside the trailer) are on the same side. ``test``: the
Tears of Steel battle (live action), the Sintel trailer and fight (animation), Caminandes (one
shot, cars crossing); ``dev``: the other Tears of Steel excerpt, Big Buck Bunny's first minute,
and the static flower. Tune on ``dev``. (The detector's release that came with this set was
changed twice after its test misses were seen, as the README says; its test figures are
therefore not untouched.)

There is no handheld home video here: no openly licensed one was found in a public repository
(see PROVENANCE.md); the edited set (``python tests/media shots``) still covers shake.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from snapshots import Mirror  # scripts/snapshots.py: this folder is on sys.path when a script runs

ROOT = Path(__file__).resolve().parents[1]

CC_BY_3 = "CC BY 3.0 (https://creativecommons.org/licenses/by/3.0/)"

#: Each clip: where it comes from, its sha256, licence and attribution, and the hand annotation.
#: Transitions are ``(kind, first_frame, last_frame)`` (a cut: its first new frame twice);
#: quiet spans ``(kind, start_s, end_s)``.
CLIPS: list[dict] = [
    {"file": "tos_lab_bridge.mp4", "repo": "awwkl/ZWM", "commit": "be5125291de4ecce43d0129d8c1778016628cf82",
     "path": "data/demo_videos/clip_01_tears_of_steel.mp4",
     "sha256": "255457e25f7001063ae259b973e48c10f5088b131649e9649be43d2b11c09434",
     "licence": CC_BY_3, "credit": "Tears of Steel (2012), (CC) Blender Foundation, mango.blender.org; "
     "10 s excerpt (about 5:00-5:10) centre-cropped to 640x360 by the repository (its data/demo_videos/README.md)",
     "split": "dev", "footage": "action", "fps": 24, "duration": 10.0,
     "transitions": [("cut", 21, 21), ("cut", 65, 65), ("cut", 185, 185)],
     "quiet": [("effect", 7.8, 10.0)]},
    {"file": "caminandes_road.mp4", "repo": "awwkl/ZWM", "commit": "be5125291de4ecce43d0129d8c1778016628cf82",
     "path": "data/demo_videos/clip_02_caminandes.mp4",
     "sha256": "d69c98a9bad89edfbedecbbab0c9e65aa1fe4612079a13e2f08ac94f0b35056e",
     "licence": CC_BY_3, "credit": "Caminandes 1: Llama Drama (2013), (CC) Blender Foundation, caminandes.com; "
     "10 s excerpt (about 0:15-0:25) scaled to 640x360 by the repository",
     "split": "test", "footage": "animation", "fps": 24, "duration": 10.0,
     "transitions": [], "quiet": [("occlusion", 0.0, 10.0)]},
    {"file": "sintel_fight.mp4", "repo": "awwkl/ZWM", "commit": "be5125291de4ecce43d0129d8c1778016628cf82",
     "path": "data/demo_videos/clip_03_sintel.mp4",
     "sha256": "5c9791890691d0aa74a90269902189b7add34b545a3b9e6c709c43c721abf60f",
     "licence": CC_BY_3, "credit": "Sintel (2010), (CC) Blender Foundation, durian.blender.org; "
     "10 s excerpt as re-encoded by test-videos.co.uk",
     "split": "test", "footage": "animation", "fps": 24, "duration": 10.0,
     "transitions": [("cut", f, f) for f in (58, 76, 96, 118, 140, 176, 209)], "quiet": []},
    {"file": "tos_battle.webm", "repo": "mdn/shared-assets", "commit": "af39d463655d82444b9063ae9d8eeef757e082a4",
     "path": "videos/tears-of-steel-battle-clip-medium.webm",
     "sha256": "c47f696d781dcc51296d44eeb70909361d846a5b08c239331fa7e9dd80e5d4b7",
     "licence": CC_BY_3, "credit": "Tears of Steel (2012), (CC) Blender Foundation, mango.blender.org; "
     "the battle scene as MDN's shared assets hold it (their README admits CC0 or permissively licensed media only)",
     "split": "test", "footage": "action", "fps": 24, "duration": 70.54,
     "transitions": [("cut", f, f) for f in (52, 122, 158, 221, 309, 715, 788, 872, 901, 987, 1127, 1157, 1203,
                                             1234, 1246, 1284, 1345, 1378, 1430, 1472, 1525, 1571, 1618, 1650,
                                             1689)],
     "quiet": [("motion", 33.4, 36.1), ("pan", 47.2, 48.1), ("pan", 48.4, 50.0), ("flash", 62.25, 63.05),
               ("flash", 69.25, 69.7)]},
    {"file": "bbb_first_minute.mp4", "repo": "parulj/ivideo", "commit": "53e1756d650fb2a99e50aad73be269681ed56ea4",
     "path": "big_buck_bunny.mp4",
     "sha256": "fc37c9809ace22480f6c5b94c7a490e1eb1a68912080f004a45defd2b8194f9c",
     "licence": CC_BY_3, "credit": "Big Buck Bunny (2008), (c) copyright Blender Foundation, peach.blender.org; "
     "its first minute at 640x360 (the repository states no licence of its own; the film's is CC BY 3.0)",
     "split": "dev", "footage": "animation", "fps": 24, "duration": 60.14,
     "transitions": [("fade", 1, 60), ("cut", 285, 285), ("cut", 378, 378), ("cut", 553, 553),
                     ("dissolve", 763, 792), ("cut", 1145, 1145), ("cut", 1346, 1346)],
     "quiet": [("title", 20.4, 22.9), ("title", 25.0, 30.2)]},
    {"file": "sintel_trailer.mp4", "repo": "jhclaura/Threejs-Workshop",
     "commit": "44b075d0af55995cbfde7bcde3ee90b9ed1e96a5", "path": "videos/sintel.mp4",
     "sha256": "ca4e963c0adf756dcde7cdf98aa3cecaed395e09212a09bf168bb79b60b1c0b4",
     "licence": CC_BY_3, "credit": "Sintel (2010), (CC) Blender Foundation, durian.blender.org; the official "
     "52 s trailer (the repository states no licence of its own; the film's is CC BY 3.0, and "
     "codrops/SeatPreview credits the same trailer so)",
     "split": "test", "footage": "animation", "fps": 24, "duration": 52.17,
     "transitions": [("dissolve", 119, 142), ("fade", 208, 226), ("fade", 264, 304), ("cut", 336, 336),
                     ("fade", 366, 398), ("cut", 406, 406), ("fade", 421, 450), ("fade", 508, 544),
                     ("cut", 573, 573), ("cut", 623, 623), ("cut", 660, 660), ("fade", 673, 690),
                     ("fade", 766, 784), ("dissolve", 840, 866), ("fade", 964, 1010), ("fade", 1116, 1142),
                     ("cut", 1165, 1165), ("cut", 1222, 1222)],
     "quiet": [("fade-in", 0.0, 4.0)]},
    {"file": "flower_static.mp4", "repo": "mdn/shared-assets", "commit": "af39d463655d82444b9063ae9d8eeef757e082a4",
     "path": "videos/flower.mp4",
     "sha256": "0cd83d944a6ca7822b4a8306cecc60a36e859b041f6702c6a1ad9ead78924451",
     "licence": "CC0 1.0 (MDN serves this file from its cc0-videos folder)", "credit": "flower.mp4, MDN shared assets",
     "split": "dev", "footage": "static", "fps": 29.97, "duration": 5.05,
     "transitions": [], "quiet": [("static", 0.0, 5.05)]},
]


def reference_line(clip: dict) -> dict:
    """The clip's line of ``shots.jsonl``: frame numbers turned into seconds."""
    fps = float(clip["fps"])
    return {"video": clip["file"], "split": clip["split"], "footage": clip["footage"], "fps": clip["fps"],
            "duration": clip["duration"],
            "transitions": [{"kind": kind, "start": round(a / fps, 3), "end": round(b / fps, 3)}
                            for kind, a, b in clip["transitions"]],
            "quiet": [{"kind": kind, "start": a, "end": b} for kind, a, b in clip["quiet"]]}


def build(out: Path, mirror: Path) -> None:
    """Write the clips, ``shots.jsonl`` and ``PROVENANCE.md`` into ``out``."""
    snapshots = Mirror(mirror, {c["repo"]: c["commit"] for c in CLIPS})  # stops naming what to fetch
    blobs = {}
    for clip in CLIPS:
        data, source = snapshots.read(clip["repo"], clip["path"])
        if hashlib.sha256(data).hexdigest() != clip["sha256"]:
            raise SystemExit(f"{source.cite()}: sha256 differs from the annotated file's")
        blobs[clip["file"]] = (data, source)
    out.mkdir(parents=True, exist_ok=True)
    for name, (data, _) in blobs.items():
        tmp = out / (name + ".part")
        tmp.write_bytes(data)
        tmp.replace(out / name)
    lines = [json.dumps(reference_line(c)) for c in CLIPS]
    (out / "shots.jsonl").write_text("\n".join(lines) + "\n")
    rows = ["| file | split | footage | transitions | source (repository @ commit : path, blob) | sha256 | licence | credit |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for c in CLIPS:
        kinds = [k for k, _, _ in c["transitions"]]
        summary = ", ".join(f"{kinds.count(k)} {k}" for k in sorted(set(kinds))) or "none"
        rows.append(f"| `{c['file']}` | {c['split']} | {c['footage']} | {summary} | {blobs[c['file']][1].cite()} | "
                    f"`{c['sha256']}` | {c['licence']} | {c['credit']} |")
    (out / "PROVENANCE.md").write_text(
        "# Shots on footage from outside: provenance\n\nBuilt by `scripts/build_shots_outside_set.py`, "
        "whose docstring says how the boundaries were annotated (by hand, before any detector ran) and "
        "how the split was fixed.\n\n" + "\n".join(rows) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "shots_outside")
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    args = parser.parse_args(argv)
    build(args.out, args.mirror)
    print(f"wrote {len(CLIPS)} clips and shots.jsonl to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
