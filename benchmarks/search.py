"""Search speed: query latency and index size for synthetic collections of moments.

    .venv/bin/python benchmarks/search.py [--sizes 10000 1000000] [--queries 200]

Moments are random unit vectors in the 384-d shared space, drawn around 2,000 cluster centres
(real embeddings cluster by topic; uniform noise would be the worst case for an IVF index). For
each size it prints: the index build time, bytes on disk/in memory (float16 vectors, plus the
faiss IVF-SQ8 index above the exact-search threshold), the median and 95th-percentile latency
of one query (search and merge, text already embedded), the same with the MiniLM text encoding
included, and recall@10 of the approximate search against exact search (1.0 when exact).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avpipe.search.index import ANN_MIN_ROWS, Collection  # noqa: E402
from avpipe.search.query import search  # noqa: E402


def synthetic(n: int, dim: int = 384, clusters: int = 2000, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = np.empty((n, dim), np.float16)
    for lo in range(0, n, 100_000):
        m = min(100_000, n - lo)
        v = centres[rng.integers(0, clusters, m)] + 0.08 * rng.standard_normal((m, dim)).astype(np.float32)
        vectors[lo : lo + m] = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float16)
    meta = [{"video_id": f"v{i // 500}", "modality": "speech" if i % 2 else "frames", "t": float(i % 500),
             "start": float(i % 500) * 4, "end": float(i % 500) * 4 + 3, "text": "", "thumbnail": None} for i in range(n)]
    return meta, vectors


class FixedText:
    """Stands in for the text encoder: returns prepared query vectors (search cost only)."""

    def __init__(self, vectors):
        self.vectors, self.i = vectors, 0

    def encode_texts(self, texts):
        v = self.vectors[self.i % len(self.vectors)]
        self.i += 1
        return v[None, :]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    from avpipe.vision.text import load_text

    minilm = load_text()
    texts = [f"the moment where the engineer talks about topic {i}" for i in range(args.queries)]
    print(f"exact search below {ANN_MIN_ROWS:,} moments per modality; faiss IVF-SQ8 above")
    for n in args.sizes:
        meta, vectors = synthetic(n)
        t0 = time.perf_counter()
        collection = Collection.from_arrays("efficientnet-lite0:efficientnet-lite0", meta, vectors)
        build = time.perf_counter() - t0
        size = vectors.nbytes + sum(a.sa_code_size() * a.ntotal + a.d * a.nlist * 4 for a in collection.ann.values())
        queries = vectors[np.random.default_rng(1).choice(n, args.queries)].astype(np.float32)
        queries += 0.05 * np.random.default_rng(2).standard_normal(queries.shape).astype(np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        encoder = FixedText(queries)
        search(collection, text="warm up", k=10, encoder=encoder)
        latencies, recalls = [], []
        for q in range(args.queries):
            t0 = time.perf_counter()
            found = search(collection, text="x", k=10, modality="speech", encoder=encoder)
            latencies.append(time.perf_counter() - t0)
            if collection.ann and q < 50:
                exact = collection.vectors["speech"].astype(np.float32) @ queries[(encoder.i - 1) % len(queries)]
                truth = {(collection.meta["speech"][int(r)]["video_id"], collection.meta["speech"][int(r)]["start"])
                         for r in np.argsort(-exact)[:10]}
                recalls.append(len(truth & {(m.video_id, m.start) for m in found}) / 10)
        with_text = []
        for text in texts[:50]:
            t0 = time.perf_counter()
            q = minilm.encode([text])[0]
            search(collection, text="x", k=10, modality="speech", encoder=FixedText(q[None, :]))
            with_text.append(time.perf_counter() - t0)
        lat = sorted(latencies)
        print(f"{n:>9,} moments: build {build:6.1f} s, size {size / 2**20:7.1f} MiB, "
              f"query median {statistics.median(lat) * 1000:6.2f} ms, p95 {lat[int(0.95 * len(lat))] * 1000:6.2f} ms, "
              f"with text encoding median {statistics.median(with_text) * 1000:6.2f} ms, "
              f"recall@10 vs exact {statistics.mean(recalls) if recalls else 1.0:.3f}", flush=True)


if __name__ == "__main__":
    main()
