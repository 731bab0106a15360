"""Events that come from reading the whole result: speech turns, visual labels entering and
leaving, salient keywords, and the merge that makes one clean time-ordered list.

(Shot changes, faces, on-screen text, silence, loud sounds, music and emotion changes are
emitted by their own stages; this module adds the rest and merges them all.)
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..schema import Event, Keyframe, Segment, Shot
from ..words import tokens, unspaced

if TYPE_CHECKING:
    import numpy as np

_WORD = re.compile(r"[\w']+")


def speech_turns(segments: list[Segment], gap_s: float) -> list[Event]:
    """One ``speech`` event per turn: segments closer than ``gap_s`` are one turn. The score is
    the mean word probability (how sure the recogniser was)."""
    events: list[Event] = []
    probs: list[list[float]] = []
    for s in segments:
        p = [w.prob for w in s.words] or [1.0]
        if events and s.start - events[-1].end < gap_s:
            events[-1] = events[-1].model_copy(update={"end": s.end})
            probs[-1] += p
        else:
            events.append(Event(start=s.start, end=s.end, kind="speech", label="speech"))
            probs.append(p)
    return [e.model_copy(update={"score": round(sum(p) / len(p), 4),
                                 "label": f"speech ({e.end - e.start:.0f} s)"}) for e, p in zip(events, probs)]


def label_events(keyframes: list[Keyframe], shots: list[Shot], end_s: float, min_score: float) -> list[Event]:
    """``label`` events: what keyframes surely show, from the start of the first shot that shows
    it to the end of the last consecutive one. That is a keyframe's ``concept`` (its top label
    when sure, else a sure WordNet hypernym: "mammal" rather than an unsure "ox"); for labels
    of no WordNet vocabulary, the top label when its score reaches ``min_score``."""
    events: list[Event] = []
    scores: list[list[float]] = []
    previous = None
    for i, k in enumerate(keyframes):
        if k.concept is not None or (k.labels and k.labels[0].id is not None):
            top = k.concept if k.concept is not None and k.concept.score >= min_score else None
        else:
            top = k.labels[0] if k.labels and k.labels[0].score >= min_score else None
        shot = shots[k.shot] if k.shot is not None and k.shot < len(shots) else None
        start = shot.start if shot else k.t
        end = shot.end if shot else (keyframes[i + 1].t if i + 1 < len(keyframes) else end_s)
        if top is not None and previous == top.label:
            events[-1] = events[-1].model_copy(update={"end": max(events[-1].end, end)})
            scores[-1].append(top.score)
        elif top is not None:
            events.append(Event(start=start, end=end, kind="label", label=top.label))
            scores.append([top.score])
        previous = top.label if top else None
    return [e.model_copy(update={"score": round(sum(s) / len(s), 4)}) for e, s in zip(events, scores)]


#: A long text's embedding is the mean of its pieces' of this many words: the sentence encoder
#: reads 256 word pieces and ignores the rest, so a 30-minute transcript embedded whole is its
#: first two minutes.
DOC_PIECE_WORDS = 150


class Phrases:
    """A text encoder with the embeddings of candidate key phrases kept, for one video: its
    transcript's keywords are picked first (the events stage), and the candidates for each
    chapter's title (the summary stage) are among those phrases, so each is embedded once. Kept
    per video, a phrase's vector never depends on what a worker processed before."""

    def __init__(self, encoder) -> None:
        self.encoder = encoder
        self._vectors: dict[str, "np.ndarray"] = {}

    def __call__(self, phrases: list[str]) -> "np.ndarray":
        """Unit embeddings of ``phrases``, in order."""
        import numpy as np

        new = [p for p in dict.fromkeys(phrases) if p not in self._vectors]
        if new:
            self._vectors.update(zip(new, self.encoder.encode(new)))
        return np.stack([self._vectors[p] for p in phrases])

    def document(self, text: str) -> "np.ndarray":
        """A text's unit embedding: the mean of its ``DOC_PIECE_WORDS``-word pieces' (one piece,
        the text itself, for most texts)."""
        import numpy as np

        words = text.split()
        pieces = [" ".join(words[i : i + DOC_PIECE_WORDS]) for i in range(0, len(words), DOC_PIECE_WORDS)]
        mean = self.encoder.encode(pieces).mean(0)
        return mean / max(float(np.linalg.norm(mean)), 1e-9)


def keywords(text: str, n: int, phrases: Phrases) -> list[tuple[str, float]]:
    """The text's ``n`` most salient terms (one or two words), by KeyBERT on the bundled sentence
    encoder: phrases closest to the whole text, diversified by maximal marginal relevance."""
    from keybert import KeyBERT
    from sklearn.feature_extraction.text import CountVectorizer

    from .units import keyphrase_stop_words

    if len(_WORD.findall(text)) < 3:
        return []
    stop = keyphrase_stop_words()  # not "like", "yeah" or "apparently": spoken words that name nothing
    try:  # KeyBERT's own candidates, in its order, so their vectors can be handed to it
        candidates = CountVectorizer(ngram_range=(1, 2), stop_words=stop).fit([text]).get_feature_names_out()
    except ValueError:  # only stop words: nothing to choose from
        return []
    found = KeyBERT(model=phrases.encoder.model).extract_keywords(
        text, keyphrase_ngram_range=(1, 2), stop_words=stop, top_n=3 * n, use_mmr=True, diversity=0.5,
        doc_embeddings=phrases.document(text)[None], word_embeddings=phrases(list(candidates)))
    kept: list[tuple[str, float]] = []
    for phrase, score in sorted(found, key=lambda x: -x[1]):
        # "fellow americans" makes "fellow", "americans" and "americans ask" redundant
        if not any(set(phrase.split()) & set(other.split()) for other, _ in kept):
            kept.append((phrase, float(score)))
    return kept[:n]


def lexical_keywords(texts: list[str], n: int) -> list[tuple[str, float]]:
    """The ``n`` most salient words of ``texts`` (the segments of one video) in any language:
    words said in several segments but not in nearly all, by summed TF-IDF over the segments.
    For text the sentence encoder does not read; KeyBERT on it would rank noise. Words written
    without spaces (Chinese, Japanese, Thai) are scored as character pairs."""
    import math
    from collections import Counter

    docs = []
    for t in texts:
        if unspaced(t) and " " not in t.strip():
            docs.append([w for w in tokens(t) if len(w) == 2])
        else:  # one term per written word, as said (its ending kept: "지하철역은" stays whole)
            docs.append([w for w in (_norm_any(x) for x in t.split()) if len(w) > 1])
    df = Counter(w for d in docs for w in set(d))
    score: Counter = Counter()
    for d in docs:
        for w, c in Counter(d).items():
            score[w] += (1 + math.log(c)) * math.log((1 + len(docs)) / (1 + df[w]) + 1)
    top = max(score.values(), default=0.0) or 1.0
    return [(w, round(v / top, 4)) for w, v in sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def _norm_any(word: str) -> str:
    """A written word, case-folded, without its punctuation (any script)."""
    import unicodedata

    return "".join(ch for ch in unicodedata.normalize("NFKC", word).casefold() if ch.isalnum())


def keyword_events(segments: list[Segment], n: int, phrases: Phrases | None) -> list[Event]:
    """A ``keyword`` event wherever one of the salient terms is said (from word timestamps).
    Without ``phrases`` (text the sentence encoder does not read) the terms are
    :func:`lexical_keywords`."""
    if phrases is None:
        terms = lexical_keywords([s.text for s in segments], n)
        words = [(w.start, w.end, _norm_any(w.word)) for s in segments for w in s.words]
        events = []
        for term, score in terms:
            for start, end, w in words:
                if term in w if len(term) == 2 and unspaced(term) else w == term:
                    events.append(Event(start=start, end=end, kind="keyword", label=term, score=score))
        return events
    terms = keywords(" ".join(s.text for s in segments), n, phrases)
    words = [(w.start, w.end, _norm(w.word)) for s in segments for w in s.words]
    tokens = [t for _, _, t in words]
    events = []
    for phrase, score in terms:
        parts = [_norm(p) for p in phrase.split()]
        for i in range(len(tokens) - len(parts) + 1):
            if tokens[i : i + len(parts)] == parts:
                events.append(Event(start=words[i][0], end=words[i + len(parts) - 1][1], kind="keyword", label=phrase,
                                    score=round(score, 4)))
    return events


def _norm(word: str) -> str:
    return "".join(_WORD.findall(word.lower()))


def merge(events: list[Event], gap_s: float) -> list[Event]:
    """One time-ordered list: events of the same kind and label that overlap or lie within
    ``gap_s`` of each other become one (the span of both, the higher score); instants of the
    same kind and label at the same time are duplicates."""
    out: list[Event] = []
    last: dict[tuple[str, str], int] = {}
    for e in sorted(events, key=lambda e: (e.start, e.end, e.kind, e.label)):
        key = (e.kind, e.label)
        j = last.get(key)
        instant = e.start == e.end
        if j is not None and (e.start <= out[j].end + (0.0 if instant else gap_s)):
            prev = out[j]
            if not instant or prev.start == e.start:
                out[j] = prev.model_copy(update={"end": max(prev.end, e.end), "score": max(prev.score, e.score)})
                continue
        last[key] = len(out)
        out.append(e)
    return sorted(out, key=lambda e: (e.start, e.end, e.kind))
