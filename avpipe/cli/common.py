"""What several commands read from their arguments: the pipeline ``--pipeline`` names, the
options their flags change (:func:`with_flags`) and the data folder beside the checkout. Kept
apart from ``avpipe/cli/__init__.py`` so that the command modules import it without importing
the package that dispatches to them (no import circle).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from .printing import warn

if TYPE_CHECKING:
    from ..options import PipelineOptions

Options = TypeVar("Options")


def pipeline_or_none(name: str) -> PipelineOptions | None:
    """The pipeline named on the command line, or None after printing why it is unusable."""
    from ..config import load_pipeline
    from ..errors import PipelineConfigError

    try:
        return load_pipeline(name)
    except PipelineConfigError as exc:
        warn(exc)
        return None


def with_flags(options: Options, **flags: object) -> Options:
    """``options`` (a dataclass) with the fields that flags were given for: those whose value is
    not None (nor empty or 0, which stand for "not given" too)."""
    return dataclasses.replace(options, **{k: v for k, v in flags.items() if v})


def shipped_pipelines() -> set[str]:
    """The names of the pipelines shipped with avpipe (``pipelines/*.toml``)."""
    from ..config import builtin_pipelines

    return set(builtin_pipelines())


def shared_data(*parts: str) -> str:
    """A path under the data folder ``shared/data`` beside the checkout (``$AVPIPE_DATA`` overrides)."""
    # this file is <checkout>/avpipe/cli/common.py: parents[3] is the folder that holds the checkout
    root = os.environ.get("AVPIPE_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data"
    return str(Path(root, *parts))
