"""Domain errors.

Every error subclasses a built-in so callers that do not know avpipe can still catch it
(``except OSError``), and carries the path and the underlying message so that a batch can turn
one bad file into one clear error record instead of a dead run.
"""

from __future__ import annotations

from pathlib import Path


class AvpipeError(Exception):
    """Base for avpipe's own errors; ``path`` names the input it concerns, when there is one."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = str(path) if path is not None else None
        super().__init__(f"{path}: {message}" if path is not None else message)
        self.message = message


class MediaOpenError(AvpipeError, OSError):
    """The file does not exist, is empty, or is not a container FFmpeg can open."""


class NoVideoStream(AvpipeError, LookupError):
    """The container opened but holds no decodable video stream (audio-only, say)."""


class NoAudioStream(AvpipeError, LookupError):
    """The container opened but holds no decodable audio stream."""


class DecodeError(AvpipeError, RuntimeError):
    """A stream could be opened but not decoded (corrupt or truncated data)."""


class WorkerCrashed(AvpipeError, RuntimeError):
    """The process handling one video died (a native decoder abort, out of memory)."""


class WorkerTimeout(AvpipeError, TimeoutError):
    """The process handling one video ran past its time limit and was killed."""


class PipelineConfigError(AvpipeError, ValueError):
    """A pipeline file or option is malformed or names an unknown stage or backend."""


class OutputBusy(AvpipeError, BlockingIOError):
    """Another avpipe run is writing into the same output folder (its lock is held)."""


class BadQuery(AvpipeError, ValueError):
    """A search or question the index cannot take: empty text, an unreadable or oversized image."""


class DamagedResult(AvpipeError, ValueError):
    """A result.json that cannot be read back (truncated, edited, not a result)."""


class NoInputs(AvpipeError, FileNotFoundError):
    """A batch found nothing to process in what it was given (an empty folder, no video in it)."""


class IndexDamaged(AvpipeError, ValueError):
    """A search index's files do not match its manifest (truncated, edited, missing): rebuild it
    from the results (``avpipe index DIR``, :func:`avpipe.search.update_index`)."""


class IdCollision(AvpipeError, FileExistsError):
    """The result folder this input's id names already holds the result of another file: two
    paths whose hashes collide. The other result is kept, never overwritten."""


class Stopped(KeyboardInterrupt):
    """The batch was asked to stop by a signal (SIGTERM from ``docker stop``, systemd or
    Kubernetes; SIGHUP): handled as Ctrl-C is, so every finished result is listed before exit.
    ``signum`` is the signal's number, for the exit code (128 + signum)."""

    def __init__(self, signum: int) -> None:
        import signal

        self.signum = signum
        super().__init__(signal.Signals(signum).name)
