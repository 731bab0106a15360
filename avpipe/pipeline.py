"""The stage graph for one video, and pipeline definitions (``pipelines/*.toml``).

A pipeline is an ordered list of stage names plus options per stage. Each stage is a small class
with the same interface: it reads the artifacts it needs from a :class:`VideoContext` and adds
its own. Frame consumers (``on_frame``) all see each sampled frame during the single decode
pass, so no stage holds the whole video in memory and nothing is decoded twice.

A stage that fails records a :class:`~avpipe.schema.StageError` and the stages that needed its
artifact are skipped; the video still gets a result that says what is missing.
"""

from __future__ import annotations

import dataclasses
import time
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Callable, ClassVar

from . import __version__
from .errors import DecodeError, MediaOpenError, NoVideoStream, PipelineConfigError
from .options import PipelineOptions
from .schema import MediaInfo, Result, StageError, StageInfo, VideoInfo

if TYPE_CHECKING:
    from .decode import AudioTrack
    from .decode.base import Frame
    from .shots import KeyframeCandidate, ShotDetector


# --------------------------------------------------------------------------- context


@dataclass
class VideoContext:
    """Everything known about one video while its stages run."""

    path: Path
    video_id: str
    work_dir: Path
    options: PipelineOptions
    result: Result
    media: MediaInfo | None = None
    frames_decoded: int = 0
    keyframe_images: list["KeyframeCandidate"] = field(default_factory=list)
    shot_detector: "ShotDetector | None" = None
    failed: set[str] = field(default_factory=set)
    video_end_s: float | None = None  # where decoding stopped, when a damaged file ends early
    audio: "AudioTrack | None" = None
    speech_regions: list[tuple[float, float]] | None = None  # what the VAD called speech
    voice: list[dict[str, float]] = field(default_factory=list)  # voice prior per transcript segment
    # Arrays for vectors.npz beside the result (keyframe and segment embeddings, audio levels).
    arrays: dict = field(default_factory=dict)
    notify: Callable[[str, object], None] = lambda kind, value: None

    def record(self, stage: str, seconds: float, backend: str | None = None, model: str | None = None,
               status: str = "ok") -> None:
        """Note a stage's timing (added to any earlier time of the same stage)."""
        earlier = self.result.stages.get(stage)
        total = seconds + (earlier.seconds if earlier else 0.0)
        self.result.stages[stage] = StageInfo(seconds=round(total, 4), backend=backend, model=model, status=status)

    def add_events(self, events: list) -> None:
        """Merge events into the result's single time-ordered list."""
        self.result.events = sorted([*self.result.events, *events], key=lambda e: (e.start, e.end, e.kind))

    def fail(self, stage: str, exc: BaseException) -> None:
        """Record a stage's failure as an error entry of the result."""
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        self.failed.add(stage)
        self.result.errors.append(StageError(stage=stage, type=type(exc).__name__, message=message))


# --------------------------------------------------------------------------- stages


class Stage:
    """Base of all stages. ``needs`` names what must exist first ("media", "frames", "audio",
    "keyframes")."""

    name: ClassVar[str]
    needs: ClassVar[tuple[str, ...]] = ()

    def ready(self, ctx: VideoContext) -> bool:
        """Whether the artifacts this stage needs exist (missing ones were reported upstream)."""
        have = {"media": ctx.media is not None, "frames": ctx.frames_decoded > 0,
                "audio": ctx.audio is not None and len(ctx.audio.samples) > 0,
                "keyframes": bool(ctx.result.keyframes)}
        return self.name not in ctx.failed and all(have.get(n, False) for n in self.needs)

    def on_frame(self, ctx: VideoContext, frame: "Frame") -> None:
        """Called for each sampled frame during decode (frame consumers override this)."""

    def run(self, ctx: VideoContext) -> None:
        """Called once, in pipeline order, after decode."""


class ProbeStage(Stage):
    name = "probe"

    def run(self, ctx: VideoContext) -> None:
        from .probe import probe

        media = probe(ctx.path)
        ctx.media = media
        v = media.streams[media.video_stream] if media.video_stream is not None else None
        ctx.result.video = ctx.result.video.model_copy(update=dict(
            duration_s=media.duration_s,
            fps=v.fps if v else None,
            width=v.width if v else None,
            height=v.height if v else None,
            rotation=v.rotation if v else None,
            vfr=v.vfr if v else None,
            has_video=v is not None,
            has_audio=media.audio_stream is not None,
            video_stream=media.video_stream,
            audio_stream=media.audio_stream,
            size_bytes=media.size_bytes,
        ))
        ctx.notify("duration", media.duration_s)
        if media.video_stream is None and media.audio_stream is None:
            raise MediaOpenError("the container holds neither a video nor an audio stream", ctx.path)


class DecodeStage(Stage):
    """Runs the one video decode pass, handing every sampled frame to the frame consumers, and
    decodes the audio track when a later stage needs it."""

    name = "decode"
    needs = ("media",)

    def __init__(self, consumers: list[Stage], audio: bool) -> None:
        self.consumers = consumers
        self.audio = audio

    def run(self, ctx: VideoContext) -> None:
        problems = 0
        if ctx.media.video_stream is None:
            ctx.fail(self.name, NoVideoStream("no video stream: frames, shots and keyframes are missing", ctx.path))
            problems += 1
        else:
            problems += self._video(ctx)
        if self.audio and ctx.media.audio_stream is not None:
            from .decode import load_audio

            try:
                ctx.audio = load_audio(ctx.path, ctx.media, ctx.options.decode.sample_rate,
                                       ctx.options.decode.max_bad_packets)
                if ctx.audio.bad_packets:
                    ctx.result.errors.append(StageError(stage="decode", type="PartialDecode", message=(
                        f"{ctx.audio.bad_packets} damaged audio packets skipped")))
                    problems += 1
            except Exception as exc:  # noqa: BLE001 - the video part may still be fine
                ctx.fail(self.name, exc)
                problems += 1
        ctx.failed.discard(self.name)  # what did decode is kept; errors say what did not
        produced = ctx.frames_decoded > 0 or ctx.audio is not None
        self.status = "error" if not produced else ("partial" if problems else "ok")

    def _video(self, ctx: VideoContext) -> int:
        """Decode the sampled frames; returns 1 when something went wrong (recorded), else 0."""
        from .decode import open_frames

        reader = open_frames(ctx.path, ctx.media, ctx.options.decode)
        try:
            try:
                self._drive(ctx, reader)
            except DecodeError:
                if reader.name != "decord" or ctx.frames_decoded or ctx.options.decode.backend != "auto":
                    raise
                # decord could not read what FFmpeg's own demuxer could: try PyAV before giving up.
                reader = open_frames(ctx.path, ctx.media, ctx.options.decode, backend="pyav")
                self._drive(ctx, reader)
        except Exception as exc:  # noqa: BLE001 - recorded; the audio may still be fine
            ctx.fail(self.name, exc)
            return 1
        report = reader.report
        if report.stopped_early_at is not None:
            # Later stages must not describe time that was never decoded.
            ctx.video_end_s = report.stopped_early_at + 1.0 / ctx.options.decode.fps
        if report.stopped_early_at is not None or report.bad_packets:
            note = "; ".join(report.messages) or f"{report.bad_packets} damaged video packets skipped"
            ctx.result.errors.append(StageError(stage="decode", type="PartialDecode", message=note))
            return 1
        return 0

    def _drive(self, ctx: VideoContext, reader) -> None:
        self.backend = reader.name
        ctx.notify("decode_backend", reader.name)
        consumers = list(self.consumers)
        spent = {c.name: 0.0 for c in consumers}
        for frame in reader:
            ctx.frames_decoded += 1
            for consumer in list(consumers):
                t0 = time.perf_counter()
                try:
                    consumer.on_frame(ctx, frame)
                except Exception as exc:  # noqa: BLE001 - one consumer's bug must not stop decode
                    ctx.fail(consumer.name, exc)
                    consumers.remove(consumer)
                spent[consumer.name] += time.perf_counter() - t0
        for name, seconds in spent.items():
            ctx.record(name, seconds)
        self.excluded_seconds = sum(spent.values())
        ctx.notify("decode_done", None)


class ShotStage(Stage):
    """Shot boundaries and keyframe choice (:mod:`avpipe.shots`)."""

    name = "shots"
    needs = ("frames",)

    def on_frame(self, ctx: VideoContext, frame: "Frame") -> None:
        if ctx.shot_detector is None:
            from functools import partial

            from .shots import ShotDetector
            from .writers import encode_thumbnail

            kf = ctx.options.keyframes
            ctx.shot_detector = ShotDetector(ctx.options.shots, partial(encode_thumbnail, size=kf.thumbnail_size,
                                                                        quality=kf.jpeg_quality))
        ctx.shot_detector.add(frame)

    def run(self, ctx: VideoContext) -> None:
        end = ctx.video_end_s if ctx.video_end_s is not None else ctx.result.video.duration_s
        shots, keyframes, events = ctx.shot_detector.finish(end or 0.0)
        ctx.result.shots = shots
        ctx.add_events(events)
        ctx.keyframe_images = keyframes


class KeyframeStage(Stage):
    """Keyframes in the result, and their JPEG thumbnails in ``keyframes/``."""

    name = "keyframes"
    needs = ("frames",)

    def run(self, ctx: VideoContext) -> None:
        from .schema import Keyframe
        from .writers import atomic_write_bytes

        out = []
        for candidate in ctx.keyframe_images:
            thumb = None
            if ctx.options.keyframes.thumbnails and candidate.jpeg:
                thumb = f"keyframes/{int(round(candidate.t * 1000)):08d}.jpg"
                atomic_write_bytes(ctx.work_dir / thumb, candidate.jpeg)
            out.append(Keyframe(t=round(candidate.t, 3), shot=candidate.shot, thumbnail=thumb))
        ctx.result.keyframes = out


class VisionStage(Stage):
    """Labels per keyframe and keyframe embeddings in the shared text-image space
    (:mod:`avpipe.vision`); the embeddings go to ``vectors.npz`` beside the result."""

    name = "vision"
    needs = ("keyframes",)

    def run(self, ctx: VideoContext) -> None:
        import cv2
        import numpy as np

        from .schema import Face, Label
        from .vision import load_encoder
        from .vision.base import load_faces, load_ocr

        pairs = [(k, c) for k, c in zip(ctx.result.keyframes, ctx.keyframe_images) if c.jpeg]
        if not pairs:
            return
        o = ctx.options.vision
        encoder = load_encoder(o, resolve_device(ctx.options.device, "torch"))
        faces = load_faces(o.min_face_frac) if o.faces else None
        reader = load_ocr(o.ocr_min_score) if o.ocr else None
        self.backend, self.model = encoder.name, encoder.model_name
        chunks, features, found_faces, found_text = [], [], [], []
        for lo in range(0, len(pairs), o.batch_size):  # decode only one batch of JPEGs at a time
            batch = pairs[lo : lo + o.batch_size]
            images = [cv2.cvtColor(cv2.imdecode(np.frombuffer(c.jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
                      for _, c in batch]
            vectors, labels, feats = encoder.encode_images(images)
            chunks.append(vectors)
            if feats is not None:
                features.append(feats)
            for (keyframe, _), found, image in zip(batch, labels, images):
                keyframe.labels = [Label(label=name, score=score) for name, score in found]
                if faces is not None:
                    people = faces(image)
                    found_faces.append(people)
                    keyframe.faces = [Face(box=tuple(round(v, 4) for v in f.box), emotion=f.emotion, scores=f.scores)
                                      for f in people]
                if reader is not None:
                    found_text.append(reader(image))
        vectors = np.concatenate(chunks)
        times = [k.t for k, _ in pairs]
        if faces is not None:
            ctx.add_events(face_events(times, found_faces))
        if reader is not None:
            from .vision.ocr import text_events

            end = ctx.video_end_s if ctx.video_end_s is not None else (ctx.result.video.duration_s or times[-1])
            ctx.add_events(text_events(times, found_text, end))
        ctx.arrays.update(keyframe_t=np.array(times, np.float32), keyframes=vectors.astype(np.float16),
                          model=np.array(f"{encoder.name}:{encoder.model_name}"))
        if features:  # the encoder's own features (EfficientNet's 1280-d pooled layer)
            ctx.arrays["features"] = np.concatenate(features).astype(np.float16)


def face_events(times: list[float], faces: list) -> list:
    """face_appear / face_disappear events from face tracks over the keyframes: a face
    disappears at the first keyframe after its last sighting (or at its last, at the end)."""
    from .schema import Event
    from .vision.faces import face_tracks

    events = []
    for n, (first, last, count) in enumerate(face_tracks(times, faces), start=1):
        later = [t for t in times if t > last]
        gone = later[0] if later else last
        events.append(Event(start=first, end=first, kind="face_appear", label=f"face {n}", score=1.0))
        events.append(Event(start=gone, end=gone, kind="face_disappear", label=f"face {n}", score=round(count / len(times), 3)))
    return events


class SpeechStage(Stage):
    """Transcript with word timestamps (:mod:`avpipe.speech`)."""

    name = "speech"
    needs = ("audio",)

    def run(self, ctx: VideoContext) -> None:
        from .speech import transcribe

        o = ctx.options.speech
        transcript, meta = transcribe(ctx.audio.samples, o, device=resolve_device(ctx.options.device, o.backend))
        ctx.result.transcript = transcript
        ctx.speech_regions = meta.get("regions")
        self.backend, self.model = meta["backend"], meta["model"]


def resolve_device(device: str, backend: str) -> str:
    """``auto`` becomes ``cuda`` where the backend's runtime sees a GPU, else ``cpu``."""
    if device != "auto":
        return device
    if backend == "faster-whisper":
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


#: Stage registry: the names a pipeline file may list, each a class or a "module:Class" that is
#: imported when a pipeline uses it. Frame consumers must follow "decode".
STAGES: dict[str, type[Stage] | str] = {
    "probe": ProbeStage,
    "decode": DecodeStage,
    "shots": ShotStage,
    "keyframes": KeyframeStage,
    "vision": VisionStage,
    "speech": SpeechStage,
    "audio": "avpipe.understand.stages:AudioStage",
    "fusion": "avpipe.understand.stages:FusionStage",
    "events": "avpipe.understand.stages:EventStage",
    "summary": "avpipe.understand.stages:SummaryStage",
}


def stage_class(name: str) -> type[Stage]:
    """The class registered under ``name`` (imported on first use)."""
    entry = STAGES[name]
    if isinstance(entry, str):
        import importlib

        module, cls = entry.split(":")
        entry = STAGES[name] = getattr(importlib.import_module(module), cls)
    return entry


# --------------------------------------------------------------------------- definitions

#: The [section] tables a pipeline file may hold: every nested options dataclass of PipelineOptions.
_SECTIONS = {f.name: f.default_factory for f in dataclasses.fields(PipelineOptions)
             if f.default_factory is not dataclasses.MISSING}


def _build(cls, table: dict, where: str):
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(table) - known
    if unknown:
        raise PipelineConfigError(f"{where}: unknown option(s) {sorted(unknown)}; known: {sorted(known)}")
    try:
        return cls(**table)
    except TypeError as exc:
        raise PipelineConfigError(f"{where}: {exc}") from exc


def parse_pipeline(text: str, name: str = "custom", where: str = "<pipeline>") -> PipelineOptions:
    """Pipeline options from the TOML text of a pipeline definition."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PipelineConfigError(f"{where}: not valid TOML: {exc}") from exc
    stages = tuple(data.pop("stages", PipelineOptions.stages))
    for stage in stages:
        if stage not in STAGES:
            raise PipelineConfigError(f"{where}: unknown stage {stage!r}; known: {sorted(STAGES)}")
    if "probe" not in stages or stages[0] != "probe":
        raise PipelineConfigError(f"{where}: the first stage must be 'probe'")
    kwargs = {"name": data.pop("name", name), "stages": stages, "device": data.pop("device", "auto")}
    for section, cls in _SECTIONS.items():
        kwargs[section] = _build(cls, data.pop(section, {}), f"{where} [{section}]")
    if data:
        raise PipelineConfigError(f"{where}: unknown keys {sorted(data)}")
    return PipelineOptions(**kwargs)


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
        return parse_pipeline(path.read_text(encoding="utf-8"), path.stem, str(path))
    shipped = builtin_pipelines()
    if name_or_path not in shipped:
        raise PipelineConfigError(f"unknown pipeline {name_or_path!r}; shipped: {sorted(shipped)}")
    return parse_pipeline(shipped[name_or_path], name_or_path, f"pipelines/{name_or_path}.toml")


# --------------------------------------------------------------------------- one video


def build_stages(options: PipelineOptions) -> list[Stage]:
    """Instantiate the pipeline's stages; the decode stage gets the frame consumers after it."""
    names = list(options.stages)
    built: list[Stage] = []
    consumers: list[Stage] = []
    for name in names:
        if name == "decode":
            continue
        stage = stage_class(name)()
        if type(stage).on_frame is not Stage.on_frame:
            if "decode" not in names or names.index(name) < names.index("decode"):
                raise PipelineConfigError(f"stage {name!r} consumes frames and must come after 'decode'")
            consumers.append(stage)
        built.append(stage)
    if "decode" in names:
        wants_audio = any("audio" in s.needs for s in built)
        built.insert(names.index("decode"), DecodeStage(consumers, audio=wants_audio))
    return built


def process_video(path: Path, video_id: str, work_dir: Path, options: PipelineOptions,
                  notify: Callable[[str, object], None] | None = None) -> Result:
    """Run every stage of ``options`` on one video and return its result.

    Files the stages write (thumbnails) go into ``work_dir``. Only a probe failure (missing,
    empty or unreadable file) raises; every later failure is recorded in ``result.errors``.
    ``notify(kind, value)`` tells a supervising process how far it got: ``duration`` (seconds of
    media, after probe), ``decode_backend`` (name) and ``decode_done``.
    """
    result = Result(
        avpipe_version=__version__,
        pipeline=options.name,
        video=VideoInfo(path=str(path), video_id=video_id, has_audio=False, has_video=False),
    )
    ctx = VideoContext(path=path, video_id=video_id, work_dir=work_dir, options=options, result=result,
                       notify=notify or (lambda kind, value: None))
    for stage in build_stages(options):
        if stage.name != "probe" and not stage.ready(ctx):
            continue
        t0 = time.perf_counter()
        stage.status = "ok"
        try:
            stage.run(ctx)
        except Exception as exc:
            if stage.name == "probe":
                raise
            ctx.fail(stage.name, exc)
            stage.status = "error"
        seconds = time.perf_counter() - t0 - getattr(stage, "excluded_seconds", 0.0)
        ctx.record(stage.name, seconds, backend=getattr(stage, "backend", None),
                   model=getattr(stage, "model", None), status=stage.status)
    if ctx.arrays:  # the embeddings and per-window arrays of the video
        from .writers import atomic_write_npz

        atomic_write_npz(work_dir / "vectors.npz", **ctx.arrays)
    return result
