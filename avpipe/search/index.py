"""The moment index of a results folder: keyframes and speech segments of every video the folder
lists, as vectors in the shared text-image space with their video ids, times and texts.

Layout, beside the results (``<out>/search/``):
  ``shards/<video_id>.<sha>.npz``  one video's moments: ``vectors`` [n, D] float16 (shared space),
                            ``features`` [n, F] float16 (the image encoder's own features, for
                            image-to-image search; zeros on speech rows) and ``meta`` (JSON); the
                            name holds the first 16 hex digits of the file's sha256;
  ``manifest.json``         per video: the signature (size and mtime of its result.json and
                            vectors.npz) that its shard was made from, the shard's file name and
                            sha256, and the space: the embedding model (``backend:model``) and
                            the vectors' width;
  ``ann-<modality>-<key>.faiss``  for large collections: a faiss IVF index per modality, for the
                            shard set ``key`` names (a digest of the manifest's checksums).

The videos indexed are those the folder lists (:mod:`avpipe.search.results`): what
``index.jsonl`` and ``index.html`` show, so a result folder the index no longer names is out of
search too. Updating is incremental (:func:`update_index`, called at the end of ``avpipe run``):
only videos whose result changed get a new shard, and shards of videos no longer listed are
removed. A result that cannot be read is named, one line, and left out; the rest are indexed.

Generations: the writer never changes a file a reader may be reading. A new shard gets a new
name, the manifest that names it is renamed into place in one step, and only then are the files
it no longer names removed. A reader (:func:`load_index`) that finds a shard gone or changed
reads the manifest again: if the manifest changed, a writer moved on meanwhile and it reads the
new generation; if not, the index is damaged, :class:`IndexDamaged`, which the command line
answers by repairing the index from the results, holding the folder's lock. Readers write
nothing: the ANN indexes are saved by the writer, and a reader that finds none builds its own
in memory. The writer runs holding the folder's lock (``avpipe run``, ``avpipe index``) and
first removes what a killed writer left (hidden ``.*.tmp`` files, unnamed shards).

Damage is found by checksum: an update remakes a shard whose bytes no longer match the
manifest, and every shard when the manifest cannot be read. Search is exact (one matrix product)
up to :data:`ANN_MIN_ROWS` moments of a modality; above it, an inverted-file index with 8-bit
scalar quantisation (faiss ``IVF,SQ8``, inner product) proposes candidates that are re-scored
exactly from the float16 vectors.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..atomic import atomic_write_bytes, atomic_write_text
from ..errors import AvpipeError, IndexDamaged
from .results import listed_results, read_result

if TYPE_CHECKING:
    import numpy as np

    from ..options import VisionOptions

INDEX_DIR = "search"
SHARDS = "shards"
#: Above this many moments of one modality, search goes through a faiss IVF index.
ANN_MIN_ROWS = 50_000
MODALITIES = ("frames", "speech")
#: A frame moment spans its shot, cut to this many seconds either side of the keyframe.
FRAME_SPAN_S = 5.0
#: The space of the offline default (EfficientNet-Lite0 with the bundled MiniLM), and of results
#: whose ``vectors.npz`` names none.
DEFAULT_SPACE = "efficientnet-lite0:efficientnet-lite0"
#: How many generations a reader follows while writers keep replacing the manifest under it.
READ_ATTEMPTS = 5


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _parse_manifest(data: bytes) -> dict | None:
    """The manifest in ``data``, or None when it is not one."""
    try:
        manifest = json.loads(data)
    except ValueError:
        return None
    ok = isinstance(manifest, dict) and all(
        isinstance(v, dict) and {"signature", "model", "sha256"} <= set(v) and "/" not in str(v.get("shard", ""))
        for v in manifest.values())
    return manifest if ok else None


def _read_manifest(path: Path) -> dict | None:
    """The manifest, {} when there is none, None when it is damaged."""
    try:
        return _parse_manifest(path.read_bytes())
    except FileNotFoundError:
        return {}
    except OSError:
        return None


def _shard_name(vid: str, entry: dict) -> str:
    """The file of a video's shard (indexes made before shards were versioned: ``<vid>.npz``)."""
    return entry.get("shard", f"{vid}.npz")


def _generation(manifest: dict) -> str:
    """A digest of the shard set a manifest names: the key of the ANN files made from it."""
    return _sha256(json.dumps(sorted((vid, v["sha256"]) for vid, v in manifest.items())).encode())[:16]


#: The layout of a shard's rows; a shard of another layout is made again at the next update
#: (2: frame rows carry their labels and objects as WordNet synsets).
SHARD_LAYOUT = 2


def _signature(folder: Path) -> str:
    parts = [f"layout:{SHARD_LAYOUT}"]
    for name in ("result.json", "vectors.npz"):
        p = folder / name
        if p.exists():
            st = p.stat()
            parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


def _read_vectors(folder: Path) -> dict:
    """The arrays of a result's ``vectors.npz`` ({} when it has none), or
    :class:`~avpipe.errors.DamagedResult` naming the file when it cannot be read."""
    import zipfile

    import numpy as np

    from ..errors import DamagedResult

    path = folder / "vectors.npz"
    if not path.is_file():
        return {}
    try:
        with np.load(path) as arrays:
            return dict(arrays)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DamagedResult(f"vectors.npz cannot be read ({type(exc).__name__}: {exc}); run the video again "
                            "with `avpipe run --force`", path) from None


def video_moments(folder: Path, encoder_for: Callable[[str], object] | None = None) -> dict | None:
    """The moments of one result folder as arrays + meta rows, or None when it has no result;
    :class:`~avpipe.errors.DamagedResult` when its ``result.json`` or ``vectors.npz`` cannot be read.

    Frame moments span the keyframe's shot; speech moments span their segment. A captioned
    keyframe (the captions stage) adds a second frame moment: its caption's text vector. Segment vectors
    come from ``vectors.npz`` (the fusion stage writes them); for results made without that
    stage they are computed with ``encoder_for(model)`` when it is given.
    """
    import numpy as np

    from ..vision.hierarchy import keyframe_evidence

    if not (folder / "result.json").is_file():
        return None
    result = read_result(folder)
    arrays = _read_vectors(folder)
    model = str(arrays["model"]) if "model" in arrays else DEFAULT_SPACE
    vid = result.video.video_id
    rows, vectors, features = [], [], []
    frame_t = arrays.get("keyframe_t", np.zeros(0))
    feat = arrays.get("features")
    captions = {round(float(t), 3): v for t, v in zip(arrays.get("caption_t", ()), arrays.get("captions", ()))}
    for i, k in enumerate(result.keyframes_at(frame_t)):
        if k is None:
            continue
        shot = result.shots[k.shot] if k.shot is not None and k.shot < len(result.shots) else None
        # the keyframe stands for its shot, but no more than FRAME_SPAN_S either side of it
        start = max(shot.start, k.t - FRAME_SPAN_S) if shot else k.t
        end = min(shot.end, k.t + FRAME_SPAN_S) if shot else k.t
        row = {"video_id": vid, "modality": "frames", "t": k.t, "start": start, "end": end,
               "text": f"seen: {k.seen() or 'nothing the models name'}",
               "thumbnail": f"{folder.name}/{k.thumbnail}" if k.thumbnail else None,
               **keyframe_evidence(k)}  # its labels and objects as WordNet synsets: search by meaning
        rows.append(row)
        vectors.append(arrays["keyframes"][i].astype(np.float32))
        if feat is not None:  # unit length, so image-to-image search is one dot product
            f = feat[i].astype(np.float32)
            features.append(f / max(float(np.linalg.norm(f)), 1e-9))
        else:
            features.append(None)
        c = captions.get(round(float(frame_t[i]), 3))
        if c is not None and k.caption:  # the caption's own text vector: text queries meet it text to text
            rows.append({**row, "text": k.caption})
            vectors.append(c.astype(np.float32))
            features.append(None)
    segments = result.transcript.segments
    seg_vectors = arrays.get("segments")
    if segments and (seg_vectors is None or len(seg_vectors) != len(segments)):
        seg_vectors = encoder_for(model).encode_texts([s.text for s in segments]) if encoder_for else None
    if seg_vectors is not None:
        for s, v in zip(segments, seg_vectors):
            near = min(result.keyframes, key=lambda k: abs(k.t - s.start), default=None)
            rows.append({"video_id": vid, "modality": "speech", "t": s.start, "start": s.start, "end": s.end,
                         "text": s.text.strip(),
                         "thumbnail": f"{folder.name}/{near.thumbnail}" if near and near.thumbnail else None})
            vectors.append(np.asarray(v, np.float32))
            features.append(None)
    width = next((len(f) for f in features if f is not None), 0)
    dim = len(vectors[0]) if vectors else 0
    return {
        "model": model,
        "vectors": np.stack(vectors).astype(np.float16) if vectors else np.zeros((0, dim), np.float16),
        "features": np.stack([f if f is not None else np.zeros(width, np.float32) for f in features]).astype(np.float16)
        if width else np.zeros((len(rows), 0), np.float16),
        "meta": rows,
    }


def space_options(model: str) -> "VisionOptions":
    """The vision options whose encoder makes the space ``model`` names (``backend:model``).
    The efficientnet backend's space names its text side after a ``+`` when that is not the
    bundled MiniLM (``efficientnet-lite0:efficientnet-lite0+<text_model>``)."""
    from ..options import VisionOptions

    backend, _, name = model.partition(":")
    if backend == "clip":
        return VisionOptions(backend=backend, clip_model=name)
    _, _, text = name.partition("+")
    return VisionOptions(backend=backend, text_model=text or VisionOptions().text_model)


def space_encoder(model: str):
    """The encoder of the index's space, from its recorded name (see :func:`space_options`)."""
    from ..vision import load_encoder

    return load_encoder(space_options(model))


def _report(message: str) -> None:
    print(f"avpipe: {message}", file=sys.stderr)


def update_index(out: str | Path, encoder_for: Callable[[str], object] | None = None,
                 report: Callable[[str], None] = _report) -> dict:
    """Bring ``out/search/`` up to date with the results ``out`` lists. Returns counts of videos
    added, updated, removed, kept, and repaired (shards remade because their bytes no longer
    matched the manifest; with a damaged manifest, every shard).

    A result that cannot be read is told to ``report`` (one line naming its file; by default on
    stderr) and left out, the others are indexed. ``encoder_for(model)`` embeds transcript
    segments of results that lack their embeddings (made without the fusion stage); by default
    the encoder of that space is loaded, only when such a result turns up. Call it holding the
    folder's lock (:func:`avpipe.runner.folder_lock`; ``avpipe run`` and ``avpipe index`` do):
    it removes what an earlier, killed update left."""
    import io

    import numpy as np

    from ..errors import DamagedResult

    encoder_for = encoder_for or space_encoder
    out = Path(out)
    root = out / INDEX_DIR
    shards = root / SHARDS
    shards.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(root)
    manifest_path = root / "manifest.json"
    manifest = _read_manifest(manifest_path)
    counts = {"added": 0, "updated": 0, "removed": 0, "kept": 0, "repaired": 0}
    damaged = manifest is None
    if damaged:  # every shard is remade from the results
        manifest = {}
    listed = listed_results(out)
    for vid in sorted(set(manifest) - set(listed)):
        del manifest[vid]
        counts["removed"] += 1
    for vid, folder in sorted(listed.items()):
        signature = _signature(folder)
        known = manifest.get(vid, {})
        if known.get("signature") == signature:
            try:
                intact = _sha256((shards / _shard_name(vid, known)).read_bytes()) == known["sha256"]
            except OSError:
                intact = False
            if intact:
                counts["kept"] += 1
                continue
            counts["repaired"] += 1
        try:
            moments = video_moments(folder, encoder_for)
        except DamagedResult as exc:
            report(f"{exc}; left out of the search index")
            if manifest.pop(vid, None) is not None:
                counts["removed"] += 1
            continue
        if moments is None:
            continue
        buffer = io.BytesIO()
        np.savez(buffer, vectors=moments["vectors"], features=moments["features"], meta=np.array(json.dumps(moments["meta"])))
        sha = _sha256(buffer.getvalue())
        name = f"{vid}.{sha[:16]}.npz"
        atomic_write_bytes(shards / name, buffer.getvalue())
        counts["updated" if vid in manifest else "added"] += 1
        manifest[vid] = {"signature": signature, "model": moments["model"], "dim": int(moments["vectors"].shape[1]),
                         "moments": len(moments["meta"]), "shard": name, "sha256": sha}
    if damaged:
        counts["repaired"], counts["added"] = counts["added"], 0
    atomic_write_text(manifest_path, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    _save_ann(root, manifest)
    _remove_unnamed(root, manifest)
    return counts


def _remove_leftovers(root: Path) -> None:
    """Remove the temporary files (``.<name>.<random>.tmp``, :mod:`avpipe.atomic`) that a killed
    update left in the index folder: no other writer is running (the caller holds the lock)."""
    for folder in (root, root / SHARDS):
        for tmp in folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)


def _remove_unnamed(root: Path, manifest: dict) -> None:
    """Remove the shards and ANN files that the current manifest no longer names: earlier
    generations' (a reader still holding one of them finds it gone and reads the manifest
    again), and those a killed update wrote before its manifest."""
    named = {_shard_name(vid, entry) for vid, entry in manifest.items()}
    for shard in (root / SHARDS).glob("*.npz"):
        if shard.name not in named:
            shard.unlink(missing_ok=True)
    current = {_ann_path(root, name, manifest).name for name in MODALITIES}
    for ann in [*root.glob("ann-*.faiss"), *root.glob("ann-*.json")]:  # (.json: the stamps of older indexes)
        if ann.name not in current:
            ann.unlink(missing_ok=True)


@dataclass
class Collection:
    """All moments of an index, per modality: meta rows, unit vectors [N, D] (float16), image
    features [N, F] (frames only), and the faiss index when the modality is large."""

    model: str
    root: Path | None = None  # the results folder that thumbnail paths are relative to
    meta: dict[str, list[dict]] = field(default_factory=dict)
    vectors: dict[str, "np.ndarray"] = field(default_factory=dict)
    features: dict[str, "np.ndarray"] = field(default_factory=dict)
    ann: dict[str, object] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(len(m) for m in self.meta.values())

    def kept(self, name: str, modality: str, build: Callable[[list[dict]], Any]) -> Any:
        """``build(rows)`` of ``modality``'s meta rows (a lexical index, a concept index), made
        on first use and kept on the collection; made again if those rows were replaced."""
        rows = self.meta.get(modality, [])
        held = self.__dict__.get(f"_kept_{name}")
        if held is None or held[0] is not rows or held[1] != len(rows):
            held = (rows, len(rows), build(rows))
            self.__dict__[f"_kept_{name}"] = held
        return held[2]

    @property
    def dim(self) -> int:
        """The width of the space's vectors (what a query's vector must have)."""
        return next((v.shape[1] for v in self.vectors.values()), 0)

    @classmethod
    def from_arrays(cls, model: str, meta: list[dict], vectors: "np.ndarray", features: "np.ndarray | None" = None,
                    ann_min_rows: int = ANN_MIN_ROWS) -> "Collection":
        """A collection from rows in memory (benchmarks, and the loader below)."""
        import numpy as np

        c = cls(model=model)
        modality = np.array([m["modality"] for m in meta])
        for name in MODALITIES:
            pick = np.flatnonzero(modality == name)
            c.meta[name] = [meta[i] for i in pick]
            c.vectors[name] = np.ascontiguousarray(vectors[pick], np.float16)
            if features is not None and features.shape[1]:
                c.features[name] = np.ascontiguousarray(features[pick], np.float16)
            if len(pick) >= ann_min_rows:
                c.ann[name] = build_ann(c.vectors[name])
        return c


def build_ann(vectors: "np.ndarray"):
    """A faiss ``IVF{n},SQ8`` inner-product index over unit vectors (n ~ 4 sqrt(N) lists)."""
    import faiss
    import numpy as np

    n = len(vectors)
    lists = int(min(4096, max(64, 4 * np.sqrt(n))))
    index = faiss.index_factory(vectors.shape[1], f"IVF{lists},SQ8", faiss.METRIC_INNER_PRODUCT)
    sample = vectors[np.random.default_rng(0).choice(n, min(n, 64 * lists), replace=False)].astype(np.float32)
    index.train(sample)
    for lo in range(0, n, 200_000):
        index.add(vectors[lo : lo + 200_000].astype(np.float32))
    index.nprobe = 16
    return index


def _ann_path(root: Path, modality: str, manifest: dict) -> Path:
    return root / f"ann-{modality}-{_generation(manifest)}.faiss"


def _read_ann(path: Path, rows: int | None = None):
    """The faiss index saved at ``path`` when it is there and readable (and holds ``rows``
    vectors, when given); else None."""
    import faiss
    import numpy as np

    try:
        index = faiss.deserialize_index(np.frombuffer(path.read_bytes(), np.uint8))
    except (OSError, RuntimeError):
        return None
    if rows is not None and index.ntotal != rows:
        return None
    index.nprobe = 16
    return index


def _save_ann(root: Path, manifest: dict) -> None:
    """Build and save the ANN index of each large modality of this generation, unless a
    readable one is saved already."""
    if sum(v.get("moments", 0) for v in manifest.values()) < ANN_MIN_ROWS:
        return
    import faiss

    collection = None
    for name in MODALITIES:
        path = _ann_path(root, name, manifest)
        if _read_ann(path) is not None:
            continue
        collection = collection or _read_shards(root, manifest)
        if len(collection.meta[name]) >= ANN_MIN_ROWS:
            atomic_write_bytes(path, faiss.serialize_index(build_ann(collection.vectors[name])).tobytes())


def _read_shards(root: Path, manifest: dict) -> "Collection":
    """The collection a manifest names, without ANN indexes; :class:`IndexDamaged` when a shard
    is missing or does not match its checksum."""
    import io

    import numpy as np

    models = {v["model"] for v in manifest.values()}
    dims = {v["dim"] for v in manifest.values() if v.get("dim")}  # (a video of no moments has none)
    if len(models) > 1 or len(dims) > 1:
        raise AvpipeError(f"{root.parent}: videos were embedded by different models {sorted(models)} "
                          f"(widths {sorted(dims)}); reprocess them with one vision backend")
    meta, vectors, features = [], [], []
    for vid in sorted(manifest):
        path = root / SHARDS / _shard_name(vid, manifest[vid])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise IndexDamaged(f"shard of {vid} cannot be read ({exc.strerror or exc})", path) from None
        if _sha256(data) != manifest[vid]["sha256"]:
            raise IndexDamaged(f"shard of {vid} does not match its checksum (truncated or changed)", path)
        with np.load(io.BytesIO(data)) as shard:
            meta += json.loads(str(shard["meta"]))
            vectors.append(shard["vectors"])
            features.append(shard["features"])
    width = max((f.shape[1] for f in features), default=0)
    dim = max((v.shape[1] for v in vectors if len(v)), default=next(iter(dims), 384))
    vectors = np.concatenate([v.reshape(-1, dim) for v in vectors]) if vectors else np.zeros((0, dim), np.float16)
    feats = np.concatenate([f if f.shape[1] == width else np.zeros((len(f), width), np.float16) for f in features]) \
        if features and width else None
    collection = Collection.from_arrays(next(iter(models), DEFAULT_SPACE), meta, vectors, feats, ann_min_rows=10**12)
    collection.root = root.parent
    return collection


def load_index(index_dir: str | Path) -> Collection:
    """The collection of an index folder (``<out>`` or ``<out>/search``), with the ANN index of
    each large modality (the saved one of its generation, or one built in memory). Reads only:
    when a writer replaces the index meanwhile, the new generation is read (see the module
    docstring); :class:`IndexDamaged` when the index itself is damaged."""
    root = Path(index_dir)
    if (root / INDEX_DIR / "manifest.json").exists():
        root = root / INDEX_DIR
    manifest_path = root / "manifest.json"
    for attempt in range(READ_ATTEMPTS):
        try:
            data = manifest_path.read_bytes()
        except FileNotFoundError:
            raise AvpipeError(f"{index_dir}: no search index (run `avpipe run ... --out DIR` or `avpipe index DIR`)") \
                from None
        manifest = _parse_manifest(data)
        if manifest is None:
            raise IndexDamaged("the search index's manifest.json cannot be read", manifest_path)
        try:
            collection = _read_shards(root, manifest)
            break
        except IndexDamaged:
            try:
                moved_on = manifest_path.read_bytes() != data
            except OSError:
                moved_on = False
            if not moved_on or attempt == READ_ATTEMPTS - 1:
                raise
    for name in MODALITIES:
        rows = len(collection.meta[name])
        if rows >= ANN_MIN_ROWS:
            collection.ann[name] = _read_ann(_ann_path(root, name, manifest), rows) or build_ann(collection.vectors[name])
    return collection
