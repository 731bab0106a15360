"""What every stage shares: the :class:`Stage` interface and the :class:`VideoContext` that
carries one video's artifacts from stage to stage.

A stage declares its wiring on its class, so that a whole pipeline can be checked before any
video (:func:`avpipe.stages.wiring_problem`, :func:`avpipe.config.check_pipeline`): its
``name``, its options ``section``, the artifacts (:data:`ARTIFACTS`) it ``reads`` (required: the
stage is skipped for a video that lacks one, and the pipeline is refused when no earlier stage
writes it), those it uses when present (``optional_reads``) and those it ``writes``; the models
it will load for given options (:meth:`Stage.models`) and its own option pairs
(:meth:`Stage.check`). After running it sets the ``backend`` and ``model`` it used (recorded in
``result.stages``). It reads what earlier stages left in typed fields of the context and adds its
own; it never reaches into another stage. Frame consumers override :meth:`Stage.on_frame` and
see each sampled frame during the one decode pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, ClassVar, NamedTuple

from ..options import PipelineOptions
from ..schema import MediaInfo, Result, StageError, StageInfo

if TYPE_CHECKING:
    import numpy as np

    from ..decode import AudioTrack
    from ..decode.base import Frame
    from ..shots import KeyframeCandidate, ShotDetector
    from ..understand.events import Phrases


@dataclass
class KeyframeVectors:
    """The vision stage's keyframe embeddings, in the order it encoded them."""

    t: "np.ndarray"  # [n] float32, keyframe times
    vectors: "np.ndarray"  # [n, D] float16, in the shared text-image space
    model: str  # "backend:model" of that space
    features: "np.ndarray | None" = None  # [n, F] float16, the encoder's own features


@dataclass
class SegmentVectors:
    """Transcript segment embeddings (fusion) and what each attended to on screen."""

    t: "np.ndarray"  # [n, 2] float32, segment start and end
    vectors: "np.ndarray"  # [n, D] float16, in the shared space
    evidence: "np.ndarray | None" = None  # [n, D] float16, the attended visual evidence


@dataclass
class CaptionVectors:
    """The captions stage's captions embedded by the shared space's text side (what search and
    fusion compare with text)."""

    t: "np.ndarray"  # [n] float32, times of the captioned keyframes
    vectors: "np.ndarray"  # [n, D] float16, in the shared text-image space


@dataclass
class AudioWindows:
    """Per-window audio measures of the whole track (the audio stage)."""

    t: "np.ndarray"  # [n] float32, window starts
    db: "np.ndarray"  # [n] float16, loudness in dBFS
    pitch_hz: "np.ndarray"  # [n] float16, median pitch on speech windows (0 elsewhere)
    rate_wps: "np.ndarray"  # [n] float16, words per second


@dataclass
class Identity:
    """What tells people apart, kept in ``identity.npz`` beside the result for the people index
    (:mod:`avpipe.people`): face descriptors of the clearest sightings of each face track (the
    vision stage) and each speaker's mean voice vector (the speakers stage)."""

    face_t: "np.ndarray | None" = None  # [n] float32, the keyframe time of each described sighting
    face_index: "np.ndarray | None" = None  # [n] int32, which of that keyframe's faces
    face_track: "np.ndarray | None" = None  # [n] int32, its face track ("face 3" is 3)
    faces: "np.ndarray | None" = None  # [n, 128] float32, dlib descriptors
    speakers: list[str] = field(default_factory=list)  # SPEAKER_1, ...
    voices: "np.ndarray | None" = None  # [m, 256] float32, unit mean GE2E vectors
    voice_seconds: "np.ndarray | None" = None  # [m] float32, each speaker's seconds of words

    def arrays(self) -> dict[str, "np.ndarray"]:
        """The arrays of ``identity.npz`` (names are part of the output format)."""
        import numpy as np

        out: dict[str, np.ndarray] = {}
        if self.faces is not None:
            out.update(face_t=self.face_t, face_index=self.face_index, face_track=self.face_track, faces=self.faces)
        if self.voices is not None:
            out.update(speakers=np.array(self.speakers, dtype=str), voices=self.voices,
                       voice_seconds=self.voice_seconds)
        return out


@dataclass
class VideoContext:
    """Everything known about one video while its stages run."""

    path: Path
    video_id: str
    work_dir: Path  # the result folder being built (thumbnails go here)
    options: PipelineOptions
    result: Result
    media: MediaInfo | None = None
    frames_decoded: int = 0
    video_end_s: float | None = None  # where decoding stopped, when a damaged file ends early
    shot_detector: "ShotDetector | None" = None
    keyframe_images: list["KeyframeCandidate"] = field(default_factory=list)
    audio: "AudioTrack | None" = None  # mono samples with their sample rate
    speech_regions: list[tuple[float, float]] | None = None  # what the VAD called speech
    voice: list[dict[str, float]] = field(default_factory=list)  # voice prior per transcript segment
    keyframe_vectors: KeyframeVectors | None = None
    segment_vectors: SegmentVectors | None = None
    caption_vectors: CaptionVectors | None = None
    audio_windows: AudioWindows | None = None
    phrases: "Phrases | None" = None  # key-phrase embeddings, made for keywords, reused by chapter titles
    identity: Identity = field(default_factory=Identity)  # face and voice identity vectors ([people])
    failed: set[str] = field(default_factory=set)
    notify: Callable[[str, object], None] = lambda kind, value: None
    #: Lets the later stages start their background work on what exists now (:meth:`Stage.ahead`):
    #: the pipeline calls it after each stage; a stage that makes an artifact early calls it too.
    start_ahead: Callable[[], None] = lambda: None

    def has(self, artifact: str) -> bool:
        """Whether an artifact of :data:`ARTIFACTS` exists for this video."""
        return ARTIFACTS[artifact](self)

    def end_s(self) -> float | None:
        """Where the video's described time ends: where decoding stopped early, else its duration."""
        return self.video_end_s if self.video_end_s is not None else self.result.video.duration_s

    def record(self, stage: str, seconds: float, backend: str | None = None, model: str | None = None,
               status: str = "ok", notes: list[str] | None = None, ahead_seconds: float = 0.0) -> None:
        """Note a stage's timing (added to any earlier time of the same stage; ``ahead_seconds``:
        its work done in the background beforehand), the process's peak memory so far and what
        the stage noticed (``notes``)."""
        from ..resources import peak_rss_mb

        earlier = self.result.stages.get(stage)
        total = seconds + (earlier.seconds if earlier else 0.0)
        peak = peak_rss_mb()
        self.result.stages[stage] = StageInfo(seconds=round(total, 4), backend=backend, model=model, status=status,
                                              peak_rss_mb=round(peak, 1), notes=notes or None,
                                              ahead_seconds=round(ahead_seconds, 4) if ahead_seconds else None)

    def add_events(self, events: list) -> None:
        """Merge events into the result's single time-ordered list."""
        self.result.events = sorted([*self.result.events, *events], key=lambda e: (e.start, e.end, e.kind))

    def fail(self, stage: str, exc: BaseException) -> None:
        """Record a stage's failure as an error entry of the result."""
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        self.failed.add(stage)
        self.result.errors.append(StageError(stage=stage, type=type(exc).__name__, message=message))

    def vectors(self) -> dict[str, "np.ndarray"]:
        """The arrays of ``vectors.npz`` beside the result (names are part of the output format:
        the search index and ``avpipe train align`` read them)."""
        import numpy as np

        out: dict[str, np.ndarray] = {}
        k = self.keyframe_vectors
        if k is not None:
            out.update(keyframe_t=k.t, keyframes=k.vectors, model=np.array(k.model))
            if k.features is not None:
                out["features"] = k.features
        c = self.caption_vectors
        if c is not None:
            out.update(caption_t=c.t, captions=c.vectors)
        a = self.audio_windows
        if a is not None:
            out.update(audio_t=a.t, audio_db=a.db, audio_pitch_hz=a.pitch_hz, audio_rate_wps=a.rate_wps)
        s = self.segment_vectors
        if s is not None:
            out.update(segments=s.vectors, segment_t=s.t)
            if s.evidence is not None:
                out["segment_evidence"] = s.evidence
        return out


#: Every artifact a stage may read or write (the names a stage's ``reads``, ``optional_reads``
#: and ``writes`` use), and how to tell that it exists for one video.
ARTIFACTS: dict[str, Callable[[VideoContext], bool]] = {
    "media": lambda c: c.media is not None,  # the probed streams
    "frames": lambda c: c.frames_decoded > 0,  # sampled frames, seen by frame consumers during decode
    "audio": lambda c: c.audio is not None and len(c.audio.samples) > 0,  # the mono track
    "shots": lambda c: bool(c.result.shots),
    "keyframe candidates": lambda c: bool(c.keyframe_images),  # chosen frames with their JPEG
    "keyframes": lambda c: bool(c.result.keyframes),
    "keyframe labels": lambda c: any(k.labels for k in c.result.keyframes),
    "keyframe vectors": lambda c: c.keyframe_vectors is not None,
    "captions": lambda c: any(k.caption for k in c.result.keyframes),
    "caption vectors": lambda c: c.caption_vectors is not None,
    "segments": lambda c: bool(c.result.transcript.segments),  # transcript segments
    "speech regions": lambda c: c.speech_regions is not None,  # what the VAD called speech
    "speaker turns": lambda c: any(s.speaker for s in c.result.transcript.segments),
    "voice": lambda c: bool(c.voice),  # voice emotion prior per segment
    "audio windows": lambda c: c.audio_windows is not None,
    "segment vectors": lambda c: c.segment_vectors is not None,
    "emotions": lambda c: bool(c.result.emotion_timeline),
    "phrases": lambda c: c.phrases is not None,  # key-phrase embeddings
    "events": lambda c: bool(c.result.events),
    "summary": lambda c: c.result.summary is not None,
}


class ModelUse(NamedTuple):
    """A model a stage will load: the option that names it (``[vision] clip_model``), the name or
    path it gives (a registry name, a hub id, a folder), and what a path must hold
    (:data:`avpipe.models.FOLDER_LAYOUTS`; empty: a registry name only)."""

    option: str
    name: str | None
    kinds: tuple[str, ...] = ()
    #: Where set, the name must be a registry model of one of these formats or an existing path
    #: (no hub id): the loader reads nothing else.
    registry: tuple[str, ...] = ()


def text_model_use(options: PipelineOptions) -> ModelUse:
    """The shared space's text encoder (``[vision] text_model``), which several stages load."""
    return ModelUse("[vision] text_model", options.vision.text_model, ("sentence-transformers",),
                    registry=("sentence-transformers",))


class Stage:
    """Base of all stages: ``run`` once after decode, in pipeline order; frame consumers also
    get ``on_frame`` for each sampled frame during decode.

    A new stage is one module ``avpipe/stages/<name>.py`` holding one subclass whose ``name`` is
    the module's name (found by :mod:`avpipe.stages`), plus its domain code, one options field of
    :class:`~avpipe.options.PipelineOptions` where it has options, and any growth of the schema."""

    #: The name a pipeline file lists, and the key of ``result.stages``.
    name: ClassVar[str]
    #: The field of PipelineOptions (the pipeline file's ``[section]``) holding its options, if any.
    section: ClassVar[str | None] = None
    #: Artifacts (:data:`ARTIFACTS`) that must exist first; missing ones were reported upstream.
    reads: ClassVar[tuple[str, ...]] = ()
    #: Artifacts it uses when an earlier stage made them, and does without otherwise.
    optional_reads: ClassVar[tuple[str, ...]] = ()
    #: Artifacts it makes (for some videos; a stage may find nothing to write).
    writes: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def models(cls, options: PipelineOptions) -> list[ModelUse]:
        """The models this stage will load under ``options`` (unset names may be None)."""
        return []

    @classmethod
    def check(cls, options: PipelineOptions, where: str) -> None:
        """Raise :class:`~avpipe.errors.PipelineConfigError` (naming ``where`` and the key) for
        option values that are each allowed but do not work together, or a model this stage
        needs that the options do not name."""

    def __init__(self) -> None:
        self.backend: str | None = None  # what ran, for result.stages (set by run)
        self.model: str | None = None
        self.status = "ok"  # "ok", "partial" or "error", for result.stages
        self.notes: list[str] = []  # what it noticed and worked around, for result.stages
        self.excluded_seconds = 0.0  # time already recorded under other stages' names
        self.ahead_seconds = 0.0  # time spent in the background before run (see ahead)

    def ready(self, ctx: VideoContext) -> bool:
        """Whether this stage can run: it has not failed and what it needs exists."""
        return self.name not in ctx.failed and all(ctx.has(n) for n in self.reads)

    def ahead(self, ctx: VideoContext) -> None:
        """Called after each earlier stage once this one is :meth:`ready`: a stage whose inputs
        exist before its turn may start work in the background here, on cores the stages in
        between leave idle, and collect it in :meth:`run` (the speech stage hears voice activity
        and languages while the frames are decoded). Called again after every later stage, so it
        starts its work once. Default: nothing."""

    def on_frame(self, ctx: VideoContext, frame: "Frame") -> None:
        """Called for each sampled frame during decode (frame consumers override this)."""

    def wants_glances(self, ctx: VideoContext) -> bool:
        """Whether this consumer reads a glance of every decoded frame (:meth:`on_glance`)."""
        return False

    def on_glance(self, ctx: VideoContext, frame: "Frame") -> None:
        """Called with every decoded frame, when :meth:`wants_glances` says so: its tiny picture
        (``frame.glance``) and, for one that was not sampled, ``frame.picture`` to make its
        full picture on demand. A sampled frame then comes to :meth:`on_frame` too."""

    def run(self, ctx: VideoContext) -> None:
        """Called once, in pipeline order, after decode."""
