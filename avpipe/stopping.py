"""Stopping a batch on a signal as cleanly as on Ctrl-C.

``docker stop``, systemd and Kubernetes stop a program with SIGTERM, then SIGKILL after a grace
period. A batch treats SIGTERM (and SIGHUP, a closed terminal) as it treats Ctrl-C, so that the
finished results are listed before it exits.
"""

from __future__ import annotations

import contextlib
import signal

from .errors import Stopped


class StopSignals:
    """While a batch runs, SIGTERM (``docker stop``, systemd, Kubernetes) and SIGHUP stop it as
    Ctrl-C does: :class:`~avpipe.errors.Stopped`, a ``KeyboardInterrupt``, is raised in the
    driver, the busy workers are killed, and every finished result is listed, the page and the
    search index written, before the process exits with 128 + the signal's number.

    The handlers are what makes the batch stoppable as PID 1 (a container's first process):
    the kernel delivers no signal to PID 1 whose action is the default. Once the batch is
    closing (:meth:`closing`), a signal no longer interrupts: it is remembered, and raised when
    the close is done, so the index is never left half-written by a stop.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self._old: dict = {}
        self._closing = False
        self._pending: int | None = None  # a signal that came while closing

    def __enter__(self) -> "StopSignals":
        import threading

        if threading.current_thread() is threading.main_thread():  # handlers live in the main thread only
            self._old = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        self._old = {}

    def _handle(self, signum: int, frame) -> None:
        if self._closing:
            self._pending = self._pending or signum
        else:
            raise Stopped(signum)

    @contextlib.contextmanager
    def closing(self):
        """Finish what is inside uninterrupted by these signals; a stop asked meanwhile is raised
        at the end (unless the block is already leaving on an exception)."""
        self._closing = True
        try:
            yield
        finally:
            self._closing = False
        if self._pending is not None:
            raise Stopped(self._pending)
