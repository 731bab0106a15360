"""The one result schema: what avpipe writes for every video, field by field.

These pydantic models are the contract between stages, writers and outside checks. They import
nothing heavy (no numpy, no torch), so ``import avpipe.schema`` is cheap. Timestamps are seconds
(float) and intervals are half-open ``[start, end)``.

``result.schema.json`` beside this module is generated from these models
(``avpipe schema > avpipe/result.schema.json``); a test fails when the two drift apart.
Bump ``SCHEMA_VERSION``'s minor number for added fields, the major one for changed meaning.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = "1.9"

Status = Literal["ok", "error", "skipped"]


def printable(text: str) -> str:
    r"""``text`` made encodable as UTF-8, losslessly: a file name's bytes that are not UTF-8
    arrive from the OS as lone surrogates (Python's ``surrogateescape``) and are written as
    ``\xNN``, so ``b"bad\xff.mp4"`` becomes the text ``bad\xff.mp4``, which tells the bytes back."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class _Model(BaseModel):
    # Unknown fields are an error: a typo in a stage should fail its tests, not vanish.
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _printable(cls, value):
        # Paths, stream metadata and error messages may carry a file name's undecodable bytes;
        # every text of the schema is kept writable as UTF-8 (JSON, HTML, logs).
        return printable(value) if isinstance(value, str) else value


# --------------------------------------------------------------------------- probe


class StreamInfo(_Model):
    """One stream of the container, as FFmpeg's demuxer reports it."""

    index: int = Field(description="Stream index inside the container.")
    type: Literal["video", "audio", "subtitle", "data", "attachment", "unknown"]
    codec: str | None = Field(None, description="Codec name, e.g. h264, aac, mov_text.")
    duration_s: float | None = Field(None, description=(
        "Stream duration: the container's, else measured from the packets (see MediaInfo.duration_measured)."))
    language: str | None = Field(None, description="ISO 639 language tag from the metadata.")
    title: str | None = None
    default: bool = Field(False, description="The container marks it as the default stream.")
    # video
    width: int | None = None
    height: int | None = None
    fps: float | None = Field(None, description="Average frame rate (frames / duration).")
    frames: int | None = Field(None, description="Frame count, when the container stores it.")
    rotation: int | None = Field(None, description="Display rotation in degrees (0, 90, 180, 270).")
    vfr: bool | None = Field(None, description="Variable frame rate: frame durations differ.")
    attached_pic: bool = Field(False, description="A cover image, not a moving picture.")
    # audio
    sample_rate: int | None = None
    channels: int | None = None
    bit_rate: int | None = None


class MediaInfo(_Model):
    """What ``avpipe probe`` prints: container facts plus the streams the pipeline will use."""

    path: str
    size_bytes: int
    format: str | None = Field(None, description="Container format names, e.g. 'mov,mp4,m4a'.")
    duration_s: float | None = Field(None, description="Container duration in seconds.")
    duration_measured: bool = Field(False, description=(
        "The header gives no duration (a file written to a pipe): the durations were measured from the "
        "timestamps of the last packets."))
    streams: list[StreamInfo]
    video_stream: int | None = Field(None, description="Index of the chosen video stream.")
    audio_stream: int | None = Field(None, description="Index of the chosen audio stream.")
    choice: list[str] = Field(
        default_factory=list, description="Why those streams were chosen, one line per choice."
    )


# --------------------------------------------------------------------------- result


class VideoInfo(_Model):
    """The input file and the streams the result was made from."""

    path: str = Field(description="The input path as given on the command line.")
    video_id: str = Field(description="Stable id: same file, same id; same name elsewhere, not.")
    duration_s: float | None = Field(None, description="Duration of the media in seconds.")
    fps: float | None = Field(None, description="Average frame rate of the chosen video stream.")
    width: int | None = Field(None, description="Coded width of the chosen video stream.")
    height: int | None = Field(None, description="Coded height of the chosen video stream.")
    rotation: int | None = Field(None, description="Display rotation in degrees.")
    vfr: bool | None = Field(None, description="Variable frame rate.")
    has_audio: bool
    has_video: bool
    video_stream: int | None = Field(None, description="Container index of the stream used.")
    audio_stream: int | None = Field(None, description="Container index of the stream used.")
    size_bytes: int | None = None


class Word(_Model):
    start: float
    end: float
    word: str
    prob: float = Field(description="Model's probability for the word, 0..1.")
    speaker: str | None = Field(None, description="Who says it (SPEAKER_1, ...), when the speakers stage ran.")


class Emotion(_Model):
    label: str = Field(description="Most likely emotion.")
    scores: dict[str, float] = Field(description="Score per emotion, summing to 1.")
    by_modality: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="What each modality (face, voice, text) said on its own."
    )


class Prosody(_Model):
    """How a segment was said (see ``avpipe.understand.audio_features`` for how each is measured)."""

    loudness_db: float = Field(description="RMS level in dBFS.")
    pitch_hz: float | None = Field(None, description="Median voiced F0 in Hz.")
    pitch_range_st: float | None = Field(None, description="10th-90th percentile F0 spread in semitones.")
    rate_wps: float | None = Field(None, description="Words per second.")
    pauses: int = Field(0, description="Gaps of 0.3 s or more between words.")
    pause_s: float = Field(0.0, description="Their total length in seconds.")


class Attention(_Model):
    """One keyframe a segment attended to in hybrid fusion."""

    t: float = Field(description="The keyframe's time in seconds.")
    weight: float = Field(description="Attention weight; a segment's weights sum to 1.")


class Segment(_Model):
    start: float
    end: float
    text: str
    words: list[Word] = Field(default_factory=list)
    speaker: str | None = Field(None, description="Who says it (SPEAKER_1, ...): one per segment; a segment "
                                                  "is split where the speaker changes.")
    emotion: Emotion | None = None
    prosody: Prosody | None = None
    attention: list[Attention] = Field(default_factory=list, description="Which keyframes informed this segment.")
    salience: float | None = Field(None, description="Attention-weighted text-frame similarity: how much of "
                                                     "what is said is also seen.")
    language: str | None = Field(None, description="ISO 639-1 code of the language this segment is spoken (and "
                                                   "written) in.")
    language_prob: float | None = Field(None, description="The language head's probability for that language "
                                                          "(mean over the windows probed); None when it was given.")
    text_en: str | None = Field(None, description="English translation of a segment in another language, when "
                                                  "[speech] translate = \"en\".")
    person: str | None = Field(None, description="Who the speaker is: a PERSON_n id of the folder's people index "
                                                 "(<out>/people/), when it knows the voice.")


class Untranscribed(_Model):
    """Speech that was heard and not transcribed: no model at hand could write it in its language."""

    start: float
    end: float
    language: str | None = Field(None, description="The language identified in it.")
    language_prob: float | None = None
    reason: str


class SpeakerTurn(_Model):
    """Who speaks from ``start`` to ``end``: the diarization's timeline, over all the speech
    heard (words transcribed or not: an overlapped "yeah" has a turn and no segment)."""

    start: float
    end: float
    speaker: str


class Transcript(_Model):
    language: str | None = Field(None, description="ISO 639-1 code of the dominant spoken language (most seconds "
                                                   "of speech).")
    languages: dict[str, float] = Field(default_factory=dict, description="Each language's share of the speech "
                                                                          "(by seconds), largest first.")
    segments: list[Segment] = Field(default_factory=list)
    untranscribed: list[Untranscribed] = Field(default_factory=list, description="Speech left without a transcript, "
                                               "with its language and why (never written in another language).")
    speaker_turns: list[SpeakerTurn] = Field(default_factory=list, description="Who speaks when, over all speech "
                                             "heard, when the speakers stage ran (the segments' speakers agree).")


class Shot(_Model):
    """A run of frames with no content cut: ``[start, end)`` in seconds. ``transition`` is how
    it begins: "cut", "dissolve" or "fade" (through black); None for the first shot."""

    start: float
    end: float
    transition: str | None = None


class Label(_Model):
    label: str
    score: float
    id: str | None = Field(None, description="The WordNet 3.0 noun synset the label names (ImageNet's classes are "
                                             "synsets: n02484322 is monkey), when the vocabulary has one.")


class Face(_Model):
    box: tuple[float, float, float, float] = Field(
        description="x, y, width, height as fractions of the frame's width and height."
    )
    emotion: str | None = None
    scores: dict[str, float] = Field(default_factory=dict)
    track: int | None = Field(None, description="The face track it belongs to: n of the \"face n\" events.")
    person: str | None = Field(None, description="Who it is: a PERSON_n id of the folder's people index "
                                                 "(<out>/people/), when it knows the face.")


class DetectedObject(_Model):
    """An object the detector found in a keyframe (COCO's classes with the bundled YOLOv3-tiny)."""

    label: str
    score: float
    box: tuple[float, float, float, float] = Field(
        description="x, y, width, height as fractions of the frame's width and height."
    )


class Keyframe(_Model):
    """A representative frame: the sharpest sampled frame of a shot (or of a long shot's part)."""

    t: float = Field(description="Presentation time of the frame in seconds.")
    shot: int | None = Field(None, description="Index into ``shots``.")
    labels: list[Label] = Field(default_factory=list)
    concept: Label | None = Field(None, description="What the frame surely shows: the top label when its score is at "
                                  "least 0.5, else the most specific familiar WordNet hypernym its labels reach 0.5 "
                                  "under together (\"elephant\", \"mammal\"; never \"object\"); None when "
                                  "nothing is that sure.")
    faces: list[Face] = Field(default_factory=list)
    objects: list[DetectedObject] = Field(default_factory=list, description="Objects with boxes, best first.")
    thumbnail: str | None = Field(None, description="JPEG path relative to the result folder.")
    caption: str | None = Field(None, description="What a vision-language model says the frame shows (the captions "
                                "stage: one per shot, on the shot's first keyframe); None when not captioned.")

    def seen(self) -> str:
        """What the frame shows, as one line for search, ask and summaries: the caption, the top
        labels, the objects counted ("two people, a sports ball") and the faces; "" when nothing."""
        from .words import object_words

        labels = ", ".join(label.label for label in self.labels[:3])
        if self.concept is not None and self.labels and self.concept.label != self.labels[0].label:
            labels = f"{self.concept.label} (perhaps {labels})"
        objects = object_words(self.objects)
        what = "; ".join(p for p in (labels, objects) if p)
        if self.caption:
            what = f"{self.caption} ({what})" if what else self.caption
        if self.faces:
            what += f"{'; ' if what else ''}{len(self.faces)} face{'s' * (len(self.faces) != 1)}"
        return what


class Event(_Model):
    """Something that happens at a time. ``kind`` is one of: shot_change, speech, silence,
    face_appear, face_disappear, object_appear, object_disappear, label, keyword, emotion_change,
    loud_sound, music, sound (a sound class the audio tagger names: singing, a tone, or an AudioSet
    class), text_on_screen, caption (a shot's caption, spanning the shot), speaker_change."""

    start: float
    end: float
    kind: str
    label: str = ""
    score: float = 1.0


class Highlight(_Model):
    start: float
    end: float
    text: str


class Chapter(_Model):
    start: float
    end: float
    title: str


class Summary(_Model):
    method: str = Field("", description="extractive, extractive-lexical (speech in a language the text "
                        "encoder does not read: word statistics), visual (no speech), or the generative model's name.")
    text: str = ""
    highlights: list[Highlight] = Field(default_factory=list)
    chapters: list[Chapter] = Field(default_factory=list)


class AudioRegion(_Model):
    """A run of audio windows of one class: silence, speech, singing, music, tone, loud, sound,
    an AudioSet class with a transformers tagger, or music-like without a tagger."""

    start: float
    end: float
    label: str


class AudioInfo(_Model):
    window_s: float = Field(1.0, description="Length of the classified windows.")
    speech_loudness_db: float | None = Field(None, description="Median loudness of the speech segments.")
    tagger: str | None = Field(None, description="The sound tagger that named the classes (None: loudness only).")
    regions: list[AudioRegion] = Field(default_factory=list)


class EmotionSpan(_Model):
    """A stretch of the video with one fused emotion (consecutive segments joined)."""

    start: float
    end: float
    label: str
    score: float
    speaker: str | None = Field(None, description="Whose emotion it is, when the speakers stage ran.")


class StageInfo(_Model):
    seconds: float = Field(description="Wall-clock time the stage took for this video.")
    ahead_seconds: float | None = Field(None, description="Seconds of the stage's work done beforehand, in the "
                                        "background beside earlier stages (not in `seconds`): the speech "
                                        "stage's voice activity and languages, heard as soon as the audio "
                                        "was decoded.")
    backend: str | None = Field(None, description="Which backend ran, e.g. decord, pyav.")
    model: str | None = Field(None, description="Model name or weight file, when there is one.")
    status: Literal["ok", "partial", "error"] = "ok"
    peak_rss_mb: float | None = Field(None, description="The process's peak resident memory (MB) when the stage "
                                      "ended: where it rises is what raised it.")
    notes: list[str] | None = Field(None, description="What the stage noticed in this input and worked around "
                                    "without losing anything (stereo channels that cancel in a mono mix, say).")


class StageError(_Model):
    stage: str
    type: str = Field(description="Exception class name, e.g. NoAudioStream.")
    message: str


class PersonRef(_Model):
    """Someone the folder's people index (``<out>/people/``, ``avpipe people``) knows in this
    video: by face (face tracks), by voice (speakers) or both."""

    id: str = Field(description="PERSON_n: the same in every video of the folder, kept across runs.")
    name: str | None = Field(None, description="The name a person gave (`avpipe people OUT --name`).")
    faces: list[int] = Field(default_factory=list, description="Face tracks (n of the \"face n\" events).")
    speakers: list[str] = Field(default_factory=list, description="Speakers (SPEAKER_n) with this voice.")


class Result(_Model):
    """Everything avpipe knows about one video. Missing parts are empty and say why in errors."""

    schema_version: str = SCHEMA_VERSION
    avpipe_version: str = ""
    pipeline: str = Field("", description="Name of the pipeline definition that made it.")
    video: VideoInfo
    transcript: Transcript = Field(default_factory=Transcript)
    shots: list[Shot] = Field(default_factory=list)
    keyframes: list[Keyframe] = Field(default_factory=list)
    audio: AudioInfo = Field(default_factory=AudioInfo)
    emotion_timeline: list[EmotionSpan] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    summary: Summary = Field(default_factory=Summary)
    stages: dict[str, StageInfo] = Field(default_factory=dict)
    errors: list[StageError] = Field(default_factory=list)
    people: list[PersonRef] = Field(default_factory=list, description="Who the folder's people index knows here.")

    def speaker_name(self, segment: Segment) -> str | None:
        """Who says ``segment``, as subtitles and reports write it: its person's name where one was
        given, else its speaker (SPEAKER_n), else None."""
        if segment.person:
            for person in self.people:
                if person.id == segment.person and person.name:
                    return person.name
        return segment.speaker

    def speaker_count(self) -> int:
        """How many speakers the transcript names (0 when the speakers stage did not run)."""
        return len({s.speaker for s in self.transcript.segments if s.speaker})

    def keyframes_at(self, times) -> list[Keyframe | None]:
        """The keyframes at ``times`` (e.g. vectors.npz's float32 ``keyframe_t``), None where none is."""
        by_time = {round(k.t, 3): k for k in self.keyframes}
        return [by_time.get(round(float(t), 3)) for t in times]


# --------------------------------------------------------------------------- batch index


class ErrorInfo(_Model):
    type: str
    message: str


class IndexRecord(_Model):
    """One line of ``index.jsonl``: what became of one input of a batch."""

    input: str
    video_id: str | None = None
    status: Status
    result: str | None = Field(None, description="result.json path relative to the out folder.")
    partial: bool = Field(False, description="The result lacks parts; its errors say which.")
    seconds: float | None = Field(None, description="Wall-clock time spent on this input.")
    error: ErrorInfo | None = None


def json_schema() -> dict:
    """The JSON Schema (draft 2020-12) of ``result.json``, generated from :class:`Result`."""
    schema = Result.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://avpipe.dev/schema/result-{SCHEMA_VERSION}.json"
    return schema
