"""Things counted in words, for the texts that search, ask and summaries read: "a person",
"two people, a sports ball"."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import cache
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


#: Scripts written without spaces between words, or in syllable blocks: Myanmar, Thai, Lao,
#: Hangul Jamo, Khmer (and its symbols), CJK radicals, 々 〇 and the Hangzhou numerals, Kana
#: (with its extensions), Hangul compatibility Jamo, CJK ideographs (with extension A), Myanmar
#: extensions, Hangul syllables and Jamo extensions, CJK compatibility ideographs, and the
#: supplementary ideograph planes.
UNSPACED = ("\u1000-\u109f\u0e00-\u0eff\u1100-\u11ff\u1780-\u17ff\u19e0-\u19ff\u2e80-\u2fdf\u3005\u3007"
            "\u3021-\u3029\u3031-\u3035\u3040-\u30ff\u31f0-\u31ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff"
            "\ua960-\ua97f\ua9e0-\ua9ff\uaa60-\uaa7f\uac00-\ud7ff\uf900-\ufaff\U00020000-\U0003ffff")


#: The scripts of :data:`UNSPACED` that are also *written* without spaces between words (all
#: but Hangul: Korean puts spaces between its words, though its syllables are counted as
#: characters): where two such characters meet, a join adds no space.
SPACELESS = ("\u1000-\u109f\u0e00-\u0eff\u1780-\u17ff\u19e0-\u19ff\u2e80-\u2fdf\u3005\u3007\u3021-\u3029"
             "\u3031-\u3035\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\ua9e0-\ua9ff\uaa60-\uaa7f"
             "\uf900-\ufaff\U00020000-\U0003ffff")


def glue(before: str, after: str) -> str:
    """What goes between two texts joined: nothing where the first ends and the second starts
    in a script written without spaces (or the second starts with a mark: ","), else a space."""
    if not before or not after:
        return ""
    if re.match(r"[^\w\s]", after) and not re.match(r"[(\[\"'¿¡]", after):
        return ""
    if re.search(f"[{SPACELESS}。、！？]$", before) and re.match(f"[{SPACELESS}]", after):
        return ""
    return " "


@cache
def _patterns() -> tuple[re.Pattern, re.Pattern]:
    """(pieces, characters): a piece is a run of word characters (letters, digits and combining
    marks, which ``\\w`` alone leaves out: Thai vowels and tones, Devanagari matras) of one kind,
    spaced or :data:`UNSPACED`; a character is one with the marks that follow it."""
    marks = [c for plane in (range(0x20000), range(0xE0000, 0xE0200)) for c in plane
             if unicodedata.category(chr(c)).startswith("M")]
    ranges, start = [], None
    for a, b in zip(marks, marks[1:] + [None]):
        start = a if start is None else start
        if b != a + 1:
            ranges.append(f"\\U{start:08x}-\\U{a:08x}")
            start = None
    m = "".join(ranges)
    word = rf"(?:[^\W_]|[{m}])"
    pieces = re.compile(rf"(?:(?=[{UNSPACED}]){word})+|(?:(?![{UNSPACED}]){word})+")
    return pieces, re.compile(rf".[{m}]*", re.DOTALL)


def pieces(text: str) -> list[tuple[bool, list[str]]]:
    """(unspaced, units) per run: a spaced run is one word, an unspaced one its characters."""
    pieces, chars = _patterns()
    text = unicodedata.normalize("NFKC", text).casefold()
    out = []
    for p in pieces.findall(text):
        if re.match(f"[{UNSPACED}]", p):
            out.append((True, chars.findall(p)))
        else:
            out.append((False, [p]))
    return out


def tokens(text: str) -> list[str]:
    """The tokens of a line, in any language: words of spaced scripts, characters and
    character pairs of :data:`UNSPACED` ones, and pairs of adjacent words (``"ask not"``).
    Search (:mod:`avpipe.search.lexical`) and the language-agnostic summary both count these."""
    found: list[str] = []
    previous = None  # the last spaced word, for word pairs
    for unspaced, units in pieces(text):
        if unspaced:
            found += units
            found += [a + b for a, b in zip(units, units[1:])]
            previous = None
            continue
        found.append(units[0])
        if previous is not None:
            found.append(f"{previous} {units[0]}")
        previous = units[0]
    return found


def unspaced(text: str) -> bool:
    """Whether most of ``text``'s letters are of a script written without spaces (:data:`UNSPACED`)."""
    runs = pieces(text)
    letters = sum(len("".join(units)) for _, units in runs)
    return letters > 0 and 2 * sum(len("".join(units)) for flag, units in runs if flag) > letters


def join_words(words: Iterable[str]) -> str:
    """Stored words (without their spaces) as text, each pair joined by :func:`glue`: one
    space, none before a mark alone (``,``) or between words of :data:`SPACELESS` scripts
    (Japanese, Chinese, Thai: Whisper's words there carry no spaces)."""
    out = ""
    for word in words:
        word = word.strip()
        if word:
            out += glue(out, word) + word
    return out


def split_text(text: str, groups: list[list[str]]) -> list[str]:
    """The text of each run of consecutive words, cut out of ``text`` itself, so the spaces and
    marks between words survive a split: ``groups`` are the words of ``text`` in order (as
    stored: without their spaces), cut into runs. Where a word cannot be found in ``text``
    (the two disagree), the runs are joined from their words (:func:`join_words`)."""
    cuts, pos = [], 0
    for group in groups:
        first = True
        for word in group:
            word = word.strip()
            if not word:
                continue
            at = text.find(word, pos)
            if at < 0:
                return [join_words(g) for g in groups]
            if first:
                cuts.append(at)
                first = False
            pos = at + len(word)
        if first:  # a run with no word: cut where the last one ended
            cuts.append(pos)
    if not cuts:
        return [join_words(g) for g in groups]
    cuts[0] = 0
    return [text[a:b].strip() for a, b in zip(cuts, [*cuts[1:], len(text)])]
