"""Things counted in words, for the texts that search, ask and summaries read: "a person",
"two people, a sports ball"."""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Protocol

_NUMBERS = ("no", "a", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_IRREGULAR = {"person": "people", "mouse": "mice", "knife": "knives", "sheep": "sheep", "skis": "skis",
              "scissors": "scissors"}


class _Labelled(Protocol):
    label: str
    score: float


def plural(noun: str) -> str:
    """English plural of a COCO-style class name ("wine glass" -> "wine glasses")."""
    head, _, last = noun.rpartition(" ")
    if last in _IRREGULAR:
        word = _IRREGULAR[last]
    elif last.endswith(("s", "sh", "ch", "x")):
        word = last + "es"
    else:
        word = last + "s"
    return f"{head} {word}" if head else word


def object_words(objects: Iterable[_Labelled], min_score: float = 0.0) -> str:
    """What is in a frame as words, most numerous first, then by name: "two people, a sports
    ball" (objects scoring at least ``min_score``; "" when none)."""
    counts = Counter(o.label for o in objects if o.score >= min_score)
    parts = []
    for label, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if n == 1:
            parts.append(f"{'an' if label[0] in 'aeiou' else 'a'} {label}")
        else:
            parts.append(f"{_NUMBERS[n] if n < len(_NUMBERS) else n} {plural(label)}")
    return ", ".join(parts)
