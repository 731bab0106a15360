"""Summary, highlights and chapters of one video.

Extractive (the default): transcript segments are scored in the shared text-image space by
*centrality* (cosine to the centroid of all segments: how typical of the whole they are), raised
by *visual salience* from the fusion (how much of what a segment says is also seen), then chosen
by maximal marginal relevance so that the picks cover different parts of the talk, not the same
point three times. The summary paragraph is the best few picks in time order; the highlights are
3-7 picks with their times.

Chapters start at shot boundaries where the topic shifts most (cosine distance between the
segments just before and just after), at least ``min_chapter_s`` apart; each is titled by its
most salient phrase (KeyBERT), or its main visual label when nothing is said.

Captions (the captions stage, a VLM's sentence per shot) count where they exist: a segment close
to the captions of the shots around it weighs more (``caption_weight``: what is said about what is
seen), an untitled chapter takes its first caption, and the generative prompt shows them.

A video without speech gets a visual summary: its length, shots, what is seen (captions, else
labels) and faces. It never states what was not measured: where speech was not transcribed or
shots not detected (the stage is not in the pipeline, failed or could not run), it says so
instead ("Speech was not transcribed: the pipeline has no 'speech' stage.").

Generative (``backend = "transformers"``): any causal LM or seq2seq model from a folder or the
local Hugging Face cache writes the paragraph from a prompt built from the fused timeline
(:func:`timeline_prompt`); highlights and chapters stay extractive, so every time shown is one
that exists in the video.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..schema import Chapter, Highlight, Result, Summary
from ..timecode import clock

if TYPE_CHECKING:
    import numpy as np

    from ..options import SummaryOptions, VisionOptions
    from .events import Phrases


def mmr(scores: "np.ndarray", vectors: "np.ndarray", k: int, balance: float = 0.7) -> list[int]:
    """Indices of ``k`` items chosen by maximal marginal relevance: each pick maximises
    ``balance * score - (1 - balance) * (similarity to the closest earlier pick)``."""
    import numpy as np

    chosen: list[int] = []
    similarity = vectors @ vectors.T
    while len(chosen) < min(k, len(scores)):
        redundancy = similarity[:, chosen].max(1) if chosen else np.zeros(len(scores))
        value = balance * scores - (1 - balance) * redundancy
        value[chosen] = -np.inf
        chosen.append(int(np.argmax(value)))
    return chosen


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


def sentence_scores(vectors: "np.ndarray", salience: list[float | None], weight: float) -> "np.ndarray":
    """Centrality in the shared space, raised by visual salience (clipped at 0)."""
    import numpy as np

    centroid = vectors.mean(0)
    centroid /= max(float(np.linalg.norm(centroid)), 1e-9)
    central = vectors @ centroid
    seen = np.array([max(s or 0.0, 0.0) for s in salience])
    return central * (1.0 + weight * seen)


#: A caption counts for the speech within this many seconds of its shot.
CAPTION_WINDOW_S = 5.0


def caption_closeness(result: Result, vectors: "np.ndarray", caption_t: "np.ndarray",
                      caption_vectors: "np.ndarray") -> "np.ndarray":
    """Per transcript segment, its best cosine (clipped at 0) with a caption of a shot that lies
    within :data:`CAPTION_WINDOW_S` of it; 0 where none does."""
    import numpy as np

    segments = result.transcript.segments
    out = np.zeros(len(segments), np.float32)
    by_t = {round(k.t, 3): k for k in result.keyframes}
    spans = []
    for t in caption_t:
        k = by_t.get(round(float(t), 3))
        shot = result.shots[k.shot] if k is not None and k.shot is not None and k.shot < len(result.shots) else None
        spans.append((shot.start, shot.end) if shot else (float(t), float(t)))
    similarity = np.asarray(vectors, np.float32) @ np.asarray(caption_vectors, np.float32).T
    for i, seg in enumerate(segments):
        near = [j for j, (a, b) in enumerate(spans)
                if seg.start < b + CAPTION_WINDOW_S and seg.end > a - CAPTION_WINDOW_S]
        if near:
            out[i] = max(0.0, float(similarity[i, near].max()))
    return out


def chapters(result: Result, vectors: "np.ndarray | None", options: "SummaryOptions",
             phrases: "Phrases | None" = None) -> list[Chapter]:
    """Chapters at the shot boundaries with the largest topic shifts (see the module docstring);
    ``vectors`` are the segments' embeddings (None without speech); titles from key phrases when
    ``phrases`` (the encoder behind them) is given."""
    import numpy as np

    end = result.video.duration_s or (result.shots[-1].end if result.shots else 0.0)
    segments = result.transcript.segments
    if segments:
        end = max(end, segments[-1].end)
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
    starts.sort()
    out = []
    for n, (a, b) in enumerate(zip(starts, [*starts[1:], end]), start=1):
        out.append(Chapter(start=round(a, 3), end=round(b, 3), title=_title(result, a, b, phrases) or f"Part {n}"))
    return out


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
    labels = Counter(k.labels[0].label for k in result.keyframes if start <= k.t < end and k.labels)
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
              not_measured: dict[str, str] | None = None) -> Summary:
    """The summary of ``result`` (see the module docstring); ``segment_vectors`` are the segment
    embeddings the fusion stage made, computed here when missing; ``captions`` the captions
    stage's (times, vectors) in the same space, when it ran; ``phrases`` the key-phrase
    embeddings the events stage kept for this video, when it ran; ``not_measured`` what a
    visual summary must say was not measured (:func:`visual_summary`)."""
    import numpy as np

    from ..vision.text import load_text
    from .loaders import encoder_reads, shared_space_reads, shared_text_encoder

    segments = result.transcript.segments
    if not segments:
        summary = visual_summary(result, options, not_measured)
        if options.backend == "transformers" and (result.keyframes or result.events):
            from .generate import generate

            written = generate(options.model, timeline_prompt(result), options.max_new_tokens, device)
            if written:  # the model sees only what was measured; the gaps are said after its text
                summary.text = " ".join([written, *_gap_sentences(not_measured or {})])
            summary.method = options.model
        return summary
    reads = shared_space_reads(vision, result.transcript.language)
    reads_words = encoder_reads(vision.text_model, result.transcript.language)  # key phrases' encoder
    vectors = segment_vectors
    if not reads:  # the encoder's vectors of this language are noise: word statistics instead
        vectors = lexical_vectors([s.text for s in segments])
    elif vectors is None or len(vectors) != len(segments):
        vectors = shared_text_encoder(vision, device).encode_texts([s.text for s in segments])
    vectors = np.asarray(vectors, np.float32)
    scores = sentence_scores(vectors, [s.salience for s in segments], options.salience_weight)
    if reads and captions is not None and len(captions[0]) and options.caption_weight > 0:
        scores = scores * (1.0 + options.caption_weight * caption_closeness(result, vectors, *captions))
    n_high = max(options.min_highlights, min(options.max_highlights, len(segments) // 3))
    picks = mmr(scores, vectors, n_high)
    highlights = [Highlight(start=segments[i].start, end=segments[i].end, text=segments[i].text) for i in sorted(picks)]
    paragraph = " ".join(segments[i].text.strip() for i in sorted(picks[: options.sentences]))
    if phrases is None and reads_words:
        from .events import Phrases

        phrases = Phrases(load_text(vision.text_model, device))
    elif not reads_words:
        phrases = None  # chapter titles by word statistics (:func:`_title`)
    method = "extractive" if reads else "extractive-lexical"
    if options.backend == "transformers":
        from .generate import generate

        paragraph = generate(options.model, timeline_prompt(result), options.max_new_tokens, device)
        method = options.model
    elif options.backend != "extractive":
        from ..errors import PipelineConfigError

        raise PipelineConfigError(f"unknown summary backend {options.backend!r}; known: extractive, transformers")
    return Summary(method=method, text=paragraph, highlights=highlights,
                   chapters=chapters(result, vectors, options, phrases))


def timeline_prompt(result: Result, max_lines: int = 120) -> str:
    """The fused timeline as text for a generative model: per shot what is seen, per segment what
    is said (with its emotion), and the notable events, all with times."""
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
    body = "\n".join(text for _, text in sorted(lines, key=lambda x: x[0])[:max_lines])
    return ("Below is a timeline of a video: what is seen, what is said and what happens, with times.\n"
            f"{body}\n\nWrite a short factual summary of the video in two or three sentences.\nSummary:")
