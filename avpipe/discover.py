"""Finding the inputs of a batch and giving each a stable ``video_id``.

Folders are walked recursively. A file is taken when its first bytes say it is a video
container (``filetype``'s signatures, plus MPEG transport streams, which it lacks), or when its
name ends in a video extension, so that a damaged or misnamed ``.mp4`` is reported as an error
instead of silently skipped. Hidden files and folders are skipped. Files named on the command
line are always taken, whatever they hold (an audio file yields a transcript-only result).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

#: Extensions taken in a folder walk even when the content is not recognised (to report them).
VIDEO_EXTENSIONS = frozenset(
    ".mp4 .m4v .mov .mkv .webm .avi .wmv .asf .flv .mpg .mpeg .ts .mts .m2ts .3gp .3g2 .ogv .vob .mxf .dv".split()
)


@dataclass(frozen=True)
class Input:
    """One input of a batch: what the user named, its path, and its id."""

    input: str
    path: Path
    video_id: str
    # The ledger's content key (size + sampled hash), once the batch has computed it, so the
    # worker does not read the file's samples a second time.
    content_key: str | None = None


def is_video_file(path: Path) -> bool:
    """Whether the first bytes of ``path`` are those of a video container."""
    import filetype

    try:
        with open(path, "rb") as f:
            head = f.read(8192)
    except OSError:
        return False
    kind = filetype.guess(head)  # all matchers: an .m4a is audio/mp4, not video/mp4
    if kind is not None:
        return kind.mime.startswith("video/")
    # MPEG-TS: a 0x47 sync byte every 188 bytes (filetype has no matcher for it).
    return len(head) >= 188 * 3 and all(head[i] == 0x47 for i in (0, 188, 376))


def video_id_for(path: Path) -> str:
    """``<readable stem>-<8 hex>``: the hash is of the resolved absolute path, so the same file
    always gets the same id, and two ``clip.mp4`` in different folders get different ones."""
    resolved = os.path.realpath(path)
    digest = hashlib.blake2b(resolved.encode("utf-8", "surrogateescape"), digest_size=4).hexdigest()
    stem = unicodedata.normalize("NFKD", path.stem).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:48] or "video"
    return f"{stem}-{digest}"


def _special(path: Path) -> bool:
    """Whether ``path`` exists but is no regular file (a FIFO, socket or device), found without
    opening it (a dangling link is not special: with a video name it becomes an error record)."""
    try:
        return not stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def _walk(folder: Path, passed: list[Path] | None) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            p = Path(root) / name
            if _special(p):  # a FIFO would block the walk on open; a socket or device is no video
                if passed is not None:
                    passed.append(p)
                continue
            if p.suffix.lower() in VIDEO_EXTENSIONS or is_video_file(p):
                found.append(p)
    return found


def discover(inputs: list[str], passed: list[Path] | None = None) -> list[Input]:
    """Expand files and folders into inputs, in a stable order, each real file once.

    A path named directly is always kept, even one that does not exist or is not a regular
    file (it becomes an error record, not a crash). In folders, FIFOs, sockets and devices are
    passed over without being opened, and appended to ``passed`` when it is given.
    """
    seen: set[str] = set()
    out: list[Input] = []
    for raw in inputs:
        p = Path(raw)
        paths = _walk(p, passed) if p.is_dir() else [p]
        for path in paths:
            key = os.path.realpath(path)
            if key in seen:
                continue
            seen.add(key)
            out.append(Input(input=raw if path == p else str(path), path=path, video_id=video_id_for(path)))
    return out
