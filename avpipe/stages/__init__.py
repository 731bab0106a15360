"""The stages of a pipeline, one module each, in the order the default pipeline runs them:

    probe -> decode -> shots -> keyframes -> vision -> speech -> speakers -> audio -> fusion -> events
    -> summary

and, where a vision-language model is configured (``pipelines/gpu.toml``), ``captions`` after
``vision``.

Each is a thin class (:class:`~avpipe.stages.base.Stage`) over the domain package that does the
work (``avpipe.decode``, ``avpipe.shots``, ``avpipe.vision``, ``avpipe.speech``,
``avpipe.understand``), and declares its wiring on the class: what it reads and writes, its
options section, its models and its own checks. A stage is found by its module's name: the
module ``avpipe/stages/<name>.py`` holds the one subclass whose ``name`` is ``<name>``, so adding a
stage touches no list here. :func:`wiring_problem` is the one rule that orders a pipeline.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Stage

#: Modules of this package that are not stages.
_NOT_STAGES = {"base"}


def stage_names() -> list[str]:
    """The names a pipeline file may list: every stage module of this package, sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _NOT_STAGES and not m.ispkg)


@functools.cache
def stage_class(name: str) -> type["Stage"]:
    """The class of stage ``name`` (its module imported on first use)."""
    from .base import Stage

    if name not in stage_names():
        raise KeyError(name)
    module = importlib.import_module(f"{__name__}.{name}")
    found = [c for c in vars(module).values()
             if isinstance(c, type) and issubclass(c, Stage) and c.__module__ == module.__name__
             and getattr(c, "name", None) == name]
    if len(found) != 1:
        raise TypeError(f"{module.__name__} must define exactly one Stage subclass named {name!r}, not {len(found)}")
    return found[0]


def writers() -> dict[str, list[str]]:
    """For each artifact, the stages that write it (every stage module imported: they are light)."""
    out: dict[str, list[str]] = {}
    for name in stage_names():
        for artifact in stage_class(name).writes:
            out.setdefault(artifact, []).append(name)
    return out


def _who(names: list[str]) -> str:
    quoted = [repr(n) for n in names]
    return f"only {quoted[0]}" if len(quoted) == 1 else " or ".join(quoted)


def wiring_problem(stages: tuple[str, ...] | list[str]) -> str | None:
    """Why the stages cannot run in this order, or None. The one rule: whatever a stage reads
    is written by a stage before it. A required read that nothing earlier writes would skip the
    stage for every video, in silence; an optional read whose writer the pipeline lists only
    later would make the stage do without it, in silence. Both are refused."""
    from .base import ARTIFACTS

    written = writers()
    for i, name in enumerate(stages):
        cls = stage_class(name)
        for artifact in (*cls.reads, *cls.optional_reads, *cls.writes):
            if artifact not in ARTIFACTS:
                return f"stage {name!r} declares {artifact!r}, which is not an artifact ({', '.join(ARTIFACTS)})"
        for artifact in cls.reads:
            if any(w in stages[:i] for w in written.get(artifact, ())):
                continue
            who = written.get(artifact, [])
            if not who:
                return f"stage {name!r} reads {artifact}, which no stage writes"
            later = [w for w in who if w in stages]
            place = f"it must come after {later[0]!r}" if later else f"the pipeline needs {who[0]!r}"
            return f"stage {name!r} reads {artifact}, which {_who(who)} writes; {place}"
        for artifact in cls.optional_reads:
            before = [w for w in written.get(artifact, ()) if w in stages[:i]]
            after = [w for w in written.get(artifact, ()) if w in stages[i + 1:]]
            if after and not before:
                return (f"stage {name!r} uses {artifact} when it is there, which {after[0]!r} writes only after it; "
                        f"put {after[0]!r} before {name!r}")
    return None
