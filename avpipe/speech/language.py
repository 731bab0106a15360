"""Spoken language identification: which language each stretch of speech is in, before anyone
chooses how to transcribe it.

Whisper's language head (a multilingual model's encoder, then one decoder step over the language
tokens) is run on short windows of the speech the VAD found, not on the first 30 s of the file:
code-switching happens inside one file, and an English-only model handed German speech writes
invented English with a good score. A window of a few seconds costs about a hundredth of its
length on two CPU cores (CTranslate2's encoder takes fewer than Whisper's 3,000 frames; its cost
grows with the length), so the whole speech could be checked. It is not: a window every
:data:`PROBE_EVERY_S` seconds of speech is probed, and only where two probes disagree are windows
between them probed, bisecting, so a switch or an island costs a few probes. Where two
neighbouring windows disagree, the switch is placed by scoring short pieces of the two against
the two languages only (much surer than an argmax over 99 languages on 2 s of audio), so a
change of language is found within a couple of seconds and a monolingual hour costs one probe
per 45 s of speech.

The container's language tag (``probe``'s stream language) is a hint, never the truth: it
decides only windows the model is unsure of.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from ..cache import once
from ..decode.audio import SAMPLE_RATE
from .vad import quiet_cut

if TYPE_CHECKING:
    import numpy as np

#: Length of a language window, in seconds of speech (cut at a quiet moment near it).
WINDOW_S = 6.0
#: Windows shorter than this are joined to their neighbour in the same region, when there is one.
MIN_WINDOW_S = 1.5
#: A long monolingual stretch is probed once per this many seconds of speech.
PROBE_EVERY_S = 45.0
#: A window whose top language is below this probability is unsure: it is decided by its
#: neighbours (and the stream's tag), and probes around it are filled in.
SURE = 0.5
#: Where two windows disagree, the switch is searched for in pieces this long.
SWITCH_PIECE_S = 2.0
#: A run of windows in one language shorter than this, beside a longer run in another, is taken
#: to be in its neighbour's language: a sentence does not switch between Spanish and Portuguese
#: for its last two seconds, though Whisper's head, on two seconds, may say so (sure, 0.96).
#: Beside English only when English is plausible there (:data:`EN_PLAUSIBLE`): speech in another
#: language is never handed to an English-only model; an island that stays goes to the
#: multilingual model, which decides its language for itself.
MIN_RUN_S = 4.0
#: An island beside English joins it when the head gives English at least this probability in it
#: (espeak-ng's English read as "Latin, 0.5; English, 0.4" in 5 % of windows; a German quote
#: in English speech has p(en) near 0.02).
EN_PLAUSIBLE = 0.1
#: Weight the stream's language tag adds to its language in an unsure window.
HINT_WEIGHT = 0.25
#: Fewest samples a window is given to the model (shorter ones are padded by the extractor).
_MIN_SAMPLES = int(0.5 * SAMPLE_RATE)


@dataclass
class LanguageSpan:
    """A stretch of speech (media seconds) in one language, with the model's probability for it
    (the mean over the probed windows; None when the language was given, not detected)."""

    start: float
    end: float
    language: str
    prob: float | None
    #: The head's own first choice here (or the stretch's language was given). False where the
    #: language was decided for it by its neighbours or the stream's tag: such speech goes to the
    #: multilingual model, which decides for itself, never to an English-only one.
    sure: bool = True


Probs = dict[str, float]


class LanguageIdentifier:
    """Whisper's language head on short clips of 16 kHz mono audio (a multilingual CTranslate2
    Whisper model; ``base`` is bundled)."""

    def __init__(self, model: str, device: str, threads: int, compute_type: str = "auto") -> None:
        from ..models import resolve
        from .faster import whisper_model

        compute = compute_type if compute_type != "auto" else ("float16" if device == "cuda" else "int8")
        # On CPU, one single-threaded worker per core, as the faster-whisper backend loads it: the
        # same weights serve both, and windows are heard side by side (a few seconds of audio is
        # too little work to share between threads).
        self.workers = threads if device == "cpu" else 1
        self.model = whisper_model(str(resolve(model)), device, compute, self.workers,
                                   1 if device == "cpu" else threads)
        if not self.model.model.is_multilingual:
            from ..errors import PipelineConfigError

            raise PipelineConfigError(f"[speech] language_model = {model!r} is English-only; language identification "
                                      "needs a multilingual Whisper model (e.g. \"base\")")
        self.name = model

    def probs(self, clip: "np.ndarray", whole: bool = False) -> Probs:
        """Each language's probability for ``clip``: heard as it is (a few seconds cost a few
        hundredths of a second), or, with ``whole``, as Whisper was trained to hear it and
        detects a language itself: its first 30 s padded with silence to one full window.

        The full window costs about ten times more (0.6 s on one core) and is much surer on short
        or unclear speech: espeak-ng's English that 6 s windows heard as Latin (0.66) is English,
        0.71, in the full window; 3.7 s of Spanish speech heard as Malay (0.21) is Spanish, 0.54.
        Padding to 10-20 s instead was no better than the bare clip on such cases."""
        import numpy as np

        extractor = self.model.feature_extractor
        if whole:
            features = extractor(clip[: extractor.n_samples], padding=extractor.n_samples)
        else:
            if len(clip) < _MIN_SAMPLES:
                clip = np.pad(clip, (0, _MIN_SAMPLES - len(clip)))
            features = extractor(clip)
        features = features[..., : extractor.nb_max_frames]
        encoded = self.model.encode(features)
        ranked = self.model.model.detect_language(encoded)[0]
        return {token[2:-2]: float(p) for token, p in ranked}

    def probs_many(self, clips: list["np.ndarray"], whole: bool = False) -> list[Probs]:
        """:meth:`probs` of each clip, ``self.workers`` side by side (half as many in a background
        thread: :func:`~avpipe.threads.side_by_side`); each answer is the clip's own, the same
        whatever the number of workers."""
        from ..threads import side_by_side

        workers = side_by_side(self.workers)
        if workers <= 1 or len(clips) <= 1:
            return [self.probs(c, whole) for c in clips]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(lambda c: self.probs(c, whole), clips))


@once
def load_identifier(model: str, device: str, threads: int, compute_type: str = "auto") -> LanguageIdentifier:
    """The identifier for ``model``, loaded once per process."""
    return LanguageIdentifier(model, device, threads, compute_type)


def windows(audio: "np.ndarray", regions: list[tuple[float, float]], length: float = WINDOW_S,
            shortest: float = MIN_WINDOW_S) -> list[tuple[int, float, float]]:
    """``(region index, start, end)`` windows covering every region, each at most about
    ``length`` seconds, cut at a quiet moment near that length (:func:`quiet_cut`); a tail
    shorter than ``shortest`` joins the window before it."""
    out: list[tuple[int, float, float]] = []
    for r, (a, b) in enumerate(regions):
        at = a
        while b - at > length + shortest:
            cut = quiet_cut(audio, at + 0.7 * length, at + length)
            cut = cut if at < cut < b else at + length
            out.append((r, at, cut))
            at = cut
        out.append((r, at, b))
    return out


def _clip(audio: "np.ndarray", start: float, end: float) -> "np.ndarray":
    return audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]


def _top(p: Probs) -> tuple[str, float]:
    language = max(p, key=lambda k: (p[k], k))
    return language, p[language]


Many = Callable[[list["np.ndarray"]], list[Probs]]


def identify(audio: "np.ndarray", regions: list[tuple[float, float]], probs: Callable[["np.ndarray"], Probs],
             hint: str | None = None, every_s: float = PROBE_EVERY_S, many: Many | None = None) -> list[LanguageSpan]:
    """Spans covering ``regions``, each in one language, in time order, never overlapping.

    ``probs`` gives a clip's language probabilities (:meth:`LanguageIdentifier.probs`), and
    ``many`` those of several clips at once (:meth:`LanguageIdentifier.probs_many`; default:
    ``probs`` on each): the windows of one round of probing are heard together;
    ``hint`` is the stream's ISO 639-1 language tag, if any, used only where the model is unsure;
    ``every_s``: seconds of speech between probes (0: every window is probed).
    """
    found = windows(audio, regions)
    if not found:
        return []
    many = many or (lambda clips: [probs(c) for c in clips])
    seen: dict[int, Probs] = {}

    def look(indices: list[int]) -> None:
        todo = sorted({i for i in indices if i not in seen})
        for i, p in zip(todo, many([_clip(audio, found[i][1], found[i][2]) for i in todo])):
            seen[i] = p

    # Probes: the first window, then one per `every_s` of speech, and the last.
    probes, since = [0], 0.0
    for i in range(1, len(found)):
        since += found[i - 1][2] - found[i - 1][1]
        if since >= every_s:
            probes.append(i)
            since = 0.0
    if probes[-1] != len(found) - 1:
        probes.append(len(found) - 1)
    look(probes)
    # Between two probes whose first choices differ, probe the middle window, until every such
    # pair is neighbours: the switch (or an island's edges) found in log2 of the windows between.
    # Beside an unsure probe, its neighbour instead: the vote needs it, and a window the head is
    # unsure of is mostly one odd window in a run of sure ones (what is unsure is heard again,
    # whole, before it is transcribed), so stepping costs two probes where halving cost six.
    while True:
        done = sorted(seen)
        todo = []
        for i, j in zip(done, done[1:]):
            if j - i >= 2 and _top(seen[i])[0] != _top(seen[j])[0]:
                unsure = [k for k in (i, j) if _top(seen[k])[1] < SURE]
                todo += [i + 1] if i in unsure else []
                todo += [j - 1] if j in unsure else []
                todo += [] if unsure else [(i + j) // 2]
        if not todo:
            break
        look(todo)
    labels, sure = _absorb_islands(found, seen, *_decide(found, seen, hint))
    spans: list[LanguageSpan] = []
    for i, ((r, a, b), language) in enumerate(zip(found, labels)):
        if i and language != labels[i - 1] and found[i - 1][0] == r and sure[i] and sure[i - 1]:
            # a switch inside one region: placed by the two languages' scores on short pieces,
            # after the start of the span it ends (which an earlier switch may have moved)
            start = spans[-1].start
            cut = _switch(audio, start, b, labels[i - 1], language, many, prior=a)
            cut = a if not start < cut < b else cut
            spans[-1].end = cut
            a = cut
        spans.append(LanguageSpan(a, b, language, None, sure[i]))
    for s in spans:  # each span's probability: the mean over the windows probed inside it
        inside = [seen[i].get(s.language, 0.0) for i, (_, a, b) in enumerate(found)
                  if i in seen and a < s.end and b > s.start and labels[i] == s.language]
        s.prob = round(sum(inside) / len(inside), 4) if inside else None
    return merge_spans(spans)


def _decide(found: list[tuple[int, float, float]], seen: dict[int, Probs],
            hint: str | None) -> tuple[list[str], list[bool]]:
    """Each window's language, and whether it is the head's own first choice there. A probed
    window takes its top language when sure; when not, its probabilities plus those of its
    probed neighbours (half weight) and the stream's hint decide. A window never probed takes
    the nearest probed window's (both its probed neighbours agree, or it would have been probed)."""
    done = sorted(seen)
    labels: list[str] = []
    sure: list[bool] = []
    for i in range(len(found)):
        if i in seen:
            own, p = _top(seen[i])
            language = own
            if p < SURE:
                votes: dict[str, float] = {}
                for j, weight in ((i, 1.0), (i - 1, 0.5), (i + 1, 0.5)):
                    for k, v in seen.get(j, {}).items():
                        votes[k] = votes.get(k, 0.0) + weight * v
                if hint:
                    votes[hint] = votes.get(hint, 0.0) + HINT_WEIGHT
                language = _top(votes)[0]
            labels.append(language)
            sure.append(language == own)
        else:
            nearest = min(done, key=lambda j: (abs(j - i), j))
            labels.append(_top(seen[nearest])[0])
            sure.append(True)
    return labels, sure


def pauses(audio: "np.ndarray", start: float, end: float, frame_s: float = 0.05, min_s: float = 0.15,
           depth_db: float = 25.0) -> list[float]:
    """Centres of the pauses in ``[start, end]``: runs of at least ``min_s`` seconds whose
    frames are ``depth_db`` below the loudest frames (the 95th percentile) of the stretch."""
    import numpy as np

    frame = int(frame_s * SAMPLE_RATE)
    span = _clip(audio, start, end)
    n = len(span) // frame
    if n < 3:
        return []
    level = 10 * np.log10(np.square(span[: n * frame].reshape(n, frame), dtype=np.float64).mean(axis=1) + 1e-12)
    quiet = level < np.percentile(level, 95) - depth_db
    out, run = [], 0
    for i, q in enumerate([*quiet, False]):
        if q:
            run += 1
            continue
        if run * frame_s >= min_s and i - run > 0 and i < n:  # a pause with speech on both sides
            out.append(start + (i - run / 2) * frame_s)
        run = 0
    return out


#: A piece whose two languages' probabilities differ by less than this says nothing of the switch.
SWITCH_EVIDENCE = 0.2


def _absorb_islands(found: list[tuple[int, float, float]], seen: dict[int, Probs], labels: list[str],
                    sure: list[bool]) -> tuple[list[str], list[bool]]:
    """Each run of windows shorter than :data:`MIN_RUN_S` beside a longer run in another
    language takes that language: the longest such non-English neighbour's; else English, where
    English is plausible in the run (:data:`EN_PLAUSIBLE`); else it stays, but not sure (the
    multilingual model decides it)."""
    runs: list[list] = []  # [language, first window, last window, seconds]
    for i, (language, (_, a, b)) in enumerate(zip(labels, found)):
        if runs and runs[-1][0] == language:
            runs[-1][2], runs[-1][3] = i, runs[-1][3] + (b - a)
        else:
            runs.append([language, i, i, b - a])
    labels, sure = list(labels), list(sure)
    for k, (_, first, last, seconds) in enumerate(runs):
        if seconds >= MIN_RUN_S:
            continue
        near = [runs[j] for j in (k - 1, k + 1) if 0 <= j < len(runs) and runs[j][3] > seconds]
        others = [r for r in near if r[0] != "en"]
        mine = range(first, last + 1)
        if others:
            to, now_sure = max(others, key=lambda r: (r[3], -r[1]))[0], True
        elif near:
            probed = [seen[i].get("en", 0.0) for i in mine if i in seen]
            plausible = bool(probed) and sum(probed) / len(probed) >= EN_PLAUSIBLE
            to, now_sure = ("en", True) if plausible else (labels[first], False)
        else:
            continue
        for i in mine:
            sure[i] = now_sure if to != labels[i] else (sure[i] and now_sure)
            labels[i] = to
    return labels, sure


def _switch(audio: "np.ndarray", start: float, end: float, before: str, after: str, many: Many,
            prior: float) -> float:
    """Where in ``[start, end]`` speech in ``before`` gives way to ``after``: the pause (else a
    quiet moment every :data:`SWITCH_PIECE_S`) that best puts the pieces sounding like
    ``before`` first, scoring each piece by the two languages only; among equally good cuts,
    the one nearest ``prior`` (the windows' own boundary)."""
    cuts = [start]
    for t in [*pauses(audio, start, end), end]:
        while t - cuts[-1] > 2 * SWITCH_PIECE_S:  # no pause for long: cut at a quiet moment
            cut = quiet_cut(audio, cuts[-1] + 0.6 * SWITCH_PIECE_S, cuts[-1] + 1.2 * SWITCH_PIECE_S)
            cuts.append(cut if cuts[-1] < cut < t else cuts[-1] + SWITCH_PIECE_S)
        if t - cuts[-1] >= 0.5 * SWITCH_PIECE_S or t == end:
            cuts.append(t)
    if len(cuts) > 2 and cuts[-1] - cuts[-2] < 0.5 * SWITCH_PIECE_S:
        del cuts[-2]  # a last sliver joins the piece before it
    scores = []
    for p in many([_clip(audio, a, b) for a, b in zip(cuts, cuts[1:])]):
        score = p.get(before, 0.0) - p.get(after, 0.0)
        scores.append(score if abs(score) >= SWITCH_EVIDENCE else 0.0)
    options = [(sum(scores[:c]) - sum(scores[c:]), -abs(cuts[c] - prior), c) for c in range(1, len(scores))]
    if not options:
        return prior
    return cuts[max(options)[2]]


#: A stretch heard again as a whole (:func:`stretch`): at most this many seconds of it, one Whisper window.
SETTLE_S = 30.0


def stretch(audio: "np.ndarray", regions: list[tuple[float, float]], most_s: float = SETTLE_S) -> "np.ndarray":
    """The speech of ``regions`` joined, its first ``most_s`` seconds: what is heard when a
    stretch's language is settled (:func:`settle`)."""
    import numpy as np

    parts, left = [], int(most_s * SAMPLE_RATE)
    for a, b in regions:
        clip = _clip(audio, a, b)[:left]
        parts.append(clip)
        left -= len(clip)
        if left <= 0:
            break
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def settle(head: "LanguageIdentifier", audio: "np.ndarray",
           stretches: list[list[tuple[float, float]]]) -> list[tuple[str, float]]:
    """Each stretch (a list of regions) heard again as a whole, in one full Whisper window
    (:func:`stretch`, :meth:`LanguageIdentifier.probs` with ``whole``; side by side): its first
    choice and that choice's probability."""
    heard = head.probs_many([stretch(audio, regions) for regions in stretches], whole=True)
    return [_top(p) for p in heard]


def merge_spans(spans: list[LanguageSpan]) -> list[LanguageSpan]:
    """Neighbouring spans of one language joined (their probabilities weighted by length)."""
    out: list[LanguageSpan] = []
    for s in spans:
        if out and out[-1].language == s.language and out[-1].sure == s.sure:
            last = out[-1]
            if last.prob is not None and s.prob is not None:
                n1, n2 = last.end - last.start, s.end - s.start
                last.prob = round((last.prob * n1 + s.prob * n2) / max(n1 + n2, 1e-9), 4)
            elif last.prob is None:
                last.prob = s.prob
            last.end = s.end
        else:
            out.append(LanguageSpan(s.start, s.end, s.language, s.prob, s.sure))
    return out


def split_regions(regions: list[tuple[float, float]], spans: list[LanguageSpan]) -> list[tuple[LanguageSpan, float, float]]:
    """``regions`` cut where the language changes: ``(span, start, end)`` in time order. A
    region inside one span comes back unchanged."""
    out = []
    for a, b in regions:
        for s in spans:
            lo, hi = max(a, s.start), min(b, s.end)
            if hi > lo:
                out.append((s, lo, hi))
    return out


#: ISO 639-2 (bibliographic and terminological) codes of common languages, for container tags.
_ISO639_2 = {"eng": "en", "kor": "ko", "jpn": "ja", "zho": "zh", "chi": "zh", "deu": "de", "ger": "de", "fra": "fr",
             "fre": "fr", "spa": "es", "ita": "it", "por": "pt", "rus": "ru", "ara": "ar", "hin": "hi", "tur": "tr",
             "nld": "nl", "dut": "nl", "pol": "pl", "swe": "sv", "nor": "no", "dan": "da", "fin": "fi", "ces": "cs",
             "cze": "cs", "ell": "el", "gre": "el", "heb": "he", "tha": "th", "vie": "vi", "ind": "id", "msa": "ms",
             "may": "ms", "ukr": "uk", "ron": "ro", "rum": "ro", "hun": "hu", "fas": "fa", "per": "fa", "ben": "bn",
             "tam": "ta", "urd": "ur", "cat": "ca", "yue": "yue", "tgl": "tl", "swa": "sw"}


def iso639_1(tag: str | None) -> str | None:
    """A container's language tag ("kor", "ko", "en-US") as Whisper's code, or None ("und", unknown)."""
    if not tag:
        return None
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    code = tag.strip().lower().replace("_", "-").split("-")[0]
    code = _ISO639_2.get(code, code)
    return code if code in _LANGUAGE_CODES else None
