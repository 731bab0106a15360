"""Build ``tests/data/people/``, the face set of real people that ``avpipe eval people --faces
people.jsonl`` reads (README, "avpipe eval people": **Faces**).

The set is git-ignored: its photos are read from public repository snapshots, brought here with
the search tool's ``fetch`` as bare git directories under ``--mirror`` (``OWNER+NAME/repo``), each
at the commit pinned in :data:`SOURCES`. A missing snapshot or commit stops the build with the
list of what to fetch:

- ``ageitgey/face_recognition`` at ``2e2dccea9dd0ce730c8d464d0f67c6eebb40c9d1``: White House
  photographs of Barack Obama (2009, 2010, 2012) and Joe Biden (2010, 2013) that the library
  ships as examples and test images.
- ``stumpylog/exifmwg`` at ``6421492a698e7a6a77c1f45a84ef8fc8ade1d52b``: the metadata library's
  sample photos, White House photographs of Obama (2010, 2016) and of the Situation Room (2011),
  their captions embedded.
- ``jbm1991/dog_breed_identifier`` at ``bcfe7646f7c7252e9e16b6f4e6fbd2f1ba766024``: the
  official portraits of President Biden and Vice President Harris (2021).
- ``jessehamner/BingoCards`` at ``8844107f09cbd01e68e661c581fe8a13e35319ef``: Donald Trump's
  official portrait (2017).
- ``debruine/webmorphR.stim`` at ``fa8b78fda2d659bb74ce62fcd99c4407551d2a77``: Lisa DeBruine's
  CC0 photos of herself (``lisa/``, ``zoom/``: two sessions of four) and the Face Research Lab
  London Set (``neutral_front/``, ``smiling_front/``, CC BY 4.0) with its participants' info.

What is made, in ``--out``:

* ``photos/*.jpg``: each photo byte for byte as its repository has it (nothing is scaled,
  cropped or re-encoded, so that a face's size is the publisher's and the bytes can be checked
  against the blob). 42 photos of 17 people, and one photo of several people (``person`` null:
  listed for ``avpipe search --face`` trials, never scored, since whose face is largest is not
  said by anyone).
* ``people.jsonl``: ``{file, person, split, ...}`` per photo, as :mod:`avpipe.people.evaluate`
  reads it; the other keys say where the photo is from.
* ``PROVENANCE.md``: every file's repository, commit, path, blob, sha256, author and licence.

Who is who is always the publisher's word: the captions the White House Photo Office embedded,
the file and folder names of the repositories, the London Set's participant numbers. No face
model chose or labelled anything.

The split is by person, so that the face threshold chosen on dev never saw a test person:
dev holds Lisa DeBruine, Kamala Harris and 5 London participants (19 photos of 7 people), test
holds Obama, Biden, Trump and 7 London participants (23 photos of 10 people): the hard genuine
pairs (one man across years, poses and lighting) are all test's. London participants are the 6
women and 6 men with the lowest participant numbers (``london_info.csv``); dev gets the first 3
women and the first 2 men of them.

    .venv/bin/python scripts/build_people_set.py [--out tests/data/people] [--mirror /work/.mirror]

Deterministic: the inputs are pinned and nothing is drawn.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from snapshots import Mirror  # scripts/snapshots.py: this folder is on sys.path when a script runs

ROOT = Path(__file__).resolve().parents[1]

#: repository -> (commit, licence of the repository's own files; the photos' own licences are per photo)
SOURCES: dict[str, tuple[str, str]] = {
    "ageitgey/face_recognition": ("2e2dccea9dd0ce730c8d464d0f67c6eebb40c9d1", "MIT"),
    "stumpylog/exifmwg": ("6421492a698e7a6a77c1f45a84ef8fc8ade1d52b", "MPL-2.0"),
    "jbm1991/dog_breed_identifier": ("bcfe7646f7c7252e9e16b6f4e6fbd2f1ba766024", "MIT (Udacity)"),
    "jessehamner/BingoCards": ("8844107f09cbd01e68e661c581fe8a13e35319ef", "none stated"),
    "debruine/webmorphR.stim": ("fa8b78fda2d659bb74ce62fcd99c4407551d2a77", "CC BY 4.0"),
}

WHITE_HOUSE = "public domain (US federal work, 17 U.S.C. 105)"
CC0 = "CC0 1.0 (webmorphR.stim: \"CC-0 images of the package creator\")"
LONDON = ("CC BY 4.0: DeBruine, L., & Jones, B. (2017). Face Research Lab London Set (Version 5). "
          "figshare. https://doi.org/10.6084/m9.figshare.5047666.v5")


@dataclass(frozen=True)
class Photo:
    """One photo of the set: where it goes, who it shows, and where it comes from."""

    file: str
    person: str | None
    split: str
    repo: str
    path: str
    about: str
    licence: str
    caption: bool = False  # whether the file embeds the White House caption quoted in ``about``


#: The named people's photos. ``about`` quotes or summarises the embedded caption where there is
#: one, and says so where there is none.
NAMED: list[Photo] = [
    Photo("photos/obama-2009-09-09.jpg", "Barack Obama", "test", "ageitgey/face_recognition", "examples/obama2.jpg",
          "Pete Souza, The White House: health care address to a joint session of Congress, 2009-09-09", WHITE_HOUSE, True),
    Photo("photos/obama-2010-05-10.jpg", "Barack Obama", "test", "ageitgey/face_recognition",
          "tests/test_images/obama3.jpg",
          "Pete Souza, The White House: Blue Room, 2010-05-10, with Joe Biden and Elena Kagan (the repository's "
          "crop shows Obama)", WHITE_HOUSE, True),
    Photo("photos/obama-2010-09-09.jpg", "Barack Obama", "test", "stumpylog/exifmwg", "tests/samples/images/sample1.jpg",
          "Pete Souza, The White House: throwing a ball for Bo in the Rose Garden, 2010-09-09 (a whole-body shot: "
          "the face is about 30 px wide, under the 40 px the vision stage describes)", WHITE_HOUSE, True),
    Photo("photos/obama-2012-12-06.jpg", "Barack Obama", "test", "ageitgey/face_recognition", "examples/obama.jpg",
          "Pete Souza, The White House: presidential portrait sitting, Oval Office, 2012-12-06", WHITE_HOUSE, True),
    Photo("photos/obama-2016-03-14.jpg", "Barack Obama", "test", "stumpylog/exifmwg", "tests/samples/images/sample2.jpg",
          "Pete Souza, The White House: signing a letter to a Cuban letter writer, Oval Office, 2016-03-14 "
          "(looking down)", WHITE_HOUSE, True),
    Photo("photos/biden-2010-05-10.jpg", "Joe Biden", "test", "ageitgey/face_recognition", "examples/biden.jpg",
          "Pete Souza, The White House: Blue Room, 2010-05-10 (the same photograph as obama-2010-05-10.jpg, "
          "another crop)", WHITE_HOUSE, True),
    Photo("photos/biden-2013.jpg", "Joe Biden", "test", "ageitgey/face_recognition",
          "examples/knn_examples/train/biden/biden2.jpg",
          "no caption embedded; filed by the repository under train/biden; by sight the official Vice-Presidential "
          "portrait of 2013 (David Lienemann, The White House)", WHITE_HOUSE),
    Photo("photos/biden-2021-03-03.jpg", "Joe Biden", "test", "jbm1991/dog_breed_identifier",
          "images/Joe_Biden_presidential_portrait.jpg",
          "Adam Schultz, The White House: official portrait, Library of the White House, 2021-03-03", WHITE_HOUSE, True),
    Photo("photos/harris-2021-03-04.jpg", "Kamala Harris", "dev", "jbm1991/dog_breed_identifier",
          "images/Kamala_Harris_Vice_Presidential_Portrait.jpg",
          "Lawrence Jackson, The White House: official portrait, Eisenhower Executive Office Building, 2021-03-04",
          WHITE_HOUSE, True),
    Photo("photos/trump-2017.jpg", "Donald Trump", "test", "jessehamner/BingoCards", "Donald_Trump_official_portrait.jpg",
          "no caption embedded; Wikimedia Commons' Donald_Trump_official_portrait.jpg as the repository added it on "
          "2017-03-10 (commit message: \"the official portrait\"), the 2017 official White House portrait",
          WHITE_HOUSE),
    *(Photo(f"photos/debruine-{name}.jpg", "Lisa DeBruine", "dev", "debruine/webmorphR.stim", f"inst/lisa/{name}.jpg",
            f"Lisa DeBruine, first session ({name}: the package's 'lisa' set, face size, position and rotation "
            "varied)", CC0) for name in ("lisa1", "lisa2", "lisa3", "lisa4")),
    *(Photo(f"photos/debruine-zoom-{name}.jpg", "Lisa DeBruine", "dev", "debruine/webmorphR.stim",
            f"inst/zoom/{name}.jpg",
            f"Lisa DeBruine, second session ({name}: the package's 'zoom' set, head-to-camera distance about {name})",
            CC0) for name in ("15cm", "30cm", "45cm", "60cm")),
]

#: Photos of several people: listed with ``person`` null and the publisher's names in ``people``.
GROUPS: list[tuple[Photo, list[str]]] = [
    (Photo("photos/group-2011-05-01.jpg", None, "test", "stumpylog/exifmwg", "tests/samples/images/sample3.jpg",
           "Pete Souza, The White House: the Situation Room, 2011-05-01 (the caption names 13 people; `people` "
           "lists the four faces exifmwg's sample tags by name)", WHITE_HOUSE, True),
     ["Joe Biden", "Barack Obama", "Denis McDonough", "Hillary Clinton"]),
]

#: London Set participants: how many women and men, and how many of each go to dev.
LONDON_PER_GENDER, LONDON_DEV = 6, {"female": 3, "male": 2}


def london_photos(mirror: Mirror) -> list[Photo]:
    """The London Set's participants chosen by :data:`LONDON_PER_GENDER` (lowest participant
    numbers with both a neutral and a smiling front photo), two photos each."""
    repo = "debruine/webmorphR.stim"
    data, _ = mirror.read(repo, "data-raw/london_info.csv")
    info = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    neutral = mirror.files(repo, "inst/neutral_front")
    smiling = mirror.files(repo, "inst/smiling_front")
    chosen: dict[str, list[dict]] = {"female": [], "male": []}
    for row in sorted(info, key=lambda r: r["face_id"]):
        fid, gender = row["face_id"], row["face_gender"]
        if (gender in chosen and len(chosen[gender]) < LONDON_PER_GENDER
                and f"inst/neutral_front/{fid}_03.jpg" in neutral and f"inst/smiling_front/{fid}_08.jpg" in smiling):
            chosen[gender].append(row)
    photos = []
    for gender, rows in chosen.items():
        if len(rows) < LONDON_PER_GENDER:
            sys.exit(f"London Set: only {len(rows)} {gender} participants with both photos")
        for n, row in enumerate(rows):
            fid = row["face_id"]
            split = "dev" if n < LONDON_DEV[gender] else "test"
            who = f"London {fid}"
            desc = f"Face Research Lab London Set participant {fid} ({row['face_gender']}, {row['face_eth']}, age " \
                   f"{row['face_age']}), London, April 2012"
            photos.append(Photo(f"photos/london-{fid}-neutral.jpg", who, split, repo, f"inst/neutral_front/{fid}_03.jpg",
                                desc + ", neutral", LONDON))
            photos.append(Photo(f"photos/london-{fid}-smiling.jpg", who, split, repo, f"inst/smiling_front/{fid}_08.jpg",
                                desc + ", smiling", LONDON))
    return sorted(photos, key=lambda p: p.file)


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of an image file's bytes (Pillow), or a stop if it is not an image."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Exception as exc:  # any decoding failure means the snapshot does not hold what it should
        sys.exit(f"not an image ({type(exc).__name__}: {exc})")


def build(mirror: Mirror, out: Path) -> list[dict]:
    """Write the photos and ``people.jsonl``; return the manifest rows (with sizes and hashes)."""
    photos = [(p, None) for p in NAMED] + [(p, None) for p in london_photos(mirror)] + list(GROUPS)
    folder = out / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.jpg"):
        old.unlink()
    rows = []
    for photo, people in photos:
        data, source = mirror.read(photo.repo, photo.path)
        blob = source.blob
        width, height = image_size(data)
        (out / photo.file).write_bytes(data)
        row = {"file": photo.file, "person": photo.person, "split": photo.split}
        if people:
            row["people"] = people
        row.update({"source": f"{photo.repo}@{SOURCES[photo.repo][0]}:{photo.path}", "blob": blob,
                    "sha256": hashlib.sha256(data).hexdigest(), "width": width, "height": height,
                    "about": photo.about, "licence": photo.licence, "caption_embedded": photo.caption})
        rows.append(row)
    (out / "people.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return rows


def provenance(rows: list[dict]) -> str:
    """PROVENANCE.md: sources, licences, split, and every file."""
    lines = ["# People (faces): provenance", "",
             "Built by `scripts/build_people_set.py` from these repository snapshots (bare git directories "
             "fetched under the mirror folder):", ""]
    for repo, (commit, licence) in SOURCES.items():
        lines.append(f"- `{repo}` at `{commit}` (repository licence: {licence})")
    scored = [r for r in rows if r["person"]]
    lines += ["", "Every photo is the repository's file byte for byte (its git blob and sha256 below); nothing was "
              "scaled, cropped or re-encoded. Who is shown is the publisher's word: the caption the White House Photo "
              "Office embedded (`caption` yes), otherwise the repository's file or folder name, and the London Set's "
              "participant numbers.", "",
              "Licences:", "",
              f"- White House photographs: {WHITE_HOUSE}. Their embedded notice (\"may not be manipulated in any "
              "way ... not used in commercial or political materials ... that in any way suggests approval or "
              "endorsement\") is a usage policy for the likeness of the people shown, not a copyright licence; "
              "these files are used only to measure face matching and suggest nothing.",
              f"- Lisa DeBruine's photos of herself: {CC0}.",
              f"- Face Research Lab London Set: {LONDON}. Participants consented to their images being \"used in "
              "lab-based and web-based studies in their original or altered forms and to illustrate research\" "
              "(webmorphR.stim's README).", "",
              "## Split", ""]
    for split in ("dev", "test"):
        mine = [r for r in scored if r["split"] == split]
        people = sorted({r["person"] for r in mine})
        lines.append(f"- {split}: {len(mine)} photos of {len(people)} people ({', '.join(people)})")
    groups = [r for r in rows if not r["person"]]
    lines += [f"- not scored: {len(groups)} photo of several people (`person` null)", "",
              "## Evaluate", "", "From this folder:", "",
              "    avpipe eval people --faces people.jsonl               # dev and test",
              "    avpipe eval people --faces people.jsonl --split test", "",
              "## Files", "", "| file | person | split | pixels | about | licence | source (repository@commit:path, "
              "blob) | sha256 | caption |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        who = r["person"] or "several: " + ", ".join(r.get("people", []))
        licence = "CC BY 4.0" if r["licence"] == LONDON else "CC0 1.0" if r["licence"] == CC0 else "public domain"
        lines.append(f"| `{r['file']}` | {who} | {r['split']} | {r['width']}x{r['height']} | {r['about']} | {licence} | "
                     f"`{r['source'].split('@')[0]}@{r['source'].split('@')[1][:12]}:{r['source'].split(':', 1)[1]}` "
                     f"(blob {r['blob'][:12]}) | {r['sha256'][:12]} | {'yes' if r['caption_embedded'] else 'no'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "people")
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    args = parser.parse_args()
    mirror = Mirror(args.mirror, {repo: commit for repo, (commit, _) in SOURCES.items()})
    rows = build(mirror, args.out)
    (args.out / "PROVENANCE.md").write_text(provenance(rows), encoding="utf-8")
    for split in ("dev", "test"):
        mine = [r for r in rows if r["person"] and r["split"] == split]
        print(f"{split:4} {len(mine):2} photos of {len({r['person'] for r in mine}):2} people")
    print(f"wrote {len(rows)} photos ({sum(1 for r in rows if not r['person'])} of several people, not scored), "
          f"people.jsonl and PROVENANCE.md to {args.out}")


if __name__ == "__main__":
    main()
