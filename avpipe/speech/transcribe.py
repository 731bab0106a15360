"""One function from audio to a guarded transcript, whatever the backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..decode.audio import SAMPLE_RATE
from ..schema import Segment, Transcript, Untranscribed, Word
from .base import RawSegment, load_backend, split_long
from .guards import collapse_repeats, compression_ratio, drop_crammed, give_time, inside, looks_silent
from .language import SETTLE_S, SURE, LanguageIdentifier, LanguageSpan, identify, load_identifier, settle, split_regions
from .vad import Piece, pieces, speech_regions

#: Speech the model passed over: a stretch of at least this many seconds inside what the VAD
#: called speech, with no word in it (Whisper's word times drift on a sentence said over and
#: over, and a window's text may end early),
GAP_MIN_S = 2.0
#: in which a finer VAD pass (short silences split, no padding) finds at least this much speech.
GAP_SPEECH_S = 1.0
#: A piece with such a gap is decoded again as two halves, cut at a pause near its middle, and
#: the halves' words replace the piece's when they leave less speech uncovered. Halves are at
#: most this fraction of the piece.
HALF = 0.55

if TYPE_CHECKING:
    import numpy as np

    from ..options import SpeechOptions


def _clean(segment: RawSegment, regions: list[tuple[float, float]], end_s: float, o: "SpeechOptions") -> list[Segment]:
    """Apply the guards to one segment (times already in media seconds), then cut it into
    segments of at most ``o.max_segment_s``; an empty list drops it."""
    if looks_silent(segment, o.no_speech_threshold, o.log_prob_threshold):
        return []
    if compression_ratio(segment.text) > o.compression_ratio_threshold:
        return []
    words = inside(segment.words, regions, end_s) if segment.words else []
    words = give_time(drop_crammed(collapse_repeats(words, o.max_repeats)), end_s)
    if segment.words and not words:
        return []
    if not words:
        text = segment.text.strip()
        return [Segment(start=round(segment.start, 3), end=round(segment.end, 3), text=text)] if text else []
    out = []
    for part in split_long(words, o.max_segment_s):
        text = "".join(w.word for w in part).strip()
        if text:
            out.append(Segment(start=round(part[0].start, 3), end=round(part[-1].end, 3), text=text,
                               words=[Word(start=round(w.start, 3), end=round(w.end, 3), word=w.word.strip(),
                                           prob=round(float(w.prob), 4)) for w in part]))
    return out


@dataclass
class Heard:
    """What is known of the speech before a word of it is transcribed (:func:`hear`): where it
    is, and the language of each run of it. It needs nothing but the audio, so the speech
    stage can have it made in the background while earlier stages still run
    (:meth:`avpipe.stages.speech.SpeechStage.ahead`); the transcript is the same either way."""

    #: What the model is fed (speech with VAD on, else the whole audio).
    fed: list[tuple[float, float]]
    #: Where words may stand (speech with ``drop_outside_speech``, else the whole audio).
    allowed: list[tuple[float, float]]
    #: The language spans (none when the language could not be identified).
    spans: list[LanguageSpan]
    #: ``fed`` cut at the spans: ``(span, start, end)``.
    parts: list[tuple[LanguageSpan | None, float, float]]
    #: Neighbouring parts joined into runs by key ``(language, sure)`` (:func:`_runs`).
    runs: list[tuple[tuple[str | None, bool], list]]
    #: The start of :func:`transcribe`'s facts: backend, model, speech seconds, regions (the VAD's),
    #: notes, the language model.
    meta: dict


def hear(audio: "np.ndarray", options: "SpeechOptions", device: str = "cpu", hint: str | None = None) -> Heard:
    """Voice activity, then (unless ``options.language`` names it) the language of each
    stretch of speech (:mod:`avpipe.speech.language`; ``hint`` is the stream's language tag),
    with the doubtful runs heard again whole (:func:`_runs`): everything :func:`transcribe`
    decides before the first word is decoded."""
    end_s = len(audio) / SAMPLE_RATE
    whole = [(0.0, end_s)] if end_s > 0 else []
    speech = whole
    if options.vad or options.drop_outside_speech:
        speech = speech_regions(audio, options.vad_threshold, options.vad_min_silence_s, options.vad_pad_s,
                                options.vad_merge_gap_s)
    fed = speech if options.vad else whole  # what the model sees
    allowed = speech if options.drop_outside_speech else whole  # where words may stand
    meta: dict = {"backend": options.backend, "model": options.model,
                  "speech_s": round(sum(b - a for a, b in speech), 3), "regions": speech, "notes": []}
    if not fed or not allowed:
        return Heard(fed, allowed, [], [], [], meta)
    spans, identifier = _languages(audio, fed, options, device, hint, meta)
    parts = split_regions(fed, spans) if spans else [(None, a, b) for a, b in fed]
    return Heard(fed, allowed, spans, parts, _runs(audio, parts, identifier), meta)


def transcribe(audio: "np.ndarray", options: "SpeechOptions", device: str = "cpu",
               hint: str | None = None, heard: Heard | None = None) -> tuple[Transcript, dict]:
    """Transcript of 16 kHz mono ``audio`` and facts about the run (backend, models, speech
    seconds, regions, notes).

    With VAD on, only speech is decoded: silence, tones and music give an empty transcript
    without the model ever running. With ``drop_outside_speech``, words the model places where
    the VAD heard no speech are dropped, whichever audio the model was given.

    Unless ``options.language`` names it, the language of each stretch of speech is identified
    first (:func:`hear`, or ``heard``, what it gave for the same arguments), and each language
    is transcribed by the model meant for it (:func:`model_for`). Speech that no available model
    can transcribe in its language is listed as untranscribed, never written in another language.
    """
    heard = heard if heard is not None else hear(audio, options, device, hint)
    end_s = len(audio) / SAMPLE_RATE
    spans, parts, allowed, meta = heard.spans, heard.parts, heard.allowed, heard.meta
    if not heard.fed or not allowed:
        return Transcript(language=None, segments=[]), meta
    # Runs grouped by (language, sure). A group's runs are decoded together, on every worker,
    # but never joined into one piece: a piece is made of one run's regions, so no segment spans
    # speech in another language.
    groups: dict[tuple[str | None, bool], list[list]] = {}
    for key, run in heard.runs:
        groups.setdefault(key, []).append(run)
    segments: list[Segment] = []
    untranscribed: list[Untranscribed] = []
    used: list[str] = []
    for (language, sure), group in groups.items():
        key = language if sure else None  # unsure speech goes to a multilingual model, never an English-only one
        backend, why = _backend_for(options, key, language, device, identified=bool(spans))
        if backend is None:
            untranscribed += [Untranscribed(start=round(a, 3), end=round(b, 3), language=span.language if span else None,
                                            language_prob=span.prob if span else None, reason=why)
                              for run in group for span, a, b in run]
            meta["notes"].append(f"{sum(b - a for run in group for _, a, b in run):.1f} s of speech in "
                                 f"{language!r} left untranscribed: {why}")
            continue
        if backend.model_name not in used:
            used.append(backend.model_name)
        if backend.english_only and not spans:
            meta["unchecked"] = True
        regions = [_rejoined([(a, b) for _, a, b in run]) for run in group]
        found, detected = _decode(audio, regions, allowed, end_s, backend, language, options)
        for seg in found:
            span = _span_at(group, (seg.start + seg.end) / 2)
            seg.language = language or detected
            seg.language_prob = span.prob if sure and span is not None else None
        if options.translate == "en" and (language or detected) not in ("en", None) and found:
            english, _ = _decode(audio, regions, allowed, end_s, backend, language or detected, options,
                                 task="translate")
            attach_translation(found, english)
        segments.extend(found)
    segments.sort(key=lambda s: (s.start, s.end))
    meta["model"] = "+".join(used) if used else options.model
    heard = [(span.language, b - a) for span, a, b in parts if span is not None] if spans else \
        [(x.language, x.end - x.start) for x in [*segments, *untranscribed] if x.language]
    shares = _shares(heard)
    return Transcript(language=next(iter(shares), None), languages=shares, segments=segments,
                      untranscribed=untranscribed), meta


def _runs(audio: "np.ndarray", parts: list[tuple[LanguageSpan | None, float, float]],
          identifier: LanguageIdentifier | None) -> list[tuple[tuple[str | None, bool], list]]:
    """``parts`` (``(span, start, end)``, in time order) joined into runs of neighbours that share
    a key: ``(language, True)`` where the language is known, ``(guess, False)`` where not.

    The language head's short windows screen the speech cheaply but are unsure, or wrong, on
    unclear speech. So every run they were unsure of (their neighbours decided it, or, for a run
    one window can hear whole, even its first choice scored under :data:`SURE`), and every run
    in another language than the one most of the speech is in, is heard again as a whole, in one full Whisper window
    (:meth:`LanguageIdentifier.probs` with ``whole``, several side by side), and that decides:
    sure there, the run takes its language (English goes to the English model, as it did before
    languages were identified); unsure still, it keeps the head's guess and goes to a
    multilingual model in that language, never to an English-only one. This is the hearing the
    multilingual model would have made itself had it been handed the run with no language.
    The runs' spans are updated to say what was decided, and neighbouring runs that come out
    alike are one run. Parts without a span (nothing identified) are one run, key
    ``(None, False)``: the model detects the language itself."""
    runs = _joined([[(span.language, True) if span is not None and span.sure else (None, False), [(span, a, b)]]
                    for span, a, b in parts])
    if identifier is not None:
        shares = _shares([(key[0], sum(b - a for _, a, b in run)) for key, run in runs if key[1]])
        main = next(iter(shares), None)

        def doubtful(key: tuple[str | None, bool], run: list) -> bool:
            # A low-scoring run of the main language only when one window hears all of it: the
            # first 30 s of a long run do not speak for the rest.
            low = any(span.prob is not None and span.prob < SURE for span, _, _ in run) and \
                sum(b - a for _, a, b in run) <= SETTLE_S
            return not key[1] or key[0] != main or low

        again = [run for run in runs if all(span is not None for span, _, _ in run[1]) and doubtful(*run)]
        for run, (language, p) in zip(again, settle(identifier, audio, [[(a, b) for _, a, b in r[1]] for r in again])):
            for span in {id(span): span for span, _, _ in run[1]}.values():
                span.language, span.prob, span.sure = language, round(p, 4), p >= SURE
            run[0] = (language, p >= SURE)
    return [(key, run) for key, run in _joined(runs)]


def _joined(runs: list[list]) -> list[list]:
    """``[key, parts]`` runs with neighbours of the same key made one, in order."""
    out: list[list] = []
    for key, run in runs:
        if out and out[-1][0] == key:
            out[-1][1].extend(run)
        else:
            out.append([key, list(run)])
    return out


def _rejoined(regions: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Regions that touch made one again: a region cut where the language head's spans changed,
    and found to be one language after all, is decoded as the VAD found it (so English-only
    speech gives the transcript it gave before languages were identified)."""
    out: list[tuple[float, float]] = []
    for a, b in regions:
        if out and a <= out[-1][1] + 1e-6:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _span_at(batch: list[list], t: float) -> LanguageSpan | None:
    """The language span of the part of ``batch`` (runs of ``(span, start, end)``) nearest ``t``."""
    parts = [part for run in batch for part in run]
    span, _, _ = min(parts, key=lambda p: 0.0 if p[1] <= t <= p[2] else min(abs(t - p[1]), abs(t - p[2])))
    return span


def attach_translation(segments: list[Segment], english: list[Segment]) -> None:
    """Give each segment the words of Whisper's translation that fall in it (by the middle of
    each translated word, else of each translated segment) as ``text_en``. The translation's
    timing follows the source speech only roughly, so a word goes to the segment nearest it."""
    import bisect

    if not segments:
        return
    parts: list[list[str]] = [[] for _ in segments]
    order = sorted(range(len(segments)), key=lambda j: segments[j].start)
    starts = [segments[j].start for j in order]

    def nearest(t: float) -> int:
        i = bisect.bisect_right(starts, t) - 1
        near = [order[k] for k in (i, i + 1) if 0 <= k < len(order)]
        return min(near, key=lambda j: (0.0 if segments[j].start <= t <= segments[j].end
                                        else min(abs(t - segments[j].start), abs(t - segments[j].end)), j))

    for e in english:
        if e.words:
            for w in e.words:
                parts[nearest((w.start + w.end) / 2)].append(w.word)
        else:
            parts[nearest((e.start + e.end) / 2)].append(e.text)
    for s, words in zip(segments, parts):
        s.text_en = " ".join(words).strip() or None


def model_for(options: "SpeechOptions", language: str | None) -> str:
    """The model that transcribes speech in ``language`` (None: not identified)."""
    if options.model != "auto":
        return options.model
    if language == "en" and options.english_model:
        return options.english_model
    return options.multilingual_model or options.english_model


def _backend_for(options: "SpeechOptions", language: str | None, label: str | None, device: str,
                 identified: bool = True):
    """The loaded backend for speech in ``language`` (None: the head was unsure; ``label`` is
    its best guess), or None and why there is none. An English-only model is handed only speech
    known to be English; other speech goes to ``multilingual_model``. Where no language could be
    identified at all (``identified`` False), the English-only model gets it, and the caller
    marks the transcript unchecked."""
    from dataclasses import replace

    backend = load_backend(replace(options, model=model_for(options, language)), device)
    if not backend.english_only or language == "en":
        return backend, None
    if options.multilingual_model and options.multilingual_model != backend.model_name:
        other = load_backend(replace(options, model=options.multilingual_model), device)
        if not other.english_only:
            return other, None
    if not identified or (language is None and label == "en"):
        return backend, None
    return None, (f"model {backend.model_name!r} is English-only and no multilingual model is set "
                  "([speech] multilingual_model)")


def _head_args(options: "SpeechOptions", device: str) -> tuple[str, str, int]:
    """:func:`load_identifier`'s arguments for ``options``: the model, where it runs, its threads."""
    from ..threads import cpu_threads

    # The head runs on CTranslate2, whose build may lack CUDA where torch (another backend) has it.
    return options.language_model, device if options.backend == "faster-whisper" else "cpu", cpu_threads(options.cpu_threads)


def _languages(audio: "np.ndarray", fed: list[tuple[float, float]], options: "SpeechOptions", device: str,
               hint: str | None, meta: dict) -> tuple[list[LanguageSpan], LanguageIdentifier | None]:
    """The language of each stretch of ``fed``: the one given, or identified; and the language
    head (None when the language was given or cannot be identified). No spans when it cannot
    be identified here (no multilingual model for the language head): each backend then decides
    for itself, and a note says so."""
    if options.language:
        return [LanguageSpan(a, b, options.language, None) for a, b in fed], None
    from ..models import ModelNotAvailable

    try:
        identifier = load_identifier(*_head_args(options, device))
    except ModelNotAvailable as exc:
        meta["notes"].append(f"the spoken language was not identified: {exc}")
        return [], None
    meta["language_model"] = identifier.name
    spans = identify(audio, fed, identifier.probs, hint=hint, every_s=options.language_every_s,
                     many=identifier.probs_many)
    return spans, identifier


def _shares(heard: list[tuple[str, float]]) -> dict[str, float]:
    """Each language's share of the speech (``(language, seconds)`` pairs), largest first."""
    seconds: dict[str, float] = {}
    for language, n in heard:
        seconds[language] = seconds.get(language, 0.0) + max(n, 0.0)
    total = sum(seconds.values())
    if total <= 0:
        return {}
    return {k: round(v / total, 3) for k, v in sorted(seconds.items(), key=lambda kv: (-kv[1], kv[0]))}


def _decode(audio: "np.ndarray", runs: list[list[tuple[float, float]]], allowed: list[tuple[float, float]],
            end_s: float, backend, language: str | None, options: "SpeechOptions",
            task: str = "transcribe") -> tuple[list[Segment], str | None]:
    """The guarded segments of the speech in ``runs`` (lists of regions; a piece never joins
    two runs), decoded by ``backend`` in ``language`` (None: the backend detects it), and the
    language it used; with ``task = "translate"``, Whisper's English translation of it."""
    language = "en" if backend.english_only else language
    segments: list[Segment] = []
    if getattr(backend, "piece_s", None):
        # Short pieces decoded together (batched); long regions are cut to size, or kept whole
        # for a backend that chunks them itself.
        size = min(backend.piece_s, options.max_piece_s)
        todo = [p for run in runs for p in pieces(audio, run, size, cut_long=not backend.long_pieces_ok)]
        results, language = backend.transcribe_many([p.audio for p in todo], language, task)
    else:
        todo, results = [p for run in runs for p in pieces(audio, run, options.max_piece_s)], None
    for i, piece in enumerate(todo):
        if results is None:
            raw, language = backend.transcribe(piece.audio, language, task)
        else:
            raw = results[i]
        found = _place(raw, piece, allowed, end_s, options)
        if results is not None:  # one-window pieces: worth a second look when speech went missing
            found = _second_look(audio, piece, found, allowed, end_s, backend, language, options, task)
        segments.extend(found)
    return segments, language


def _place(raw: list[RawSegment], piece: Piece, allowed: list[tuple[float, float]], end_s: float,
           o: "SpeechOptions") -> list[Segment]:
    """A piece's segments in media time, through the guards."""
    out = []
    for s in raw:
        s.start, s.end = piece.to_media(s.start), piece.to_media(s.end)
        for w in s.words:
            w.start, w.end = piece.to_media(w.start), piece.to_media(w.end)
        out.extend(_clean(s, allowed, end_s, o))
    return out


def _missing_speech(audio: "np.ndarray", segments: list[Segment], regions: list[tuple[float, float]],
                    o: "SpeechOptions") -> float:
    """Seconds of speech (by a fine VAD pass) in the stretches of ``regions`` no word covers."""
    missing = 0.0
    for a, b in uncovered(segments, regions, GAP_MIN_S):
        clip = audio[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)]
        found = sum(y - x for x, y in speech_regions(clip, o.vad_threshold, min_silence_s=0.25, pad_s=0.0,
                                                     merge_gap_s=0.25))
        missing += found if found >= GAP_SPEECH_S else 0.0
    return missing


def _second_look(audio: "np.ndarray", piece: Piece, found: list[Segment], allowed: list[tuple[float, float]],
                 end_s: float, backend, language: str | None, o: "SpeechOptions",
                 task: str = "transcribe") -> list[Segment]:
    """``found`` again, from the piece decoded as two halves, when that covers more of its speech."""
    regions = piece.regions()
    missing = _missing_speech(audio, found, regions, o)
    if not missing:
        return found
    halves = pieces(audio, regions, HALF * sum(piece.lengths))
    if len(halves) < 2:
        return found
    decoded, _ = backend.transcribe_many([h.audio for h in halves], language, task)
    again = [s for half, raw in zip(halves, decoded) for s in _place(raw, half, allowed, end_s, o)]
    return again if _missing_speech(audio, again, regions, o) < missing else found


def uncovered(segments: list[Segment], regions: list[tuple[float, float]], min_s: float) -> list[tuple[float, float]]:
    """Stretches of at least ``min_s`` seconds inside ``regions`` that no word (or, for a segment
    without word times, no segment) covers."""
    spans = sorted([(w.start, w.end) for s in segments for w in s.words] +
                   [(s.start, s.end) for s in segments if not s.words])
    gaps = []
    for a, b in regions:
        at = a
        for start, end in spans:
            if end <= at or start >= b:
                continue
            if start - at >= min_s:
                gaps.append((at, start))
            at = max(at, end)
        if b - at >= min_s:
            gaps.append((at, b))
    return gaps
