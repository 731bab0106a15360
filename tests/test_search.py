"""Search and ask: find the moment by text or image across the sample videos; ask a video a
question and get timestamped evidence; the index updates incrementally; the faiss path agrees
with exact search."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import media
import numpy as np
import pytest

from avpipe.search import Collection, ask, load_index, search, update_index

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_videos"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "avpipe", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def samples_out(tmp_path_factory) -> Path:
    """sample_videos/ processed by `avpipe run` (which builds the search index)."""
    out = tmp_path_factory.mktemp("samples") / "out"
    proc = _cli("run", str(SAMPLES), "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "search index: 3 added" in proc.stderr
    return out


def _search(out: Path, *args: str) -> list[dict]:
    proc = _cli("search", *args, "--index", str(out))
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_quote_finds_the_jfk_clip_at_the_right_time(samples_out):
    moments = _search(samples_out, "ask not what your country can do", "-k", "3")
    first = moments[0]
    assert first["video_id"].startswith("jfk-")
    assert first["start"] <= 1.0 and 7.0 <= first["end"] <= 11.1  # the line is said from 0 s to about 7.6 s
    assert any("ask not what your country" in t for t in first["text"])
    assert Path(first["thumbnail"]).is_file()
    assert [m["score"] for m in moments] == sorted((m["score"] for m in moments), reverse=True)


def test_description_finds_the_nasa_clip(samples_out):
    moments = _search(samples_out, "telescope in a clean room", "-k", "3")
    assert moments[0]["video_id"].startswith("nasa_13013-")


@pytest.mark.parametrize("clip, at", [("nasa_13013.mp4", "9"), ("three_shots.mp4", "4.2"), ("jfk.mp4", "5")])
def test_a_frame_of_a_clip_finds_that_clip(samples_out, tmp_path, clip, at):
    frame = tmp_path / "frame.png"
    subprocess.run([media.FFMPEG, "-v", "error", "-ss", at, "-i", str(SAMPLES / clip), "-frames:v", "1", str(frame)],
                   check=True, timeout=60)
    moments = _search(samples_out, "--image", str(frame), "-k", "3")
    assert moments[0]["video_id"].startswith(Path(clip).stem + "-"), moments
    assert moments[0]["modality"] == "frames"


def test_modality_filter_and_python_api(samples_out):
    speech = search(samples_out, "ask what you can do for your country", modality="speech", k=5)
    frames = search(samples_out, "colour bars test pattern", modality="frames", k=5)
    assert speech and all(m.modality == "speech" for m in speech)
    assert frames and all(m.modality == "frames" for m in frames)


def test_ask_where_is_the_telescope(samples_out):
    folder = next(p for p in samples_out.iterdir() if p.name.startswith("nasa_13013-"))
    proc = _cli("ask", str(folder), "Where is the telescope?")
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["method"] == "retrieval"
    assert "Goddard" in answer["answer"] and 8.0 <= answer["start"] < answer["end"] <= 13.1
    assert any("Goddard" in e["text"] and e["start"] <= answer["start"] for e in answer["evidence"][:2])


def test_ask_says_so_when_the_video_does_not_answer(samples_out):
    folder = next(p for p in samples_out.iterdir() if p.name.startswith("nasa_13013-"))
    answer = ask(folder, "What is the price of bananas?")
    assert answer.start is None and answer.answer.startswith("Nothing in this video") and answer.evidence


def test_ask_with_a_generative_model_is_grounded_in_the_evidence(samples_out, tmp_path):
    from test_understand import _tiny_generator

    model = _tiny_generator(tmp_path / "gpt")
    folder = next(p for p in samples_out.iterdir() if p.name.startswith("nasa_13013-"))
    answer = ask(folder, "Where is the telescope?", model=str(model), max_new_tokens=8)
    assert answer.method == str(model) and answer.answer
    assert answer.evidence and any("Goddard" in e.text for e in answer.evidence)


def test_index_updates_incrementally(tmp_path):
    out = tmp_path / "out"
    assert _cli("run", str(SAMPLES / "jfk.mp4"), "--out", str(out), "--quiet").returncode == 0
    assert len(json.loads((out / "search" / "manifest.json").read_text())) == 1
    proc = _cli("run", str(SAMPLES / "three_shots.mp4"), "--out", str(out), "--quiet")
    assert "1 added, 0 updated, 0 removed, 1 unchanged" in proc.stderr
    assert len(load_index(out).meta["frames"]) >= 4
    jfk = next(p for p in out.iterdir() if p.name.startswith("jfk-"))
    (jfk / "result.json").touch()
    assert update_index(out) == {"added": 0, "updated": 1, "removed": 0, "kept": 1, "repaired": 0}
    import shutil

    shutil.rmtree(jfk)
    assert update_index(out) == {"added": 0, "updated": 0, "removed": 1, "kept": 1, "repaired": 0}
    assert all(not m.video_id.startswith("jfk-") for m in search(out, "my fellow americans", k=5))


def test_results_without_segment_embeddings_are_embedded_when_indexed(tmp_path):
    pipeline = tmp_path / "no_fusion.toml"
    pipeline.write_text('stages = ["probe", "decode", "shots", "keyframes", "vision", "speech"]\n')
    out = tmp_path / "out"
    assert _cli("run", str(SAMPLES / "jfk.mp4"), "--out", str(out), "--pipeline", str(pipeline), "--quiet").returncode == 0
    moments = search(out, "ask not what your country can do", modality="speech", k=1)
    assert moments and moments[0].video_id.startswith("jfk-")


def test_search_usage_errors(tmp_path):
    assert _cli("search", "--index", str(tmp_path)).returncode == 2
    proc = _cli("search", "anything", "--index", str(tmp_path))
    assert proc.returncode == 1 and "no search index" in proc.stderr


def test_faiss_path_agrees_with_exact_search():
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3000, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    meta = [{"video_id": f"v{i}", "modality": "speech", "t": 0.0, "start": 0.0, "end": 1.0, "text": f"line {i}",
             "thumbnail": None} for i in range(3000)]
    approximate = Collection.from_arrays("x:y", meta, vectors.astype(np.float16), ann_min_rows=1000)
    exact = Collection.from_arrays("x:y", meta, vectors.astype(np.float16))
    assert "speech" in approximate.ann and not exact.ann

    class Fixed:
        def __init__(self, v):
            self.v = v

        def encode_texts(self, texts):
            return self.v[None, :]

    for i in (5, 500, 2999):
        a = search(approximate, text="zz", k=1, encoder=Fixed(vectors[i]))
        e = search(exact, text="zz", k=1, encoder=Fixed(vectors[i]))
        assert a[0].video_id == e[0].video_id == f"v{i}"


def test_hits_merge_only_when_they_are_one_moment():
    from avpipe.search.query import Moment, merge_hits

    hits = [Moment("a", 0, 2, 0.88, "speech", None, ["x"]), Moment("a", 3, 4, 0.9, "frames", "t.jpg", ["y"]),
            Moment("a", 4, 7, 0.5, "frames", "u.jpg", ["next shot"]),  # touches, far worse: its own moment
            Moment("a", 20, 21, 0.7, "speech", None, ["z"]), Moment("b", 0, 1, 0.8, "speech", None, ["w"])]
    merged = merge_hits(hits, gap_s=2.0)
    assert [(m.video_id, m.start, m.end, m.score, m.modality) for m in merged] == [
        ("a", 0, 4, 0.9, "both"), ("b", 0, 1, 0.8, "speech"), ("a", 20, 21, 0.7, "speech"), ("a", 4, 7, 0.5, "frames")]
    assert merged[0].thumbnail == "t.jpg" and merged[0].text == ["y", "x"]
    # a slideshow's five shots, one query: the best shot alone, the others after it
    shots = [Moment("s", 3 * i, 3 * i + 3, score, "frames", f"{i}.jpg", [f"photo {i}"])
             for i, score in enumerate([0.21, 0.62, 0.25, 0.3, 0.18])]
    found = merge_hits(shots, gap_s=2.0)
    assert (found[0].start, found[0].end, found[0].text) == (3, 6, ["photo 1"])
    assert all(m.start >= 6 or m.end <= 3 for m in found[1:])

def test_eval_search_on_the_labelled_slideshows(tmp_path):
    """`avpipe eval search` on :data:`media.SEARCH_SET` (15 real photos in 3 slideshows; a text
    and an image query each). Every image query finds its own 3 s shot first; so do the text
    queries of the slideshow #12 was found on (a monkey, a butterfly, a squirrel, an orange)."""
    import media

    if not (media.PHOTOS / "baboon.jpg").exists():
        pytest.skip("Debian's opencv-doc photos are not installed")
    videos, queries = media.search_set(tmp_path / "set")
    pipeline = tmp_path / "see.toml"
    pipeline.write_text('name = "see"\nstages = ["probe", "decode", "shots", "keyframes", "vision"]\n')
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "avpipe", "run", *map(str, videos), "--out", str(out), "--pipeline",
                          str(pipeline), "--quiet"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    done = subprocess.run([sys.executable, "-m", "avpipe", "eval", "search", "--index", str(out), "--queries",
                           str(queries), "--details"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in done.stdout.splitlines()]
    summary, rows = lines[-1], lines[:-1]
    assert summary["image"]["recall@1"] == 1.0, rows
    first = {r["query"] for r in rows if r["rank"] == 1}
    assert {"a monkey", "a butterfly", "a squirrel", "an orange"} <= first, rows
    assert summary["text"]["recall@5"] >= 0.8, summary
