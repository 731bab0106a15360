"""The results folder as ``avpipe serve`` sees it: what it lists, each result read once per
version, and the only files it may hand out.

Everything here reads; nothing writes. A running ``avpipe run`` may be adding to the folder:
it publishes a result folder in one rename, rewrites ``index.jsonl`` atomically and replaces the
search index generation by generation, so every read here sees a whole file, old or new. Each
request looks again (the listing is one small file), so a new video appears on the next reload
without a restart; a result is parsed again only when its ``result.json`` changed (its size and
mtime, :class:`Library` keeps the last parse of each).

Files served (:meth:`Library.result_file`, :meth:`Library.original`): only files inside a
result folder the folder lists, of the kinds a page needs (keyframes, subtitles, the result
itself), after resolving every symlink, and each video's recorded input. A path with ``..``, an
absolute path, a hidden name, or a symlink that leads outside the result folder is refused.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from ..schema import IndexRecord, Result

#: File kinds a result folder may serve, by suffix, with their content types.
SERVED_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".vtt": "text/vtt; charset=utf-8",
                ".srt": "application/x-subrip; charset=utf-8", ".json": "application/json"}  # JSON: result.json only
#: Content types of original videos by suffix (what browsers look for; the rest as octets).
VIDEO_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm",
               ".mkv": "video/x-matroska", ".ogv": "video/ogg", ".ogg": "audio/ogg", ".mp3": "audio/mpeg",
               ".m4a": "audio/mp4", ".wav": "audio/wav", ".flac": "audio/flac", ".opus": "audio/ogg",
               ".avi": "video/x-msvideo", ".ts": "video/mp2t", ".mpg": "video/mpeg", ".mpeg": "video/mpeg"}


class NotServed(Exception):
    """A file that is not there or may not be served; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 404):
        super().__init__(message)
        self.status = status


@dataclass
class Original:
    """Where a video's recorded input is now: ``path`` when it can be played, else ``problem``."""

    path: Path | None
    problem: str | None
    content_type: str = "application/octet-stream"


def files_url(video_id: str, relative: str | Path) -> str:
    """The app's URL of a file of a result folder (``/files/<id>/<path>``, each part quoted)."""
    return "/files/" + "/".join(quote(part) for part in (video_id, *Path(relative).parts))


def media_url(video_id: str) -> str:
    """The app's URL of a video's original (``/media/<id>``)."""
    return f"/media/{quote(video_id)}"


def inside(path: Path, folder: Path) -> bool:
    """Whether ``path``, every symlink resolved, lies in ``folder`` (itself resolved)."""
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a name too long, a NUL byte
        return False


def _signature(paths: list[Path]) -> tuple:
    """What changes when any of these files is replaced (each write is a rename: a new inode)."""
    sig = []
    for path in paths:
        try:
            st = path.stat()
            sig.append((path.name, st.st_ino, st.st_size, st.st_mtime_ns))
        except OSError:
            sig.append((path.name, None))
    return tuple(sig)


class Library:
    """A results folder read for serving (see the module docstring)."""

    def __init__(self, out: str | Path):
        self.out = Path(out).resolve()
        self._lock = threading.Lock()
        self._parsed: dict[str, tuple[tuple[int, int, int], "Result"]] = {}
        self._listed: tuple[tuple, dict[str, Path]] | None = None
        #: Lines of the index files that could not be read at the last listing (shown, not hidden).
        self.damaged_lines = 0

    # ------------------------------------------------------------------ listing

    def records(self) -> list["IndexRecord"]:
        """Every input the folder's index files record, one per input (its record in
        ``index.jsonl``, else in the first shard's file naming it); with no index file, one
        ``ok`` record per result folder (folders copied together by hand)."""
        from ..schema import IndexRecord
        from ..search.results import index_files, listed_results, read_records

        files = index_files(self.out)
        if not files:
            return [IndexRecord(input=self._input_of(vid, folder), video_id=vid, status="ok",
                                result=f"{vid}/result.json") for vid, folder in listed_results(self.out).items()]
        seen, found, damaged = set(), [], 0
        for path in files:  # index.jsonl, then the shards' files; an input's first record counts
            records, bad = read_records(path)
            damaged += bad
            for record in records:
                if record.input not in seen:
                    seen.add(record.input)
                    found.append(record)
        self.damaged_lines = damaged
        return found

    def _input_of(self, video_id: str, folder: Path) -> str:
        """The input a result folder was made from, for a folder without an index file."""
        try:
            return self.result(video_id, folder).video.path
        except Exception:  # noqa: BLE001 - the listing shows it as damaged
            return video_id

    def folders(self) -> dict[str, Path]:
        """The result folders the folder lists, by video id (:func:`~avpipe.search.results.listed_results`),
        worked out again only when an index file changed (or, without one, every time)."""
        from ..search.results import index_files, listed_results

        files = index_files(self.out)
        if not files:
            return listed_results(self.out)
        sig = _signature(files)
        with self._lock:
            kept = self._listed
        if kept is not None and kept[0] == sig:
            return kept[1]
        listed = listed_results(self.out)
        with self._lock:
            self._listed = (sig, listed)
        return listed

    def folder(self, video_id: str) -> Path:
        """The listed result folder of ``video_id``, or :class:`NotServed`."""
        folder = self.folders().get(video_id)
        if folder is None or not inside(folder, self.out):
            raise NotServed(f"no video {video_id!r} in this results folder")
        return folder

    def result(self, video_id: str, folder: Path | None = None) -> "Result":
        """The result of a listed video, parsed again only when its file changed; a damaged one
        is :class:`~avpipe.errors.DamagedResult`."""
        from ..search.results import read_result

        path = (folder or self.folder(video_id)) / "result.json"
        try:
            st = path.stat()
        except OSError:
            raise NotServed(f"the result of {video_id!r} is gone (its folder is being replaced, or was removed)") \
                from None
        version = (st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            kept = self._parsed.get(video_id)
        if kept and kept[0] == version:
            return kept[1]
        result = read_result(path)
        with self._lock:
            self._parsed[video_id] = (version, result)
        return result

    # ------------------------------------------------------------------ files

    def result_file(self, video_id: str, relative: str) -> tuple[Path, str]:
        """(path, content type) of a file of a listed result folder, or :class:`NotServed`."""
        folder = self.folder(video_id)
        parts = Path(relative).parts
        if not parts or Path(relative).is_absolute() or any(p in ("..", ".") or p.startswith(".") for p in parts):
            raise NotServed("not a file of the result folder", 403)
        path = folder / relative
        if not inside(path, folder):
            raise NotServed("that path leads outside the result folder", 403)
        kind = SERVED_TYPES.get(path.suffix.lower())
        if kind is None or (path.suffix.lower() == ".json" and path.name != "result.json"):
            raise NotServed(f"files of kind {path.suffix or '(none)'} are not served", 403)
        try:
            found = path.is_file()
        except (OSError, ValueError):
            found = False
        if not found:
            raise NotServed(f"{video_id}/{relative}: no such file")
        return path, kind

    def original(self, video_id: str) -> Original:
        """The video's recorded input (``provenance.json``'s absolute ``source``, else the path
        the result records, as given or beside the results folder), when it is still there and
        still the same size; else why not, in one sentence."""
        folder = self.folder(video_id)
        result = self.result(video_id, folder)
        candidates = []
        try:
            source = json.loads((folder / "provenance.json").read_text(encoding="utf-8")).get("source")
            if isinstance(source, str) and source:
                candidates.append(Path(source))
        except (OSError, ValueError, AttributeError):
            pass
        given = Path(result.video.path)
        candidates += [given] if given.is_absolute() else [self.out.parent / given, Path.cwd() / given]
        other = None
        for path in candidates:
            try:
                if not path.is_file():
                    continue
                size = path.stat().st_size
            except (OSError, ValueError):
                continue
            # only the file the result was made from: a results folder copied from elsewhere
            # must not make any file of this machine that happens to sit at its paths servable
            if not result.video.size_bytes or size != result.video.size_bytes:
                other = other or (path, size)
                continue
            return Original(path.resolve(), None, VIDEO_TYPES.get(path.suffix.lower(), "application/octet-stream"))
        if other is not None:
            return Original(None, f"the file at {other[0]} is not the one this result was made from ({other[1]} bytes, "
                                  f"not {result.video.size_bytes}); run it again to see it here")
        return Original(None, f"the original file {result.video.path} is not there any more (moved or deleted); "
                              "the results stay, but the player cannot play it")
