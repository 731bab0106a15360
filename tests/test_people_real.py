"""People on real photos (issue #27's must-show): two videos with different photos of the same two
people and one other person, through the default pipeline; one PERSON per real person across
both, `avpipe search --face` with a third photo finding both videos, and names carried into the
subtitles and reports. The photos (tests/media/portraits/PROVENANCE.md) are US federal works
(public domain) and one CC0 self-portrait; the voice is Kennedy's inaugural line (sample_videos/)."""

import json

import numpy as np
import pytest

import media
from avpipe.cli import main
from avpipe.schema import Result
from avpipe.vision.identity import photo_faces

PORTRAITS = media.PORTRAITS


def _image(name: str) -> np.ndarray:
    from PIL import Image

    return np.array(Image.open(PORTRAITS / name).convert("RGB"))


def test_bundled_descriptor_tells_two_real_people_apart():
    """dlib's descriptor through avpipe's detector and alignment: one person's photos from
    different years are near, two people are far (dlib's own threshold is 0.6)."""
    vectors = {name: photo_faces(_image(name))[0][1] for name in
               ("obama-1.jpg", "obama-2.jpg", "obama-3.jpg", "biden-1.jpg", "biden-2.jpg", "debruine-1.jpg")}
    same = [("obama-1.jpg", "obama-2.jpg"), ("obama-1.jpg", "obama-3.jpg"), ("obama-2.jpg", "obama-3.jpg"),
            ("biden-1.jpg", "biden-2.jpg")]
    for a, b in same:
        assert np.linalg.norm(vectors[a] - vectors[b]) < 0.5, (a, b)
    for a in ("obama-1.jpg", "obama-2.jpg", "obama-3.jpg"):
        for b in ("biden-1.jpg", "biden-2.jpg", "debruine-1.jpg"):
            assert np.linalg.norm(vectors[a] - vectors[b]) > 0.6, (a, b)


@pytest.fixture(scope="module")
def two_videos(tmp_path_factory):
    """Two slideshows through `avpipe run`: (folder, video ids by file name)."""
    root = tmp_path_factory.mktemp("people")
    one = media.slideshow([PORTRAITS / n for n in ("obama-1.jpg", "biden-1.jpg", "debruine-1.jpg")],
                          root / "one.mp4", size="640:480", seconds=4, audio=media.JFK)
    two = media.slideshow([PORTRAITS / n for n in ("biden-2.jpg", "obama-2.jpg")], root / "two.mp4",
                          size="640:480", seconds=4)
    out = root / "out"
    assert main(["run", str(one), str(two), "--out", str(out)]) == 0
    ids = {json.loads(line)["input"].rsplit("/", 1)[-1]: json.loads(line)["video_id"]
           for line in (out / "index.jsonl").read_text().splitlines()}
    return out, ids


def _faces(out, vid) -> list[str | None]:
    """The person of each keyframe's largest face, in time order."""
    result = Result.model_validate_json((out / vid / "result.json").read_text())
    return [max(k.faces, key=lambda f: f.box[2] * f.box[3]).person for k in result.keyframes if k.faces]


def test_one_person_per_real_person_across_videos(two_videos):
    out, ids = two_videos
    one, two = _faces(out, ids["one.mp4"]), _faces(out, ids["two.mp4"])
    assert len(one) == 3 and len(two) == 2 and None not in one + two
    obama, biden, other = one
    assert len({obama, biden, other}) == 3  # three people, none merged
    assert two == [biden, obama]  # the other photos of the same two: the same ids
    listed = json.loads((out / "people" / "people.json").read_text())["people"]
    faces = {p["id"]: p for p in listed if p["faces"]}
    assert sorted(faces[obama]["videos"]) == sorted(ids.values()) == sorted(faces[biden]["videos"])
    assert faces[other]["videos"] == [ids["one.mp4"]]


def test_search_by_a_third_photo_finds_both_videos(two_videos, tmp_path, capsys):
    out, ids = two_videos
    assert main(["search", "--face", str(PORTRAITS / "obama-3.jpg"), "--index", str(out)]) == 0
    moments = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {m["video_id"] for m in moments} == set(ids.values())
    obama = _faces(out, ids["one.mp4"])[0]
    assert all(obama in m["text"][0] for m in moments) and all(m["modality"] == "face" for m in moments)
    # a photo of nobody in the library finds nothing; a photo with no face is a usage error
    assert main(["search", "--face", str(media.PHOTOS / "orange.jpg"), "--index", str(out)]) == 2


def test_names_carry_into_subtitles_reports_and_search(two_videos, capsys):
    out, ids = two_videos
    obama = _faces(out, ids["one.mp4"])[0]
    result = Result.model_validate_json((out / ids["one.mp4"] / "result.json").read_text())
    kennedy = result.transcript.segments[0].person
    assert kennedy and kennedy not in _faces(out, ids["one.mp4"])  # the voice is no face on screen
    assert main(["people", str(out), "--name", obama, "Barack Obama"]) == 0
    assert main(["people", str(out), "--name", kennedy, "John F. Kennedy"]) == 0
    capsys.readouterr()
    srt = (out / ids["one.mp4"] / "transcript.srt").read_text()
    assert "John F. Kennedy: " in srt and "SPEAKER_1" not in srt and "fellow americans" in srt.lower()
    for vid in ids.values():
        assert "Barack Obama" in (out / vid / "report.html").read_text()
    assert main(["search", "Obama", "--index", str(out), "-k", "3"]) == 0
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert first["modality"] == "face" and "Barack Obama" in first["text"][0]
    # a run again of the same batch: every id and name kept
    before = json.loads((out / "people" / "people.json").read_text())["people"]
    assert main(["people", str(out), "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(p["id"], p["name"]) for p in listed] == [(p["id"], p["name"]) for p in before]


def test_serve_lists_people_with_thumbnail_urls_and_finds_a_face(two_videos):
    from fastapi.testclient import TestClient

    from avpipe.serve import make_app

    out, ids = two_videos
    client = TestClient(make_app(out), base_url="http://localhost")
    listed = client.get("/api/people")
    assert listed.status_code == 200, listed.text
    people = listed.json()["people"]
    obama = _faces(out, ids["one.mp4"])[0]
    shown = next(p for p in people if p["id"] == obama)
    assert shown["thumbnails"] and all(t.startswith("/files/") for t in shown["thumbnails"]), shown
    picture = client.get(shown["thumbnails"][0])
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
    photo = (PORTRAITS / "obama-3.jpg").read_bytes()
    found = client.post("/api/search/face", content=photo, headers={"content-type": "image/jpeg"})
    assert found.status_code == 200, found.text
    moments = found.json()["moments"]
    assert {m["video_id"] for m in moments} == set(ids.values())


def test_small_faces_are_described_from_the_source_frame():
    """A keyframe's picture decoded again at the source's size (what a face too small in the
    256-px thumbnail is described from): the frame at that time, at full size, upright."""
    from avpipe.decode.pyav import pictures_at
    from avpipe.probe import probe

    found = probe(media.NASA)
    info = found.streams[found.video_stream]
    pictures = pictures_at(str(media.NASA), found, [0.0, 5.005])
    assert sorted(pictures) == [0.0, 5.005]
    assert all(p.shape == (info.height, info.width, 3) for p in pictures.values())
    assert not np.array_equal(pictures[0.0], pictures[5.005])
