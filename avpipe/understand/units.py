"""Units a reader would pick: utterances built from transcript segments, for summaries,
highlights and chapters.

Whisper's segments are cut by its 30 s windows and by pauses, not by meaning: a meeting's
transcript is full of two-word pieces ("Yeah.", "okay,", "Um") and of long runs holding three
sentences. Ranking those ranks noise. Here consecutive segments of one speaker, close in time,
are merged until a sentence ends; runs over :data:`MAX_WORDS` are cut at sentence ends; fillers
("um", "uh") and stuttered repeats ("I I") are taken out of the text shown; and units that are
only back-channel or discourse markers ("yeah", "okay", "right", "so") are left out. The lists
are per language; a language without one keeps every word, and only very short units go.
Every cut and merge keeps the text's own spacing: a merge puts one space between two spaced
texts, a cut falls after a sentence's end.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..words import SPACELESS, glue, pieces

if TYPE_CHECKING:
    from ..schema import Segment

#: Sounds that carry nothing and are taken out of any text (per language).
FILLERS: dict[str, frozenset[str]] = {
    "en": frozenset("um umm uh uhh er erm ah eh hmm hm mm mmm mhm uh-huh mm-hmm huh".split()),
    "de": frozenset("äh ähm öh hm hmm mhm".split()),
    "fr": frozenset("euh heu hum bah ben hmm".split()),
    "es": frozenset("eh em mmm este".split()),
    "it": frozenset("ehm eh mmm".split()),
    "pt": frozenset("é hã hum ahn".split()),
    "ko": frozenset("음 어 아 그 저 막".split()),
    "ja": frozenset("えー えっと あの その まあ うーん".split()),
}

#: Words that alone make a back-channel or a discourse marker: a unit made only of these and
#: fillers says nothing to a reader ("Yeah, okay, right.").
BACKCHANNEL: dict[str, frozenset[str]] = {
    "en": frozenset(("yeah yes yep yup no nope okay ok alright right so well oh ah wow cool sure "
                     "good great fine mean know like just really actually anyway and but or then "
                "i you it that this is was think guess see thanks thank hi hello bye").split()),
    "de": frozenset("ja nein ok okay genau gut also so na ach doch stimmt richtig".split()),
    "fr": frozenset("oui non ok okay bon ben alors voilà ouais d'accord bien".split()),
    "es": frozenset("sí si no ok vale bueno pues claro bien entonces".split()),
    "ko": frozenset("네 예 응 아니 그래 그래요 맞아 맞아요 좋아 음".split()),
}

#: Spoken English words too vague to name what a stretch of talk is about ("apparently",
#: "little", "stuff"): never a key phrase or a chapter title (:func:`keyphrase_stop_words`).
VAGUE_EN = frozenset(("apparently basically actually probably maybe perhaps definitely literally certainly "
                      "obviously really quite pretty little bit lot lots thing things stuff kind sort way guy guys whatever "
                      "somebody something anything everything").split())

#: English words that may stand before a longer word they begin ("the there", "in into").
_SHORT_WORDS = frozenset("an and as at be by do go he if in is it me my no of on or so to up us we the for"
                         " are but can had has her him his how its let not now our out she too two was who"
                         " why yes you all any few one own see she".split())

#: A unit with fewer words than this (fillers aside) that ends no sentence joins its neighbour.
MIN_WORDS = 6
#: Units longer than this are cut at sentence ends.
MAX_WORDS = 60
#: Segments of one speaker further apart than this (seconds) are not merged.
MERGE_GAP_S = 1.5
#: A unit with fewer words than this is left out (a language without lists),
MIN_KEPT_WORDS = 3
#: and in a language with lists, one with fewer content words (not back-channel, filler or
#: function words) than this.
MIN_CONTENT_WORDS = 2

_SENTENCE_END = re.compile(r"[.!?。！？]$")


@dataclass
class Unit:
    """One utterance: its time, speaker, the text a reader sees (fillers out) and the indices of
    the transcript segments it was made from."""

    start: float
    end: float
    text: str
    speaker: str | None = None
    segments: list[int] = field(default_factory=list)

    @property
    def words(self) -> int:
        return count_words(self.text)


def count_words(text: str) -> int:
    """Words of ``text`` in any script: spaced words, and characters of unspaced scripts / 2
    (about a word each two characters of Chinese or Japanese)."""
    n = 0
    for is_unspaced, units in pieces(text):
        n += max(1, len(units) // 2) if is_unspaced else 1
    return n


def _key(word: str) -> str:
    """A written word as compared: folded case, marks around it stripped."""
    return word.casefold().strip(".,!?;:\"'()[]…-")


def _fragment(key: str, raw: str) -> bool:
    """An English word cut off as it was said: a lone letter other than "a" and "I" ("S so
    any questions?"), written without a mark after it."""
    return len(key) == 1 and key not in ("a", "i") and key.isalpha() and raw[-1:].isalpha()


def tidy(text: str, language: str | None) -> str:
    """``text`` without fillers, stuttered repeats ("I I think", "I don't I don't know") and, in
    English, false starts ("whe where", "indepen independent"), with its spacing and
    punctuation; the first letter raised where a filler began the sentence."""
    fillers = FILLERS.get(language or "", frozenset())
    out: list[str] = []
    previous = None
    words = text.split()
    for n, raw in enumerate(words):
        key = _key(raw)
        following = _key(words[n + 1]) if n + 1 < len(words) else ""
        if (language == "en" and len(key) > 1 and raw[-1:].isalpha() and following != key
                and following.startswith(key) and (len(key) > 3 or key not in _SHORT_WORDS)):
            continue  # a false start: "whe where", "re really", "indepen independent"
        if key and key in fillers:
            if out and raw[-1:] in ".!?" and out[-1][-1:] not in ".!?":
                out[-1] = out[-1].rstrip(",;:") + raw[-1]
            elif out and raw[-1:] == "," and out[-1][-1:] == ",":
                out[-1] = out[-1][:-1]  # "we should, uh, go" -> "we should go"
            continue
        if key and key == previous and raw[-1:] not in ".!?,":
            continue  # "I I", "the the": the first of a stutter goes
        if language == "en" and key and _fragment(key, raw):
            continue
        out.append(raw)
        previous = key or previous
        for k in (3, 2):  # a phrase said twice in a row: "I don't I don't know"
            if (len(out) >= 2 * k and [_key(w) for w in out[-k:]] == [_key(w) for w in out[-2 * k:-k]]
                    and out[-k - 1][-1:].isalnum()):
                del out[-k:]
                break
    tidied = " ".join(out).strip(" ,;:")
    return tidied[:1].upper() + tidied[1:] if tidied and text[:1].isupper() else tidied


def says_nothing(text: str, language: str | None) -> bool:
    """Whether ``text`` is only fillers, back-channel and discourse markers (or, in a language
    without lists, shorter than :data:`MIN_KEPT_WORDS`)."""
    if language in BACKCHANNEL:
        empty = uninformative(language)
        return sum(_key(w) not in empty for w in text.split() if _key(w)) < MIN_CONTENT_WORDS
    return count_words(text) < MIN_KEPT_WORDS


@functools.cache
def uninformative(language: str | None) -> frozenset[str]:
    """Words that carry no content in ``language``: its back-channel and fillers, and in English
    also the function words (scikit-learn's list) and their spoken forms ("gonna")."""
    out = BACKCHANNEL.get(language or "", frozenset()) | FILLERS.get(language or "", frozenset())
    if language == "en":
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        out |= frozenset(ENGLISH_STOP_WORDS) | {"gonna", "wanna", "gotta", "kinda", "sorta", "'kay", "kay"}
    return out


def keyphrase_stop_words() -> list[str]:
    """The words a key phrase (KeyBERT's candidates: keyword events, chapter titles) may not
    hold: English function words, back-channel and fillers (:func:`uninformative`), and
    :data:`VAGUE_EN`; sorted, so the candidates are the same in every run."""
    return sorted(uninformative("en") | VAGUE_EN)


def _sentences(text: str) -> list[str]:
    """``text`` cut after each sentence end (spacing kept)."""
    parts = re.split(f"(?<=[.!?])\\s+|(?<=[。！？])|(?<=[{SPACELESS}][!?])", text)
    return [p for p in parts if p and p.strip()]


def _split_long(unit: Unit, segments: list["Segment"]) -> list[Unit]:
    """A unit over :data:`MAX_WORDS` cut at sentence ends into runs of at most that many words
    where it can be; times from the words when the segments have them."""
    if unit.words <= MAX_WORDS:
        return [unit]
    sentences = _sentences(unit.text)
    runs: list[list[str]] = [[]]
    for s in sentences:
        if runs[-1] and count_words(" ".join([*runs[-1], s])) > MAX_WORDS:
            runs.append([])
        runs[-1].append(s)
    if len(runs) == 1:
        return [unit]
    words = [w for i in unit.segments for w in segments[i].words]
    texts = []
    for run in runs:
        text = ""
        for sentence in run:
            text += glue(text, sentence.strip()) + sentence.strip()
        texts.append(text)
    out, at = [], 0
    for k, text in enumerate(texts):
        letters, mine = len(re.sub(r"\s", "", text)), []  # the words that spell this run, in any script
        while at < len(words) and letters > 0:
            mine.append(words[at])
            letters -= len(words[at].word.strip())
            at += 1
        start = mine[0].start if mine else unit.start + (unit.end - unit.start) * k / len(texts)
        end = mine[-1].end if mine else unit.start + (unit.end - unit.start) * (k + 1) / len(texts)
        out.append(Unit(start=start, end=max(end, start), text=text, speaker=unit.speaker, segments=unit.segments))
    return out


def utterances(segments: list["Segment"], language: str | None = None) -> list[Unit]:
    """The transcript as units a reader would pick (see the module docstring), in time order.
    ``language`` is the transcript's; a segment's own ``language`` wins where it has one."""
    merged: list[Unit] = []
    for i, s in enumerate(segments):
        text = s.text.strip()
        if not text:
            continue
        last = merged[-1] if merged else None
        if (last is not None and last.speaker == s.speaker and s.start - last.end <= MERGE_GAP_S
                and segments[last.segments[-1]].language == s.language  # never across a language switch
                and (not _SENTENCE_END.search(last.text) or last.words < MIN_WORDS)):
            last.text = last.text + glue(last.text, text) + text
            last.end = max(last.end, s.end)
            last.segments.append(i)
            continue
        merged.append(Unit(start=s.start, end=s.end, text=text, speaker=s.speaker, segments=[i]))
    out: list[Unit] = []
    for unit in merged:
        for part in _split_long(unit, segments):
            lang = segments[part.segments[0]].language or language
            shown = tidy(part.text, lang)
            if not shown or says_nothing(shown, lang):
                continue
            sentences = _sentences(shown)
            if len(sentences) > 1:  # "Yeah. We could save money ...": the back-channel sentence goes
                kept = ""
                for x in sentences:
                    if not says_nothing(x, lang):
                        kept += glue(kept, x.strip()) + x.strip()
                shown = kept or shown
            part.text = shown
            out.append(part)
    return out
