"""Guards against text Whisper invents: over silence, music or noise it is known to produce
fluent sentences ("Thank you for watching"), loops ("the the the") and repeated lines
(whisper.cpp #1724, Whisper-WebUI #534). Each guard is a plain function of a segment, applied
the same way whatever backend produced it."""

from __future__ import annotations

import re
import zlib

from .base import RawSegment, RawWord


def compression_ratio(text: str) -> float:
    """Raw bytes over zlib-compressed bytes; looping text compresses unusually well (> 2.4)."""
    data = text.encode("utf-8")
    return len(data) / max(1, len(zlib.compress(data))) if data else 0.0


def looks_silent(segment: RawSegment, no_speech_threshold: float, log_prob_threshold: float) -> bool:
    """Whisper's own rule: the model thinks there is no speech and is unsure of its words."""
    if segment.no_speech_prob is None or segment.avg_logprob is None:
        return False
    return segment.no_speech_prob > no_speech_threshold and segment.avg_logprob < log_prob_threshold


def _key(word: str) -> str:
    return re.sub(r"[^\w']+", "", word.lower())


def collapse_repeats(words: list[RawWord], max_repeats: int, max_n: int = 6) -> list[RawWord]:
    """Keep one copy of any run of 1..``max_n`` words repeated more than ``max_repeats`` times
    in a row ("thank you thank you thank you thank you" -> "thank you")."""
    keys = [_key(w.word) for w in words]
    out: list[RawWord] = []
    i = 0
    while i < len(words):
        loop = None
        for n in range(1, max_n + 1):
            gram = keys[i : i + n]
            if len(gram) < n or not all(gram):
                break
            count = 1
            while keys[i + count * n : i + (count + 1) * n] == gram:
                count += 1
            if count > max_repeats:
                loop = (n, count)
                break
        if loop:
            n, count = loop
            out.extend(words[i : i + n])
            i += n * count
        else:
            out.append(words[i])
            i += 1
    return out


def inside(words: list[RawWord], regions: list[tuple[float, float]], end_s: float) -> list[RawWord]:
    """Words whose middle lies in a speech region and before the end of the audio."""
    kept = []
    for w in words:
        mid = (w.start + w.end) / 2
        if mid <= end_s and any(a <= mid < b for a, b in regions):
            kept.append(w)
    return kept


#: No one says this many words in a row faster than this many seconds a word (fast speech is
#: about 0.2 s a word).
CRAMMED_WORDS, CRAMMED_S = 4, 0.06


def drop_crammed(words: list[RawWord], min_words: int = CRAMMED_WORDS, max_s: float = CRAMMED_S) -> list[RawWord]:
    """Drop runs of ``min_words`` or more consecutive words that Whisper squeezed into less than
    ``max_s`` seconds a word: a phrase it wrote twice over one stretch of audio (seen on a
    sentence said eight times in a row: a ninth copy whose eight words all sat in 0.18 s). Such
    timing is not speech, whatever the text says."""
    out: list[RawWord] = []
    i = 0
    while i < len(words):
        j = i
        while j + 1 < len(words) and words[j + 1].end - words[i].start < (j + 2 - i) * max_s:
            j += 1
        if j + 1 - i >= min_words and words[j].end - words[i].start < (j + 1 - i) * max_s:
            i = j + 1
            continue
        out.append(words[i])
        i += 1
    return out


#: The least time a word is given (seconds): Whisper times some words as instantaneous
#: (``"okay,"`` at 29.666-29.666), which made segments and highlights of no length.
MIN_WORD_S = 0.1


def give_time(words: list[RawWord], end_s: float) -> list[RawWord]:
    """Words timed shorter than :data:`MIN_WORD_S` stretched to it where there is room: first
    into the gap after the word (never into the next word, nor past ``end_s``), then into the gap
    before it. A word with no room on either side keeps its time."""
    from dataclasses import replace

    out: list[RawWord] = []
    for i, w in enumerate(words):
        if w.end - w.start >= MIN_WORD_S:
            out.append(w)
            continue
        after = words[i + 1].start if i + 1 < len(words) else end_s
        before = out[-1].end if out else 0.0
        end = max(w.end, min(w.start + MIN_WORD_S, after))
        start = min(w.start, max(before, end - MIN_WORD_S))
        out.append(replace(w, start=start, end=end))
    return out
