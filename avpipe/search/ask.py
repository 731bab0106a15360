"""Ask one processed video a question: retrieval over its fused timeline, then an answer with
timestamped evidence.

Evidence units, each with its time span: the transcript's sentences (Whisper segments joined
until a sentence ends) and segments, what each keyframe shows (labels, faces), and the notable
events (keywords, on-screen text, emotion changes, loud sounds, music, labels). Each is scored by
cosine similarity to the question (bundled MiniLM), plus :data:`LEXICAL_WEIGHT` times the share
of the question's content words it contains, plus :data:`CUE_WEIGHT` when it has the kind of
thing the question word asks for (where: a place; when: a time or date; who: a name; how
many / how much: a number). These cues are stated heuristics, not a reading-comprehension model.

Without a generative model the answer is retrieval and says so (``method = "retrieval"``): the
best unit quoted, narrowed to the segment inside it that carries the cue when there is one. When nothing is relevant enough
(:data:`MIN_RELEVANCE`), the answer says that the video does not seem to answer the question. With ``model`` (any transformers
causal LM or seq2seq model, folder or cached hub id; a VLM's language side works the same way,
text in, text out) the answer is generated from a prompt holding only the evidence lines with
their times, so it is grounded in them.

With ``vlm`` (a vision-language model, e.g. the captions stage's) the model also *looks*: the
keyframes among the evidence, and the keyframes nearest the best text evidence, up to
``max_images``, go to it as pictures, each introduced by its time, with the evidence lines around
them; the answer lists those keyframes (time and thumbnail) among its evidence.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..schema import Result
from .query import content_words
from .results import read_result

LEXICAL_WEIGHT = 0.3
CUE_WEIGHT = 0.15
#: Below this relevance (similarity + lexical bonus, before the cue), nothing in the video is
#: taken to answer the question: the answer says so rather than quote something unrelated.
MIN_RELEVANCE = 0.25
_PLACE = re.compile(r"\b(at|in|inside|near|from|on)\s+(the\s+)?([A-Z][\w']+|[a-z]+ (room|center|centre|building|city|lab))")
_TIME = re.compile(r"\b(\d{1,4}|today|yesterday|tomorrow|morning|evening|night|monday|tuesday|wednesday|thursday|"
                   r"friday|saturday|sunday|january|february|march|april|may|june|july|august|september|october|"
                   r"november|december|o'clock|year|years|century)\b", re.I)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")
_NUMBER = re.compile(r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million)\b", re.I)


@dataclass
class Evidence:
    start: float
    end: float
    source: str  # sentence, segment, keyframe, event
    text: str
    score: float
    thumbnail: str | None = None  # keyframes: the JPEG, relative to the result folder


@dataclass
class Answer:
    question: str
    answer: str
    method: str  # "retrieval", or the generative model's name (a VLM's when it looked at keyframes)
    start: float | None
    end: float | None
    evidence: list[Evidence] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _cue(question: str):
    q = question.lower().strip()
    if q.startswith("where") or " where " in q:
        return _PLACE
    if q.startswith("when") or "what time" in q or "what year" in q:
        return _TIME
    if q.startswith("who") or " who " in q:
        return _NAME
    if q.startswith("how many") or q.startswith("how much"):
        return _NUMBER
    return None


def sentences(result: Result) -> list[tuple[float, float, str, list[int]]]:
    """Transcript segments joined into sentences: (start, end, text, segment indices)."""
    out, current = [], None
    for i, s in enumerate(result.transcript.segments):
        text = s.text.strip()
        current = (current[0], s.end, f"{current[2]} {text}", current[3] + [i]) if current else (s.start, s.end, text, [i])
        if text.endswith((".", "!", "?")):
            out.append(current)
            current = None
    if current:
        out.append(current)
    return out


def units(result: Result) -> list[Evidence]:
    """Every evidence unit of the fused timeline, unscored."""
    found = [Evidence(a, b, "sentence", text, 0.0) for a, b, text, parts in sentences(result) if len(parts) > 1]
    named = result.speaker_count() > 1  # who said it, where there is more than one voice
    found += [Evidence(s.start, s.end, "segment", f"{s.speaker}: {s.text.strip()}" if named and s.speaker
                       else s.text.strip(), 0.0) for s in result.transcript.segments]
    for k in result.keyframes:
        seen = k.seen()
        if seen:
            found.append(Evidence(k.t, k.t, "keyframe", f"seen: {seen}", 0.0, k.thumbnail))
    for e in result.events:  # (keywords are not units: they repeat the transcript's own words)
        if e.kind in ("text_on_screen", "emotion_change", "loud_sound", "music", "sound", "label"):  # (captions: keyframes)
            found.append(Evidence(e.start, e.end, "event", f"{e.kind.replace('_', ' ')}: {e.label}", 0.0))
    return found


def ask(result_dir: str | Path, question: str, k: int = 5, model: str | None = None, device: str = "cpu",
        max_new_tokens: int = 96, vlm: str | None = None, max_images: int = 4) -> Answer:
    """Answer ``question`` about the video whose result is in ``result_dir`` (see module docstring)."""
    from ..vision.text import load_text

    result = read_result(result_dir)
    found = units(result)
    if not found:
        return Answer(question=question, answer="The video has no transcript, labels or events to answer from.",
                      method="retrieval", start=None, end=None)
    encoder = load_text("minilm", device)
    vectors = encoder.encode([question] + [u.text for u in found])
    words = content_words(question)
    cue = _cue(question)
    relevance = 0.0
    for u, v in zip(found, vectors[1:]):
        score = float(v @ vectors[0])
        if words:
            score += LEXICAL_WEIGHT * len(words & content_words(u.text)) / len(words)
        relevance = max(relevance, score)
        if cue is not None and cue.search(u.text):
            score += CUE_WEIGHT
        u.score = round(score, 4)
    ranked = sorted(found, key=lambda u: -u.score)[:k]
    best = ranked[0]
    if relevance < MIN_RELEVANCE:
        return Answer(question=question, answer="Nothing in this video seems to answer that (closest evidence listed).",
                      method="retrieval", start=None, end=None, evidence=ranked)
    if vlm:
        return _look_and_answer(Path(result_dir), question, vlm, found, ranked, max_images, device, max_new_tokens)
    if model:
        from ..understand.generate import generate
        from ..timecode import clock

        lines = "\n".join(f"[{clock(u.start)}-{clock(u.end)}] {u.text}" for u in sorted(ranked, key=lambda u: u.start))
        prompt = ("Answer the question about a video using only these timestamped notes from it. "
                  "Cite the time of the note you use.\n"
                  f"Notes:\n{lines}\n\nQuestion: {question}\nAnswer:")
        text = generate(model, prompt, max_new_tokens, device) or best.text
        return Answer(question=question, answer=text, method=model, start=best.start, end=best.end, evidence=ranked)
    focus = best
    if cue is not None and best.source == "sentence":  # narrow to the segment that carries the cue
        inside = [u for u in found if u.source == "segment" and best.start <= u.start and u.end <= best.end
                  and cue.search(u.text)]
        if inside:
            focus = max(inside, key=lambda u: u.score)
            if focus not in ranked:
                ranked = [ranked[0], focus, *ranked[1:-1]]
    return Answer(question=question, answer=focus.text, method="retrieval", start=focus.start, end=focus.end,
                  evidence=ranked)


def _look_and_answer(folder: Path, question: str, vlm: str, found: list[Evidence], ranked: list[Evidence],
                     max_images: int, device: str, max_new_tokens: int) -> Answer:
    """The VLM's answer from the ranked evidence and the keyframes it points at (module docstring)."""
    import cv2

    from ..timecode import clock
    from ..vision.vlm import answer, load_vlm

    folder = folder.parent if folder.name == "result.json" else folder
    frames = [u for u in found if u.source == "keyframe" and u.thumbnail]
    shown: list[Evidence] = [u for u in ranked if u in frames]
    for u in ranked:  # the keyframe nearest each piece of text evidence, best evidence first
        if u.source != "keyframe" and frames:
            mid = (u.start + u.end) / 2
            near = min(frames, key=lambda f: abs(f.start - mid))
            if near not in shown:
                shown.append(near)
    images, times, kept = [], [], []
    for u in shown[:max_images]:
        image = cv2.imread(str(folder / u.thumbnail))
        if image is not None:
            images.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
            times.append(clock(u.start))
            kept.append(u)
    notes = "\n".join(f"[{clock(u.start)}-{clock(u.end)}] {u.source}: {u.text}" for u in sorted(ranked, key=lambda u: u.start))
    model = load_vlm(vlm, device)
    text = answer(model, question, notes, images, times, max_new_tokens) or ranked[0].text
    evidence = ranked + [u for u in kept if u not in ranked]
    best = ranked[0]
    return Answer(question=question, answer=text, method=vlm, start=best.start, end=best.end, evidence=evidence)

