"""The search index under a careless or hostile batch (#22, rows 9 and 12 to 15): one rule for
what index.jsonl, index.html and search list; damaged results named and skipped; readers that
never see a half-written index and never write; the index's own embedding space; what a killed
update leaves.

Most tests build result folders by hand (a result.json and a vectors.npz of random unit vectors,
:func:`fake_result`): indexing them needs no model. The rows about symlinks and text models are
also run end to end on generated clips with a light pipeline.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from avpipe.schema import Keyframe, Result, Segment, Shot, Transcript, VideoInfo
from avpipe.search import index as index_module
from avpipe.search import load_index, search, update_index

DIM = 16
SPACE = "efficientnet-lite0:efficientnet-lite0"
LIGHT = 'name = "light"\nstages = ["probe", "decode", "shots", "keyframes", "vision"]\n[vision]\nfaces = false\nobjects = false\n'


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "avpipe", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def unit_rows(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def fake_result(out: Path, vid: str, said: str = "hello there", seed: int = 0, keyframes: int = 1,
                model: str = SPACE, dim: int = DIM) -> Path:
    """``out/<vid>/`` as a run leaves it for search: result.json with ``keyframes`` keyframes of
    one shot and one speech segment, and vectors.npz with their (random unit) vectors."""
    folder = out / vid
    folder.mkdir(parents=True, exist_ok=True)
    times = [float(i) for i in range(keyframes)]
    result = Result(video=VideoInfo(path=f"/in/{vid}.mp4", video_id=vid, duration_s=keyframes + 1.0, has_audio=True,
                                    has_video=True),
                    shots=[Shot(start=0.0, end=keyframes + 1.0)], keyframes=[Keyframe(t=t, shot=0) for t in times],
                    transcript=Transcript(segments=[Segment(start=0.0, end=1.0, text=said)]))
    (folder / "result.json").write_text(result.model_dump_json(), encoding="utf-8")
    rng = np.random.default_rng(seed)
    np.savez(folder / "vectors.npz", keyframe_t=np.array(times, np.float32), model=np.array(model),
             keyframes=unit_rows(rng, keyframes, dim).astype(np.float16),
             segments=unit_rows(rng, 1, dim).astype(np.float16))
    return folder


def write_records(out: Path, records: list[tuple[str, str, str]]) -> None:
    """``out/index.jsonl`` of (input, video_id, status) records, as a batch writes it."""
    lines = [{"input": i, "video_id": v, "status": s, **({"result": f"{v}/result.json"} if s != "error" else
                                                            {"error": {"type": "MediaOpenError", "message": "bad"}})}
             for i, v, s in records]
    (out / "index.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")


def indexed(out: Path) -> set[str]:
    return set(json.loads((out / "search" / "manifest.json").read_text()))


class Fixed:
    """A query encoder that gives one fixed vector (no model)."""

    def __init__(self, vector: np.ndarray) -> None:
        self.vector = np.asarray(vector, np.float32)

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        return self.vector[None, :]


@pytest.fixture()
def light(tmp_path) -> Path:
    path = tmp_path / "light.toml"
    path.write_text(LIGHT)
    return path


# --------------------------------------------------------------------------- row 9: one rule


def test_search_indexes_what_the_index_lists_not_every_folder(tmp_path):
    out = tmp_path / "out"
    fake_result(out, "clip-old", seed=1)  # the symlink's earlier target: its folder stays behind
    new = fake_result(out, "clip-new", seed=2)
    fake_result(out, "failed-now", seed=3)  # listed by an error record only: not listed
    write_records(out, [("in/clip.mp4", "clip-new", "ok"), ("in/other.mp4", "failed-now", "error")])
    update_index(out)
    assert indexed(out) == {"clip-new"}
    best = np.load(new / "vectors.npz")["keyframes"][0]
    assert {m.video_id for m in search(out, "x", k=10, encoder=Fixed(best))} == {"clip-new"}
    # a shard's index file lists its results as index.jsonl does
    (out / "index.shard-1-of-2.jsonl").write_text(json.dumps(
        {"input": "in/old.mp4", "video_id": "clip-old", "status": "skipped", "result": "clip-old/result.json"}) + "\n")
    assert update_index(out)["added"] == 1 and indexed(out) == {"clip-new", "clip-old"}


def test_index_prune_removes_the_folders_no_record_names(tmp_path):
    out = tmp_path / "out"
    old = fake_result(out, "clip-old", seed=1)
    fake_result(out, "clip-new", seed=2)
    kept = fake_result(out, "failed-now", seed=3)
    write_records(out, [("in/clip.mp4", "clip-new", "ok"), ("in/other.mp4", "failed-now", "error")])
    done = cli("index", out, "--prune")
    assert done.returncode == 0, done.stderr
    assert f"removed {old}" in done.stderr and not old.exists()
    assert kept.is_dir()  # an error record names it: its input may be tried again
    assert indexed(out) == {"clip-new"}
    # an index.jsonl with a line that cannot be read may not name every result: nothing is pruned
    stray = fake_result(out, "stray", seed=5)
    with open(out / "index.jsonl", "a", encoding="utf-8") as f:
        f.write('{"input": "in/x.mp4", "video_id": "x", "sta\n')
    refused = cli("index", out, "--prune")
    assert refused.returncode == 1 and len(refused.stderr.splitlines()) == 1 and stray.is_dir(), refused.stderr
    # a folder with no index.jsonl lists every result in it, and nothing is pruned
    bare = tmp_path / "bare"
    fake_result(bare, "a", seed=4)
    assert cli("index", bare, "--prune").returncode == 0 and (bare / "a").is_dir() and indexed(bare) == {"a"}


def test_a_retargeted_symlink_leaves_search_with_index_jsonl(tmp_path, gen, light):
    """The row as found: in/clip.mp4 -> one clip, run; -> another clip, run again."""
    folder = tmp_path / "in"
    folder.mkdir()
    link = folder / "clip.mp4"
    out = tmp_path / "out"
    link.symlink_to(gen("three_shots.mp4"))
    assert cli("run", folder, "--out", out, "--pipeline", light, "--quiet").returncode == 0
    link.unlink()
    link.symlink_to(gen("no_audio.mp4"))
    assert cli("run", folder, "--out", out, "--pipeline", light, "--quiet").returncode == 0
    listed = {json.loads(x)["video_id"] for x in (out / "index.jsonl").read_text().splitlines()}
    on_disk = {p.parent.name for p in out.glob("*/result.json")}
    assert len(listed) == 1 and len(on_disk) == 2
    assert indexed(out) == listed  # the page, index.jsonl and search agree
    assert all(vid in (out / "index.html").read_text() for vid in listed)
    pruned = cli("index", out, "--prune")
    assert pruned.returncode == 0 and "removed" in pruned.stderr
    assert {p.parent.name for p in out.glob("*/result.json")} == listed


# --------------------------------------------------------------------------- row 12: a damaged result


def test_a_damaged_result_is_named_in_one_line_and_the_rest_indexed(tmp_path):
    out = tmp_path / "out"
    truncated = fake_result(out, "a", seed=1) / "result.json"
    broken = fake_result(out, "b", seed=2) / "vectors.npz"
    fake_result(out, "c", seed=3)
    truncated.write_bytes(truncated.read_bytes()[:100])
    broken.write_bytes(broken.read_bytes()[:200])
    write_records(out, [("a.mp4", "a", "ok"), ("b.mp4", "b", "ok"), ("c.mp4", "c", "ok")])
    done = cli("index", out)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    named = [x for x in lines if "left out of the search index" in x]
    assert len(named) == 2 and str(truncated) in named[0] and str(broken) in named[1], done.stderr
    assert all(x.startswith("avpipe: ") for x in lines) and "validation error" not in done.stderr
    assert indexed(out) == {"c"}
    # later runs go on indexing new videos
    fake_result(out, "d", seed=4)
    write_records(out, [("a.mp4", "a", "ok"), ("b.mp4", "b", "ok"), ("c.mp4", "c", "ok"), ("d.mp4", "d", "ok")])
    assert update_index(out, report=lambda message: None)["added"] == 1 and indexed(out) == {"c", "d"}


# --------------------------------------------------------------------------- row 13: readers and writers


def _two_videos(out: Path) -> list[Path]:
    folders = [fake_result(out, "a", seed=1), fake_result(out, "b", seed=2)]
    write_records(out, [("a.mp4", "a", "ok"), ("b.mp4", "b", "ok")])
    update_index(out)
    return folders


def test_a_reader_in_the_middle_of_an_update_reads_the_old_index_whole(tmp_path, monkeypatch):
    out = tmp_path / "out"
    folders = _two_videos(out)
    before = load_index(out).vectors["frames"].copy()
    seen: list[object] = []
    write = index_module.atomic_write_bytes

    def write_then_read(path: Path, data: bytes) -> None:
        write(path, data)
        if path.parent.name == "shards":  # a shard is written, its manifest not yet
            try:
                seen.append(load_index(out).vectors["frames"])
            except Exception as exc:  # noqa: BLE001 - what a reader would have been told
                seen.append(exc)

    monkeypatch.setattr(index_module, "atomic_write_bytes", write_then_read)
    for i, folder in enumerate(folders):  # both results change: both shards are remade
        fake_result(out, folder.name, seed=10 + i)
    update_index(out)
    assert len(seen) == 2 and all(isinstance(s, np.ndarray) and np.array_equal(s, before) for s in seen), seen


def test_a_reader_overtaken_by_a_whole_update_reads_the_new_index(tmp_path, monkeypatch):
    out = tmp_path / "out"
    folders = _two_videos(out)
    checksum = index_module._sha256
    overtaken: list[bool] = []

    def update_while_reading(data: bytes) -> str:
        if not overtaken:  # the reader holds the manifest and one shard: a writer runs to its end
            overtaken.append(True)
            for i, folder in enumerate(folders):
                fake_result(out, folder.name, seed=10 + i)
            update_index(out)
        return checksum(data)

    monkeypatch.setattr(index_module, "_sha256", update_while_reading)
    collection = load_index(out)
    monkeypatch.setattr(index_module, "_sha256", checksum)
    assert overtaken and np.array_equal(collection.vectors["frames"], load_index(out).vectors["frames"])


def test_readers_write_nothing_not_even_ann_files(tmp_path, monkeypatch):
    monkeypatch.setattr(index_module, "ANN_MIN_ROWS", 100)
    out = tmp_path / "out"
    fake_result(out, "many", keyframes=120)
    write_records(out, [("many.mp4", "many", "ok")])
    update_index(out)  # the writer saves the ANN index of this generation

    def files() -> dict[str, int]:
        return {str(p): p.stat().st_mtime_ns for p in (out / "search").rglob("*")}

    written = files()
    collection = load_index(out)
    assert "frames" in collection.ann and files() == written
    assert search(collection, "x", k=1, encoder=Fixed(collection.vectors["frames"][7]))[0].start == 2.0


def test_search_never_repairs_the_index_without_the_folder_lock(tmp_path):
    out = tmp_path / "out"
    _two_videos(out)
    shard = sorted((out / "search" / "shards").glob("*.npz"))[0]
    shard.write_bytes(shard.read_bytes()[:300])
    index_files = {p: p.read_bytes() for p in (out / "search").rglob("*") if p.is_file()}
    with open(out / ".avpipe.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a run is writing into the folder
        done = cli("search", "anything", "--index", out)
    assert done.returncode == 1 and "repaired it" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "another avpipe process is writing into" in lines[0], done.stderr
    assert {p: p.read_bytes() for p in (out / "search").rglob("*") if p.is_file()} == index_files
    assert "1 repaired" in cli("index", out).stderr  # once the folder is free


# --------------------------------------------------------------------------- row 14: the index's space


def test_the_index_records_its_space_and_search_refuses_another(tmp_path):
    out = tmp_path / "out"
    space = f"{SPACE}+{tmp_path / 'gone-text-model'}"
    fake_result(out, "a", model=space)
    write_records(out, [("a.mp4", "a", "ok")])
    update_index(out)
    entry = json.loads((out / "search" / "manifest.json").read_text())["a"]
    assert (entry["model"], entry["dim"]) == (space, DIM)
    assert index_module.space_options(space).text_model == str(tmp_path / "gone-text-model")
    assert index_module.space_options(SPACE).text_model == "minilm"
    assert index_module.space_options("clip:openai/clip-vit-base-patch32").clip_model == "openai/clip-vit-base-patch32"
    from avpipe.errors import AvpipeError

    with pytest.raises(AvpipeError, match="another space"):
        search(out, "x", encoder=Fixed(np.ones(384) / np.sqrt(384)))
    done = cli("search", "x", "--index", out)  # its text model is gone: one line, no wrong ranking
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
    assert "gone-text-model" in done.stderr and "cannot be loaded" in done.stderr


def _tiny_text_model(folder: Path) -> Path:
    """A random 2-layer, 32-d sentence-transformers model with the bundled MiniLM's tokenizer."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import AutoTokenizer, BertConfig, BertModel

    from avpipe.models import resolve

    tokenizer = AutoTokenizer.from_pretrained(str(resolve("minilm")))
    torch.manual_seed(0)
    bert = folder / "bert"
    BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(bert)
    tokenizer.save_pretrained(bert)
    SentenceTransformer(modules=[Transformer(str(bert)), Pooling(32), Normalize()]).save(str(folder / "st"))
    return folder / "st"


def test_an_index_made_with_another_text_model_is_searched_with_it(tmp_path, gen):
    text_model = _tiny_text_model(tmp_path / "tiny")
    pipeline = tmp_path / "tiny.toml"
    pipeline.write_text(LIGHT + f'text_model = "{text_model}"\n')
    out = tmp_path / "out"
    run = cli("run", gen("three_shots.mp4"), "--out", out, "--pipeline", pipeline, "--quiet")
    assert run.returncode == 0, run.stderr
    (entry,) = json.loads((out / "search" / "manifest.json").read_text()).values()
    assert entry["model"] == f"{SPACE}+{text_model}" and entry["dim"] == 32
    found = cli("search", "colour bars test pattern", "--index", out, "-k", "2")
    assert found.returncode == 0, found.stderr
    assert found.stdout.splitlines() and all(json.loads(x)["modality"] == "frames" for x in found.stdout.splitlines())


# --------------------------------------------------------------------------- row 15: kill -9 mid-update

_KILLED_AT = """
import os, signal, sys
import avpipe.atomic
from avpipe.search import update_index

real = os.replace
def replace(src, dst):
    if os.path.basename(dst).endswith(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)
    real(src, dst)
avpipe.atomic.os.replace = replace
update_index(sys.argv[1])
"""


@pytest.mark.parametrize("at", [".npz", "manifest.json"])
def test_what_a_killed_update_leaves_goes_at_the_next(tmp_path, at):
    out = tmp_path / "out"
    folders = _two_videos(out)
    for i, folder in enumerate(folders):
        fake_result(out, folder.name, seed=10 + i)
    killed = subprocess.run([sys.executable, "-c", _KILLED_AT, str(out), at], capture_output=True, text=True,
                            timeout=120)
    assert killed.returncode == -9, killed.stderr
    assert list((out / "search").rglob(".*.tmp")), "the kill should have left a temporary file"
    update_index(out)
    assert not list((out / "search").rglob(".*.tmp"))
    named = {e["shard"] for e in json.loads((out / "search" / "manifest.json").read_text()).values()}
    assert {p.name for p in (out / "search" / "shards").iterdir()} == named
    assert np.array_equal(load_index(out).vectors["frames"][0], np.load(folders[0] / "vectors.npz")["keyframes"][0])
