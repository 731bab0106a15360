"""One way to keep loaded models: :func:`once`, a process-wide cache keyed by the loader's arguments.

A batch worker processes video after video; every loader (speech backends, image encoders,
the sentence encoder, face and text readers, the heads, generative models) is wrapped in
``@once`` so its weights load the first time they are asked for and are reused after. Keys are
the arguments, which must be hashable (options are frozen dataclasses). A lock per loader means
two threads asking at once load one copy. :func:`clear` forgets everything (tests, and a worker
that wants its memory back).

:func:`on_load` lets a batch worker tell its supervisor when weights are being loaded, so a
video's time limit covers its own work and not the first load of the models it needs.
"""

from __future__ import annotations

import functools
import threading
from typing import Callable, TypeVar

T = TypeVar("T")

_CACHES: list[dict] = []
_HOOKS: list[Callable[[bool], None]] = []
_DEPTH = threading.local()


def on_load(hook: Callable[[bool], None]) -> None:
    """Call ``hook(True)`` when a loader starts loading (a cache miss) and ``hook(False)`` when it
    is done; loaders called by loaders count as one load."""
    _HOOKS.append(hook)


def _loading(start: bool) -> None:
    depth = getattr(_DEPTH, "n", 0) + (1 if start else -1)
    _DEPTH.n = depth
    if (start and depth == 1) or (not start and depth == 0):
        for hook in _HOOKS:
            hook(start)


def once(loader: Callable[..., T]) -> Callable[..., T]:
    """Wrap ``loader`` so each distinct call (by its arguments) runs once per process."""
    cache: dict = {}
    lock = threading.RLock()
    _CACHES.append(cache)

    @functools.wraps(loader)
    def load(*args, **kwargs) -> T:
        key = (args, tuple(sorted(kwargs.items())))
        with lock:
            if key not in cache:
                _loading(True)
                try:
                    cache[key] = loader(*args, **kwargs)
                finally:
                    _loading(False)
            return cache[key]

    load.cache = cache  # type: ignore[attr-defined]
    return load


def clear() -> None:
    """Forget every loaded model of this process."""
    for cache in _CACHES:
        cache.clear()
