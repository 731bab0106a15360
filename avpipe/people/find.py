"""Moments of people: where a face in a photo appears across the folder (``avpipe search
--face``), and where a named person is seen or heard (a text query that names them)."""

from __future__ import annotations

import re
from pathlib import Path

from .index import FACE_DISTANCE, Member, People, id_order, load


def _moments(people: People, members: list[tuple[Member, float]]) -> list:
    """One moment per span of each member, with ``score`` (larger is closer), best first."""
    from ..search.query import Moment

    found = []
    for m, score in members:
        who = people.names.get(m.person) or m.person
        what = f"{who} ({m.local})" if who else m.local
        for start, end in m.spans:
            found.append(Moment(video_id=m.video_id, start=round(start, 3), end=round(end, 3), score=round(score, 4),
                                modality=m.kind, thumbnail=m.thumbnail if m.kind == "face" else None, text=[what]))
    return sorted(found, key=lambda x: (-x.score, x.video_id, x.start))


def by_face(out: str | Path, image: str | Path, k: int = 10, threshold: float = FACE_DISTANCE) -> list:
    """Moments where the largest face of the photo ``image`` is seen, across every video of
    ``out``: the face tracks whose descriptor is within ``threshold`` of it, nearest first;
    ``score`` is 1 minus the distance. :class:`~avpipe.errors.BadQuery` when the photo shows no
    face."""
    import numpy as np

    from ..errors import BadQuery
    from ..search.query import read_image
    from ..vision.identity import photo_faces

    faces = photo_faces(read_image(image))
    if not faces:
        raise BadQuery("no face was found in the image (a face needs to be at least about 40 pixels tall, "
                       "seen from the front or the side)", str(image))
    query = faces[0][1]
    people = load(out)
    near = []
    for m in people.members.values():
        if m.kind == "face":
            distance = float(np.linalg.norm(m.vector - query))
            if distance < threshold:
                near.append((m, 1.0 - distance))
    moments = _moments(people, near)[:k]
    for m in moments:
        m.thumbnail = str(Path(out) / m.thumbnail) if m.thumbnail else None
    return moments


_WORDS = re.compile(r"\w+")


def named_in(people: People, text: str) -> list[tuple[str, float]]:
    """The persons a query names, with how much of the name it says: (id, share of the name's
    words of three letters or more that are words of the query), best first. "Kennedy" names
    John F. Kennedy (0.5), "John Kennedy" does fully; the id (PERSON_3) names its person."""
    words = set(_WORDS.findall(text.casefold()))
    found = []
    for pid, name in people.names.items():
        parts = {p for p in _WORDS.findall(name.casefold()) if len(p) >= 3} if name else set()
        share = 1.0 if pid.casefold() in words else (len(parts & words) / len(parts) if parts else 0.0)
        if share > 0:
            found.append((pid, round(share, 3)))
    return sorted(found, key=lambda ps: (-ps[1], id_order(ps[0])))


def by_name(out: str | Path, text: str) -> list:
    """Moments of the persons ``text`` names (:func:`named_in`), seen or heard, the fuller
    matches first; ``score`` is the share of the name said."""
    people = load(out)
    moments = []
    for pid, share in named_in(people, text):
        mine = sorted(_moments(people, [(m, share) for m in people.of(pid)]), key=lambda x: (x.video_id, x.start))
        moments += mine
    for m in moments:
        m.thumbnail = str(Path(out) / m.thumbnail) if m.thumbnail else None
    return moments


def named_first(out: str | Path, text: str, moments: list, k: int) -> list:
    """A text search's ``moments`` with the moments of the persons the query names before them
    (:func:`by_name`), ``k`` in all: what ``avpipe search`` and ``avpipe serve`` answer."""
    if not (Path(out) / "people" / "people.json").is_file():
        return moments
    from ..errors import AvpipeError

    try:
        named = by_name(out, text)
    except AvpipeError:  # a damaged people index: the search still answers, without names
        return moments
    return [*named, *moments][:k]
