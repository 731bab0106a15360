"""The people index of a results folder (``<out>/people/``): the same face and the same voice
found in every video, as one ``PERSON_n`` that keeps its id across runs and takes a name once.

**Members.** Each video's ``identity.npz`` (vision and speakers stages, ``[people]``) gives its
members: a face track (``<video_id>/face 3``: the mean descriptor of its clearest sightings) or a
speaker (``<video_id>/SPEAKER_2``: the speaker's mean voice vector).

**Assignment, incremental.** A member already in the index stays with its person while its
vector is unchanged (a re-run that makes the same result moves no one), or still near that
person; a manual edit pins it. New members of a video are grouped first within the video (face
tracks by average linkage; two faces seen in one keyframe are never one person; each speaker
is its own group), then each group joins the nearest person of the folder that is close enough
and has no other group of that video, or becomes a new person. A new voice that matches no
voice joins the face it comes with (:func:`linked_face`) where that is clear. Ids are never
reused.

**Files.** ``people.json`` (every person with name, counts, videos and spans; every member
with its person; the videos read; the members forgotten) and ``members.npz`` (the members'
vectors), both written atomically. The labels go into each result (``Face.person``,
``Segment.person``, ``Result.people``) and its subtitles and report are written again, so
names show wherever speakers do.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from ..schema import Result

from ..errors import AvpipeError

PEOPLE_DIR = "people"
STATE_FILE, VECTORS_FILE = "people.json", "members.npz"
IDENTITY_FILE = "identity.npz"
STATE_VERSION = 1

#: Two face tracks whose mean dlib descriptors are nearer than this (Euclidean) are one person;
#: two voices whose unit mean GE2E vectors are more alike than this (cosine) are one person.
#: Both are the middle of the gap between the dev split's farthest same-person pair and nearest
#: two-people pair in `avpipe eval people` (README): faces 0.441 / 0.624, voices 0.931 / 0.766.
#: (dlib's author uses 0.6 for faces; a merge of two people is worse than a split, which is one
#: `--merge` away.)
FACE_DISTANCE = 0.53
VOICE_SIMILARITY = 0.85
#: A new voice joins a face when that face is on screen for at least this share of the voice's
#: speech in its video, and no other face for more than LINK_OTHER.
LINK_SHARE, LINK_OTHER = 0.6, 0.3


@dataclass
class Member:
    """One face track or one speaker of one video, as the index knows it."""

    key: str  # "<video_id>/face 3" or "<video_id>/SPEAKER_2"
    video_id: str
    kind: str  # "face" or "voice"
    local: str  # "face 3" or "SPEAKER_2": its name inside the video
    vector: "np.ndarray"
    spans: list[list[float]] = field(default_factory=list)  # [start, end) seen or heard
    seconds: float = 0.0  # on screen or speaking
    thumbnail: str | None = None  # a keyframe that shows it, relative to the folder
    person: str | None = None
    pinned: bool = False  # put there by a person (merge, split): never moved by the index
    apart: list[str] = field(default_factory=list)  # keys of members seen at the same time (not one person)
    linked: float | None = None  # a voice that joined a face: the share of its speech that face was on screen

    @property
    def signature(self) -> str:
        return hashlib.sha1(self.vector.astype("float32").tobytes()).hexdigest()[:16]

    def meta(self) -> dict:
        return {"person": self.person, "video_id": self.video_id, "kind": self.kind, "local": self.local,
                "spans": self.spans, "seconds": self.seconds, "thumbnail": self.thumbnail, "pinned": self.pinned,
                "linked": self.linked, "sig": self.signature}


@dataclass
class People:
    """The state of a folder's people index (``people.json`` + ``members.npz``)."""

    out: Path
    members: dict[str, Member] = field(default_factory=dict)
    names: dict[str, str | None] = field(default_factory=dict)  # every person's id: its name
    next_id: int = 1
    videos: dict[str, str] = field(default_factory=dict)  # video id: signature of its identity.npz
    forgotten: set[str] = field(default_factory=set)  # member keys removed on request: never added again

    @property
    def folder(self) -> Path:
        return self.out / PEOPLE_DIR

    def new_person(self) -> str:
        pid = f"PERSON_{self.next_id}"
        self.next_id += 1
        self.names[pid] = None
        return pid

    def of(self, pid: str) -> list[Member]:
        return [m for m in self.members.values() if m.person == pid]

    def summary(self) -> list[dict]:
        """Every person, in id order: name, counts, the videos and the spans where seen or heard."""
        rows = []
        for pid in sorted(self.names, key=id_order):
            members = sorted(self.of(pid), key=lambda m: (m.video_id, m.kind, id_order(m.local)))
            if not members:
                continue
            faces = [m for m in members if m.kind == "face"]
            rows.append({
                "id": pid, "name": self.names[pid],
                "faces": len(faces), "voices": len(members) - len(faces),
                "videos": sorted({m.video_id for m in members}),
                "seen_s": round(sum(m.seconds for m in faces), 3),
                "heard_s": round(sum(m.seconds for m in members if m.kind == "voice"), 3),
                "thumbnails": [m.thumbnail for m in faces if m.thumbnail][:8],
                "appearances": [{"video_id": m.video_id, "kind": m.kind, "member": m.local, "spans": m.spans,
                                 **({"linked_by_face_share": m.linked} if m.linked is not None else {})}
                                for m in members],
            })
        return rows


def id_order(name: str) -> tuple:
    """PERSON_10 after PERSON_9, face 10 after face 9."""
    head, _, tail = name.replace(" ", "_").rpartition("_")
    return (head, int(tail)) if tail.isdigit() else (name, 0)


# --------------------------------------------------------------------------- reading and writing


def load(out: str | Path) -> People:
    """The people index of ``out`` (empty when there is none)."""
    import numpy as np

    out = Path(out)
    people = People(out)
    state_path, vectors_path = people.folder / STATE_FILE, people.folder / VECTORS_FILE
    if not state_path.is_file():
        return people
    from ..errors import AvpipeError

    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
        with np.load(vectors_path, allow_pickle=False) as arrays:
            vectors = {str(k): v for k, v in zip(arrays["keys"], arrays["vectors"])} if "keys" in arrays else {}
            vectors.update({str(k): v for k, v in zip(arrays.get("voice_keys", []), arrays.get("voices", []))})
        if not isinstance(state, dict):
            raise ValueError("people.json is not a JSON object")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise AvpipeError(f"the people index cannot be read ({type(exc).__name__}: {exc}); remove {people.folder} "
                          "and run `avpipe people` to make it again from the results (names given are lost)",
                          state_path) from None
    people.next_id = int(state.get("next", 1))
    people.names = {p["id"]: p.get("name") for p in state.get("people", [])}
    people.names.update({pid: name for pid, name in state.get("names", {}).items()})
    people.videos = dict(state.get("videos", {}))
    people.forgotten = set(state.get("forgotten", []))
    for key, meta in state.get("members", {}).items():
        if key in vectors:
            people.members[key] = Member(key=key, video_id=meta["video_id"], kind=meta["kind"], local=meta["local"],
                                         vector=vectors[key].astype(np.float32), spans=meta.get("spans", []),
                                         seconds=meta.get("seconds", 0.0), thumbnail=meta.get("thumbnail"),
                                         person=meta.get("person"), pinned=meta.get("pinned", False),
                                         linked=meta.get("linked"))
    return people


def save(people: People) -> None:
    """Write ``people.json`` and ``members.npz`` (each atomically; the vectors first)."""
    import numpy as np

    from ..atomic import atomic_write_npz, atomic_write_text
    from ..vision.identity import FACE_DIM

    people.folder.mkdir(parents=True, exist_ok=True)
    faces = sorted(k for k, m in people.members.items() if m.kind == "face")
    voices = sorted(k for k, m in people.members.items() if m.kind == "voice")
    atomic_write_npz(people.folder / VECTORS_FILE,
                     keys=np.array(faces, dtype=str),
                     vectors=np.stack([people.members[k].vector for k in faces]) if faces
                     else np.zeros((0, FACE_DIM), np.float32),
                     voice_keys=np.array(voices, dtype=str),
                     voices=np.stack([people.members[k].vector for k in voices]) if voices
                     else np.zeros((0, 256), np.float32))
    state = {"version": STATE_VERSION, "next": people.next_id,
             "people": people.summary(),
             "names": {pid: name for pid, name in sorted(people.names.items(), key=lambda kv: id_order(kv[0]))
                       if name},
             "members": {k: people.members[k].meta() for k in sorted(people.members)},
             "videos": dict(sorted(people.videos.items())),
             "forgotten": sorted(people.forgotten)}
    atomic_write_text(people.folder / STATE_FILE, json.dumps(state, ensure_ascii=False, indent=1) + "\n")


def _signature(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def read_members(folder: Path, result: "Result") -> list[Member]:
    """The members of one result folder: a face member per described face track, a voice member
    per speaker with a vector (``identity.npz``), with spans and thumbnails from ``result``."""
    import numpy as np

    path = folder / IDENTITY_FILE
    if not path.is_file():
        return []
    vid = result.video.video_id
    members: list[Member] = []
    with np.load(path, allow_pickle=False) as arrays:
        data = {k: arrays[k] for k in arrays.files}
    if "faces" in data and len(data["faces"]):
        appear = {e.label: e.start for e in result.events if e.kind == "face_appear"}
        gone = {e.label: e.start for e in result.events if e.kind == "face_disappear"}
        seen_with: dict[int, set[int]] = {}
        best: dict[int, tuple[float, str | None]] = {}
        for k in result.keyframes:
            tracks = {f.track for f in k.faces if f.track is not None}
            for f in k.faces:
                if f.track is None:
                    continue
                seen_with.setdefault(f.track, set()).update(tracks - {f.track})
                area = f.box[2] * f.box[3]
                if area > best.get(f.track, (-1.0, None))[0]:
                    best[f.track] = (area, k.thumbnail and f"{vid}/{k.thumbnail}")
        for n in sorted(set(data["face_track"].tolist())):
            label = f"face {n}"
            start = appear.get(label, 0.0)
            end = max(gone.get(label, start), start)
            members.append(Member(key=f"{vid}/{label}", video_id=vid, kind="face", local=label,
                                  vector=data["faces"][data["face_track"] == n].mean(axis=0).astype(np.float32),
                                  spans=[[round(start, 3), round(end, 3)]], seconds=round(end - start, 3),
                                  thumbnail=best.get(n, (0, None))[1],
                                  apart=[f"{vid}/face {m}" for m in sorted(seen_with.get(n, ()))]))
    if "voices" in data and len(data["voices"]):
        turns: dict[str, list[list[float]]] = {}
        for t in result.transcript.speaker_turns:
            turns.setdefault(t.speaker, []).append([t.start, t.end])
        for name, vector, seconds in zip(data["speakers"].tolist(), data["voices"], data["voice_seconds"].tolist()):
            spans = turns.get(name) or [[s.start, s.end] for s in result.transcript.segments if s.speaker == name]
            members.append(Member(key=f"{vid}/{name}", video_id=vid, kind="voice", local=name,
                                  vector=vector.astype(np.float32), spans=spans, seconds=round(float(seconds), 3)))
    return members


# --------------------------------------------------------------------------- matching


def face_groups(members: list[Member], threshold: float = FACE_DISTANCE) -> list[list[Member]]:
    """One video's new face tracks grouped into people: average linkage over the Euclidean
    distances of their descriptors, cut at ``threshold``; tracks seen in one keyframe are kept
    apart. Groups in order of their first track."""
    import numpy as np

    if len(members) < 2:
        return [[m] for m in members]
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    vectors = np.stack([m.vector for m in members]).astype(np.float64)
    distances = np.sqrt(np.maximum(((vectors[:, None] - vectors[None]) ** 2).sum(-1), 0.0))
    index = {m.key: i for i, m in enumerate(members)}
    for i, m in enumerate(members):
        for other in m.apart:
            if other in index:
                distances[i, index[other]] = distances[index[other], i] = 1e3
    np.fill_diagonal(distances, 0.0)
    labels = fcluster(linkage(squareform(distances, checks=False), method="average"), t=threshold,
                      criterion="distance")
    groups: dict[int, list[Member]] = {}
    for label, m in zip(labels.tolist(), members):
        groups.setdefault(label, []).append(m)
    return list(groups.values())


def _centres(people: People, kind: str) -> dict[str, "np.ndarray"]:
    import numpy as np

    sums: dict[str, list] = {}
    for m in people.members.values():
        if m.kind == kind and m.person:
            sums.setdefault(m.person, []).append(m.vector)
    return {pid: np.mean(vs, axis=0) for pid, vs in sums.items()}


def _closeness(kind: str, a: "np.ndarray", b: "np.ndarray") -> float:
    """How alike two vectors are, larger is closer: minus the Euclidean distance of face
    descriptors, the cosine of voice vectors."""
    import numpy as np

    if kind == "face":
        return -float(np.linalg.norm(a - b))
    return float(a @ b / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-9))


def _close_enough(kind: str, closeness: float, face_distance: float, voice_similarity: float) -> bool:
    return -closeness < face_distance if kind == "face" else closeness > voice_similarity


def linked_face(voice: Member, faces: list[Member]) -> tuple[str | None, float]:
    """The person whose face is on screen while ``voice`` speaks, when one clearly is: on
    screen for at least LINK_SHARE of its speech, and no other person for more than LINK_OTHER.
    (person, share); (None, best share) when no face is clear."""
    spoken = sum(b - a for a, b in voice.spans)
    if spoken <= 0:
        return None, 0.0
    shares: dict[str, float] = {}
    for face in faces:
        if face.person is None:
            continue
        overlap = sum(max(0.0, min(b, d) - max(a, c)) for a, b in voice.spans for c, d in face.spans)
        shares[face.person] = shares.get(face.person, 0.0) + overlap / spoken
    ranked = sorted(shares.items(), key=lambda kv: -kv[1])
    if not ranked:
        return None, 0.0
    best, share = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    return (best if share >= LINK_SHARE and runner_up <= LINK_OTHER else None), round(min(share, 1.0), 3)


def assign(people: People, fresh: dict[str, list[Member]], face_distance: float = FACE_DISTANCE,
           voice_similarity: float = VOICE_SIMILARITY) -> None:
    """Give every member of ``fresh`` (new members by video id) a person: see the module."""
    for kind in ("face", "voice"):
        centres = _centres(people, kind)
        counts = {pid: sum(1 for m in people.members.values() if m.kind == kind and m.person == pid)
                  for pid in centres}
        for vid in sorted(fresh):
            new = [m for m in fresh[vid] if m.kind == kind and m.person is None]
            groups = face_groups(new, face_distance) if kind == "face" else [[m] for m in new]
            taken = {m.person for m in people.members.values() if m.video_id == vid and m.kind == kind and m.person}
            for group in groups:
                import numpy as np

                mean = np.mean([m.vector for m in group], axis=0)
                options = [(_closeness(kind, mean, centre), pid) for pid, centre in centres.items() if pid not in taken]
                closeness, pid = max(options, default=(float("-inf"), None), key=lambda cp: (cp[0], cp[1] or ""))
                if pid is None or not _close_enough(kind, closeness, face_distance, voice_similarity):
                    pid = None
                    if kind == "voice":
                        faces = [m for m in people.members.values() if m.video_id == vid and m.kind == "face"]
                        linked, share = linked_face(group[0], faces)
                        if linked is not None and linked not in taken:
                            pid, group[0].linked = linked, share
                    pid = pid or people.new_person()
                for m in group:
                    m.person = pid
                    people.members[m.key] = m
                taken.add(pid)
                n = counts.get(pid, 0)
                centres[pid] = (centres[pid] * n + mean * len(group)) / (n + len(group)) if pid in centres else mean
                counts[pid] = n + len(group)


def update(out: str | Path, face_distance: float = FACE_DISTANCE, voice_similarity: float = VOICE_SIMILARITY
           ) -> dict:
    """Bring the people index of ``out`` up to date with its results (the folder's lock is the
    caller's to hold) and label the results; counts of what changed."""
    from ..search.results import listed_results, read_result

    people = load(out)
    listed = listed_results(out)
    counts = {"videos": 0, "read": 0, "added": 0, "removed": 0, "people": 0, "labelled": 0, "damaged": 0}
    fresh: dict[str, list[Member]] = {}
    seen_videos = set()
    for vid, folder in sorted(listed.items()):
        path = folder / IDENTITY_FILE
        if not path.is_file():
            continue
        seen_videos.add(vid)
        signature = _signature(path)
        if people.videos.get(vid) == signature:
            continue
        counts["read"] += 1
        try:
            found = read_members(folder, read_result(folder))
        except (AvpipeError, OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            counts["damaged"] += 1  # its members stay as they were; the search index reports the result
            continue
        if any(m.key in people.forgotten for m in found):  # made again after a forget: its vectors go again
            strip_identity(path, [int(m.local.split()[-1]) for m in found if m.key in people.forgotten and m.kind == "face"],
                           [m.local for m in found if m.key in people.forgotten and m.kind == "voice"])
            signature = _signature(path)
            found = [m for m in found if m.key not in people.forgotten]
        old = {k: m for k, m in people.members.items() if m.video_id == vid}
        for m in found:
            before = old.get(m.key)
            if before is not None and before.person and before.kind == m.kind:
                centre = _centres(people, m.kind).get(before.person)
                same = before.signature == m.signature  # a pin holds the vector it was given, not the key
                if same or (centre is not None and _close_enough(m.kind, _closeness(m.kind, m.vector, centre),
                                                                 face_distance, voice_similarity)):
                    m.person, m.pinned = before.person, before.pinned and same
        for k in old:
            del people.members[k]
        for m in found:
            if m.person is not None:
                people.members[m.key] = m
        counts["added"] += sum(1 for m in found if m.key not in old)
        counts["removed"] += sum(1 for k in old if k not in {m.key for m in found})
        fresh[vid] = found
        people.videos[vid] = signature
    for vid in [v for v in people.videos if v not in seen_videos]:  # results gone, or made without [people]
        gone = [k for k, m in people.members.items() if m.video_id == vid]
        counts["removed"] += len(gone)
        for k in gone:
            del people.members[k]
        del people.videos[vid]
    assign(people, fresh, face_distance, voice_similarity)
    alive = {m.person for m in people.members.values()}
    people.names = {pid: name for pid, name in people.names.items() if pid in alive}
    # the results are labelled before the index records their videos as read: an update cut
    # short in between reads and labels them again next time
    counts["labelled"] = label_results(people, {vid: listed[vid] for vid in fresh})
    if fresh or counts["removed"] or not (people.folder / STATE_FILE).is_file():
        save(people)  # else nothing changed: the files stay as they are
    counts["videos"] = len(people.videos)
    counts["people"] = len(alive)
    return counts


def strip_identity(path: Path, tracks: list[int], speakers: list[str]) -> int:
    """Rewrite one ``identity.npz`` (atomically) without the face descriptors of ``tracks`` and
    the voice vectors of ``speakers``; how many vectors went."""
    import numpy as np

    from ..atomic import atomic_write_npz

    with np.load(path, allow_pickle=False) as arrays:
        data = {k: arrays[k] for k in arrays.files}
    removed = 0
    if tracks and "face_track" in data:
        keep = ~np.isin(data["face_track"], tracks)
        removed += int((~keep).sum())
        for k in ("face_t", "face_index", "face_track", "faces"):
            data[k] = data[k][keep]
    if speakers and "speakers" in data:
        keep = ~np.isin(data["speakers"], speakers)
        removed += int((~keep).sum())
        for k in ("speakers", "voices", "voice_seconds"):
            data[k] = data[k][keep]
    atomic_write_npz(path, **data)
    return removed


# --------------------------------------------------------------------------- labels in the results


def label_result(result: "Result", people: People) -> bool:
    """Put the people index's persons into ``result`` (faces, segments, ``people``); whether
    anything changed."""
    from ..schema import PersonRef

    vid = result.video.video_id
    mine = [m for m in people.members.values() if m.video_id == vid and m.person]
    by_face = {int(m.local.split()[-1]): m.person for m in mine if m.kind == "face"}
    by_voice = {m.local: m.person for m in mine if m.kind == "voice"}
    before = result.model_dump_json()
    for k in result.keyframes:
        for f in k.faces:
            f.person = by_face.get(f.track) if f.track is not None else None
    for s in result.transcript.segments:
        s.person = by_voice.get(s.speaker) if s.speaker else None
    refs = []
    for pid in sorted({m.person for m in mine}, key=id_order):
        refs.append(PersonRef(id=pid, name=people.names.get(pid),
                              faces=sorted(n for n, p in by_face.items() if p == pid),
                              speakers=sorted((s for s, p in by_voice.items() if p == pid), key=id_order)))
    result.people = refs
    return result.model_dump_json() != before


def label_results(people: People, folders: dict[str, Path]) -> int:
    """Label the results in ``folders`` (by video id; :func:`label_result`) and write again,
    atomically, the files that show who is who: ``result.json`` and the subtitles and report it
    already has. How many results changed."""
    from ..errors import DamagedResult
    from ..search.results import read_result
    from ..writers import WRITERS

    changed = 0
    for _, folder in sorted(folders.items()):
        try:
            result = read_result(folder)
        except DamagedResult:  # the search index reports it; nothing to label
            continue
        if not label_result(result, people):
            continue
        changed += 1
        for name, written in (("json", "result.json"), ("srt", "transcript.srt"), ("vtt", "transcript.vtt"),
                              ("html", "report.html")):
            if (folder / written).exists():
                WRITERS[name](result, folder)
    return changed
