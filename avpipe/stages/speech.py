"""The speech stage: the transcript with word timestamps, in the language spoken (:mod:`avpipe.speech`)."""

from __future__ import annotations

from ..device import resolve_device
from ..errors import PipelineConfigError
from ..options import PipelineOptions, SpeechOptions
from .base import ModelUse, Stage, VideoContext


def speech_models(speech: SpeechOptions) -> list[tuple[str, str]]:
    """``(key, model)`` for each model the speech stage may transcribe with: ``model``, or with
    "auto" the English and the multilingual one; an English-only model's multilingual fallback."""
    from ..models import REGISTRY

    if speech.model == "auto":
        out = [("[speech] english_model", speech.english_model), ("[speech] multilingual_model", speech.multilingual_model)]
    else:
        out = [("[speech] model", speech.model)]
        spec = REGISTRY.get(speech.model)
        if spec is not None and spec.english_only and speech.language is None:
            out.append(("[speech] multilingual_model", speech.multilingual_model))
    return [(key, name) for key, name in out if name]


def _speech_kinds(backend: str, model: str) -> tuple[str, ...]:
    """What a speech model path may be for ``backend``: every backend starts from CTranslate2's
    files; openai-whisper also takes its own .pt checkpoint, transformers a transformers folder."""
    if backend == "openai-whisper" and model.endswith(".pt"):
        return ("openai-whisper-pt",)
    return {"transformers": ("transformers", "whisper-ct2")}.get(backend, ("whisper-ct2",))


def _check_language(where: str, speech: SpeechOptions) -> None:
    """``[speech] language`` is one of Whisper's codes, and "en" for an English-only model
    (which would otherwise ignore it in silence)."""
    from ..models import REGISTRY

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


class SpeechStage(Stage):
    """Voice activity detection, the language of each stretch of speech, then Whisper on what
    is speech (the model meant for its language), with the hallucination guards. Speech left
    untranscribed (no model for its language) makes the stage partial."""

    name = "speech"
    section = "speech"
    reads = ("audio",)
    optional_reads = ("media",)
    writes = ("segments", "speech regions")

    @classmethod
    def models(cls, options: PipelineOptions) -> list[ModelUse]:
        o, ct2 = options.speech, ("whisper-ct2",)
        uses = [ModelUse(key, name, _speech_kinds(o.backend, name), registry=ct2) for key, name in speech_models(o)]
        if o.language is None:
            uses.append(ModelUse("[speech] language_model", o.language_model, ct2, registry=ct2))
        return uses

    @classmethod
    def check(cls, options: PipelineOptions, where: str) -> None:
        from ..models import REGISTRY

        speech = options.speech
        if not speech.model or (speech.model == "auto" and not (speech.english_model or speech.multilingual_model)):
            raise PipelineConfigError(f"{where} [speech] model: name a model, or \"auto\" with english_model or "
                                      "multilingual_model set")
        if speech.language is None and not speech.language_model:
            raise PipelineConfigError(f"{where} [speech] language_model = \"\": the language head needs a "
                                      "multilingual Whisper model (e.g. \"base\"), or give [speech] language")
        multilingual = REGISTRY.get(speech.multilingual_model)
        if multilingual is not None and multilingual.english_only:
            raise PipelineConfigError(f"{where} [speech] multilingual_model = {speech.multilingual_model!r} is "
                                      "English-only; name a multilingual model (e.g. \"base\"), or \"\" for none")
        _check_language(where, speech)

    def __init__(self) -> None:
        super().__init__()
        self._heard = None  # a Background hearing (see ahead), once started

    def _arguments(self, ctx: VideoContext) -> tuple[SpeechOptions, str, str | None]:
        """What :func:`~avpipe.speech.transcribe.hear` and ``transcribe`` are given: the options,
        the device, and the stream's language tag as a hint."""
        from ..speech.language import iso639_1

        hint = None
        media = ctx.media
        if media is not None and media.audio_stream is not None:
            tags = [s.language for s in media.streams if s.index == media.audio_stream]
            hint = iso639_1(tags[0]) if tags else None
        o = ctx.options.speech
        return o, resolve_device(ctx.options.device, o.backend), hint

    def ahead(self, ctx: VideoContext) -> None:
        """With ``[speech] ahead``, start hearing the speech (voice activity, languages; see
        :func:`~avpipe.speech.transcribe.hear`) in the background as soon as the audio is
        decoded, which the decode stage does before the frames: decoding frames and finding
        shots, then the vision stage's start (loading torch and its models), leave part of the
        cores idle, and the hearing runs there on half of them
        (:func:`~avpipe.threads.side_by_side`). What is heard does not depend on when."""
        if self._heard is not None or ctx.audio is None or not ctx.options.speech.ahead:
            return
        from ..speech.transcribe import hear
        from ..threads import Background

        self._heard = Background(hear, ctx.audio.samples, *self._arguments(ctx), name="avpipe-speech-ahead")

    def run(self, ctx: VideoContext) -> None:
        from ..speech import transcribe

        o, device, hint = self._arguments(ctx)
        heard = None
        if self._heard is not None:
            heard = self._heard.result()  # its error, if any, is this stage's
            self.ahead_seconds = self._heard.seconds
        transcript, meta = transcribe(ctx.audio.samples, o, device=device, hint=hint, heard=heard)
        ctx.result.transcript = transcript
        ctx.speech_regions = meta.get("regions")
        self.backend, self.model = meta["backend"], meta["model"]
        self.notes += meta.get("notes", [])
        if transcript.untranscribed:
            self.status = "partial"
        if meta.get("unchecked"):  # an English-only model heard speech whose language is unknown
            self.status = "partial"
            self.notes.append("the speech was transcribed as English without its language being checked")
