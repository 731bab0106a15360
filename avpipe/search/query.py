"""Find moments by text or by image across every video of an index.

A text query is embedded by the text side of the index's space and compared (cosine) with
keyframe embeddings (``frames``) and speech-segment embeddings (``speech``). Speech is also
searched by its words (:mod:`avpipe.search.lexical`: BM25 over tokens that suit every script),
because people search for what was said in the words it was said in (a name, a quote, "every
time someone says 'budget'"), a sentence embedding alone ranks a paraphrase as high as the
quote, and the bundled MiniLM knows English only: to it a Korean line is noise. The speech
candidates are the best lines of each channel (10 per moment asked for, at least 50); a line
scores its cosine plus :data:`LEXICAL_WEIGHT` times its lexical score (in [0, 1]: the
idf-weighted share of the query's terms it holds).

Why add scores rather than fuse ranks (reciprocal rank fusion): frames have no words, so they
are ranked by cosine alone, and a frame and a line must stay comparable in one list; ranks
cannot say that the best frame of a query no frame fits is a poor hit, a cosine can. Both
channels' scores are on fixed scales (a cosine, a share), so their sum means the same in a
collection of five lines and of a million, and two hits of one moment can be compared by
:data:`MERGE_CLOSE`. (A weighted sum of normalised scores also ranked better than rank fusion
in Bruch et al.'s study of hybrid retrieval, "An Analysis of Fusion Functions", TOIS 2023.)

Frames are also searched by what their labels mean (:mod:`avpipe.vision.hierarchy`): ImageNet's
classes are WordNet synsets, so "a monkey" names the synset *monkey*, and a frame gains
:data:`CONCEPT_WEIGHT` times the share of its labels' probability (or its detected objects'
score) under what the query names. The bridge into the text space alone ranks a squirrel near
"a monkey"; the hierarchy knows a baboon is one.

An image query is embedded by the image encoder; frames are compared by the encoder's own
features (image to image: far finer than the 1,000-class bridge into the text space) when the
index has them, else in the shared space.

A hit is localised: a frame hit spans its keyframe's shot (at most 5 s either side of the
keyframe), a speech hit its segment. Hits of one video become one moment (its span, its best
score, the texts of its hits) only when they belong together: within ``merge_gap_s`` of each
other and nearly as good as the moment's best (:data:`MERGE_CLOSE`), never just because they
touch. Moments come best first.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .index import MODALITIES, Collection, load_index, space_encoder
from .lexical import STOP_WORDS, speech_index

if TYPE_CHECKING:
    import numpy as np

#: What a speech line gains for holding every term of the query. A line that does, up to 1.5
#: times the average length (lexical score >= 0.83), must outrank one the embedding takes for
#: the query itself (cosine 1) that holds none of them, even at cosine 0 itself: to the bundled
#: MiniLM a Korean word and a Thai line are both unknown tokens, cosine 1.0, while the Korean
#: line that says the word is at 0.1. Hence 1 / 0.83, rounded up; more changed no ranking of
#: the English queries measured (recall@1 and @5 the same from 1.0 to 2.0).
LEXICAL_WEIGHT = 1.25
#: What a frame gains when all of its probability lies under what the query names (a baboon
#: frame, 0.88 of it under *monkey*, for "a monkey"). Chosen on the dev split of the outside
#: photo set (README, "Search"): it must lift a frame the classifier is sure of over the frames
#: the bridge into the text space merely finds near (a squirrel, for "a monkey").
CONCEPT_WEIGHT = 0.5
_WORD = re.compile(r"[a-z0-9']+")


@dataclass
class Moment:
    video_id: str
    start: float
    end: float
    score: float
    modality: str
    thumbnail: str | None
    text: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def content_words(text: str) -> set[str]:
    """English words of ``text`` that say what it is about (the word overlap of :mod:`.ask`)."""
    return {w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS and len(w) > 1}


def _blended(collection: Collection, modality: str, query: "np.ndarray", pool: int,
             channel: Callable[[], "np.ndarray"], weight: float):
    """(rows, scores) of ``modality`` for a text query: the ``pool`` best by cosine and the
    ``pool`` best by a second channel (``channel()``: a score in [0, 1] per row), each scored by
    its cosine plus ``weight`` times its second score."""
    import numpy as np

    rows, cosines = _top(collection, modality, query, pool)
    if not len(collection.meta.get(modality, ())):
        return rows, cosines
    second = channel()
    found = np.flatnonzero(second > 0)
    found = found[np.argsort(-second[found], kind="stable")[:pool]]  # ties: the earlier row
    extra = np.setdiff1d(found, rows)
    if len(extra):
        rows = np.concatenate([rows, extra])
        cosines = np.concatenate([cosines, collection.vectors[modality][extra].astype(np.float32) @ query])
    return rows, cosines + weight * second[rows]


def _speech(collection: Collection, text: str, query: "np.ndarray", pool: int):
    """The speech lines for a text query: cosine plus :data:`LEXICAL_WEIGHT` times the words'
    lexical score (:mod:`.lexical`)."""
    return _blended(collection, "speech", query, pool, lambda: speech_index(collection).scores(text), LEXICAL_WEIGHT)


def _frames(collection: Collection, text: str, query: "np.ndarray", pool: int):
    """The frames for a text query: cosine plus :data:`CONCEPT_WEIGHT` times the share of a
    frame's labels and objects under what the query names
    (:class:`~avpipe.vision.hierarchy.ConceptIndex`: "a monkey" for a baboon)."""
    from ..vision.hierarchy import ConceptIndex

    return _blended(collection, "frames", query, pool,
                    lambda: collection.kept("concepts", "frames", ConceptIndex).scores(text), CONCEPT_WEIGHT)


def _top(collection: Collection, modality: str, query: "np.ndarray", n: int, use_features: bool = False):
    """(row indices, cosine scores) of the ``n`` best rows of ``modality``."""
    import numpy as np

    table = collection.features.get(modality) if use_features else collection.vectors.get(modality)
    if table is None or not len(table):
        return np.zeros(0, int), np.zeros(0, np.float32)
    index = None if use_features else collection.ann.get(modality)
    if index is not None:  # approximate candidates, re-scored exactly below
        _, found = index.search(query.reshape(1, -1).astype(np.float32), max(4 * n, 64))
        candidates = found[0][found[0] >= 0]
        scores = table[candidates].astype(np.float32) @ query
    else:
        candidates = np.arange(len(table))
        scores = table.astype(np.float32) @ query if len(table) < 200_000 else _chunked(table, query)
    order = np.argsort(-scores)[:n]
    return candidates[order], scores[order]


def _chunked(table: "np.ndarray", query: "np.ndarray") -> "np.ndarray":
    import numpy as np

    return np.concatenate([table[lo : lo + 100_000].astype(np.float32) @ query for lo in range(0, len(table), 100_000)])


#: Two hits of one video are one moment when they lie within ``merge_gap_s`` of each other (or
#: overlap) and the later-found one scores within this much of the moment's best: a sentence and
#: the shot it is said over, two keyframes of one long shot. Touching alone is not enough: the
#: neighbouring shots of a slideshow, or a talk's next sentence, are other moments.
MERGE_CLOSE = 0.05


def merge_hits(hits: list[Moment], gap_s: float, close: float = MERGE_CLOSE) -> list[Moment]:
    """Hits joined into moments (see :data:`MERGE_CLOSE`), best first. Hits are taken best
    first, so a moment grows only from its best hit, by hits nearly as good."""
    moments: list[Moment] = []
    for h in sorted(hits, key=lambda h: (-h.score, h.video_id, h.start)):
        for i, m in enumerate(moments):
            if (m.video_id == h.video_id and h.start <= m.end + gap_s and h.end >= m.start - gap_s
                    and h.score >= m.score - close):
                moments[i] = Moment(video_id=m.video_id, start=min(m.start, h.start), end=max(m.end, h.end),
                                    score=m.score, modality=m.modality if m.modality == h.modality else "both",
                                    thumbnail=m.thumbnail or h.thumbnail,
                                    text=m.text + [t for t in h.text if t not in m.text])
                break
        else:
            moments.append(Moment(**{**asdict(h), "text": list(h.text)}))
    return sorted(moments, key=lambda m: (-m.score, m.video_id, m.start))


#: Largest image query, in pixels (a 64-megapixel photo; Pillow refuses decompression bombs above
#: twice its own default limit, and this keeps the decoded copy under 200 MB).
MAX_QUERY_PIXELS = 64_000_000


def read_image(path: str | Path) -> "np.ndarray":
    """An image query as RGB pixels, or :class:`~avpipe.errors.BadQuery` saying why not (no such
    file, not an image, too many pixels to decode safely)."""
    import warnings

    import numpy as np
    from PIL import Image

    from ..errors import BadQuery

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.width * img.height > MAX_QUERY_PIXELS:
                    raise BadQuery(f"the image is {img.width}x{img.height} pixels, more than the "
                                   f"{MAX_QUERY_PIXELS // 1_000_000} megapixels a query may have", path)
                return np.array(img.convert("RGB"))  # Pillow: see tests/test_vision.py on libpng
    except BadQuery:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadQuery(f"not a readable image ({type(exc).__name__}: {exc})", path) from None


def search(index: str | Path | Collection, text: str | None = None, image: str | Path | None = None, k: int = 10,
           modality: str = "both", merge_gap_s: float = 2.0, encoder=None) -> list[Moment]:
    """Moments matching ``text`` or ``image`` (one of them), best first, at most ``k``.

    ``index`` is a results folder (with ``search/``), the index folder itself, or a loaded
    :class:`Collection`. ``modality`` is ``frames``, ``speech`` or ``both``.
    """
    import numpy as np

    from ..errors import BadQuery

    if (text is None) == (image is None):
        raise BadQuery("give a text or an image query (one of them)")
    if text is not None and not text.strip():
        raise BadQuery("the query is empty")
    if k < 1:
        raise BadQuery(f"k must be at least 1, not {k}")
    if modality not in (*MODALITIES, "both"):
        raise ValueError(f"modality must be frames, speech or both, not {modality!r}")
    collection = index if isinstance(index, Collection) else load_index(index)
    encoder = encoder or _encoder_of(collection)
    wanted = MODALITIES if modality == "both" else (modality,)
    hits: list[Moment] = []
    pool = max(10 * k, 50)
    if text is not None:
        query = np.asarray(encoder.encode_texts([text])[0], np.float32)
        _check_width(collection, len(query))
        for name in wanted:
            rows, scores = (_speech if name == "speech" else _frames)(collection, text, query, pool)
            hits += [_hit(collection.meta[name][int(r)], float(s), name) for r, s in zip(rows, scores)]
    else:
        rgb = read_image(image)
        vectors, _, features = encoder.encode_images([rgb])
        _check_width(collection, len(vectors[0]))
        by_features = features is not None and "frames" in collection.features
        query = features[0] if by_features else vectors[0]
        query = np.asarray(query, np.float32) / max(float(np.linalg.norm(query)), 1e-9)
        rows, scores = _top(collection, "frames", query, pool, use_features=by_features)
        hits += [_hit(collection.meta["frames"][int(r)], float(s), "frames") for r, s in zip(rows, scores)]
    moments = merge_hits(hits, merge_gap_s)[:k]
    if collection.root is not None:  # thumbnails as paths a caller can open
        for m in moments:
            m.thumbnail = str(collection.root / m.thumbnail) if m.thumbnail else None
    return moments


def _encoder_of(collection: Collection):
    """The encoder of the space the index was made in, or one line saying why it cannot be had
    here: a query embedded by any other encoder would be ranked against the wrong vectors."""
    from ..errors import AvpipeError

    try:
        return space_encoder(collection.model)
    except Exception as exc:  # noqa: BLE001 - a model folder gone, a hub id not cached, ...: all one answer
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AvpipeError(f"the index was made in the space {collection.model!r}, whose encoder cannot be loaded "
                          f"here ({why}); search where that model is, or run the videos again") from None


def _check_width(collection: Collection, width: int) -> None:
    """Refuse a query vector that is not as wide as the index's: it is of another space."""
    from ..errors import AvpipeError

    if collection.size and width != collection.dim:
        raise AvpipeError(f"the query's vector is {width}-d but the index's are {collection.dim}-d "
                          f"(space {collection.model!r}): the query was embedded in another space")


def _hit(meta: dict, score: float, modality: str) -> Moment:
    return Moment(video_id=meta["video_id"], start=round(meta["start"], 3), end=round(meta["end"], 3),
                  score=round(score, 4), modality=modality, thumbnail=meta.get("thumbnail"), text=[meta["text"]])
