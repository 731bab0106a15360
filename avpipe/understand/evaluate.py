"""``avpipe eval summary`` and ``avpipe eval chapters``: the summary and chapters of a talk
measured against what people wrote for it, beside the standard baselines on the same units.

A set is a manifest (JSON) of items, each a real talk with its transcript turn by turn
(``turns``: start, end, speaker, text), a human ``summary`` and human ``topics`` (start, end,
title), and a ``split`` (dev or test: tune on dev, report test). The transcript is read as a
perfect ASR output would be: the corpus's transcription marks (``{vocalsound}``,
``{disfmarker}``, spaced punctuation) are turned into plain text first (:func:`plain`).

Summaries are scored by ROUGE-1/2/L F1 (Google's ``rouge-score``, Porter stemming) at the
reference's length: every system may say as many words as the human summary holds and is cut
there. Beside avpipe: *lead* (the first units), *random* units (seeded), *LexRank* (Erkan and
Radev 2004: TF-IDF cosine graph, threshold 0.1, PageRank) and *TextRank* (Mihalcea and Tarau
2004: word-overlap graph) on the same units, and a greedy ROUGE-1 *oracle* (an upper bound).
Chapters are scored by boundary precision, recall and F1 within ±30 and ±60 s, Pk and
WindowDiff (NLTK's, on a 1 s grid), and the chapter count against the topic count, beside
evenly spaced cuts (the reference's count of chapters: a baseline that is told the count).
"""

from __future__ import annotations

import html
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..schema import Result, Segment, Transcript, VideoInfo

if TYPE_CHECKING:
    import numpy as np

    from ..options import SummaryOptions
    from .units import Unit


@dataclass
class Talk:
    """One item of a set: its id, split, transcript (as segments), human summary and topics."""

    id: str
    split: str
    segments: list[Segment]
    summary: str
    topics: list[tuple[float, float, str]]
    times: str = ""


def plain(text: str) -> str:
    """A corpus transcript line as plain text: marks in braces or brackets out, HTML entities
    decoded, the space before punctuation closed ("hello ." -> "hello.")."""
    text = html.unescape(text)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]|<[^>]*>", " ", text)
    text = re.sub(r"\s+([.,!?;:])", r"\1", text)
    text = re.sub(r"\s+'(?=[a-z])", "'", text)  # "we 're" -> "we're"
    text = re.sub(r"([.,!?;:])(?=[.,!?;:])", "", text)
    return re.sub(r"\s+", " ", text).strip(" ,")


def read_talk_set(path: Path, split: str | None = None) -> list[Talk]:
    """The items of a manifest (see the module docstring), those of ``split`` only when given.

    Speakers are renamed ``SPEAKER_1``, ``SPEAKER_2``, ... in order of first words, as the
    speakers stage names them. The corpus's own names are AMI's roles ("Project Manager",
    "Marketing"), and the human summaries are written in those very words ("The Project Manager
    introduced ..."): a summary that names its speakers gained ROUGE-1 0.022 from names no run
    of the pipeline would ever write (0.274 against 0.252 on the test split)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    out = []
    for item in data["items"]:
        if split and item.get("split") != split:
            continue
        segments = []
        for turn in item["turns"]:
            text = plain(turn["text"])
            if text and turn["end"] >= turn["start"]:
                segments.append(Segment(start=float(turn["start"]), end=float(turn["end"]), text=text,
                                        speaker=turn.get("speaker")))
        segments.sort(key=lambda s: (s.start, s.end))
        names: dict[str, str] = {}
        for seg in segments:
            if seg.speaker is not None:
                seg.speaker = names.setdefault(seg.speaker, f"SPEAKER_{len(names) + 1}")
        topics = sorted((float(t["start"]), float(t["end"]), t.get("title", "")) for t in item.get("topics", []))
        out.append(Talk(id=item["id"], split=item.get("split", ""), segments=segments, summary=item["summary"],
                        topics=topics, times=item.get("times", "")))
    return out


def talk_result(talk: Talk, language: str = "en") -> Result:
    """A result holding only the talk's transcript, as the summary stage would see it."""
    end = max((s.end for s in talk.segments), default=0.0)
    return Result(avpipe_version="eval", pipeline="eval",
                  video=VideoInfo(path=talk.id, video_id=talk.id, duration_s=end, has_audio=True, has_video=False),
                  transcript=Transcript(language=language, segments=talk.segments))


# --- summaries ---------------------------------------------------------------------------------

def _scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)


def cut_words(text: str, n: int) -> str:
    """The first ``n`` words of ``text``."""
    return " ".join(text.split()[:n])


def rouge(summary: str, reference: str, budget: int | None = None) -> dict[str, float]:
    """ROUGE-1/2/L F1 of ``summary`` (cut at ``budget`` words when given) against ``reference``."""
    if budget is not None:
        summary = cut_words(summary, budget)
    scores = _scorer().score(reference, summary)
    return {k: round(v.fmeasure, 4) for k, v in scores.items()}


def _fill(units: "list[Unit]", order: list[int], budget: int) -> str:
    """Units taken in ``order`` until ``budget`` words are reached, then shown in time order."""
    chosen, used = [], 0
    for i in order:
        if used >= budget:
            break
        chosen.append(i)
        used += units[i].words
    return " ".join(units[i].text for i in sorted(chosen))


def _pagerank(graph: "np.ndarray", damping: float = 0.85, steps: int = 100) -> "np.ndarray":
    import numpy as np

    n = len(graph)
    rows = graph.sum(1, keepdims=True)
    m = np.where(rows > 0, graph / np.maximum(rows, 1e-12), 1.0 / n)
    p = np.full(n, 1.0 / n)
    for _ in range(steps):
        p = (1 - damping) / n + damping * (m.T @ p)
    return p


def lexrank_order(units: "list[Unit]", threshold: float = 0.1) -> list[int]:
    """Units by LexRank centrality (TF-IDF cosine graph, edges above ``threshold``)."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    tfidf = TfidfVectorizer(stop_words="english").fit_transform([u.text for u in units])
    sim = (tfidf @ tfidf.T).toarray()
    graph = (sim > threshold).astype(float)
    return [int(i) for i in np.argsort(-_pagerank(graph), kind="stable")]


def textrank_order(units: "list[Unit]") -> list[int]:
    """Units by TextRank (word overlap normalised by the log lengths, as Mihalcea and Tarau)."""
    import math

    import numpy as np

    bags = [set(re.findall(r"\w+", u.text.casefold())) for u in units]
    n = len(units)
    graph = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            if len(bags[i]) > 1 and len(bags[j]) > 1:
                w = len(bags[i] & bags[j]) / (math.log(len(bags[i])) + math.log(len(bags[j])))
                graph[i, j] = graph[j, i] = w
    return [int(i) for i in np.argsort(-_pagerank(graph), kind="stable")]


def oracle_order(units: "list[Unit]", reference: str, budget: int) -> list[int]:
    """Greedy ROUGE-1 oracle: each step adds the unit that raises ROUGE-1 F1 most (an upper
    bound for picking whole units)."""
    from rouge_score import tokenize
    from rouge_score.rouge_scorer import _create_ngrams

    from nltk.stem import porter

    stem = porter.PorterStemmer().stem
    ref = _create_ngrams([stem(t) for t in tokenize.tokenize(reference, None)], 1)
    toks = [[stem(t) for t in tokenize.tokenize(u.text, None)] for u in units]
    chosen: list[int] = []
    words: list[str] = []
    best_f = 0.0
    while True:
        best = None
        for i, t in enumerate(toks):
            if i in chosen or not t:
                continue
            cand = _create_ngrams((words + t)[:budget], 1)
            overlap = sum((cand & ref).values())
            p, r = overlap / max(1, sum(cand.values())), overlap / max(1, sum(ref.values()))
            f = 2 * p * r / (p + r) if p + r else 0.0
            if f > best_f + 1e-9:
                best_f, best = f, i
        if best is None or len(words) >= budget:
            return chosen
        chosen.append(best)
        words += toks[best]


SYSTEMS = ("avpipe", "lead", "random", "lexrank", "textrank", "oracle")


def summarise_talk(talk: Talk, options: "SummaryOptions", budget: int | None = None) -> tuple[str, "list[Unit]"]:
    """avpipe's summary paragraph of a talk (the extractive path on the lexical or shared text
    space, as the summary stage runs it), with ``budget`` words when given (the reference's
    length), else its own; and the units it chose from."""
    import dataclasses

    from ..options import VisionOptions
    from .summary import summarise
    from .units import utterances

    if budget is not None:
        options = dataclasses.replace(options, min_words=budget, max_words=budget, length_ratio=1.0)
    result = talk_result(talk)
    summary = summarise(result, None, options, VisionOptions(), with_chapters=False, fill=budget is not None)
    return summary.text, utterances(talk.segments, "en")


def evaluate_summary_set(talks: list[Talk], options: "SummaryOptions", seed: int = 0) -> list[dict]:
    """Per talk and system, ROUGE at the reference's length; plus avpipe's own-length summary's
    word count and its text."""
    rows = []
    for talk in talks:
        budget = len(talk.summary.split())
        text, units = summarise_talk(talk, options, budget)
        own, _ = summarise_talk(talk, options)
        orders = {"lead": list(range(len(units))),
                  "random": random.Random(f"{seed}:{talk.id}").sample(range(len(units)), len(units)),
                  "lexrank": lexrank_order(units), "textrank": textrank_order(units),
                  "oracle": oracle_order(units, talk.summary, budget)}
        row = {"id": talk.id, "split": talk.split, "budget": budget, "own_words": len(own.split()), "own": own,
               "avpipe": rouge(text, talk.summary, budget)}
        for name, order in orders.items():
            row[name] = rouge(_fill(units, order, budget), talk.summary, budget)
        rows.append(row)
    return rows


def summary_table(rows: list[dict]) -> list[list]:
    """Mean ROUGE F1 per system over the rows: ``[system, rouge1, rouge2, rougeL]`` each."""
    n = max(1, len(rows))
    return [[name, *(sum(r[name][k] for r in rows) / n for k in ("rouge1", "rouge2", "rougeL"))] for name in SYSTEMS]


# --- chapters ----------------------------------------------------------------------------------

def boundary_prf(found: list[float], reference: list[float], tolerance: float) -> tuple[float, float, float]:
    """Precision, recall and F1 of boundaries matched one to one within ``tolerance`` seconds
    (closest pairs first)."""
    pairs = sorted((abs(f - r), i, j) for i, f in enumerate(found) for j, r in enumerate(reference)
                   if abs(f - r) <= tolerance)
    used_f, used_r, hits = set(), set(), 0
    for _, i, j in pairs:
        if i not in used_f and j not in used_r:
            used_f.add(i)
            used_r.add(j)
            hits += 1
    p = hits / len(found) if found else (1.0 if not reference else 0.0)
    r = hits / len(reference) if reference else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _grid(boundaries: list[float], end: float) -> str:
    """Boundaries as NLTK's segmentation string: one character per second, "1" where a new
    segment starts."""
    marks = ["0"] * max(1, int(end) + 1)
    for b in boundaries:
        if 0 < b < end:
            marks[int(b)] = "1"
    return "".join(marks)


def segmentation_scores(found: list[float], reference: list[float], end: float) -> dict[str, float]:
    """P/R/F1 at ±30 and ±60 s, Pk and WindowDiff (window: half the mean reference segment)."""
    from nltk.metrics.segmentation import pk, windowdiff

    out = {}
    for tol in (30, 60):
        p, r, f = boundary_prf(found, reference, tol)
        out.update({f"p{tol}": p, f"r{tol}": r, f"f{tol}": f})
    ref, hyp = _grid(reference, end), _grid(found, end)
    k = max(2, int(round(len(ref) / (2 * (ref.count("1") + 1)))))
    out["pk"] = pk(ref, hyp, k)
    out["windowdiff"] = windowdiff(ref, hyp, k)
    return out


def reference_boundaries(talk: Talk) -> list[float]:
    """Where the human topics start, after the first (a topic starting within 30 s of an
    earlier boundary is the same boundary)."""
    out: list[float] = []
    for start, _, _ in talk.topics[1:]:
        if not out or start - out[-1] > 30:
            out.append(start)
    return out


def even_cuts(end: float, count: int) -> list[float]:
    """``count`` chapters of equal length: their inner boundaries."""
    return [end * i / count for i in range(1, count)]


def evaluate_chapters_set(talks: list[Talk], options: "SummaryOptions") -> list[dict]:
    """Per talk, avpipe's chapters and evenly spaced cuts scored against the human topics."""
    from ..options import VisionOptions
    from .summary import summarise

    rows = []
    for talk in talks:
        result = talk_result(talk)
        end = result.video.duration_s or 0.0
        reference = reference_boundaries(talk)
        chapters = summarise(result, None, options, VisionOptions()).chapters
        found = [c.start for c in chapters[1:]]
        rows.append({"id": talk.id, "split": talk.split, "times": talk.times, "topics": len(reference) + 1,
                     "chapters": len(chapters), "found": found, "reference": reference,
                     "avpipe": segmentation_scores(found, reference, end),
                     "even": segmentation_scores(even_cuts(end, len(reference) + 1), reference, end)})
    return rows


#: The measures of :func:`chapters_table`, in its order.
CHAPTER_MEASURES = ("p60", "r60", "f30", "f60", "pk", "windowdiff")


def chapters_table(rows: list[dict]) -> list[list]:
    """Mean scores per system over the rows (:data:`CHAPTER_MEASURES`), and the share of talks
    whose chapter count is within ±2 of their topic count: ``[system, *measures, share]`` each."""
    n = max(1, len(rows))
    out = []
    for name, label in (("avpipe", "avpipe"), ("even", "evenly spaced (told the count)")):
        means = [sum(r[name][k] for r in rows) / n for k in CHAPTER_MEASURES]
        within = sum(abs(r["chapters"] - r["topics"]) <= 2 for r in rows) / n if name == "avpipe" else 1.0
        out.append([label, *means, within])
    return out
