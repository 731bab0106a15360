"""Every language (#24): spoken language identification per stretch of speech, the model meant
for each language, nothing written in a language that was not spoken, and the text stages that
work in any language.

Three kinds of tests: the identification logic on a scripted language head (``probs`` given,
exact answers); the bundled models on English (real, ``../shared/media``) and on German spoken
by espeak-ng (synthetic: it checks the wiring, not recognition quality); and, where the
multilingual set of real recordings is present (``tests/data/asr``, see its PROVENANCE.md; not
in git), its Korean, German and switching recordings.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from avpipe.decode.audio import SAMPLE_RATE
from avpipe.options import SpeechOptions
from avpipe.schema import Segment, Transcript, Word
from avpipe.speech.language import (MIN_RUN_S, LanguageSpan, identify, iso639_1, merge_spans, split_regions,
                                    windows)

#: The multilingual set: beside the tests, or (once the maintainers ship it) in the shared media.
ASR_SET = next((p for p in (Path(__file__).resolve().parent / "data" / "asr" / "manifest.json",
                            Path(__file__).resolve().parents[2] / "shared" / "media" / "asr" / "manifest.json")
                if p.exists()), Path(__file__).resolve().parent / "data" / "asr" / "manifest.json")


def tone_speech(seconds: float, pauses: list[float] = (), seed: int = 0) -> np.ndarray:
    """Speech-like noise bursts with silent pauses (0.4 s) at the given times."""
    rng = np.random.default_rng(seed)
    audio = (0.3 * rng.standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32)
    for t in pauses:
        audio[int((t - 0.2) * SAMPLE_RATE) : int((t + 0.2) * SAMPLE_RATE)] = 0.0
    return audio


def scripted(audio: np.ndarray, timeline: list[tuple[float, float, dict[str, float]]], calls: list | None = None):
    """A language head that answers from ``timeline`` (start, end, probabilities): a clip of
    ``audio`` (a view into it, as :func:`identify` hands them out) gets the probabilities of the
    stretch its middle lies in."""
    base = audio.__array_interface__["data"][0]

    def probs(clip: np.ndarray) -> dict[str, float]:
        start = (clip.__array_interface__["data"][0] - base) / audio.itemsize / SAMPLE_RATE
        mid = start + len(clip) / SAMPLE_RATE / 2
        if calls is not None:
            calls.append((start, len(clip) / SAMPLE_RATE))
        return next((p for a, b, p in timeline if a <= mid < b), timeline[-1][2])
    return probs


EN = {"en": 0.95, "de": 0.02}
DE = {"de": 0.93, "en": 0.03}
UNSURE = {"en": 0.35, "de": 0.30, "nl": 0.2}


def test_windows_cover_every_region_without_crossing_one():
    audio = tone_speech(40.0)
    regions = [(0.0, 13.0), (15.0, 15.8), (20.0, 40.0)]
    found = windows(audio, regions)
    for r, (a, b) in enumerate(regions):
        mine = [(x, y) for k, x, y in found if k == r]
        assert mine[0][0] == a and mine[-1][1] == b
        assert all(y1 == x2 for (_, y1), (x2, _) in zip(mine, mine[1:]))  # contiguous, no gap, no overlap
        assert all(y - x <= 6.0 + 1.5 + 1e-6 for x, y in mine)


def test_one_language_costs_one_probe_per_45_seconds():
    audio = tone_speech(120.0)
    calls: list = []
    spans = identify(audio, [(0.0, 120.0)], scripted(audio, [(0, 999, EN)], calls))
    assert [(s.language, s.start, s.end) for s in spans] == [("en", 0.0, 120.0)]
    assert spans[0].prob == pytest.approx(0.95)
    assert len(calls) <= 120 / 45 + 2  # probes only: nothing disagreed


def test_a_switch_inside_one_region_is_found_within_two_seconds():
    audio = tone_speech(60.0, pauses=[float(t) for t in range(2, 60, 3)] + [37.0])
    spans = identify(audio, [(0.0, 60.0)], scripted(audio, [(0, 37.0, EN), (37.0, 999, DE)]))
    assert [s.language for s in spans] == ["en", "de"]
    assert abs(spans[0].end - 37.0) <= 2.0 and spans[1].start == spans[0].end
    assert spans[0].start == 0.0 and spans[1].end == 60.0


def test_an_unsure_window_follows_its_neighbours_but_never_goes_to_english_unsure():
    """A window the head is unsure of takes its neighbours' language (or the stream tag's, alone),
    and is then marked unsure: never handed to an English-only model, whatever decided it."""
    audio = tone_speech(18.0)
    regions = [(0.0, 6.0), (6.0, 12.0), (12.0, 18.0)]
    calls: list = []
    spans = identify(audio, regions, scripted(audio, [(0, 6, DE), (6, 12, UNSURE), (12, 99, DE)], calls),
                     every_s=0)
    assert len(calls) == 3  # every window probed: the unsure one was looked at
    assert [(s.language, s.sure) for s in spans] == [("de", True), ("de", False), ("de", True)]
    voted_en = identify(audio, regions, scripted(audio, [(0, 6, EN), (6, 12, {"de": 0.45, "en": 0.3}),
                                                       (12, 99, EN)]), every_s=0)
    assert [(s.language, s.sure) for s in voted_en] == [("en", True), ("en", False), ("en", True)]
    alone = identify(audio, [(6.0, 12.0)], scripted(audio, [(0, 99, UNSURE)]), hint="nl")
    assert [(s.language, s.sure) for s in alone] == [("nl", False)]
    sure = identify(audio, [(0.0, 6.0)], scripted(audio, [(0, 99, DE)]), hint="en")
    assert [(s.language, s.sure) for s in sure] == [("de", True)]  # a tag is a hint, never the truth


def test_two_switches_in_one_region_give_ordered_spans():
    audio = tone_speech(40.0, pauses=[float(t) for t in range(2, 40, 3)])
    spans = identify(audio, [(0.0, 40.0)], scripted(audio, [(0, 13.0, EN), (13.0, 19.0, DE), (19.0, 99, EN)]),
                     every_s=0)
    assert [s.language for s in spans] == ["en", "de", "en"]
    assert all(s.start < s.end for s in spans) and all(x.end == y.start for x, y in zip(spans, spans[1:]))
    assert spans[0].start == 0.0 and spans[-1].end == 40.0
    assert abs(spans[1].start - 13.0) <= 2.0 and abs(spans[1].end - 19.0) <= 2.0


def test_a_short_island_between_close_languages_is_absorbed_but_not_beside_english():
    audio = tone_speech(30.0, pauses=[float(t) for t in range(2, 30, 3)])
    es, pt = {"es": 0.9, "pt": 0.05}, {"pt": 0.96, "es": 0.03}
    regions = [(0.0, 18.0), (18.5, 21.0)]
    spans = identify(audio, regions, scripted(audio, [(0, 18.2, es), (18.2, 99, pt)]))
    assert [s.language for s in spans] == ["es"]  # 2.5 s of "Portuguese" ending a Spanish stretch
    spans = identify(audio, regions, scripted(audio, [(0, 18.2, EN), (18.2, 99, pt)]))
    assert [(s.language, s.sure) for s in spans] == [("en", True), ("pt", False)]  # not for tiny.en: the
    # multilingual model decides
    latin = {"la": 0.52, "en": 0.3}  # espeak-ng's English, as the head hears 5 % of it
    spans = identify(audio, regions, scripted(audio, [(0, 18.2, EN), (18.2, 99, latin)]))
    assert [(s.language, s.sure) for s in spans] == [("en", True)]
    es_en = identify(audio, [(0.0, 8.0), (8.5, 11.0), (11.5, 30.0)],
                     scripted(audio, [(0, 8.2, es), (8.2, 11.2, pt), (11.2, 99, EN)]))
    assert [s.language for s in es_en] == ["es", "en"]  # the non-English neighbour, though shorter
    spans = identify(audio, [(0.0, 18.0), (18.5, 24.0)], scripted(audio, [(0, 18.2, es), (18.2, 99, pt)]))
    assert [s.language for s in spans] == ["es", "pt"]  # 5.5 s is a switch
    assert MIN_RUN_S > 2.5


def test_regions_are_cut_only_where_the_language_changes():
    spans = [LanguageSpan(0.0, 10.0, "en", 0.9), LanguageSpan(10.0, 30.0, "de", 0.8)]
    cut = lambda regions: [(s.language, s.prob, a, b) for s, a, b in split_regions(regions, spans)]  # noqa: E731
    assert cut([(1.0, 4.0), (5.0, 9.0)]) == [("en", 0.9, 1.0, 4.0), ("en", 0.9, 5.0, 9.0)]
    assert cut([(8.0, 12.0)]) == [("en", 0.9, 8.0, 10.0), ("de", 0.8, 10.0, 12.0)]
    merged = merge_spans([LanguageSpan(0, 2, "ko", 0.9), LanguageSpan(2, 6, "ko", 0.6), LanguageSpan(6, 7, "en", 0.8)])
    assert [(s.language, s.start, s.end) for s in merged] == [("ko", 0, 6), ("en", 6, 7)]
    assert merged[0].prob == pytest.approx(0.7)


def test_windows_heard_side_by_side_give_the_spans_heard_one_by_one():
    """Each round of probes is heard together (several workers on CPU): the same windows are
    asked for, and the same spans come out, as when each is heard alone."""
    from concurrent.futures import ThreadPoolExecutor

    audio = tone_speech(200.0, pauses=[float(t) for t in range(2, 200, 3)])
    timeline = [(0, 37.0, EN), (37.0, 80.0, DE), (80.0, 86.0, UNSURE), (86.0, 999, EN)]
    alone, together = [], []
    one = identify(audio, [(0.0, 200.0)], scripted(audio, timeline, alone))
    probs = scripted(audio, timeline, together)
    with ThreadPoolExecutor(4) as pool:
        many = identify(audio, [(0.0, 200.0)], probs, many=lambda clips: list(pool.map(probs, clips)))
    assert many == one and sorted(together) == sorted(alone)
    assert {s.language for s in one} == {"en", "de"}


class WholeHead:
    """A language head's full-window hearing (``probs_many(clips, whole=True)``) answering by the
    level a stretch of the test audio is marked with; it records what it heard."""

    def __init__(self, answers: dict[float, dict[str, float]]) -> None:
        self.answers, self.heard = answers, []

    def probs_many(self, clips: list[np.ndarray], whole: bool = False) -> list[dict[str, float]]:
        assert whole
        levels = [round(float(c[0]), 2) for c in clips]
        self.heard += [(level, len(c) / SAMPLE_RATE) for level, c in zip(levels, clips)]
        return [self.answers[level] for level in levels]


def marked(stretches: list[tuple[float, float, float]]) -> np.ndarray:
    audio = np.zeros(int(max(b for _, b, _ in stretches) * SAMPLE_RATE), np.float32)
    for a, b, level in stretches:
        audio[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)] = level
    return audio


def test_unsure_and_minority_stretches_are_heard_again_in_a_full_window():
    """What the short windows were unsure of, or put in another language than most of the
    speech, is heard again whole (at most 30 s of it), and that decides; English that comes back
    English is decoded with its neighbours as the VAD found it, as before languages were known."""
    from avpipe.speech.transcribe import _rejoined, _runs

    audio = marked([(0, 20, 0.1), (20, 26, 0.2), (26, 40, 0.1), (40, 50, 0.3), (50, 95, 0.4), (95, 130, 0.1)])

    def parts():
        spans = [LanguageSpan(0, 20, "en", 0.9), LanguageSpan(20, 26, "en", 0.3, sure=False),
                 LanguageSpan(26, 40, "en", 0.9), LanguageSpan(40, 50, "la", 0.66),
                 LanguageSpan(50, 95, "de", 0.4, sure=False), LanguageSpan(95, 130, "en", 0.9)]
        return spans, split_regions([(0.0, 130.0)], spans)

    spans, cut = parts()
    head = WholeHead({0.2: {"en": 0.9, "la": 0.05}, 0.3: {"en": 0.7, "la": 0.1}, 0.4: {"en": 0.8}})
    runs = _runs(audio, cut, head)
    assert [key for key, _ in runs] == [("en", True)]
    assert _rejoined([(a, b) for _, a, b in runs[0][1]]) == [(0.0, 130.0)]
    assert sorted(head.heard) == [(0.2, 6.0), (0.3, 10.0), (0.4, 30.0)]  # not the sure English; 30 s at most
    assert all(s.language == "en" and s.sure for s in spans) and spans[1].prob == 0.9

    spans, cut = parts()  # German that stays German; an unsure stretch keeps the whole window's guess
    head = WholeHead({0.2: {"de": 0.45, "en": 0.3}, 0.3: {"de": 0.9}, 0.4: {"en": 0.4, "de": 0.35}})
    runs = _runs(audio, cut, head)
    assert [key for key, _ in runs] == [("en", True), ("de", False), ("en", True), ("de", True), ("en", False),
                                        ("en", True)]
    assert (spans[1].language, spans[1].sure, spans[4].language, spans[4].sure) == ("de", False, "en", False)
    assert _runs(audio, [(None, 0.0, 130.0)], head) == [((None, False), [(None, 0.0, 130.0)])]  # nothing identified

    # a first choice under 0.5 is heard again when one window hears all of it, not on a long run
    short, long = LanguageSpan(0, 20, "ms", 0.21), LanguageSpan(0, 130, "en", 0.45)
    head = WholeHead({0.1: {"es": 0.54}})
    assert _runs(audio, [(short, 0.0, 20.0)], head)[0][0] == ("es", True) and head.heard == [(0.1, 20.0)]
    head = WholeHead({0.1: {"la": 0.9}})
    assert _runs(audio, [(long, 0.0, 130.0)], head)[0][0] == ("en", True) and head.heard == []


def test_unsure_english_goes_to_the_multilingual_model_and_base_is_loaded_once():
    """Speech the head could not call English, even heard whole, is never handed to tiny.en;
    the head and the multilingual backend share one copy of ``base``'s weights."""
    from avpipe.speech.base import load_backend
    from avpipe.speech.language import load_identifier
    from avpipe.speech.transcribe import _backend_for, _head_args

    options = SpeechOptions()
    unsure, _ = _backend_for(options, None, "en", "cpu")
    sure, _ = _backend_for(options, "en", "en", "cpu")
    assert (unsure.model_name, unsure.english_only, sure.model_name) == ("base", False, "tiny.en")
    from dataclasses import replace

    head = load_identifier(*_head_args(options, "cpu"))
    assert head.model is load_backend(replace(options, model="base"), "cpu").model


def test_container_tags_become_whisper_codes():
    assert [iso639_1(t) for t in ("kor", "ko", "ger", "deu", "en-US", "und", "", None, "xx")] == \
        ["ko", "ko", "de", "de", "en", None, None, None, None]


# --- the bundled models ---------------------------------------------------------------------


def espeak(text: str, voice: str, path: Path) -> np.ndarray:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    from avpipe.decode.audio import load_audio
    from avpipe.probe import probe

    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True)
    return load_audio(path, probe(path)).samples


@pytest.fixture(scope="module")
def jfk_then_german(shared_media, tmp_path_factory) -> tuple[np.ndarray, float]:
    """The real JFK clip, 0.5 s of silence, then German read by espeak-ng; and where German starts."""
    from avpipe.decode.audio import load_audio
    from avpipe.probe import probe

    folder = tmp_path_factory.mktemp("switch")
    english = load_audio(shared_media / "jfk.flac", probe(shared_media / "jfk.flac")).samples
    german = espeak("Guten Tag. Heute sprechen wir über das Wetter in Berlin und über die Züge, die immer zu "
                    "spät kommen. Morgen wird es regnen, sagt der Wetterbericht.", "de", folder / "de.wav")
    gap = np.zeros(SAMPLE_RATE // 2, np.float32)
    return np.concatenate([english, gap, german]), (len(english) + len(gap)) / SAMPLE_RATE


def test_english_speech_stays_english_and_goes_to_the_english_model(shared_media):
    from avpipe.decode.audio import load_audio
    from avpipe.probe import probe
    from avpipe.speech import transcribe

    audio = load_audio(shared_media / "jfk.flac", probe(shared_media / "jfk.flac")).samples
    auto, meta = transcribe(audio, SpeechOptions())
    pinned, _ = transcribe(audio, SpeechOptions(model="tiny.en", language="en"))
    assert meta["model"] == "tiny.en" and auto.language == "en" and auto.languages == {"en": 1.0}
    assert [s.text for s in auto.segments] == [s.text for s in pinned.segments]  # the same transcript as before
    assert all(s.language == "en" and 0.5 < s.language_prob <= 1 for s in auto.segments)
    assert all(s.language == "en" and s.language_prob is None for s in pinned.segments)


def test_a_switch_to_german_is_transcribed_in_german_by_the_multilingual_model(jfk_then_german):
    from avpipe.speech import transcribe

    audio, switch = jfk_then_german
    transcript, meta = transcribe(audio, SpeechOptions())
    assert meta["model"] == "tiny.en+base"
    english = [s for s in transcript.segments if s.language == "en"]
    german = [s for s in transcript.segments if s.language == "de"]
    assert english and german and set(transcript.languages) == {"en", "de"}
    assert abs(german[0].start - switch) <= 2.0 and english[-1].end <= german[0].start
    assert "country" in " ".join(s.text for s in english).lower()
    said = " ".join(s.text for s in german).lower()
    assert "berlin" in said and ("heute" in said or "morgen" in said), said


def test_an_english_only_model_is_never_handed_other_speech(jfk_then_german):
    """Pinned tiny.en: German goes to the multilingual model; with none, it is left untranscribed
    with its language, the English kept, and nothing English is invented for it."""
    from avpipe.speech import transcribe

    audio, switch = jfk_then_german
    fallback, meta = transcribe(audio, SpeechOptions(model="tiny.en"))
    assert meta["model"] == "tiny.en+base" and {s.language for s in fallback.segments} == {"en", "de"}
    alone, meta = transcribe(audio, SpeechOptions(model="tiny.en", multilingual_model=""))
    assert {s.language for s in alone.segments} == {"en"} and all(s.end <= switch + 2.0 for s in alone.segments)
    assert alone.untranscribed and all(u.language == "de" and "English-only" in u.reason for u in alone.untranscribed)
    assert sum(u.end - u.start for u in alone.untranscribed) > 5.0
    assert any("untranscribed" in note for note in meta["notes"])


def test_translation_gives_english_beside_the_spoken_text(jfk_then_german):
    from avpipe.speech import transcribe

    audio, _ = jfk_then_german
    transcript, _ = transcribe(audio, SpeechOptions(translate="en"))
    german = [s for s in transcript.segments if s.language == "de"]
    assert german and all(s.text_en for s in german)
    assert "berlin" in " ".join(s.text_en for s in german).lower()
    assert all(s.text_en is None for s in transcript.segments if s.language == "en")


# --- the text stages in any language -----------------------------------------------------------


def korean_transcript() -> Transcript:
    lines = [(0.0, 3.0, "지하철역은 어디에 있어요?"), (3.5, 6.0, "지하철역까지 걸어서 십 분 걸려요."),
             (7.0, 9.0, "식당은 몇 시에 문을 열어요?"), (9.5, 12.0, "식당 예약을 하고 싶어요."),
             (13.0, 15.0, "감사합니다.")]
    segments = []
    for a, b, text in lines:
        parts = text.split()
        step = (b - a) / len(parts)
        words = [Word(start=round(a + i * step, 3), end=round(a + (i + 1) * step, 3), word=w, prob=0.9)
                 for i, w in enumerate(parts)]
        segments.append(Segment(start=a, end=b, text=text, words=words, language="ko", language_prob=0.98))
    return Transcript(language="ko", languages={"ko": 1.0}, segments=segments)


def test_keywords_and_summary_of_korean_speech_are_korean_words_said():
    from avpipe.options import SummaryOptions, VisionOptions
    from avpipe.schema import Result, VideoInfo
    from avpipe.understand.events import keyword_events, lexical_keywords
    from avpipe.understand.summary import summarise

    transcript = korean_transcript()
    terms = lexical_keywords([s.text for s in transcript.segments], 3)
    assert terms and all(any("\uac00" <= ch <= "\ud7af" for ch in t) for t, _ in terms)
    said = " ".join(s.text for s in transcript.segments)
    assert all(t in said for t, _ in terms)
    events = keyword_events(transcript.segments, 3, None)
    assert events and all(e.kind == "keyword" and e.label in said for e in events)
    result = Result(video=VideoInfo(path="k.mp4", video_id="0" * 16, duration_s=15.0, has_audio=True, has_video=False),
                    transcript=transcript)
    summary = summarise(result, np.random.default_rng(0).standard_normal((5, 384)).astype(np.float32),
                        SummaryOptions(), VisionOptions())
    assert summary.method == "extractive-lexical"
    assert summary.text and all(part.strip() in said for part in summary.text.split("?") if part.strip())
    assert summary.highlights and all(h.text in said for h in summary.highlights)  # units: whole segments, merged
    assert all(any("\uac00" <= ch <= "\ud7af" for ch in c.title) or c.title.startswith("Part") for c in summary.chapters)


def test_the_text_emotion_is_left_out_for_a_language_the_head_does_not_read():
    import torch

    from avpipe.understand import fusion

    s, k = 3, 2
    inputs = fusion.FusionInputs(text=torch.nn.functional.normalize(torch.randn(s, 384), dim=-1),
                                 prosody=fusion.prosody_matrix([Segment(start=0, end=1, text="x")] * s),
                                 text_p=torch.tensor([[0, 0, 0, 1.0, 0, 0, 0]] * s) * 0.9 + 0.1 / 7,
                                 voice_p=torch.zeros(s, 7), frames=torch.nn.functional.normalize(torch.randn(k, 384), dim=-1),
                                 face_p=torch.full((k, 7), 1 / 7), has_face=torch.zeros(k, dtype=torch.bool),
                                 window=torch.ones(s, k, dtype=torch.bool),
                                 text_here=torch.tensor([True, False, True]))
    out = fusion.Fusion(inputs.text.shape[1], strategy="late")(inputs)
    assert not torch.isnan(out.by_modality["text"][0]).any() and torch.isnan(out.by_modality["text"][1]).all()
    assert out.probs[0].argmax() == 3  # joy, from the text
    assert torch.allclose(out.probs[1], torch.full((7,), 1 / 7), atol=1e-4)  # nothing to go on: no text used


def test_subtitles_are_written_per_language_and_translated(tmp_path):
    from avpipe.schema import Result, VideoInfo
    from avpipe.writers import write_srt

    transcript = korean_transcript()
    transcript.segments[0].text_en = "Where is the subway station?"
    result = Result(video=VideoInfo(path="k.mp4", video_id="0" * 16, has_audio=True, has_video=False),
                    transcript=transcript)
    write_srt(result, tmp_path)
    spoken = (tmp_path / "transcript.srt").read_text(encoding="utf-8")
    assert (tmp_path / "transcript.ko.srt").read_text(encoding="utf-8") == spoken and "지하철역은" in spoken
    english = (tmp_path / "transcript.en.srt").read_text(encoding="utf-8")
    assert "Where is the subway station?" in english and "식당 예약을" in english  # untranslated lines as said


# --- real recordings in many languages (present when tests/data/asr is) -------------------------


@pytest.fixture(scope="module")
def asr_set() -> list[dict]:
    if not ASR_SET.exists():
        pytest.skip("the multilingual set (tests/data/asr) is not here; see the README's Languages section")
    from avpipe.evaluate import read_asr_set

    return read_asr_set(ASR_SET)


def test_real_korean_speech_is_korean_hangul(asr_set):
    from avpipe.decode.audio import load_audio
    from avpipe.evaluate import wer
    from avpipe.probe import probe
    from avpipe.speech import transcribe

    for item in [i for i in asr_set if i["language"] == "ko"]:
        transcript, meta = transcribe(load_audio(item["path"], probe(item["path"])).samples, SpeechOptions())
        assert transcript.language == "ko" and meta["model"] == "base"
        text = " ".join(s.text for s in transcript.segments)
        assert sum("\uac00" <= ch <= "\ud7af" for ch in text) > 0.6 * len(text.replace(" ", ""))
        assert wer(item["text"], text, "ko")["wer"] <= 0.35  # CER; the README's table has the set's figure


def test_real_recordings_are_identified_in_their_language(asr_set):
    from avpipe.evaluate import evaluate_asr_set

    dev = [i for i in asr_set if i.get("split") == "dev" and not i.get("parts")]
    rows = evaluate_asr_set(dev, SpeechOptions())
    assert sum(r["language_ok"] for r in rows) >= len(rows) - 1, [(r["file"], r["found_language"]) for r in rows]
    assert all(r["found_language"] != "en" for r in rows if r["language"] != "en")  # never English for others


def test_a_real_switch_from_english_to_german(asr_set):
    from avpipe.evaluate import evaluate_asr_set

    item = next((i for i in asr_set if i.get("parts")), None)
    if item is None:
        pytest.skip("no switching recording in the set")
    row = evaluate_asr_set([item], SpeechOptions())[0]
    assert row["switch_error_s"] is not None and row["switch_error_s"] <= 2.0
    assert row["language_seconds_ok"] >= 0.9 and all(p["wer"] <= 0.5 for p in row["parts"])
    json.dumps(row)  # a row is plain JSON


def test_the_report_shows_hangul_in_chromium(tmp_path):
    """The page says each line's language (so the browser picks a Korean font, not a Chinese or
    Japanese one for the same code points), and Chromium draws Hangul as glyphs: the screenshot
    of the Korean lines differs from one of the same number of characters no font has (tofu)."""
    from test_ops import CHROME_FLAGS, _chromium

    from avpipe.report import write_report
    from avpipe.schema import Result, VideoInfo

    chromium = _chromium()
    listed = subprocess.run(["fc-list", ":lang=ko"], capture_output=True, text=True) if shutil.which("fc-list") else None
    if listed is None or not listed.stdout.strip():
        pytest.skip("no Korean font installed (apt-get install fonts-noto-cjk; .ci/run and the image install it)")
    transcript = korean_transcript()
    result = Result(video=VideoInfo(path="k.mp4", video_id="0" * 16, duration_s=15.0, has_audio=True, has_video=False),
                    transcript=transcript)
    page = write_report(result, tmp_path)
    dom = subprocess.run([chromium, *CHROME_FLAGS, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert '<span lang="ko">지하철역은 어디에 있어요?</span>' in dom

    def shot(text: str, name: str):
        from PIL import Image

        html = tmp_path / f"{name}.html"
        html.write_text(f'<meta charset="utf-8"><body style="margin:0;font: 40px system-ui, sans-serif">'
                        f'<span lang="ko">{text}</span></body>', encoding="utf-8")
        png = tmp_path / f"{name}.png"
        subprocess.run([chromium, *CHROME_FLAGS, "--window-size=600,80", f"--screenshot={png}", html.as_uri()],
                       capture_output=True, timeout=120)
        return Image.open(png).convert("L")

    from PIL import ImageChops

    hangul, tofu, other = shot("지하철역", "hangul"), shot("\U000f0000" * 4, "tofu"), shot("식당예약", "other")
    assert ImageChops.difference(hangul, tofu).getbbox(), "Hangul is drawn as missing-glyph boxes"
    assert ImageChops.difference(hangul, other).getbbox()  # different syllables, different pictures


def test_a_korean_video_gets_a_korean_summary_keywords_and_search(asr_set, tmp_path):
    """Real Korean speech over a still picture, through the default pipeline: Korean throughout,
    and a Korean word that is said finds its moment first."""
    import imageio_ffmpeg

    from avpipe.cli import main
    from avpipe.search import search

    clips = [i for i in asr_set if i["language"] == "ko"]
    video = tmp_path / "korean.mp4"
    inputs = [a for i in clips for a in ("-i", str(i["path"]))]
    mix = "".join(f"[{k + 1}:a]loudnorm[a{k}];" for k in range(len(clips)))
    mix += "".join(f"[a{k}]" for k in range(len(clips))) + f"concat=n={len(clips)}:v=0:a=1[a]"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", "-f", "lavfi", "-i",
                    "color=c=steelblue:size=320x240:rate=5", *inputs, "-filter_complex", mix, "-map", "0:v",
                    "-map", "[a]", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-ar", "16000", "-shortest", str(video)],
                   check=True, timeout=120)
    out = tmp_path / "out"
    assert main(["run", str(video), "--out", str(out), "--quiet"]) == 0
    result = json.loads(next(out.glob("korean-*/result.json")).read_text(encoding="utf-8"))
    transcript = result["transcript"]
    assert transcript["language"] == "ko" and transcript["languages"] == {"ko": 1.0}
    said = " ".join(s["text"] for s in transcript["segments"])
    hangul = lambda t: sum("\uac00" <= ch <= "\ud7af" for ch in t)  # noqa: E731
    assert hangul(said) > 20
    assert result["summary"]["method"] == "extractive-lexical" and hangul(result["summary"]["text"]) > 10
    keywords = [e["label"] for e in result["events"] if e["kind"] == "keyword"]
    assert keywords and all(hangul(k) and k in said.replace(".", "").replace(",", "") for k in keywords)
    word = max((w for s in transcript["segments"] for w in s["text"].split() if hangul(w) >= 3), key=len)
    where = next(s for s in transcript["segments"] if word in s["text"])
    top = search(out, text=word.strip(".,?!"), k=3)[0]
    assert top.modality == "speech" and top.start <= where["start"] and top.end >= where["end"]


@pytest.fixture(scope="module")
def tiny_multilingual_encoder(tmp_path_factory) -> Path:
    """A sentence-transformers folder of the real architecture (BERT + mean pooling) with tiny
    random weights and the bundled MiniLM's tokenizer: what loading a hub encoder such as
    multilingual-e5-base does, without its weights."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel

    from avpipe.models import resolve

    folder = tmp_path_factory.mktemp("enc") / "tiny-multilingual-encoder"
    bert = tmp_path_factory.mktemp("bert")
    BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(bert)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        source = resolve("minilm") / name
        if source.exists():
            shutil.copy(source, bert / name)
    word = Transformer(str(bert), max_seq_length=64)
    SentenceTransformer(modules=[word, Pooling(word.get_embedding_dimension())]).save(str(folder))
    return folder


def test_a_multilingual_text_encoder_makes_the_summary_read_the_language(tiny_multilingual_encoder):
    from avpipe.models import REGISTRY
    from avpipe.options import SummaryOptions, VisionOptions
    from avpipe.schema import Result, VideoInfo
    from avpipe.understand.loaders import encoder_reads, shared_space_reads
    from avpipe.understand.summary import summarise
    from avpipe.vision.text import MiniLMText

    assert not encoder_reads("minilm", "ko") and encoder_reads("minilm", "en")
    assert encoder_reads("multilingual-e5-base", "ko") and REGISTRY["multilingual-e5-base"].text_prefix == "query: "
    encoder = MiniLMText(str(tiny_multilingual_encoder))
    vectors = encoder.encode(["지하철역은 어디에 있어요?", "Where is the station?"])
    assert vectors.shape == (2, 32) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    vision = VisionOptions(text_model=str(tiny_multilingual_encoder))
    assert shared_space_reads(vision, "ko")
    transcript = korean_transcript()
    result = Result(video=VideoInfo(path="k.mp4", video_id="0" * 16, duration_s=15.0, has_audio=True, has_video=False),
                    transcript=transcript)
    summary = summarise(result, encoder.encode([s.text for s in transcript.segments]), SummaryOptions(), vision)
    assert summary.method == "extractive" and summary.text  # the encoder's vectors, not word statistics
