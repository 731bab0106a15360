"""What a person does to the people index (``avpipe people OUT --name/--merge/--split/--forget``):
each edit is kept in ``people.json`` (names by id; moved members pinned, so no later update moves
them back), and every result it touches is labelled and written again.

``forget`` removes a person for good: its members' vectors leave ``members.npz`` and every
video's ``identity.npz``, its labels leave the results, and its member keys stay listed as
forgotten (keys only, no vector), so a later update does not add them again.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import AvpipeError
from .index import IDENTITY_FILE, People, _signature, label_results, load, save, strip_identity


class UnknownPerson(AvpipeError, KeyError):
    """No person of the people index has that id."""


def _person(people: People, pid: str) -> str:
    pid = pid.strip().upper()
    if not people.of(pid):
        known = ", ".join(sorted({m.person for m in people.members.values() if m.person})) or "none"
        raise UnknownPerson(f"no person {pid} in the people index (known: {known})", str(people.folder))
    return pid


def _relabel(people: People, videos: set[str]) -> int:
    from ..search.results import listed_results

    listed = listed_results(people.out)
    return label_results(people, {vid: listed[vid] for vid in videos if vid in listed})


def name(out: str | Path, pid: str, new_name: str) -> dict:
    """Give person ``pid`` a name ("" takes it back), shown in results, subtitles and reports."""
    people = load(out)
    pid = _person(people, pid)
    people.names[pid] = new_name.strip() or None
    save(people)
    return {"person": pid, "name": people.names[pid],
            "labelled": _relabel(people, {m.video_id for m in people.of(pid)})}


def merge(out: str | Path, keep: str, other: str) -> dict:
    """Make ``other`` part of ``keep`` (its members move, pinned); ``keep`` keeps its name, or
    takes ``other``'s when it has none."""
    people = load(out)
    keep, other = _person(people, keep), _person(people, other)
    if keep == other:
        raise AvpipeError(f"{keep} cannot be merged with itself")
    moved = people.of(other)
    for m in moved:
        m.person, m.pinned = keep, True
    people.names[keep] = people.names.get(keep) or people.names.get(other)
    people.names.pop(other, None)
    save(people)
    return {"person": keep, "merged": other, "members": len(moved),
            "labelled": _relabel(people, {m.video_id for m in people.of(keep)})}


def split(out: str | Path, pid: str, video_id: str, member: str | None = None) -> dict:
    """Take person ``pid``'s members in ``video_id`` (or only ``member`` there: "face 3",
    "SPEAKER_2") out into a new person, pinned."""
    people = load(out)
    pid = _person(people, pid)
    members = people.of(pid)
    moving = [m for m in members if m.video_id == video_id and (member is None or m.local == member)]
    if not moving:
        raise AvpipeError(f"{pid} has no {member or 'member'} in video {video_id}: nothing to split "
                          f"(its videos: {', '.join(sorted({m.video_id for m in members}))})")
    if len(moving) == len(members):
        raise AvpipeError(f"that is all of {pid}: nothing would be left to split from")
    new = people.new_person()
    for m in moving:
        m.person, m.pinned = new, True
    save(people)
    return {"person": pid, "new": new, "members": len(moving), "labelled": _relabel(people, {video_id})}


def forget(out: str | Path, pid: str) -> dict:
    """Remove person ``pid`` everywhere: see the module. What was removed, counted."""
    from ..search.results import listed_results

    people = load(out)
    pid = _person(people, pid)
    members = people.of(pid)
    listed = listed_results(people.out)
    folders = {p.parent.name: p.parent for p in sorted(people.out.glob(f"*/{IDENTITY_FILE}"))}  # listed or not
    removed_vectors = 0
    for vid in sorted({m.video_id for m in members}):
        if vid not in folders:
            continue
        path = folders[vid] / IDENTITY_FILE
        removed_vectors += strip_identity(path, [int(m.local.split()[-1]) for m in members
                                                 if m.video_id == vid and m.kind == "face"],
                                          [m.local for m in members if m.video_id == vid and m.kind == "voice"])
        people.videos[vid] = _signature(path)
    for m in members:
        people.forgotten.add(m.key)
        del people.members[m.key]
    people.names.pop(pid, None)
    labelled = label_results(people, {vid: listed[vid] for vid in {m.video_id for m in members} if vid in listed})
    save(people)
    return {"person": pid, "members": len(members), "vectors_removed": removed_vectors + len(members),
            "labelled": labelled, **_left_behind(members, folders)}


def _left_behind(members: list, folders: dict) -> dict:
    """The proof that a forgotten person's vectors are gone: over every identity.npz of the
    folder, how near the nearest face descriptor and voice vector left come to the forgotten
    ones, and how many are as near as one person's (another person's can be; the forgotten
    person's own would be 0.0 away)."""
    import numpy as np

    from .index import FACE_DISTANCE, VOICE_SIMILARITY

    gone = {kind: np.stack([m.vector for m in members if m.kind == kind]) for kind in ("face", "voice")
            if any(m.kind == kind for m in members)}
    nearest = {"face": float("inf"), "voice": -1.0}
    within = 0
    for folder in folders.values():
        path = folder / IDENTITY_FILE
        if not path.is_file():
            continue
        with np.load(path, allow_pickle=False) as arrays:
            if "face" in gone and "faces" in arrays and len(arrays["faces"]):
                d = np.linalg.norm(arrays["faces"][:, None] - gone["face"][None], axis=-1)
                nearest["face"] = min(nearest["face"], float(d.min()))
                within += int((d.min(axis=1) < FACE_DISTANCE).sum())
            if "voice" in gone and "voices" in arrays and len(arrays["voices"]):
                v = arrays["voices"] / np.linalg.norm(arrays["voices"], axis=1, keepdims=True)
                g = gone["voice"] / np.linalg.norm(gone["voice"], axis=1, keepdims=True)
                c = v @ g.T
                nearest["voice"] = max(nearest["voice"], float(c.max()))
                within += int((c.max(axis=1) > VOICE_SIMILARITY).sum())
    return {"nearest_face_left": None if nearest["face"] == float("inf") else round(nearest["face"], 4),
            "nearest_voice_left": None if nearest["voice"] < -0.5 else round(nearest["voice"], 4),
            "left_as_near_as_one_person": within}
