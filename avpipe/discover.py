"""Finding the inputs of a batch and giving each a stable ``video_id``.

Folders are walked recursively. A file is taken when its first bytes say it is a video
container (``filetype``'s signatures, plus MPEG transport streams, which it lacks), or when its
name ends in a video extension, so that a damaged or misnamed ``.mp4`` is reported as an error
instead of silently skipped. Hidden files and folders are skipped. Files named on the command
line are always taken, whatever they hold (an audio file yields a transcript-only result).

Nothing is passed over in silence: FIFOs, sockets and devices found in a folder, and places the
walk could not look into (a folder the user may not read, a path longer than the system allows),
are handed back to the caller, which logs them.
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


def _holds_video(path: Path) -> bool:
    """Whether the first bytes of ``path`` are those of a video container; raises ``OSError``
    when it cannot be read."""
    import filetype

    with open(path, "rb") as f:
        head = f.read(8192)
    kind = filetype.guess(head)  # all matchers: an .m4a is audio/mp4, not video/mp4
    if kind is not None:
        return kind.mime.startswith("video/")
    # MPEG-TS: a 0x47 sync byte every 188 bytes (filetype has no matcher for it).
    return len(head) >= 188 * 3 and all(head[i] == 0x47 for i in (0, 188, 376))


def is_video_file(path: Path) -> bool:
    """Whether the first bytes of ``path`` are those of a video container (False when it cannot
    be read)."""
    try:
        return _holds_video(path)
    except OSError:
        return False


def video_id_for(path: Path, salt: int = 0) -> str:
    """``<readable stem>-<16 hex>``: the hash is of the resolved absolute path, so the same file
    always gets the same id, and two ``clip.mp4`` in different folders get different ones.

    The hash has 64 bits: among a million files of one name, the chance that two share an id is
    about 3e-8 (with the 32 bits ids had before, 100,000 files collided more often than not).
    ``salt`` > 0 gives the same file other ids, for :func:`discover` to use in the unlikely case
    that two inputs of one batch still meet."""
    resolved = os.path.realpath(path) + (f"\0{salt}" if salt else "")
    digest = hashlib.blake2b(resolved.encode("utf-8", "surrogateescape"), digest_size=8).hexdigest()
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


def _walk(folder: Path, passed: list[Path] | None, unreadable: list[tuple[Path, OSError]] | None) -> list[Path]:
    """The video files under ``folder``; FIFOs and the like go to ``passed``, and what could not
    be read (a folder, or a file whose content had to be looked at) to ``unreadable``."""

    def cannot_read(path: Path, exc: OSError) -> None:
        if unreadable is not None:
            unreadable.append((path, exc))

    found = []
    # os.walk calls onerror for a folder it cannot list (EACCES; ENAMETOOLONG past PATH_MAX), and
    # would otherwise go on without a word.
    for root, dirs, files in os.walk(folder, onerror=lambda exc: cannot_read(Path(exc.filename), exc)):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            p = Path(root) / name
            if _special(p):  # a FIFO would block the walk on open; a socket or device is no video
                if passed is not None:
                    passed.append(p)
                continue
            try:
                if p.suffix.lower() in VIDEO_EXTENSIONS or _holds_video(p):
                    found.append(p)
            except FileNotFoundError:
                pass  # gone since it was listed, or a dangling link without a video name
            except OSError as exc:
                cannot_read(p, exc)
    return found


def discover(inputs: list[str], passed: list[Path] | None = None,
             unreadable: list[tuple[Path, OSError]] | None = None) -> list[Input]:
    """Expand files and folders into inputs, in a stable order, each real file once, each with
    an id of its own.

    A path named directly is always kept, even one that does not exist or is not a regular
    file (it becomes an error record, not a crash). In folders, FIFOs, sockets and devices are
    passed over without being opened, and appended to ``passed`` when it is given; folders that
    cannot be listed and files that cannot be read are appended to ``unreadable``, with the error,
    so that the caller can report them: their videos are missing from the batch.

    Two different files never share a ``video_id`` (the name of their result folder): should
    their hashes meet, the later one gets a salted id (:func:`video_id_for`).
    """
    seen: set[str] = set()
    owners: dict[str, str] = {}  # video_id -> the resolved path it was given to
    out: list[Input] = []
    for raw in inputs:
        p = Path(raw)
        paths = _walk(p, passed, unreadable) if p.is_dir() else [p]
        for path in paths:
            key = os.path.realpath(path)
            if key in seen:
                continue
            seen.add(key)
            salt = 0
            video_id = video_id_for(path)
            while owners.setdefault(video_id, key) != key:
                salt += 1
                video_id = video_id_for(path, salt)
            out.append(Input(input=raw if path == p else str(path), path=path, video_id=video_id))
    return out
