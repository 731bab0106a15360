"""The ledger that makes batches resumable: what each finished result was made from.

Every result folder carries ``provenance.json``: the input's content key, the pipeline key and
the avpipe version. It is written inside the folder before the folder is renamed into place, so
a result and its ledger entry appear together or not at all, whatever kills the run. A rerun
skips an input whose folder holds a matching entry (``status: skipped``) and redoes one whose
content or pipeline changed. Failed inputs leave no entry, so a rerun tries them again.

Content key: the file size plus a BLAKE2b digest of its first, middle and last MiB. Reading whole
multi-GB videos to hash them would cost more than a skip saves; an edit that changes neither the
size nor those three MiB is not detected (re-encodes, trims and appends all are).
Pipeline key: a SHA-256 of every option of the pipeline, the output formats and avpipe's version.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

from . import __version__
from .options import PipelineOptions

KEY_FILE = "provenance.json"
_PROBE = 1 << 20


def content_key(path: Path) -> str:
    """``<size>-<blake2b of the first, middle and last MiB>`` (see the module docstring)."""
    size = os.path.getsize(path)
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        for offset in sorted({0, max(0, size // 2 - _PROBE // 2), max(0, size - _PROBE)}):
            f.seek(offset)
            h.update(f.read(_PROBE))
    return f"{size}-{h.hexdigest()}"


def pipeline_key(options: PipelineOptions, formats: tuple[str, ...]) -> str:
    """A digest of everything that shapes a result: the pipeline's options, formats, version."""
    text = json.dumps({"pipeline": dataclasses.asdict(options), "formats": sorted(set(formats)), "avpipe": __version__},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def entry(input: str, content: str, pipeline: str, pipeline_name: str, source: str | None = None) -> dict:
    """The ledger entry of one result; ``source`` is the input's resolved path, which says whose
    folder this is (see :func:`made_from`)."""
    made = {"input": input, "content_key": content, "pipeline_key": pipeline, "pipeline": pipeline_name,
            "avpipe_version": __version__}
    if source is not None:
        made["source"] = source
    return made


def made_from(result_dir: Path) -> str | None:
    """The resolved path of the input whose result ``result_dir`` holds, when its ledger entry
    records one (entries written before it did say nothing, and then nobody owns the folder)."""
    try:
        made = json.loads((result_dir / KEY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    source = made.get("source") if isinstance(made, dict) else None
    return source if isinstance(source, str) else None


def finished(result_dir: Path, content: str, pipeline: str) -> bool:
    """Whether ``result_dir`` holds a complete result made from this content by this pipeline."""
    try:
        made = json.loads((result_dir / KEY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (made.get("content_key") == content and made.get("pipeline_key") == pipeline
            and (result_dir / "result.json").is_file())
