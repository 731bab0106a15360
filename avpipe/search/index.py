"""The moment index of a results folder: keyframes and speech segments of every processed video,
as vectors in the shared text-image space with their video ids, times and texts.

Layout, beside the results (``<out>/search/``):
  ``shards/<video_id>.npz``  one video's moments: ``vectors`` [n, D] float16 (shared space),
                            ``features`` [n, F] float16 (the image encoder's own features, for
                            image-to-image search; zeros on speech rows) and ``meta`` (JSON);
  ``manifest.json``         per video: the signature (size and mtime of its result.json and
                            vectors.npz) that its shard was made from, the shard's sha256, and
                            the space's model;
  ``ann-<modality>.faiss``  for large collections: a faiss IVF index per modality, with the
                            shard list it covers (``ann.json``), rebuilt when that list changes.

Updating is incremental (:func:`update_index`, called at the end of ``avpipe run``): only videos
whose result changed get a new shard, and shards of videos that are gone are removed. Damage is
found by checksum: an update remakes a shard whose bytes no longer match the manifest (and the
whole manifest when it cannot be read), and loading raises :class:`IndexDamaged`, which the
command line answers by repairing the index from the results. Search is
exact (one matrix product) up to :data:`ANN_MIN_ROWS` moments of a modality; above it, an
inverted-file index with 8-bit scalar quantisation (faiss ``IVF,SQ8``, inner product) proposes
candidates that are re-scored exactly from the float16 vectors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..atomic import atomic_write_bytes, atomic_write_text
from ..errors import AvpipeError, IndexDamaged

if TYPE_CHECKING:
    import numpy as np

INDEX_DIR = "search"
#: Above this many moments of one modality, search goes through a faiss IVF index.
ANN_MIN_ROWS = 50_000
MODALITIES = ("frames", "speech")
#: A frame moment spans its shot, cut to this many seconds either side of the keyframe.
FRAME_SPAN_S = 5.0


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _read_manifest(path: Path) -> dict | None:
    """The manifest, {} when there is none, None when it is damaged."""
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(manifest, dict) and all(isinstance(v, dict) and {"signature", "model", "sha256"} <= set(v)
                                            for v in manifest.values())
    return manifest if ok else None


def _signature(folder: Path) -> str:
    parts = []
    for name in ("result.json", "vectors.npz"):
        p = folder / name
        if p.exists():
            st = p.stat()
            parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


def video_moments(folder: Path, encoder_for=None) -> dict | None:
    """The moments of one result folder as arrays + meta rows, or None when it has no result.

    Frame moments span the keyframe's shot; speech moments span their segment. A captioned
    keyframe (the captions stage) adds a second frame moment: its caption's text vector. Segment vectors
    come from ``vectors.npz`` (the fusion stage writes them); for results made without that
    stage they are computed with ``encoder_for(model)`` when it is given.
    """
    import numpy as np

    from ..schema import Result

    if not (folder / "result.json").is_file():
        return None
    result = Result.model_validate_json((folder / "result.json").read_text(encoding="utf-8"))
    arrays = dict(np.load(folder / "vectors.npz")) if (folder / "vectors.npz").is_file() else {}
    model = str(arrays["model"]) if "model" in arrays else "efficientnet-lite0:efficientnet-lite0"
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
               "thumbnail": f"{folder.name}/{k.thumbnail}" if k.thumbnail else None}
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


def space_encoder(model: str):
    """The encoder of the index's space, from its recorded name (``backend:model``)."""
    from ..options import VisionOptions
    from ..vision import load_encoder

    backend, _, name = model.partition(":")
    options = VisionOptions(backend=backend, clip_model=name if backend == "clip" else None)
    return load_encoder(options)


def update_index(out: str | Path, encoder_for=None) -> dict:
    """Bring ``out/search/`` up to date with the result folders under ``out``. Returns counts of
    videos added, updated, removed, kept, and repaired (shards remade because their bytes no
    longer matched the manifest; with a damaged manifest, every shard). ``encoder_for(model)``
    embeds transcript segments of results that lack their embeddings (made without the fusion
    stage); by default the encoder of that space is loaded, only when such a result turns up."""
    import io

    import numpy as np

    encoder_for = encoder_for or space_encoder
    out = Path(out)
    root = out / INDEX_DIR
    shards = root / "shards"
    shards.mkdir(parents=True, exist_ok=True)
    manifest_path = root / "manifest.json"
    manifest = _read_manifest(manifest_path)
    counts = {"added": 0, "updated": 0, "removed": 0, "kept": 0, "repaired": 0}
    damaged = manifest is None
    if damaged:  # every shard is remade from the results
        manifest = {}
        for stale in shards.glob("*.npz"):
            stale.unlink(missing_ok=True)
    present = {p.parent.name: p.parent for p in out.glob("*/result.json") if p.parent.name != INDEX_DIR}
    for vid in sorted(set(manifest) - set(present)):
        (shards / f"{vid}.npz").unlink(missing_ok=True)
        del manifest[vid]
        counts["removed"] += 1
    for vid, folder in sorted(present.items()):
        signature = _signature(folder)
        known = manifest.get(vid, {})
        if known.get("signature") == signature:
            try:
                intact = _sha256((shards / f"{vid}.npz").read_bytes()) == known["sha256"]
            except OSError:
                intact = False
            if intact:
                counts["kept"] += 1
                continue
            counts["repaired"] += 1
        moments = video_moments(folder, encoder_for)
        if moments is None:
            continue
        buffer = io.BytesIO()
        np.savez(buffer, vectors=moments["vectors"], features=moments["features"], meta=np.array(json.dumps(moments["meta"])))
        atomic_write_bytes(shards / f"{vid}.npz", buffer.getvalue())
        counts["updated" if vid in manifest else "added"] += 1
        manifest[vid] = {"signature": signature, "model": moments["model"], "moments": len(moments["meta"]),
                         "sha256": _sha256(buffer.getvalue())}
    if damaged:
        counts["repaired"], counts["added"] = counts["added"], 0
    atomic_write_text(manifest_path, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return counts


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


def load_index(index_dir: str | Path) -> Collection:
    """The collection of an index folder (``<out>`` or ``<out>/search``), its ANN indexes loaded
    or (re)built and saved when the shard set changed."""
    import io

    import numpy as np

    root = Path(index_dir)
    if (root / INDEX_DIR / "manifest.json").exists():
        root = root / INDEX_DIR
    manifest_path = root / "manifest.json"
    if not manifest_path.exists():
        raise AvpipeError(f"{index_dir}: no search index (run `avpipe run ... --out DIR` or `avpipe index DIR`)")
    manifest = _read_manifest(manifest_path)
    if manifest is None:
        raise IndexDamaged("the search index's manifest.json cannot be read", manifest_path)
    models = {v["model"] for v in manifest.values()}
    if len(models) > 1:
        raise AvpipeError(f"{index_dir}: videos were embedded by different models {sorted(models)}; "
                          "reprocess them with one vision backend")
    meta, vectors, features = [], [], []
    for vid in sorted(manifest):
        path = root / "shards" / f"{vid}.npz"
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise IndexDamaged(f"shard of {vid} cannot be read ({exc.strerror or exc})", path) from None
        if _sha256(data) != manifest[vid]["sha256"]:
            raise IndexDamaged(f"shard of {vid} does not match its checksum (truncated or changed)", path)
        with np.load(io.BytesIO(data)) as shard:
            rows = json.loads(str(shard["meta"]))
            meta += rows
            vectors.append(shard["vectors"])
            features.append(shard["features"])
    width = max((f.shape[1] for f in features), default=0)
    dim = max((v.shape[1] for v in vectors if len(v)), default=384)
    vectors = np.concatenate([v.reshape(-1, dim) for v in vectors]) if vectors else np.zeros((0, dim), np.float16)
    feats = np.concatenate([f if f.shape[1] == width else np.zeros((len(f), width), np.float16) for f in features]) \
        if features and width else None
    collection = Collection.from_arrays(next(iter(models), "efficientnet-lite0:efficientnet-lite0"), meta, vectors,
                                        feats, ann_min_rows=10**12)
    collection.root = root.parent
    key = json.dumps(sorted((vid, v["signature"]) for vid, v in manifest.items()))
    for name in MODALITIES:
        if len(collection.meta[name]) < ANN_MIN_ROWS:
            continue
        import faiss

        path, stamp = root / f"ann-{name}.faiss", root / f"ann-{name}.json"
        try:
            fresh = path.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == key
            if fresh:
                collection.ann[name] = faiss.read_index(str(path))
                collection.ann[name].nprobe = 16
        except (OSError, RuntimeError, UnicodeDecodeError):  # a damaged ANN file is rebuilt below
            fresh = False
        if not fresh:
            collection.ann[name] = build_ann(collection.vectors[name])
            tmp = path.with_name(f".{path.name}.tmp")
            faiss.write_index(collection.ann[name], str(tmp))
            tmp.replace(path)
            atomic_write_text(stamp, key)
    return collection
