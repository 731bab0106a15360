"""Compare two ``avpipe run`` output folders, ignoring what may differ between runs of the same
code: wall-clock times (``seconds``), peak memory (``peak_rss_mb``), temporary paths and the ledger's pipeline key.

    python tests/compare_results.py OUT_A OUT_B      # exit 0: the same results, else a diff list

Used to show that a refactoring changed no result (result.json, subtitles, vectors.npz,
keyframe JPEGs, provenance) and by the engine-equality tests.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

#: Keys whose values are timings or identify one run, dropped before comparing.
VOLATILE = {"seconds", "time", "pipeline_key", "peak_rss_mb"}


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _diff(a, b, where: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                out.append(f"{where}.{key}: only in {'B' if key not in a else 'A'}")
            else:
                _diff(a[key], b[key], f"{where}.{key}", out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            _diff(x, y, f"{where}[{i}]", out)
    elif a != b:
        out.append(f"{where}: {str(a)[:80]!r} != {str(b)[:80]!r}")


def compare_folders(a: Path, b: Path) -> list[str]:
    """Differences between two result folders (one video each, or whole output folders)."""
    import numpy as np

    problems: list[str] = []
    names_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file() and not _skipped(p.relative_to(a))}
    names_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file() and not _skipped(p.relative_to(b))}
    for name in sorted(names_a ^ names_b):
        problems.append(f"{name}: only in {'A' if name in names_a else 'B'}")
    for name in sorted(names_a & names_b):
        pa, pb = a / name, b / name
        if name.suffix in (".json",) or name.name.endswith(".jsonl"):
            lines_a = [_strip(json.loads(x)) for x in pa.read_text().splitlines() if x.strip()] \
                if name.suffix == ".jsonl" else [_strip(json.loads(pa.read_text()))]
            lines_b = [_strip(json.loads(x)) for x in pb.read_text().splitlines() if x.strip()] \
                if name.suffix == ".jsonl" else [_strip(json.loads(pb.read_text()))]
            _diff(lines_a, lines_b, str(name), problems)
        elif name.suffix == ".npz":
            za, zb = np.load(pa), np.load(pb)
            if sorted(za.files) != sorted(zb.files):
                problems.append(f"{name}: arrays {sorted(za.files)} != {sorted(zb.files)}")
            for key in set(za.files) & set(zb.files):
                if za[key].shape != zb[key].shape or not np.array_equal(za[key], zb[key], equal_nan=za[key].dtype.kind == "f"):
                    problems.append(f"{name}[{key}]: arrays differ")
        elif pa.read_bytes() != pb.read_bytes():
            problems.append(f"{name}: bytes differ")
    return problems


def _skipped(name: Path) -> bool:
    # The HTML pages embed stage timings; the log and the lock are per run; search shards embed mtimes.
    return (name.suffix == ".html" or name.name.startswith("log") or name.name == ".avpipe.lock"
            or name.parts[0] in ("search", ".avpipe-tmp"))


if __name__ == "__main__":
    found = compare_folders(Path(sys.argv[1]), Path(sys.argv[2]))
    print("\n".join(found) or "same results")
    sys.exit(1 if found else 0)
