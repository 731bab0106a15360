"""The lexical channel of search: which speech lines hold the query's own words, in any language.

A sentence embedding ranks a paraphrase as high as the quote, and the bundled MiniLM knows
English only: a Korean line and a Korean query become noise to it. People search for what was
said in the words it was said in ("every time someone says 'budget'", a name, "지하철"), so
search also scores each speech line by BM25 over tokens that suit every script.

Tokens (:func:`tokens`): the text is NFKC-normalised (full-width ``ＡＢＣ１`` is ``abc1``, half-width
katakana is katakana) and casefolded (``Straße`` is ``strasse``), then cut into runs of letters,
marks and digits. Scripts written with spaces give words; scripts written without them, or in
syllable blocks (:data:`avpipe.words.UNSPACED`: Han, Hiragana, Katakana, Hangul, Thai, Lao, Khmer, Myanmar),
give each character (with its combining marks) and each pair of adjacent characters, so that
"지하철" is found in "지하철역" and "지하철을" (Korean suffixes its words) and "東京" in
"東京タワー" without a dictionary. Adjacent words also give a pair ("ask not"), so that a quote
ranks the line that says it in that order above one that shares its words.

A query's terms (:func:`query_terms`) are its distinct tokens less English stop words and
one-letter words (pairs keep them: "ask not"), unless that leaves none ("the"): then all.

Score (:meth:`LexicalIndex.scores`): BM25 (``k1`` 1.2, ``b`` 0.75; idf ``ln(1 + (N - n + .5) /
(n + .5))``), each term's saturation capped at what one occurrence in a line of average length
gives, divided by the query's summed idf. So it lies in [0, 1]: the idf-weighted share of the
query's terms that the line holds, less for lines longer than the average. Being on a fixed
scale is what lets :mod:`avpipe.search.query` add it to a cosine (see there why that rather
than rank fusion).

The token statistics of a collection are made on its first text query and kept on it
(:func:`speech_index`), so later queries in one process do not tokenise the lines again.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from typing import TYPE_CHECKING

from ..words import pieces, tokens

if TYPE_CHECKING:
    import numpy as np

    from .index import Collection

K1 = 1.2
B = 0.75
#: Words too common to say what a query is about (English; other languages' function words are
#: weighed down by idf instead).
STOP_WORDS = frozenset("""a an and are as at be but by for from has have he her his i in is it its me my not of on or
our she so that the their them there they this to was we were what when where which who why will with you your
do does did can could would should shall may might must how all any""".split())


def _tokens(text: str) -> tuple[list[str], set[str]]:
    """All tokens of ``text`` in order (:func:`avpipe.words.tokens`), and those that a query
    leaves out (stop words and one-letter words)."""
    weak = {units[0] for flag, units in pieces(text) if not flag and (units[0] in STOP_WORDS or len(units[0]) == 1)}
    return tokens(text), weak


def query_terms(text: str) -> list[str]:
    """The distinct tokens a query is scored by, in order: stop words and one-letter words left
    out (they stay in word pairs), unless nothing else is left."""
    found, weak = _tokens(text)
    distinct = list(dict.fromkeys(found))
    return [t for t in distinct if t not in weak] or distinct


class LexicalIndex:
    """BM25 statistics of a list of texts: postings (token -> rows, counts) and lengths."""

    def __init__(self, texts: list[str]) -> None:
        import numpy as np

        rows: dict[str, array] = {}
        counts: dict[str, array] = {}
        lengths = np.zeros(len(texts), np.float32)
        for i, text in enumerate(texts):
            tally = Counter(tokens(text))
            lengths[i] = sum(tally.values())
            for token, n in tally.items():
                if token not in rows:
                    rows[token], counts[token] = array("I"), array("I")
                rows[token].append(i)
                counts[token].append(n)
        self.size = len(texts)
        self.rows, self.counts = rows, counts
        average = float(lengths.mean()) if len(texts) and lengths.any() else 1.0
        self.norm = K1 * (1 - B + B * lengths / average)  # BM25's length term, per row

    def idf(self, token: str) -> float:
        n = len(self.rows.get(token, ()))
        return math.log(1 + (self.size - n + 0.5) / (n + 0.5))

    def scores(self, text: str) -> "np.ndarray":
        """Each row's score for the query ``text`` in [0, 1] (see the module docstring); all
        zeros when the query has no tokens."""
        import numpy as np

        score = np.zeros(self.size, np.float32)
        terms = query_terms(text)
        total = sum(self.idf(t) for t in terms)
        for t in terms:
            if t not in self.rows:
                continue
            rows = np.frombuffer(self.rows[t], np.uint32)
            tf = np.frombuffer(self.counts[t], np.uint32).astype(np.float32)
            saturation = np.minimum(tf * (K1 + 1) / (tf + self.norm[rows]), 1.0)
            score[rows] += self.idf(t) * saturation
        return score / total if total else score


def speech_index(collection: "Collection") -> LexicalIndex:
    """The lexical index of ``collection``'s speech lines, made once and kept on the collection
    (made again if its speech rows were replaced)."""
    return collection.kept("lexical", "speech", lambda rows: LexicalIndex([m.get("text") or "" for m in rows]))
