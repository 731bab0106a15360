"""Pipeline definitions (``pipelines/*.toml``) into :class:`~avpipe.options.PipelineOptions`,
with every value checked before any video is touched.

A pipeline file names its stages in order and holds one ``[section]`` per options dataclass.
Parsing fails with :class:`~avpipe.errors.PipelineConfigError` naming the key (``[fusion]
strategy``), the value and what is allowed: unknown sections and keys, wrong types, values
outside a field's declared choices or bounds (:func:`avpipe.options.one_of`,
:func:`~avpipe.options.within`), non-finite floats (TOML's ``inf``, ``nan``), unknown stages,
model names that are neither in the registry nor a path, a model path that does not hold the
kind of weights its option loads (:func:`avpipe.models.format_problem`), a language Whisper does
not know or an English-only model asked for another, a stage that reads what no earlier stage
writes (:func:`avpipe.stages.wiring_problem`), and option pairs that contradict each other
(each stage's :meth:`~avpipe.stages.base.Stage.check`). The CLI turns that
into exit 2. Whether the models are on this machine (:func:`missing_models`) and the device
(:func:`avpipe.device.check_device`) are checked when ``avpipe run`` starts: a pipeline file may
be read where it will not run (``avpipe models fetch --profile gpu``).
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from importlib import resources
from pathlib import Path

from .errors import PipelineConfigError
from .options import PipelineOptions

if typing.TYPE_CHECKING:
    from .stages.base import ModelUse

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
    if isinstance(value, float) and not math.isfinite(value):  # TOML has inf and nan; no option means them
        raise PipelineConfigError(f"{where} = {value!r} must be a finite number")
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
    from .options import MOVED, RETIRED

    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(table) - set(fields)
    section = where.rpartition("[")[2].rstrip("]")
    for key in sorted(unknown):
        new = MOVED.get((section, key))
        if new:
            raise PipelineConfigError(f"{where} {key}: this option has moved to [{new}]; write it as [{new}] {key}")
        if (section, key) in RETIRED:
            raise PipelineConfigError(f"{where} {key}: this option is gone; {RETIRED[(section, key)]}")
    if unknown:
        raise PipelineConfigError(f"{where}: unknown option(s) {sorted(unknown)}; known: {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    for key, value in table.items():
        check_field(f"{where} {key}", fields[key], hints[key], value)
    return cls(**{key: _as_field(hints[key], value) for key, value in table.items()})


def _check_model(where: str, name: str, formats: tuple[str, ...]) -> None:
    """A model option names a registry model of one of ``formats``, or an existing path (whose
    format :func:`_check_model_format` verifies)."""
    from .models import REGISTRY

    spec = REGISTRY.get(name)
    if spec is not None and spec.format in formats:
        return
    if Path(name).expanduser().exists():
        return
    known = ", ".join(n for n, s in REGISTRY.items() if s.format in formats)
    raise PipelineConfigError(f"{where} = {name!r} is neither a known model ({known}) nor an existing path")


def _check_model_format(where: str, name: str, kinds: tuple[str, ...]) -> None:
    """A model given as a path must look like weights of one of ``kinds``
    (:func:`avpipe.models.format_problem`); registry names and hub ids are left to
    :func:`missing_models`, which knows whether they are here."""
    from .models import REGISTRY, format_problem

    path = Path(name).expanduser()
    if name in REGISTRY or not path.exists() or not kinds:
        return
    problems = [format_problem(path, kind) for kind in kinds]
    if all(problems):
        raise PipelineConfigError(f"{where} = {name!r} {problems[0]}")


def check_pipeline(options: PipelineOptions, where: str) -> None:
    """Checks that span fields and stages, with what each stage declares
    (:class:`avpipe.stages.base.Stage`): the stage list, the one ordering rule
    (:func:`avpipe.stages.wiring_problem`), each stage's own option pairs, and each model it
    will load (a registry name or a path holding the right kind of weights)."""
    from .stages import stage_class, stage_names, wiring_problem

    stages = options.stages
    known = stage_names()
    for stage in stages:
        if stage not in known:
            raise PipelineConfigError(f"{where}: unknown stage {stage!r}; known: {', '.join(known)}")
    if not stages or stages[0] != "probe":
        raise PipelineConfigError(f"{where}: the first stage must be 'probe'")
    if len(set(stages)) != len(stages):
        raise PipelineConfigError(f"{where}: a stage is listed twice in {list(stages)}")
    problem = wiring_problem(stages)
    if problem:
        raise PipelineConfigError(f"{where}: {problem}")
    for stage in stages:
        stage_class(stage).check(options, where)
    for use in model_uses(options):
        if use.registry:
            _check_model(f"{where} {use.option}", use.name, use.registry)
        _check_model_format(f"{where} {use.option}", use.name, use.kinds)


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


def model_uses(options: PipelineOptions) -> list["ModelUse"]:
    """Every model a pipeline will load (:meth:`avpipe.stages.base.Stage.models`), once per
    option and name: the shared space's text encoder first, then in stage order. An unset model
    (None or "") is left out."""
    from .stages import stage_class

    uses = [use for stage in options.stages for use in stage_class(stage).models(options) if use.name]
    uses = list({(u.option, u.name): u for u in uses}.values())
    return sorted(uses, key=lambda u: u.option != "[vision] text_model")


def model_runtimes(options: PipelineOptions) -> set[str]:
    """What the pipeline's models run on, for :func:`avpipe.device.check_device`: "ctranslate2"
    (faster-whisper speech, and the language head) and "torch" (every other model)."""
    ct2 = {"[speech] language_model"} | ({"[speech] model", "[speech] english_model", "[speech] multilingual_model"}
                                        if options.speech.backend == "faster-whisper" else set())
    return {"ctranslate2" if use.option in ct2 else "torch" for use in model_uses(options)}


def pipeline_models(options: PipelineOptions) -> list[str]:
    """Every model a pipeline will load, by the name or path it gives (:func:`model_uses`), once each."""
    return list(dict.fromkeys(use.name for use in model_uses(options)))


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
