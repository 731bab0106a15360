"""Atomic writes: everything avpipe puts on disk appears whole under its real name, or not at all.

A file is written to a temporary name in the same folder, flushed, given the mode any other
tool would give it (``0666`` less the process umask; ``mkstemp`` creates ``0600`` and a rename
keeps the mode), and renamed into place. A video's whole result folder is built under a
temporary name and renamed in one step (:func:`publish_dir`).

A leaf module: the standard library only (numpy is imported by :func:`atomic_write_npz` when
called), so every layer may use it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

_UMASK: int | None = None


def umask() -> int:
    """The process umask, read without changing it where Linux allows (``/proc/self/status``)."""
    global _UMASK
    if _UMASK is None:
        try:
            with open("/proc/self/status", encoding="ascii") as f:
                line = next(x for x in f if x.startswith("Umask:"))
            _UMASK = int(line.split()[1], 8)
        except (OSError, StopIteration, ValueError):
            _UMASK = os.umask(0o022)  # elsewhere: read it by setting it, and put it straight back
            os.umask(_UMASK)
    return _UMASK


def file_mode() -> int:
    """The mode a newly created regular file gets here: ``0666`` less the umask."""
    return 0o666 & ~umask()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename (readers never see half)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), file_mode())
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """``text`` as UTF-8, atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_npz(path: Path, **arrays) -> None:
    """Numpy arrays as one uncompressed ``.npz``, written atomically."""
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def publish_dir(tmp_dir: Path, final_dir: Path) -> None:
    """Move a finished result folder into place, replacing an older one.

    The old folder is first renamed aside, then the new one renamed in, then the old removed, so
    at every moment the final name holds either a complete old result or a complete new one
    (or, for an instant between the two renames, nothing).
    """
    if final_dir.exists():
        aside = tmp_dir.parent / f"{final_dir.name}.old.{os.getpid()}"
        os.replace(final_dir, aside)
        os.replace(tmp_dir, final_dir)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(tmp_dir, final_dir)
