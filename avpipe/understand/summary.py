"""Summary, highlights and chapters of one video.

Extractive (the default) works on *units* a reader would pick (:mod:`.units`: utterances built
from the segments, fillers and back-channel out). The paragraph's length follows the talk
(``length_ratio`` of its words, within ``min_words``..``max_words``). Its units are chosen for
*coverage* (:func:`cover`): each pick adds the most of the talk's concepts (content words said in
several units) not yet said, per word, raised by *visual salience* from the fusion (how much of
what a unit says is also seen) and by the captions; a concept counts once, so the paragraph does
not make the same point three times. It is written in time order, each unit said by its speaker
where that speaker has a given name (``[summary] speakers``). The highlights are 3-7 such picks with their times.

Chapters start where the topic shifts (:func:`topic_boundaries`: TextTiling-like depth scores
over the units' vectors), their number from the content, each at least ``min_chapter_s`` long,
moved onto a shot change nearby; each is titled by its own most salient phrases (KeyBERT), or its
main visual label when nothing is said. Without speech, chapters start at the shot boundaries
that change most (:func:`chapters`).

Captions (the captions stage, a VLM's sentence per shot) count where they exist: a segment close
to the captions of the shots around it weighs more (``caption_weight``: what is said about what is
seen), an untitled chapter takes its first caption, and the generative prompt shows them.

A video without speech gets a visual summary: its length, shots, what is seen (captions, else
labels) and faces. It never states what was not measured: where speech was not transcribed or
shots not detected (the stage is not in the pipeline, failed or could not run), it says so
instead ("Speech was not transcribed: the pipeline has no 'speech' stage.").

Generative (``backend = "transformers"``): any causal LM or seq2seq model from a folder or the
local Hugging Face cache writes the paragraph from a prompt built from the fused timeline
(:func:`timeline_prompt`), chapter by chapter and then as a whole when the timeline is long
(:func:`written_summary`: map-reduce); highlights and chapters stay extractive, so every time shown is one
that exists in the video.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..schema import Chapter, Highlight, Result, Summary
from ..timecode import clock
from ..words import SPACELESS, glue

if TYPE_CHECKING:
    import numpy as np

    from ..options import SummaryOptions, VisionOptions
    from .events import Phrases
    from .units import Unit


def lexical_vectors(texts: list[str]) -> "np.ndarray":
    """Unit TF-IDF vectors of ``texts`` over :func:`avpipe.words.tokens` (any language, any
    script): the segments' space for centrality, diversity and topic shifts when the sentence
    encoder does not read their language."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    from ..words import tokens

    if not any(tokens(t) for t in texts):
        return np.zeros((len(texts), 1), np.float32)
    table = TfidfVectorizer(analyzer=tokens, sublinear_tf=True, norm="l2").fit_transform(texts)
    return np.asarray(table.toarray(), np.float32)


#: A caption counts for the speech within this many seconds of its shot.
CAPTION_WINDOW_S = 5.0


def caption_closeness(result: Result, spans: list[tuple[float, float]], vectors: "np.ndarray",
                      caption_t: "np.ndarray", caption_vectors: "np.ndarray") -> "np.ndarray":
    """Per stretch of speech (``spans``, with ``vectors``), its best cosine (clipped at 0) with a
    caption of a shot that lies within :data:`CAPTION_WINDOW_S` of it; 0 where none does."""
    import numpy as np

    out = np.zeros(len(spans), np.float32)
    by_t = {round(k.t, 3): k for k in result.keyframes}
    shown = []
    for t in caption_t:
        k = by_t.get(round(float(t), 3))
        shot = result.shots[k.shot] if k is not None and k.shot is not None and k.shot < len(result.shots) else None
        shown.append((shot.start, shot.end) if shot else (float(t), float(t)))
    similarity = np.asarray(vectors, np.float32) @ np.asarray(caption_vectors, np.float32).T
    for i, (start, end) in enumerate(spans):
        near = [j for j, (a, b) in enumerate(shown)
                if start < b + CAPTION_WINDOW_S and end > a - CAPTION_WINDOW_S]
        if near:
            out[i] = max(0.0, float(similarity[i, near].max()))
    return out


def summary_budget(words: int, options: "SummaryOptions") -> int:
    """Words the summary paragraph may hold for a transcript of ``words`` words: a share of it
    (``length_ratio``) kept within ``min_words``..``max_words``, and never more than it all."""
    return int(min(words, max(options.min_words, min(options.max_words, round(options.length_ratio * words)))))


#: A term counts as a concept of a talk when at least this many units say it (in a talk of at
#: least :data:`FEW_UNITS` units; in a shorter one, every term counts).
MIN_CONCEPT_UNITS = 3
FEW_UNITS = 30
#: Outside English (no stop-word list), a token said in more than this share of the units is a
#: function word, not a concept.
MAX_CONCEPT_SHARE = 0.3


def concepts(texts: list[str], language: str | None) -> list[set[str]]:
    """The concepts of each unit: in English, the Porter stems of its words that are not
    function words, fillers or back-channel (:mod:`.units`); elsewhere its tokens
    (:func:`avpipe.words.tokens`: words, pairs of words and characters of unspaced scripts),
    less those said in more than :data:`MAX_CONCEPT_SHARE` of the units."""
    from collections import Counter

    if language == "en":
        from nltk.stem.porter import PorterStemmer

        from .units import uninformative

        stem = PorterStemmer().stem
        stop = uninformative("en")
        return [{stem(w) for w in re.findall(r"[a-z0-9']+", t.casefold()) if len(w) > 2 and w not in stop}
                for t in texts]
    from ..words import tokens

    found = [set(tokens(t)) for t in texts]
    df = Counter(c for f in found for c in f)
    common = {c for c, n in df.items() if n > MAX_CONCEPT_SHARE * len(texts) and len(texts) >= 10}
    return [f - common for f in found]


def cover(found: list[set[str]], costs: list[int], budget: int, options: "SummaryOptions",
          bonus: "np.ndarray | None" = None, fill: bool = False) -> list[int]:
    """Units that together say most of what the talk is about, within a budget (concept
    coverage, after Gillick and Favre 2009): ``found`` holds each unit's concepts
    (:func:`concepts`); a concept weighs as many units
    as say it (one said by fewer than :data:`MIN_CONCEPT_UNITS` weighs nothing), and each greedy
    step takes the unit whose concepts not yet covered weigh most per word (cost to the power
    ``cost_exponent``), raised by its ``bonus`` (what is also seen, what the captions say). A
    concept counts once, so the picks do not repeat one point. The picks, best first. The first
    pick may pass the budget (a paragraph says something); with ``fill`` the last may too
    (evaluation then cuts at the budget)."""
    from collections import Counter

    df = Counter(c for f in found for c in f)
    least = MIN_CONCEPT_UNITS if len(found) >= FEW_UNITS else 1
    weight = {c: n for c, n in df.items() if n >= least}
    covered: set[str] = set()
    chosen: list[int] = []
    used = 0
    left = set(range(len(found)))
    while left and (used < budget):
        best, best_gain = None, 0.0
        for i in sorted(left):
            if used + costs[i] > budget and not fill and chosen:
                continue  # the first pick may pass the budget: a paragraph says something
            gain = sum(weight.get(c, 0) for c in found[i] - covered)
            gain = gain * (1.0 + (float(bonus[i]) if bonus is not None else 0.0)) / max(costs[i], 1) ** options.cost_exponent
            if gain > best_gain:
                best, best_gain = i, gain
        if best is None:  # nothing left says a concept not yet said: the longest that fit, if none was chosen
            fitting = [i for i in sorted(left) if fill or used + costs[i] <= budget]
            if chosen or not fitting:
                break
            best = max(fitting, key=lambda i: (costs[i], -i))
        chosen.append(best)
        left.discard(best)
        covered |= found[best]
        used += costs[best]
    return chosen


#: Chapters are at least this share of the talk (1/10: a 45-minute meeting's are 4.5 minutes).
SPAN_SHARE = 10.0


def topic_boundaries(units: "list[Unit]", vectors: "np.ndarray", end: float, options: "SummaryOptions") -> list[float]:
    """Where the topic changes, TextTiling-like (Hearst 1997) over the units' vectors: at each
    unit start, the cosine between what was said in the window before and the window after
    (``topic_window_s``, or a fifteenth of the talk when longer); a boundary's depth is how far
    that similarity falls below the highest before and the highest after it. Boundaries are the
    deepest, deeper than the mean depth plus ``depth_cutoff`` deviations, at least
    ``min_chapter_s`` (and a :data:`SPAN_SHARE` th of the talk) apart and from either end, and
    at most ``max_chapters - 1``. Tuned on the dev split of the meeting set (README: eval chapters)."""
    import numpy as np

    if len(units) < 4:
        return []
    v = np.asarray(vectors, np.float32)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)
    starts = np.array([u.start for u in units])
    window = max(options.topic_window_s, end / 15.0)
    span = max(options.min_chapter_s, end / SPAN_SHARE)
    gaps, scores = [], []
    for i in range(1, len(units)):
        t = starts[i]
        if t < span or end - t < span:
            continue
        before = (starts >= t - window) & (starts < t)
        after = (starts >= t) & (starts < t + window)
        if not before.any() or not after.any():
            continue
        a, b = v[before].sum(0), v[after].sum(0)
        scores.append(float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-9)))
        gaps.append(float(t))
    if len(scores) < 3:
        return []
    s = np.array(scores)
    depth = np.zeros(len(s))
    for i in range(len(s)):
        depth[i] = (s[: i + 1].max() - s[i]) + (s[i:].max() - s[i])
    cutoff = depth.mean() + options.depth_cutoff * depth.std()
    chosen: list[float] = []
    for i in np.argsort(-depth, kind="stable"):
        if depth[i] <= cutoff or len(chosen) >= options.max_chapters - 1:
            break
        if all(abs(gaps[i] - c) >= span for c in chosen):
            chosen.append(gaps[i])
    return sorted(chosen)


def _snap(t: float, cuts: list[float], within: float = 5.0) -> float:
    """A boundary moved to the nearest shot change within ``within`` seconds, if any."""
    near = [c for c in cuts if abs(c - t) <= within]
    return min(near, key=lambda c: abs(c - t)) if near else t


def _end(result: Result) -> float:
    end = result.video.duration_s or (result.shots[-1].end if result.shots else 0.0)
    segments = result.transcript.segments
    return max(end, segments[-1].end) if segments else end


def _titled(result: Result, starts: list[float], end: float, phrases: "Phrases | None") -> list[Chapter]:
    return [Chapter(start=round(a, 3), end=round(b, 3), title=_title(result, a, b, phrases) or f"Part {n}")
            for n, (a, b) in enumerate(zip(starts, [*starts[1:], end]), start=1)]


def topic_chapters(result: Result, units: "list[Unit]", vectors: "np.ndarray", options: "SummaryOptions",
                   phrases: "Phrases | None" = None) -> list[Chapter]:
    """Chapters of a talk where its topic shifts (:func:`topic_boundaries`), each boundary moved
    onto a shot change within a few seconds when there is one; titled by their own key phrases."""
    end = _end(result)
    cuts = [s.start for s in result.shots[1:]]
    starts = [0.0, *sorted({_snap(t, cuts) for t in topic_boundaries(units, vectors, end, options)})]
    return _titled(result, starts, end, phrases)


def chapters(result: Result, vectors: "np.ndarray | None", options: "SummaryOptions",
             phrases: "Phrases | None" = None) -> list[Chapter]:
    """Chapters of a video without speech, or where the talk gives too little to find a topic
    shift: at the shot boundaries with the largest change (see the module docstring); ``vectors``
    are the segments' embeddings (None without speech); titles from key phrases when
    ``phrases`` (the encoder behind them) is given."""
    import numpy as np

    end = _end(result)
    segments = result.transcript.segments
    cuts = sorted({round(s.start, 3) for s in result.shots[1:]}) or sorted({round(s.start, 3) for s in segments[1:]})
    span = options.min_chapter_s
    shifts = []
    for t in cuts:
        if t < span or end - t < span:
            continue
        before = [i for i, s in enumerate(segments) if t - 2 * span <= s.start < t]
        after = [i for i, s in enumerate(segments) if t <= s.start < t + 2 * span]
        if before and after and vectors is not None:
            a, b = vectors[before].mean(0), vectors[after].mean(0)
            shift = 1 - float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-9))
        else:
            shift = 0.5 if (before or after) else 0.1  # a cut with no speech nearby: a weak boundary
        shifts.append((shift, t))
    starts = [0.0]
    for shift, t in sorted(shifts, reverse=True):
        if len(starts) >= options.max_chapters:
            break
        if shift >= 0.1 and all(abs(t - s) >= span for s in starts):
            starts.append(t)
    return _titled(result, sorted(starts), end, phrases)


def _title(result: Result, start: float, end: float, phrases: "Phrases | None") -> str:
    """A chapter's title: its most salient phrase, else its most common visual label."""
    from collections import Counter

    said = [s.text for s in result.transcript.segments if start <= s.start < end]
    text = " ".join(said)
    if text:
        from .events import keywords, lexical_keywords

        found = keywords(text, 2, phrases) if phrases is not None else lexical_keywords(said, 2)
        if found:
            title = ", ".join(phrase for phrase, _ in found)
            return title[:1].upper() + title[1:]
    captioned = next((k.caption for k in result.keyframes if start <= k.t < end and k.caption), None)
    if captioned:
        return captioned.rstrip(".")
    # what the frames surely show (a sure hypernym rather than an unsure class), else their top label
    labels = Counter((k.concept or k.labels[0]).label for k in result.keyframes
                     if start <= k.t < end and (k.concept or k.labels))
    return labels.most_common(1)[0][0].capitalize() if labels else ""


def _gap_sentences(not_measured: dict[str, str]) -> list[str]:
    """Each reason something was not measured, as a sentence of the summary."""
    return [why[:1].upper() + why[1:] + "." for why in not_measured.values()]


def visual_summary(result: Result, options: "SummaryOptions", not_measured: dict[str, str] | None = None) -> Summary:
    """For a video with no speech: what is seen, when, and who appears.

    ``not_measured`` maps "speech" and "shots" to why that was not measured (a sentence such as
    "speech was not transcribed: the speech stage failed"); the summary then states that reason
    and nothing about the missing part (no "without speech", no "in 0 shots")."""
    from collections import Counter

    duration = result.video.duration_s or 0.0
    labels = [e for e in result.events if e.kind == "label"]
    faces = sum(e.kind == "face_appear" for e in result.events)
    seen = Counter()
    for e in labels:
        seen[e.label] += e.end - e.start
    gaps = not_measured or {}
    speech = "" if "speech" in gaps else " without speech"
    shots = "" if "shots" in gaps else f", in {len(result.shots)} shot{'s' * (len(result.shots) != 1)}"
    parts = [f"A {duration:.0f} s video{speech}{shots}."]
    parts += _gap_sentences(gaps)
    captions = [e for e in result.events if e.kind == "caption"]
    if captions:  # the longest shots' captions, in time order
        longest = sorted(sorted(captions, key=lambda e: e.start - e.end)[:3], key=lambda e: e.start)
        parts.append(" ".join(e.label if e.label.endswith(".") else e.label + "." for e in longest))
    elif seen:
        parts.append("It shows " + ", ".join(name for name, _ in seen.most_common(5)) + ".")
    if faces:
        parts.append(f"{faces} face{'s' * (faces != 1)} appear{'s' * (faces == 1)}.")
    best = (sorted(captions, key=lambda e: e.start - e.end) if captions
            else sorted(labels, key=lambda e: -e.score))[: options.max_highlights]
    highlights = [Highlight(start=e.start, end=e.end, text=f"{e.label} ({clock(e.start)})")
                  for e in sorted(best, key=lambda e: e.start)]
    return Summary(method="visual", text=" ".join(parts), highlights=highlights,
                   chapters=chapters(result, None, options))


def summarise(result: Result, segment_vectors: "np.ndarray | None", options: "SummaryOptions",
              vision: "VisionOptions", device: str = "cpu",
              captions: "tuple[np.ndarray, np.ndarray] | None" = None, phrases: "Phrases | None" = None,
              not_measured: dict[str, str] | None = None, with_chapters: bool = True,
              fill: bool = False) -> Summary:
    """The summary of ``result`` (see the module docstring); ``segment_vectors`` are the segment
    embeddings the fusion stage made, computed here when missing; ``captions`` the captions
    stage's (times, vectors) in the same space, when it ran; ``phrases`` the key-phrase
    embeddings the events stage kept for this video, when it ran; ``not_measured`` what a
    visual summary must say was not measured (:func:`visual_summary`). ``with_chapters=False``
    leaves the chapters out (``avpipe eval summary`` scores the paragraph alone); with ``fill``
    the last sentence may pass the word budget (evaluation at a fixed length, which cuts every
    system at the budget, as it does the baselines)."""
    import numpy as np

    from ..vision.text import load_text
    from .loaders import encoder_reads, shared_space_reads
    from .units import Unit, count_words, utterances

    segments = result.transcript.segments
    if not segments:
        summary = visual_summary(result, options, not_measured)
        if options.backend == "transformers" and (result.keyframes or result.events):
            written = written_summary(result, summary.chapters, options, device)
            if written:  # the model sees only what was measured; the gaps are said after its text
                summary.text = " ".join([written, *_gap_sentences(not_measured or {})])
            summary.method = options.model
        return summary
    reads = shared_space_reads(vision, result.transcript.language)
    reads_words = encoder_reads(vision.text_model, result.transcript.language)  # key phrases' encoder
    units = utterances(segments, result.transcript.language) or [
        Unit(start=x.start, end=x.end, text=x.text.strip(), speaker=x.speaker, segments=[i])
        for i, x in enumerate(segments) if x.text.strip()]  # only back-channel: better than nothing
    seen = reads and captions is not None and len(captions[0]) and options.caption_weight > 0
    # the units' vectors place chapters and meet the captions; the paragraph needs none
    vectors = unit_vectors(units, segments, segment_vectors, vision, device, reads) if with_chapters or seen else None
    bonus = np.array([options.salience_weight * max([segments[i].salience or 0.0 for i in u.segments] + [0.0])
                      for u in units], np.float32)
    if seen:
        bonus += options.caption_weight * caption_closeness(result, [(u.start, u.end) for u in units], vectors,
                                                            *captions)
    budget = summary_budget(sum(count_words(x.text) for x in segments), options)
    found = concepts([u.text for u in units], result.transcript.language)
    picks = cover(found, [u.words for u in units], budget, options, bonus, fill=fill)
    n_high = max(options.min_highlights, min(options.max_highlights, len(units) // 3))
    best = cover(found, [1] * len(units), n_high, options, bonus)
    highlights = [Highlight(start=round(units[i].start, 3), end=round(max(units[i].end, units[i].start + 0.1), 3),
                            text=units[i].text) for i in sorted(best)]
    chosen = [units[i] for i in sorted(picks)]
    paragraph = paragraph_of(chosen, speaker_labels(result, chosen, options.speakers))
    if phrases is None and reads_words and with_chapters:
        from .events import Phrases

        phrases = Phrases(load_text(vision.text_model, device))
    elif not reads_words:
        phrases = None  # chapter titles by word statistics (:func:`_title`)
    method = "extractive" if reads else "extractive-lexical"
    parts = topic_chapters(result, units, vectors, options, phrases) if with_chapters else []
    if options.backend == "transformers":
        paragraph = written_summary(result, parts, options, device)
        method = options.model
    elif options.backend != "extractive":
        from ..errors import PipelineConfigError

        raise PipelineConfigError(f"unknown summary backend {options.backend!r}; known: extractive, transformers")
    return Summary(method=method, text=paragraph, highlights=highlights, chapters=parts)


def unit_vectors(units: "list[Unit]", segments: list, segment_vectors: "np.ndarray | None", vision: "VisionOptions",
                 device: str, reads: bool) -> "np.ndarray":
    """The units' vectors: the mean of their segments' vectors where fusion made them in a space
    that reads the language, the shared text encoder's otherwise, and TF-IDF over tokens
    (:func:`lexical_vectors`) where the encoder does not read the language."""
    import numpy as np

    from .loaders import shared_text_encoder

    if not reads:
        return lexical_vectors([u.text for u in units])
    if segment_vectors is not None and len(segment_vectors) == len(segments):
        sv = np.asarray(segment_vectors, np.float32)
        return np.stack([sv[u.segments].mean(0) for u in units])
    return np.asarray(shared_text_encoder(vision, device).encode_texts([u.text for u in units]), np.float32)


def speaker_labels(result: Result, units: "list[Unit]", mode: str) -> list[str | None]:
    """Per unit, who the paragraph says it is by (``[summary] speakers``): in a talk of several
    speakers, its first segment's person's given name ("named"), or that else its SPEAKER_n
    ("all"); None where the mode names no one, the talk has one voice, or the voice is anonymous."""
    if mode == "none" or result.speaker_count() <= 1:
        return [None] * len(units)
    segments = result.transcript.segments
    out: list[str | None] = []
    for u in units:
        first = segments[u.segments[0]] if u.segments else None
        name = result.speaker_name(first) if first is not None else None
        out.append(name if mode == "all" or (name and name != first.speaker) else None)
    return out


def paragraph_of(units: "list[Unit]", speakers: "list[str | None] | None" = None) -> str:
    """The chosen units in time order as one paragraph, each said by its label in ``speakers``
    where it has one ("Ada: ...", "SPEAKER_2: ..."); a unit that ends no sentence gets a full stop."""
    out = ""
    for n, u in enumerate(units):
        stop = "" if re.search(r"[.!?。！？]$", u.text) else ("。" if re.search(f"[{SPACELESS}]$", u.text) else ".")
        who = speakers[n] if speakers else None
        part = f"{who}: {u.text}{stop}" if who else u.text + stop
        out += glue(out, part) + part
    return out


#: A timeline of more lines than this is summarised part by part, then the parts' summaries
#: together (:func:`written_summary`).
PROMPT_LINES = 120


def written_summary(result: Result, chapters: list[Chapter], options: "SummaryOptions", device: str = "cpu") -> str:
    """The generative model's paragraph. A timeline that fits one prompt (:data:`PROMPT_LINES`)
    is written in one go; a longer one by map-reduce: each chapter (a long chapter in pieces of
    :data:`PROMPT_LINES` lines) is summarised from its own lines, then the whole from the parts'
    summaries in time order, so no part of a long talk is cut off the prompt."""
    from .generate import generate

    lines = timeline_lines(result)
    if len(lines) <= PROMPT_LINES:
        return generate(options.model, timeline_prompt(result), options.max_new_tokens, device)
    bounds = [(c.start, c.end) for c in chapters] or [(0.0, float("inf"))]
    bounds[-1] = (bounds[-1][0], float("inf"))  # what starts after the last chapter's end belongs to it
    parts = []
    for a, b in bounds:
        mine = [text for t, text in lines if a <= t < b]
        for lo in range(0, len(mine), PROMPT_LINES):
            prompt = ("Below is part of a timeline of a video: what is seen, said and happens, with times.\n"
                      + "\n".join(mine[lo:lo + PROMPT_LINES])
                      + "\n\nWrite one or two factual sentences on what happens in this part.\nSummary:")
            said = generate(options.model, prompt, options.max_new_tokens, device)
            if said:
                parts.append(f"[{clock(a)}] {said}")
    prompt = ("Below are summaries of the parts of a video, in time order.\n" + "\n".join(parts)
              + "\n\nWrite a short factual summary of the whole video in two or three sentences.\nSummary:")
    return generate(options.model, prompt, options.max_new_tokens, device)


def timeline_lines(result: Result) -> list[tuple[float, str]]:
    """The fused timeline as ``(time, line)`` in time order: per keyframe what is seen, per
    segment what is said (with its emotion and speaker), and the notable events."""
    lines = []
    for k in result.keyframes:
        seen = k.seen()
        if seen:
            lines.append((k.t, f"[{clock(k.t)}] seen: {seen}"))
    for s in result.transcript.segments:
        mood = f" ({s.emotion.label})" if s.emotion and s.emotion.label != "neutral" else ""
        who = f"{s.speaker} " if s.speaker and result.speaker_count() > 1 else ""
        lines.append((s.start, f"[{clock(s.start)}] {who}said{mood}: {s.text.strip()}"))
    for e in result.events:
        if e.kind in ("loud_sound", "music", "sound", "text_on_screen", "emotion_change"):
            lines.append((e.start, f"[{clock(e.start)}] {e.kind.replace('_', ' ')}: {e.label}"))
    return sorted(lines, key=lambda x: x[0])


def timeline_prompt(result: Result, max_lines: int = PROMPT_LINES) -> str:
    """The fused timeline (:func:`timeline_lines`, its first ``max_lines``) as a prompt for a
    generative model."""
    body = "\n".join(text for _, text in timeline_lines(result)[:max_lines])
    return ("Below is a timeline of a video: what is seen, what is said and what happens, with times.\n"
            f"{body}\n\nWrite a short factual summary of the video in two or three sentences.\nSummary:")
