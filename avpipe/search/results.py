"""The results a folder lists, read back safely: one rule for ``index.jsonl``, ``index.html``
and the search index.

A result folder ``out/<video_id>/`` is *listed* when a record of ``out/index.jsonl`` (or of a
shard's ``out/index.shard-I-of-N.jsonl``) names it with status ``ok`` or ``skipped`` and its
``result.json`` is there. The batch page shows those records, and the search index is built
from exactly those folders (:func:`listed_results`), so the three always agree. A folder that no
record lists any more (the input was a symlink that now points at another file, so its next run
made another id) stays on disk, out of the page and out of search, until
``avpipe index DIR --prune`` removes it (:func:`prune_unlisted`).

A folder with no index file at all (result folders copied together by hand) lists every result
folder in it: nothing there says otherwise, and nothing in it is pruned.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..schema import IndexRecord, Result

#: Record statuses whose result a folder lists.
LISTED = ("ok", "skipped")


def index_files(out: Path) -> list[Path]:
    """The index files of a results folder: ``index.jsonl``, then the shards' ones, if any."""
    return [p for p in [out / "index.jsonl", *sorted(out.glob("index.shard-*.jsonl"))] if p.is_file()]


def read_records(path: Path) -> tuple[list["IndexRecord"], int]:
    """The records of one index file, and how many of its lines could not be read (dropped)."""
    from ..schema import IndexRecord

    records, damaged = [], 0
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return records, damaged
    for line in filter(str.strip, lines):
        try:
            records.append(IndexRecord.model_validate_json(line))
        except ValueError:
            damaged += 1
    return records, damaged


def _records(out: Path, whole: bool = False) -> list["IndexRecord"]:
    """The records of every index file. With ``whole``, an :class:`~avpipe.errors.AvpipeError`
    when a line cannot be read: what it named would look unnamed."""
    from ..errors import AvpipeError

    found = []
    for path in index_files(out):
        records, damaged = read_records(path)
        if whole and damaged:
            raise AvpipeError(f"{damaged} of its lines cannot be read, so it may not name every result; nothing "
                              "is pruned (`avpipe run` rewrites it whole)", path)
        found += records
    return found


def _folder_of(out: Path, record: "IndexRecord") -> Path | None:
    """The result folder a record's ``result`` (``<video_id>/result.json``) names, or None when it
    names none, or names a path outside ``out``."""
    parts = Path(record.result).parts if record.result else ()
    if len(parts) != 2 or parts[1] != "result.json" or parts[0] in (".", ".."):
        return None
    return out / parts[0]


def listed_results(out: str | Path) -> dict[str, Path]:
    """The result folders ``out`` lists (see the module docstring), by video id."""
    out = Path(out)
    if not index_files(out):
        return {p.parent.name: p.parent for p in sorted(out.glob("*/result.json")) if not p.parent.name.startswith(".")}
    listed = {}
    for record in _records(out):
        folder = _folder_of(out, record)
        if record.status in LISTED and folder is not None and (folder / "result.json").is_file():
            listed[folder.name] = folder
    return listed


def unlisted_results(out: str | Path) -> list[Path]:
    """Result folders in ``out`` that no index record names, by its video id or its result: the
    leftovers :func:`prune_unlisted` removes. A folder an ``error`` record names is kept (its
    input failed this time; its earlier result is not listed, but not given up either). Empty
    when ``out`` has no index file; an :class:`~avpipe.errors.AvpipeError` when one is damaged."""
    from ..ledger import KEY_FILE

    out = Path(out)
    if not index_files(out):
        return []
    named = set()
    for record in _records(out, whole=True):
        folder = _folder_of(out, record)
        named.update(name for name in (record.video_id, folder and folder.name) if name)
    return [p for p in sorted(out.iterdir())
            if p.is_dir() and not p.name.startswith(".") and p.name not in named
            and ((p / "result.json").exists() or (p / KEY_FILE).exists())]


def prune_unlisted(out: str | Path) -> list[Path]:
    """Remove the result folders no index record names (:func:`unlisted_results`); the removed
    folders. Hold the folder's lock (``avpipe index --prune`` does): a running batch publishes
    result folders before its index names them."""
    removed = unlisted_results(out)
    for folder in removed:
        shutil.rmtree(folder)
    return removed


def read_result(result_dir: str | Path) -> "Result":
    """The result in a result folder (or a ``result.json`` path), or :class:`DamagedResult`
    naming the file and saying, in one line, why it cannot be read."""
    from pydantic import ValidationError

    from ..errors import DamagedResult
    from ..schema import Result

    path = Path(result_dir)
    path = path / "result.json" if path.is_dir() else path
    if path.name != "result.json" or not path.is_file():
        raise DamagedResult("not a result folder: it holds no result.json (give DIR/<video_id> of an `avpipe run`)",
                            result_dir)
    try:
        return Result.model_validate_json(path.read_bytes())
    except ValidationError as exc:  # its first error, not pydantic's many-line report
        first = exc.errors()[0]
        where = ".".join(map(str, first.get("loc", ())))
        why = f"{where}: {first['msg']}" if where else first["msg"]
    except (OSError, ValueError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    raise DamagedResult(f"result.json cannot be read ({why}); run the video again with `avpipe run --force`", path)
