"""What an ImageNet label means: its place in WordNet, for search and for labels that are sure.

ImageNet's 1,000 classes are WordNet 3.0 noun synsets, so each sits under the words people use
for it: a baboon is an Old World monkey, a monkey, a primate, a mammal, an animal. The table
(``imagenet_hierarchy.json``, built once from Princeton's WordNet 3.0 by
``scripts/build_imagenet_hierarchy.py``; WordNet's licence beside it, ``WORDNET_LICENSE``)
holds every synset from a class up to the root, the familiar WordNet nouns below those synsets ("sedan" -> car), and the
words that mostly name something else ("park", "street": a query that says them seldom means
the synset the table has).

Two uses:

- **Search by meaning** (:func:`query_concepts`, :class:`ConceptIndex`): the query "a monkey" names the
  synset *monkey*; a frame whose labels are baboon 0.83 and macaque 0.05 holds 0.88 of its
  probability under it, a frame of a fox squirrel none. :mod:`avpipe.search.query` adds that
  share to a frame's cosine, so a label's hypernyms find it without being its name.
- **A label that is sure** (:func:`concept`): when the top class is unsure (an elephant seen as
  "ox" 0.3, "tusker" 0.2, "Indian elephant" 0.15), the most specific familiar hypernym that the
  labels agree on (here "elephant" or "mammal") is what the frame is said to show, at the
  probability they give it together; never a word as empty as "object" or "organism".

A frame's probabilities here are those of its stored labels (the ``top_k`` above ``min_score``):
a lower bound of what the classifier gave, so the back-off errs towards saying less.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    import numpy as np

    from ..schema import Keyframe, Label

TABLE = Path(__file__).with_name("imagenet_hierarchy.json")
#: Princeton's WordNet 3.0 licence, which travels with the table made from it.
LICENSE = Path(__file__).with_name("WORDNET_LICENSE")

#: How sure a frame's labels must be, together, of a concept for it to be named: the top label
#: when its own score reaches this, else the most specific familiar hypernym whose classes do.
SURE = 0.5

#: A hypernym is familiar enough to be said when its senses were tagged at least this often in
#: SemCor (WordNet's ``index.sense`` counts): "elephant" 3, "mammal" 3, "monkey" 8, "dog" 42,
#: while "proboscidean", "placental" and "even-toed ungulate" are 0.
FAMILIAR = 3

#: Synsets too general to say anything a user wants to hear, though familiar: never a concept.
TOO_GENERAL = frozenset({
    "n00001740",  # entity
    "n00001930",  # physical entity
    "n00002684",  # object
    "n00003553",  # whole
    "n00004258",  # living thing
    "n00004475",  # organism, being
    "n00021939",  # artifact
    "n03575240",  # instrumentality
    "n03100490",  # conveyance
    "n03076708",  # commodity
    "n00020827",  # matter
    "n00019613",  # substance
    "n15046900",  # solid
    "n14580897",  # material
    "n00007347",  # causal agent
    "n00002452",  # thing
    "n04014297",  # protective covering
})

#: Synsets this near the root (entity, object, whole, abstraction, location, part, ...) are too
#: general too, whatever their names.
GENERAL_DEPTH = 4

_WORD = re.compile(r"[a-z0-9][a-z0-9'\-]*")
#: Plurals that rules do not undo.
_IRREGULAR = {"men": "man", "women": "woman", "children": "child", "people": "person", "mice": "mouse",
              "geese": "goose", "teeth": "tooth", "feet": "foot", "oxen": "ox", "wolves": "wolf",
              "knives": "knife", "leaves": "leaf", "loaves": "loaf", "shelves": "shelf", "calves": "calf",
              "fungi": "fungus", "cacti": "cactus"}
#: Query words that name nothing a frame shows, though WordNet has them as nouns.
_NOT_CONCEPTS = frozenset({"a", "an", "the", "of", "in", "on", "at", "with", "and", "or", "to", "from", "by",
                           "is", "are", "some", "one", "two", "three", "photo", "picture", "image", "frame",
                           "video", "shot", "scene", "view", "thing", "things", "something", "someone",
                           "close", "up", "front", "back", "top", "side", "near", "next", "its", "their",
                           "his", "her", "this", "that", "there", "here", "very", "it",
                           # colours and sizes: WordNet's nouns "red" (a communist), "black" (a
                           # person), "big" ... are not what a query means by them
                           "red", "blue", "green", "yellow", "black", "white", "brown", "pink", "purple",
                           "grey", "gray", "big", "small", "large", "little", "old", "young", "new",
                           "tall", "long", "dark", "light", "bright"})


#: COCO's classes (YOLOv3-tiny's darknet names) whose name alone is not how WordNet or a query
#: says it: (the table's word for it, the words a query may use). Without a table word (None),
#: or when the table lacks it (a giraffe, a skateboard: no ImageNet class lies under them), the
#: class is a concept of its own, ``coco:<name>``, that only its words name; a kite is the toy,
#: not ImageNet's bird, and a handbag more than "container". Every word listed names the class,
#: beside what the table already gives it ("a plane" is also the carpenter's plane).
COCO_WORDS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "motorbike": ("motorcycle", ("motorcycle", "motorbike")),
    "aeroplane": ("airplane", ("airplane", "aeroplane", "plane", "jet")),
    "fire hydrant": (None, ("fire hydrant", "hydrant")), "stop sign": (None, ("stop sign",)),
    "giraffe": (None, ("giraffe",)), "frisbee": (None, ("frisbee",)), "skis": ("ski", ("ski", "skier", "skiing")),
    "snowboard": (None, ("snowboard", "snowboarder", "snowboarding")), "sports ball": ("ball", ("ball",)),
    "kite": (None, ("kite",)), "baseball bat": (None, ("baseball bat",)),
    "baseball glove": (None, ("baseball glove", "mitt")),
    "skateboard": (None, ("skateboard", "skateboarder", "skateboarding")),
    "surfboard": (None, ("surfboard", "surfer", "surfing")),
    "tennis racket": ("racket", ("tennis racket", "racket", "racquet")),
    "wine glass": (None, ("wine glass", "wineglass")), "fork": (None, ("fork",)), "bowl": (None, ("bowl",)),
    "carrot": (None, ("carrot",)), "donut": (None, ("donut", "doughnut")), "cake": (None, ("cake",)),
    "pottedplant": (None, ("potted plant", "houseplant", "pot plant")), "diningtable": ("dining table", ()),
    "toilet": ("toilet seat", ("toilet",)), "tvmonitor": ("television", ("television", "tv", "monitor")),
    "tv": ("television", ("television", "tv", "monitor")), "mouse": ("computer mouse", ("mouse",)),
    "sink": ("washbasin", ("sink",)),
    "cell phone": ("cellular telephone", ("cell phone", "cellphone", "phone", "mobile phone")),
    "remote": ("remote control", ("remote",)), "keyboard": ("computer keyboard", ("keyboard",)),
    "scissors": (None, ("scissors",)), "teddy bear": ("teddy bear", ("teddy",)),
    "hair drier": ("hand blower", ("hair drier", "hair dryer", "hairdryer")), "toothbrush": (None, ("toothbrush",)),
    "cow": ("cow", ("cow", "cattle")), "handbag": (None, ("handbag", "purse")),
    "suitcase": (None, ("suitcase", "luggage")),
}


def depths_of(parents: dict[str, tuple[str, ...]] | dict[str, list[str]]) -> dict[str, int]:
    """Each synset's longest path to the root, counted in synsets (the root is 1)."""
    depths: dict[str, int] = {}

    def depth(s: str) -> int:
        if s not in depths:
            depths[s] = 1 + max((depth(p) for p in parents[s]), default=0)
        return depths[s]

    for s in parents:
        depth(s)
    return depths


def too_general(synset: str, depth: int) -> bool:
    """Whether a synset says nothing a user wants to hear (:data:`TOO_GENERAL`, or within
    :data:`GENERAL_DEPTH` of the root)."""
    return synset in TOO_GENERAL or depth <= GENERAL_DEPTH


def sayable(synset: str, depth: int, count: int) -> bool:
    """Whether a synset may be said, as a concept or as what a query word names: not too
    general, and familiar (:data:`FAMILIAR`)."""
    return not too_general(synset, depth) and count >= FAMILIAR


@dataclass(frozen=True)
class Hierarchy:
    classes: tuple[str, ...]            # class index -> synset id
    lemmas: dict[str, tuple[str, ...]]  # synset id -> its words
    parents: dict[str, tuple[str, ...]]
    counts: dict[str, int]
    words: dict[str, tuple[str, ...]]   # a word (lower case) -> the synsets it names or lies under
    longest: int                        # the most words in one of them
    objects: dict[str, tuple[str, ...]]  # a COCO class (darknet name) -> its synsets or coco:<name>
    depths: dict[str, int]              # synset id -> its longest path to the root, in synsets


@lru_cache(maxsize=1)
def load() -> Hierarchy:
    """The table, read once (about 10 ms)."""
    table = json.loads(TABLE.read_text(encoding="utf-8"))
    synsets = table["synsets"]
    parents = {s: tuple(e["parents"]) for s, e in synsets.items()}
    counts = {s: e["count"] for s, e in synsets.items()}

    depths = depths_of(parents)

    def general(s: str) -> bool:
        return too_general(s, depths[s])

    words: dict[str, set[str]] = {}
    ambiguous = set(table.get("ambiguous", ()))  # "park", "street": mostly things not in the table
    for s, entry in synsets.items():
        if not general(s):
            for lemma in entry["lemmas"]:
                if lemma.lower() not in ambiguous:
                    words.setdefault(lemma.lower(), set()).add(s)
    for word, targets in table["words"].items():
        if word in words or word in _NOT_CONCEPTS or word in ambiguous:
            continue
        # a word below the table ("puppy"): its nearest familiar synsets, the most specific of
        # them only (dog, not animal), never a general one ("red", a communist, is not a person)
        kept = {t for t in targets if sayable(t, depths[t], counts.get(t, 0))}
        kept = {t for t in kept if not any(t != o and t in _above(o, parents) for o in kept)}
        if kept:
            words[word] = kept
    objects: dict[str, tuple[str, ...]] = {}
    for coco, (known, said) in COCO_WORDS.items():
        targets = set(words.get(known, ())) if known else set()
        targets = targets or {f"coco:{coco}"}
        objects[coco] = tuple(sorted(targets))
        for w in said:
            words[w] = words.get(w, set()) | targets
    return Hierarchy(classes=tuple(table["classes"]),
                     lemmas={s: tuple(e["lemmas"]) for s, e in synsets.items()},
                     parents=parents, counts=counts,
                     words={w: tuple(sorted(t)) for w, t in words.items()},
                     longest=max(len(w.split()) for w in words), objects=objects,
                     depths=depths)


def _above(synset: str, parents: dict[str, tuple[str, ...]]) -> set[str]:
    seen: set[str] = set()
    todo = [synset]
    while todo:
        s = todo.pop()
        if s not in seen and s in parents:
            seen.add(s)
            todo += parents[s]
    return seen


@lru_cache(maxsize=4096)
def ancestors(synset: str) -> frozenset[str]:
    """The synset and every synset above it (all paths: a few classes have two hypernyms)."""
    if synset.startswith("coco:"):  # a detector's class that no synset of the table is above
        return frozenset((synset,))
    return frozenset(_above(synset, load().parents))


def name(synset: str) -> str:
    """The synset's first word ("monkey"; "car" for car, auto, automobile, ...)."""
    return load().lemmas[synset][0]


def class_id(index: int) -> str:
    """The synset id of ImageNet-1k class ``index`` (timm's order, which the classifiers use)."""
    return load().classes[index]


@lru_cache(maxsize=1)
def _ids_by_name() -> dict[str, str]:
    h = load()
    out: dict[str, str] = {}
    for s in h.classes:  # the first class of a name, as a stored label without an id names it
        out.setdefault(h.lemmas[s][0].lower(), s)
    return out


def label_id(label: str, given: str | None = None) -> str | None:
    """The synset of a stored label: its own ``id`` when it has one, else the class whose first
    word it is (results written before labels carried ids); None for any other vocabulary."""
    if given:
        return given if given in load().parents else None
    return _ids_by_name().get(label.lower())


def singular(word: str) -> str:
    """An English plural made singular, as far as simple rules go ("puppies" -> "puppy")."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    for ending, replace in (("ies", "y"), ("ches", "ch"), ("shes", "sh"), ("sses", "ss"), ("xes", "x"), ("oes", "o")):
        if word.endswith(ending) and len(word) > len(ending) + 1:
            return word[: -len(ending)] + replace
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def query_concepts(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """The concepts a query names: (the words, the synsets they name), longest phrases first
    ("a sports car" is *sports car*, not *sport* and *car*). Words that name nothing in the
    table are left out, as are :data:`_NOT_CONCEPTS`."""
    h = load()
    tokens = [t.removesuffix("'s").strip("'-") for t in _WORD.findall(text.lower())]  # "a dog's bed"
    tokens = [t for t in tokens if t]
    found: list[tuple[str, tuple[str, ...]]] = []
    i = 0
    longest = min(h.longest, 4)
    while i < len(tokens):
        for n in range(min(longest, len(tokens) - i), 0, -1):
            phrase = tokens[i : i + n]
            if n == 1 and phrase[0] in _NOT_CONCEPTS:
                continue
            for candidate in (" ".join(phrase), " ".join(phrase[:-1] + [singular(phrase[-1])])):
                targets = h.words.get(candidate)
                if targets:
                    found.append((candidate, targets))
                    break
            else:
                continue
            i += n
            break
        else:
            i += 1
    return found


def _sayable(synset: str) -> bool:
    h = load()
    return sayable(synset, h.depths[synset], h.counts.get(synset, 0))


def concept(labels: list[tuple[str, float]], sure: float = SURE) -> tuple[str, float] | None:
    """(synset id, probability) of what a frame surely shows, from its labels as (synset id,
    score) best first: the top label when it reaches ``sure``; else the most specific familiar
    hypernym (see :data:`FAMILIAR`, :data:`TOO_GENERAL`) whose labels reach it together (the one
    with the most probability among equally specific ones); None when nothing does."""
    if not labels:
        return None
    top, score = labels[0]
    if score >= sure:
        return top, round(score, 4)
    shares: dict[str, float] = {}
    for s, p in labels:
        for a in ancestors(s):
            shares[a] = shares.get(a, 0.0) + p
    candidates = [(s, p) for s, p in shares.items() if p >= sure and _sayable(s)]
    if not candidates:
        return None
    # the most specific: the one with the longest path to the root, then the most probable
    best = max(candidates, key=lambda c: (load().depths[c[0]], c[1], c[0]))
    return best[0], round(min(best[1], 1.0), 4)


def sure_label(labels: "list[Label]", sure: float = SURE) -> "Label | None":
    """A keyframe's :attr:`~avpipe.schema.Keyframe.concept` from its labels (see :func:`concept`);
    None when they name nothing of WordNet's (another vocabulary) or nothing is sure."""
    from ..schema import Label

    pairs = [(s, label.score) for label in labels if (s := label_id(label.label, label.id))]
    found = concept(pairs, sure) if len(pairs) == len(labels) else None
    if found is None:
        return None
    return Label(label=name(found[0]), score=found[1], id=found[0])


def object_synsets(label: str) -> tuple[str, ...]:
    """The synsets of a detected object's class (see :data:`COCO_WORDS`): its name's, else the
    head word's ("person"; "parking meter"), else its own ``coco:<name>`` concept when it is a
    COCO class, else none."""
    h = load()
    if label in h.objects:
        return h.objects[label]
    named = query_concepts(label)
    whole = [t for w, t in named if w == label.lower()]
    return whole[0] if whole else (named[-1][1] if named else ())


def keyframe_evidence(keyframe: "Keyframe") -> dict[str, list[list]]:
    """What a keyframe holds for search by meaning: its labels as [synset id, score] (the
    classifier's probabilities) and its detected objects as [synset id, score] (their classes'
    synsets, :func:`object_synsets`: "person"; "sports ball" -> ball; "giraffe" -> coco:giraffe). Empty lists when it has none."""
    labels = [[s, label.score] for label in keyframe.labels if (s := label_id(label.label, label.id))]
    objects: dict[str, float] = {}
    for thing in keyframe.objects:
        for s in object_synsets(thing.label):
            objects[s] = max(objects.get(s, 0.0), round(float(thing.score), 4))
    return {"labels": labels, "objects": [[s, p] for s, p in sorted(objects.items())]}


class ConceptIndex:
    """Frames' probability under each synset, for every synset above their labels and objects:
    the frame channel of search by meaning (:func:`scores`). Made once per collection."""

    def __init__(self, rows: list[dict]) -> None:
        import numpy as np

        self.size = len(rows)
        labels: dict[str, dict[int, float]] = {}
        objects: dict[str, dict[int, float]] = {}
        for i, row in enumerate(rows):
            for s, p in row.get("labels", ()):
                for a in ancestors(s):  # the classes under a synset add up
                    shares = labels.setdefault(a, {})
                    shares[i] = shares.get(i, 0.0) + float(p)
            for s, p in row.get("objects", ()):
                for a in ancestors(s):  # the surest object under it counts
                    scores = objects.setdefault(a, {})
                    scores[i] = max(scores.get(i, 0.0), float(p))

        def arrays(table: dict[str, dict[int, float]]) -> dict:
            return {a: (np.fromiter(m.keys(), np.int64, len(m)), np.fromiter(m.values(), np.float32, len(m)))
                    for a, m in table.items()}

        self.labels, self.objects = arrays(labels), arrays(objects)

    def under(self, synsets: Iterable[str]) -> "np.ndarray":
        """Per frame, its share under any of ``synsets``: the labels' probabilities summed (at
        most 1), or an object's score when that is higher."""
        import numpy as np

        from_labels = np.zeros(self.size, np.float32)
        from_objects = np.zeros(self.size, np.float32)
        for s in set(synsets):
            if s in self.labels:
                rows, p = self.labels[s]
                # one frame's classes under two of the synsets are not counted twice: take the larger
                from_labels[rows] = np.maximum(from_labels[rows], p)
            if s in self.objects:
                rows, p = self.objects[s]
                from_objects[rows] = np.maximum(from_objects[rows], p)
        return np.maximum(np.minimum(from_labels, 1.0), from_objects)

    def scores(self, text: str) -> "np.ndarray":
        """Per frame, in [0, 1]: the mean over the concepts ``text`` names of the frame's share
        under each (zeros when it names none). (Weighting the concepts by their rarity among the
        frames, an idf, did no better on the dev split.)"""
        import numpy as np

        named = query_concepts(text)
        if not named or not self.size:
            return np.zeros(self.size, np.float32)
        return np.mean([self.under(synsets) for _, synsets in named], axis=0).astype(np.float32)
