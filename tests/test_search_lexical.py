"""The lexical channel of search (#24, every language): tokens that suit every script, BM25 over
the speech lines, and its fusion with the vector channel. The collections are made in memory
with random unit vectors, so only the words can find the moment."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest

from avpipe.search import Collection, search
from avpipe.search.lexical import LexicalIndex, query_terms, speech_index, tokens

DIM = 384


class Fixed:
    """A text encoder that embeds every query as one given vector."""

    def __init__(self, vector: np.ndarray) -> None:
        self.vector = vector

    def encode_texts(self, texts):
        return self.vector[None, :]


def _unit(rng, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _collection(lines: list[tuple[str, str]], frames: int = 2, seed: int = 0) -> tuple[Collection, np.ndarray]:
    """Speech rows (video id, text), 4 s apart, and ``frames`` frame rows; all vectors noise."""
    rng = np.random.default_rng(seed)
    meta = [{"video_id": vid, "modality": "speech", "t": 10.0 * i, "start": 10.0 * i, "end": 10.0 * i + 4, "text": text,
             "thumbnail": None} for i, (vid, text) in enumerate(lines)]
    meta += [{"video_id": "pictures", "modality": "frames", "t": 3.0 * i, "start": 3.0 * i, "end": 3.0 * i + 3,
              "text": "seen: nothing the models name", "thumbnail": f"{i}.jpg"} for i in range(frames)]
    vectors = _unit(rng, len(meta))
    return Collection.from_arrays("x:y", meta, vectors.astype(np.float16)), vectors


KOREAN = [("ko", "오늘은 날씨가 정말 좋네요"), ("ko", "지하 주차장에 차를 세웠어요"), ("ko", "지하철역에서 친구를 만났어요"),
          ("ko", "회의는 오후 세 시에 시작합니다"), ("ko", "우리는 지하철을 타고 출근합니다"), ("ko", "ฉันชอบกินข้าวผัดกุ้ง"),
          ("en", "And so, my fellow Americans, ask not what your country can do for you"),
          ("en", "ask what you can do for your country")]


# -- tokens -----------------------------------------------------------------------------------------

def test_hangul_gets_character_pairs_so_an_inflected_form_matches():
    terms = set(query_terms("지하철"))
    assert {"지하", "하철"} <= terms
    assert terms <= set(tokens("지하철역에서 친구를 만났어요"))  # 지하철 + 역 (station)
    assert terms <= set(tokens("우리는 지하철을 타고"))  # 지하철 + 을 (object marker)
    assert not terms <= set(tokens("지하 주차장"))  # 지하 (underground) parking: no 하철
    assert "지하철을" not in tokens("지하철을 타고")  # no whole eojeol: its suffix would hide the word


def test_japanese_and_chinese_are_cut_into_characters_and_pairs():
    assert set(query_terms("東京")) == {"東", "京", "東京"} <= set(tokens("東京タワーに行きました"))
    assert "京タ" in tokens("東京タワー")  # kanji and katakana of one run pair up
    assert set(query_terms("北京")) <= set(tokens("我们明天去北京"))
    assert "京北" not in tokens("我们明天去北京")  # order matters: a pair is two characters as written
    assert "北京" not in tokens("北の京")


def test_nfkc_and_casefold():
    assert tokens("ＡＢＣ１２３") == ["abc123"]  # full-width letters and digits
    assert tokens("ｶﾀｶﾅ") == tokens("カタカナ")  # half-width katakana
    assert tokens("Die STRASSE") == tokens("die Straße")
    assert tokens("Mu\u0308ller") == tokens("Müller") == ["müller"]  # a combining diaeresis is composed


def test_thai_and_devanagari_keep_their_combining_marks():
    thai = tokens("พรุ่งนี้ฝนจะตก")
    assert "ฝน" in thai and "นี้" in thai  # น with its vowel and tone marks: one character
    assert not any(unicodedata.category(t[0]).startswith("M") for t in thai)  # no mark on its own
    assert set(query_terms("ฝนจะตก")) <= set(thai)
    assert tokens("हिन्दी भाषा") == ["हिन्दी", "भाषा", "हिन्दी भाषा"]  # ``\w`` alone would cut at each matra


def test_english_and_german_words_and_pairs():
    terms = query_terms("Ask not what your country can do")
    assert {"ask", "country"} <= set(terms) and not {"not", "what", "your", "can", "do"} & set(terms)
    assert {"ask not", "not what", "your country", "can do"} <= set(terms)  # pairs keep stop words
    assert "president" in tokens("the president's speech")
    assert query_terms("Der Bundeskanzler hält eine Rede")[:3] == ["der", "bundeskanzler", "der bundeskanzler"]


def test_queries_of_nothing_but_stop_words_or_punctuation():
    assert query_terms("the") == ["the"]  # never emptied by the stop words
    assert query_terms("") == [] and query_terms("?! … —「」") == []
    assert LexicalIndex(["the end", "?!"]).scores("…").tolist() == [0.0, 0.0]


# -- BM25 -------------------------------------------------------------------------------------------

def test_bm25_is_a_share_weighted_by_rarity():
    lines = ["the budget is late", "the report is late", "the report is done",
             "the report is long and nobody has read it to the end", "budget report"]
    scores = LexicalIndex(lines).scores("budget report")
    assert 0 <= scores.min() and scores.max() <= 1
    assert scores[4] == pytest.approx(1.0)  # holds every term (and the pair)
    assert scores[0] > scores[1] > 0  # "budget" is rarer than "report": it says more
    assert scores[1] > scores[3]  # one term, but in a longer line than most


def test_the_index_is_made_once_per_collection():
    collection, _ = _collection(KOREAN)
    first = speech_index(collection)
    search(collection, text="지하철", k=3, encoder=Fixed(_unit(np.random.default_rng(1), 1)[0]))
    assert speech_index(collection) is first
    collection.meta["speech"] = collection.meta["speech"][:2]
    assert speech_index(collection) is not first and speech_index(collection).size == 2


# -- fused with the vector channel ------------------------------------------------------------------

def test_a_korean_word_finds_the_lines_that_say_it_though_the_embedding_is_noise():
    collection, vectors = _collection(KOREAN)
    # the query embeds as the Thai line does: both strings of tokens the English-only model does
    # not know, cosine 1.0 (what the bundled MiniLM does)
    thai = next(i for i, (_, t) in enumerate(KOREAN) if t.startswith("ฉัน"))
    moments = search(collection, text="지하철", k=4, modality="speech", encoder=Fixed(vectors[thai]))
    assert {m.text[0] for m in moments[:2]} == {"지하철역에서 친구를 만났어요", "우리는 지하철을 타고 출근합니다"}, moments
    assert moments[2].text[0] == "ฉันชอบกินข้าวผัดกุ้ง"  # the embedding's pick, after the words'
    both = search(collection, text="지하철", k=3, encoder=Fixed(vectors[thai]))
    assert both[0].modality == "speech" and "지하철" in both[0].text[0]


def test_a_line_the_vector_channel_ranks_last_is_found_by_its_words():
    rng = np.random.default_rng(2)
    lines = [("talk", f"line number {i} about nothing in particular") for i in range(300)]
    lines[137] = ("talk", "the Zygmunt Bauman quote on liquid modernity")
    collection, vectors = _collection(lines, seed=3)
    query = _unit(rng, 1)[0]
    # make line 137 the vector channel's very last (far outside its pool of 50): cosine -0.2
    other = _unit(rng, 1)[0]
    other -= (other @ query) * query
    collection.vectors["speech"][137] = (-0.2 * query + np.sqrt(0.96) * other / np.linalg.norm(other)).astype(np.float16)
    assert (collection.vectors["speech"].astype(np.float32) @ query).argmin() == 137
    moments = search(collection, text="Zygmunt Bauman", k=1, modality="speech", encoder=Fixed(query))
    assert moments[0].start == 10.0 * 137 and moments[0].text == ["the Zygmunt Bauman quote on liquid modernity"]


def test_an_english_quote_ranks_the_line_that_says_it_in_that_order():
    collection, vectors = _collection(KOREAN, seed=4)
    jfk2 = len(KOREAN) - 1  # "ask what you can do for your country": the same words, another order
    query = 0.5 * vectors[jfk2 - 1] + 0.7 * vectors[jfk2]  # the embedding prefers the other line
    query /= np.linalg.norm(query)
    moments = search(collection, text="ask not what your country can do", k=3, modality="speech", encoder=Fixed(query))
    assert moments[0].text == ["And so, my fellow Americans, ask not what your country can do for you"], moments
    assert moments[1].text == ["ask what you can do for your country"]


def test_frames_stay_comparable_when_no_line_holds_the_words():
    collection, vectors = _collection(KOREAN, frames=3, seed=5)
    frame = collection.vectors["frames"][1].astype(np.float32)
    near = frame + 0.3 * _unit(np.random.default_rng(6), 1)[0]
    near /= np.linalg.norm(near)  # a query the second frame fits (cosine ~0.96)
    moments = search(collection, text="a colour test pattern", k=3, encoder=Fixed(near))
    assert moments[0].modality == "frames" and moments[0].thumbnail == "1.jpg", moments
    assert moments[1].score < 0.5  # the speech lines: noise, no words of the query, no bonus


def test_results_are_deterministic_and_ties_go_by_video_and_time():
    lines = [("b", "the same sentence"), ("a", "the same sentence"), ("c", "something else")]
    collection, vectors = _collection(lines, frames=0, seed=7)
    collection.vectors["speech"][:2] = collection.vectors["speech"][0]  # the two lines tie exactly
    query = Fixed(_unit(np.random.default_rng(8), 1)[0])
    first = [m.as_dict() for m in search(collection, text="same sentence", k=3, encoder=query)]
    again = [m.as_dict() for m in search(collection, text="same sentence", k=3, encoder=query)]
    assert first == again
    assert [m["video_id"] for m in first[:2]] == ["a", "b"] and first[0]["score"] == first[1]["score"]
    assert first[2]["video_id"] == "c" and first[2]["score"] < first[0]["score"] - 0.5


def test_a_punctuation_query_is_searched_by_its_vector_alone():
    collection, vectors = _collection(KOREAN, seed=9)
    moments = search(collection, text="?!", k=2, modality="speech", encoder=Fixed(vectors[0]))
    assert moments[0].text == [KOREAN[0][1]] and moments[0].score == pytest.approx(1.0, abs=1e-3)
