"""The stages of a pipeline, one module each, in the order the default pipeline runs them:

    probe -> decode -> shots -> keyframes -> vision -> speech -> speakers -> audio -> fusion -> events
    -> summary

and, where a vision-language model is configured (``pipelines/gpu.toml``), ``captions`` after
``vision``.

Each is a thin class (:class:`~avpipe.stages.base.Stage`) over the domain package that does the
work (``avpipe.decode``, ``avpipe.shots``, ``avpipe.vision``, ``avpipe.speech``,
``avpipe.understand``). :data:`STAGES` names them for pipeline files; a stage's module is
imported only when a pipeline uses it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Stage

#: The names a pipeline file may list, each "module:Class" under this package. Frame consumers
#: (shots) must follow "decode".
STAGES: dict[str, str] = {
    "probe": "probe:ProbeStage",
    "decode": "decode:DecodeStage",
    "shots": "shots:ShotStage",
    "keyframes": "keyframes:KeyframeStage",
    "vision": "vision:VisionStage",
    "captions": "captions:CaptionStage",
    "speech": "speech:SpeechStage",
    "speakers": "speakers:SpeakerStage",
    "audio": "audio:AudioStage",
    "fusion": "fusion:FusionStage",
    "events": "events:EventStage",
    "summary": "summary:SummaryStage",
}


def stage_class(name: str) -> type["Stage"]:
    """The class registered under ``name`` (its module imported on first use)."""
    module, cls = STAGES[name].split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)
