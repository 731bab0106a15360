"""People across a results folder (issue #27): matching faces and voices into persons that keep
their ids, names in results, subtitles, reports and search, the hand edits, forgetting, and the
evaluation's measures. The index is tested here on results written by hand (vectors chosen so
that who is who is known); tests/test_people_real.py runs the pipeline on real photos."""

import json

import numpy as np
import pytest

from avpipe.atomic import atomic_write_npz
from avpipe.cli import main
from avpipe.people import edit, load, update
from avpipe.people.evaluate import bcubed
from avpipe.people.find import by_name, named_in
from avpipe.people.index import Member, face_groups, linked_face
from avpipe.schema import Event, Face, Keyframe, Result, Segment, SpeakerTurn, Transcript, VideoInfo
from avpipe.writers import WRITERS

RNG = np.random.default_rng(7)
#: Three people's "true" face descriptors and voices, far apart.
FACES = {name: RNG.normal(0, 0.09, 128).astype(np.float32) for name in "abc"}
VOICES = {name: (lambda v: v / np.linalg.norm(v))(RNG.normal(0, 1, 256)).astype(np.float32) for name in "xyz"}


def _near(vector, scale=0.01):
    return (vector + RNG.normal(0, scale, vector.shape)).astype(np.float32)


def _video(out, vid, faces, voices=(), text="hello there"):
    """A result folder: ``faces`` is a list of (person letter, [keyframe times]) face tracks;
    ``voices`` (speaker letter, start, end) turns, each also a segment."""
    folder = out / vid
    (folder / "keyframes").mkdir(parents=True, exist_ok=True)
    times = sorted({t for _, ts in faces for t in ts})
    keyframes, events = [], []
    for t in times:
        on = [(n, who) for n, (who, ts) in enumerate(faces, start=1) if t in ts]
        keyframes.append(Keyframe(t=t, thumbnail=f"keyframes/{int(t * 1000):08d}.jpg",
                                  faces=[Face(box=(0.1 + 0.4 * k, 0.2, 0.3, 0.4), track=n)
                                         for k, (n, _) in enumerate(on)]))
    for n, (_, ts) in enumerate(faces, start=1):
        events += [Event(start=min(ts), end=min(ts), kind="face_appear", label=f"face {n}"),
                   Event(start=max(ts) + 1, end=max(ts) + 1, kind="face_disappear", label=f"face {n}")]
    speakers = {who: f"SPEAKER_{k}" for k, who in enumerate(dict.fromkeys(w for w, _, _ in voices), start=1)}
    segments = [Segment(start=a, end=b, text=text, speaker=speakers[w]) for w, a, b in voices]
    result = Result(video=VideoInfo(path=f"/videos/{vid}.mp4", video_id=vid, duration_s=60.0, has_audio=True,
                                    has_video=True),
                    keyframes=keyframes, events=events,
                    transcript=Transcript(language="en", segments=segments,
                                          speaker_turns=[SpeakerTurn(start=a, end=b, speaker=speakers[w])
                                                         for w, a, b in voices]))
    for name in ("json", "srt", "html"):
        WRITERS[name](result, folder)
    arrays = {}
    rows = [(n, k.t, j) for k in keyframes for j, f in enumerate(k.faces) for n in [f.track]]
    if rows:
        arrays.update(face_t=np.array([t for _, t, _ in rows], np.float32),
                      face_index=np.array([j for *_, j in rows], np.int32),
                      face_track=np.array([n for n, *_ in rows], np.int32),
                      faces=np.stack([_near(FACES[faces[n - 1][0]]) for n, *_ in rows]))
    if speakers:
        arrays.update(speakers=np.array(list(speakers.values())),
                      voices=np.stack([_near(VOICES[w], 0.002) for w in speakers]),
                      voice_seconds=np.array([sum(b - a for x, a, b in voices if x == w) for w in speakers],
                                             np.float32))
    atomic_write_npz(folder / "identity.npz", **arrays)
    return folder


def _who(out, vid):
    """{face n or SPEAKER_n: person} in a result."""
    result = Result.model_validate_json((out / vid / "result.json").read_text())
    found = {f"face {f.track}": f.person for k in result.keyframes for f in k.faces}
    found.update({s.speaker: s.person for s in result.transcript.segments})
    return found


def test_the_same_face_and_voice_are_one_person_across_videos_and_ids_hold(tmp_path):
    # video one: a and b on screen together, x speaking while a is alone on screen
    _video(tmp_path, "one", [("a", [0.0, 2.0, 4.0]), ("b", [4.0, 6.0])], [("x", 0.0, 3.5)])
    _video(tmp_path, "two", [("b", [0.0, 2.0]), ("c", [4.0]), ("a", [8.0])], [("y", 0.0, 6.0), ("x", 7.0, 9.0)])
    counts = update(tmp_path)
    assert counts["people"] == 4 and counts["labelled"] == 2
    one, two = _who(tmp_path, "one"), _who(tmp_path, "two")
    assert one["face 1"] == two["face 3"]  # a
    assert one["face 2"] == two["face 1"]  # b
    assert len({one["face 1"], one["face 2"], two["face 2"]}) == 3  # a, b, c apart
    # x's voice came with a's face (a alone on screen while x spoke): one person, seen and heard
    assert one["SPEAKER_1"] == one["face 1"] and two["SPEAKER_2"] == one["face 1"]
    members = json.loads((tmp_path / "people" / "people.json").read_text())["members"]
    assert members["one/SPEAKER_1"]["linked"] == 1.0 and members["two/SPEAKER_2"]["linked"] is None  # the evidence
    assert two["SPEAKER_1"] not in {one["face 1"], one["face 2"], two["face 2"]}  # y: a voice of its own
    state = json.loads((tmp_path / "people" / "people.json").read_text())
    before = {p["id"]: p["videos"] for p in state["people"]}
    # a second update reads nothing and changes nothing; a third video joins the people there are
    assert update(tmp_path)["read"] == 0
    _video(tmp_path, "three", [("c", [1.0])], [("y", 0.0, 2.0)])
    update(tmp_path)
    three = _who(tmp_path, "three")
    assert three["face 1"] == two["face 2"] and three["SPEAKER_1"] == two["SPEAKER_1"]
    after = {p["id"]: p["videos"] for p in json.loads((tmp_path / "people" / "people.json").read_text())["people"]}
    assert set(after) == set(before)
    # the whole index made again from nothing gives the same ids (same input, same output)
    import shutil

    shutil.rmtree(tmp_path / "people")
    update(tmp_path)
    assert _who(tmp_path, "one") == one and _who(tmp_path, "three") == three


def test_names_reach_results_subtitles_reports_and_search(tmp_path):
    _video(tmp_path, "talk", [("a", [0.0, 2.0])], [("x", 0.0, 3.0)], text="ask not what your country can do")
    update(tmp_path)
    pid = _who(tmp_path, "talk")["SPEAKER_1"]
    assert main(["people", str(tmp_path), "--name", pid, "Ada Lovelace"]) == 0
    result = Result.model_validate_json((tmp_path / "talk" / "result.json").read_text())
    assert result.people[0].name == "Ada Lovelace" and result.keyframes[0].faces[0].person == pid
    srt = (tmp_path / "talk" / "transcript.srt").read_text()
    assert "Ada Lovelace: ask not what your country can do" in srt and "SPEAKER_1" not in srt
    assert "Ada Lovelace" in (tmp_path / "talk" / "report.html").read_text()
    people = load(tmp_path)
    assert named_in(people, "where is lovelace")[0] == (pid, 0.5)
    assert named_in(people, "Ada Lovelace speaking")[0] == (pid, 1.0)
    assert named_in(people, "somebody else") == []
    moments = by_name(tmp_path, "Ada Lovelace")
    assert {m.modality for m in moments} == {"face", "voice"} and all(m.video_id == "talk" for m in moments)
    # a name taken back: SPEAKER_1 again
    edit.name(tmp_path, pid, "")
    assert "SPEAKER_1: ask not" in (tmp_path / "talk" / "transcript.srt").read_text()


def test_merge_split_and_forget(tmp_path, capsys):
    _video(tmp_path, "one", [("a", [0.0])])
    _video(tmp_path, "two", [("b", [0.0])])
    update(tmp_path)
    pa, pb = _who(tmp_path, "one")["face 1"], _who(tmp_path, "two")["face 1"]
    assert pa != pb
    edit.name(tmp_path, pb, "Grace Hopper")
    edit.merge(tmp_path, pa, pb)  # the index's mistake fixed by hand: one person, with b's name
    assert _who(tmp_path, "two")["face 1"] == pa and load(tmp_path).names[pa] == "Grace Hopper"
    update(tmp_path)  # pinned: an update does not move it back
    assert _who(tmp_path, "two")["face 1"] == pa
    split = edit.split(tmp_path, pa, "two")
    assert _who(tmp_path, "two")["face 1"] == split["new"] != pa
    with pytest.raises(Exception, match="nothing would be left"):
        edit.split(tmp_path, pa, "one")
    # forget: vectors gone from identity.npz and members.npz, labels gone, never added again
    gone = edit.forget(tmp_path, split["new"])
    assert gone["vectors_removed"] >= 2 and gone["left_as_near_as_one_person"] == 0
    assert gone["nearest_face_left"] > 0.5  # only a's descriptors are left, far from b's
    with np.load(tmp_path / "two" / "identity.npz") as arrays:
        assert len(arrays["faces"]) == 0
    with np.load(tmp_path / "people" / "members.npz") as arrays:
        assert not any(np.linalg.norm(v - FACES["b"]) < 0.3 for v in arrays["vectors"])
    assert _who(tmp_path, "two")["face 1"] is None
    update(tmp_path)
    assert _who(tmp_path, "two")["face 1"] is None
    assert main(["people", str(tmp_path), "--forget", "PERSON_99"]) == 1
    assert "no person PERSON_99" in capsys.readouterr().err


def test_a_rerun_with_a_new_track_number_keeps_people_and_a_removed_video_leaves(tmp_path):
    _video(tmp_path, "one", [("a", [0.0])])
    _video(tmp_path, "two", [("a", [0.0]), ("b", [3.0])])
    update(tmp_path)
    pa = _who(tmp_path, "one")["face 1"]
    import shutil

    shutil.rmtree(tmp_path / "two")
    _video(tmp_path, "two", [("b", [0.0]), ("a", [3.0])])  # run again with other options: tracks renumbered
    update(tmp_path)
    assert _who(tmp_path, "two")["face 2"] == pa
    shutil.rmtree(tmp_path / "two")
    counts = update(tmp_path)
    assert counts["removed"] == 2 and counts["videos"] == 1


def test_face_groups_never_join_faces_seen_together():
    a = Member(key="v/face 1", video_id="v", kind="face", local="face 1", vector=FACES["a"], apart=["v/face 2"])
    b = Member(key="v/face 2", video_id="v", kind="face", local="face 2", vector=_near(FACES["a"]),
               apart=["v/face 1"])
    c = Member(key="v/face 3", video_id="v", kind="face", local="face 3", vector=_near(FACES["a"]))
    assert len(face_groups([a, b, c])) == 2
    b.apart, a.apart = [], []
    assert len(face_groups([a, b, c])) == 1
    far = Member(key="v/face 4", video_id="v", kind="face", local="face 4", vector=FACES["b"])
    assert len(face_groups([a, far])) == 2


def test_a_voice_links_to_a_face_only_when_one_face_is_clearly_on_screen():
    voice = Member(key="v/SPEAKER_1", video_id="v", kind="voice", local="SPEAKER_1", vector=VOICES["x"],
                   spans=[[0.0, 10.0]])

    def face(person, spans):
        return Member(key=f"v/{person}", video_id="v", kind="face", local="face 1", vector=FACES["a"],
                      spans=spans, person=person)

    assert linked_face(voice, [face("P1", [[0.0, 9.0]])]) == ("P1", 0.9)
    assert linked_face(voice, [face("P1", [[0.0, 9.0]]), face("P2", [[0.0, 8.0]])])[0] is None  # a two-shot
    assert linked_face(voice, [face("P1", [[0.0, 4.0]])])[0] is None  # mostly off screen


def test_bcubed():
    assert bcubed(["a", "a", "b"], [0, 0, 1])["f1"] == 1.0
    merged = bcubed(["a", "a", "b"], [0, 0, 0])
    assert merged["recall"] == 1.0 and merged["precision"] == pytest.approx((2 / 3 * 2 + 1 / 3) / 3, abs=1e-4)
    alone = bcubed(["a", "a", "b"], [0, 1, 2])
    assert alone["precision"] == 1.0 and alone["recall"] == pytest.approx((0.5 + 0.5 + 1) / 3, abs=1e-4)


def test_a_forgotten_face_stays_gone_when_its_video_is_made_again(tmp_path):
    _video(tmp_path, "one", [("a", [0.0]), ("b", [3.0])])
    update(tmp_path)
    edit.forget(tmp_path, _who(tmp_path, "one")["face 2"])
    _video(tmp_path, "one", [("a", [0.0]), ("b", [3.0])])  # run again: b's descriptors written again
    update(tmp_path)
    with np.load(tmp_path / "one" / "identity.npz") as arrays:
        assert set(arrays["face_track"].tolist()) == {1}  # stripped again on the update
    assert _who(tmp_path, "one")["face 2"] is None


def test_damaged_files_are_skipped_or_said_and_search_still_answers(tmp_path):
    _video(tmp_path, "one", [("a", [0.0])])
    _video(tmp_path, "two", [("b", [0.0])])
    update(tmp_path)
    (tmp_path / "two" / "identity.npz").write_bytes(b"not a zip")
    counts = update(tmp_path)
    assert counts["damaged"] == 1 and counts["people"] == 2  # its members stay as they were
    from avpipe.errors import AvpipeError
    from avpipe.people.find import named_first

    (tmp_path / "people" / "members.npz").write_bytes(b"\0" * 10)
    with pytest.raises(AvpipeError, match="cannot be read"):
        load(tmp_path)
    assert named_first(tmp_path, "anyone", ["a moment"], 5) == ["a moment"]
