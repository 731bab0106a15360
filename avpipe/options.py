"""Options for each stage, as frozen dataclasses with one comment per field.

The library takes these objects and nothing else; parsing TOML pipeline files, flags and
environment variables happens at the edge (``avpipe.pipeline``, ``avpipe.cli``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DecodeOptions:
    # "auto" uses decord where it is installed and the file is plain (one video stream, no
    # rotation), and PyAV otherwise; "decord" or "pyav" force one backend.
    backend: str = "auto"
    # Frames sampled per second of video, at evenly spaced timestamps starting at 0.
    fps: float = 2.0
    # Upper bound on sampled frames per video: longer videos are sampled more sparsely, so a
    # 10-hour file costs no more memory or encoder time than this many frames.
    max_frames: int = 3600
    # Frames are scaled down so their shorter side has this many pixels (encoders crop 224);
    # smaller frames are never scaled up.
    short_side: int = 256
    # Audio is decoded to mono float32 at this rate (what Whisper and the VAD expect).
    sample_rate: int = 16000
    # Length of the audio pieces handed downstream while decoding, in seconds.
    audio_chunk_s: float = 30.0
    # Stop decoding a stream after this many consecutive undecodable packets (corrupt data).
    max_bad_packets: int = 50


@dataclass(frozen=True)
class ShotOptions:
    # Cut when the colour-histogram distance (0..1, Hellinger) between neighbouring sampled
    # frames exceeds this.
    threshold: float = 0.35
    # No two cuts closer than this many seconds (flashes and fast pans are not shots).
    min_shot_s: float = 1.0
    # A shot longer than this gets one keyframe per this many seconds, not just one.
    keyframe_interval_s: float = 10.0


@dataclass(frozen=True)
class KeyframeOptions:
    # Write a JPEG thumbnail of every keyframe into ``keyframes/`` beside result.json.
    thumbnails: bool = True
    # Longest side of the thumbnail in pixels. The vision stage reads the same JPEG, so this
    # should leave the shorter side at least 224 (480 keeps a 16:9 frame at 480x270).
    thumbnail_size: int = 480
    # JPEG quality, 1..100.
    jpeg_quality: int = 85


@dataclass(frozen=True)
class VisionOptions:
    # Image encoder: "efficientnet-lite0" (bundled, the offline default) or "clip" (CLIP or
    # SigLIP through transformers; needs `clip_model`).
    backend: str = "efficientnet-lite0"
    # CLIP/SigLIP weights for the "clip" backend: a Hugging Face id (from its cache) or a folder.
    clip_model: str | None = None
    # Text encoder of the shared space for the efficientnet backend (registry name or folder).
    text_model: str = "minilm"
    # Labels kept per keyframe, and the least probability a kept label needs.
    top_k: int = 5
    min_score: float = 0.05
    # ConSE: a frame's embedding mixes the text embeddings of its this-many most likely classes.
    conse_top: int = 10
    # Images encoded per forward pass (activation memory grows with it: about 25 MB an image).
    batch_size: int = 8
    # Detect faces (Haar cascade) and score their expression (mini-Xception) on every keyframe.
    faces: bool = True
    # Faces smaller than this fraction of the frame's shorter side are ignored.
    min_face_frac: float = 0.05
    # Read on-screen text (PP-OCR) on keyframes as text_on_screen events; off: it is slow on CPU.
    ocr: bool = False
    # Least recognition confidence of a kept line of text.
    ocr_min_score: float = 0.8


@dataclass(frozen=True)
class SpeechOptions:
    # ASR backend: "faster-whisper" (CTranslate2; default), "openai-whisper", "transformers".
    backend: str = "faster-whisper"
    # Model: a registry name (avpipe models list) or a folder. tiny.en and base are bundled.
    model: str = "tiny.en"
    # Spoken language as an ISO 639-1 code, or None to detect it (English-only models: "en").
    language: str | None = None
    # Beam width; 1 is greedy. 5 (Whisper's own default) costs faster-whisper on CPU about 15 %
    # more time than greedy and lowered the word error rate on 600 s of speech from 0.190 to
    # 0.176 (benchmarks/asr.py); openai-whisper's beam search is several times slower.
    beam_size: int = 5
    # CTranslate2 compute type: "auto" means int8 on CPU, float16 on CUDA.
    compute_type: str = "auto"
    # CPU threads for the model; 0: every core this process may use.
    cpu_threads: int = 0
    # faster-whisper on CPU: cut speech at pauses into pieces of up to 26 s and decode them side
    # by side, one single-threaded worker per thread (about 3x faster on 2 cores than one
    # two-threaded decoder sliding over long pieces, as openai-whisper decodes, which is "off").
    parallel_pieces: bool = True
    # Segments decoded together on GPU (faster-whisper's batched pipeline); 1 = sequential.
    batch_size: int = 1
    # Voice activity detection first: only speech is handed to the model.
    vad: bool = True
    # Drop words that fall outside what the VAD calls speech (a guard; works with vad off too).
    drop_outside_speech: bool = True
    # Silero VAD speech probability threshold, and the padding kept around each speech region.
    vad_threshold: float = 0.5
    vad_pad_s: float = 0.4
    # Silence shorter than this does not split a speech region (faster-whisper's default).
    vad_min_silence_s: float = 2.0
    # Regions closer than this after padding are joined: cutting out short pauses saves little
    # time and costs words at the seams.
    vad_merge_gap_s: float = 1.0
    # Speech is handed to the model in pieces of at most this many seconds (bounded memory).
    max_piece_s: float = 600.0
    # Guards against invented text (Whisper's own thresholds, applied to every backend):
    # drop a segment whose gzip compression ratio exceeds this (looping text compresses well),
    compression_ratio_threshold: float = 2.4
    # or whose no-speech probability exceeds this while its average log-probability is below
    # log_prob_threshold,
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0
    # and collapse any word n-gram repeated more than this many times in a row.
    max_repeats: int = 3
    # Longest segment, in seconds: a longer one is cut at its best word boundary (sentence end,
    # comma, pause). Subtitle style guides allow 7 s, but cutting that fine often lands
    # mid-phrase: Whisper's word times stretch words over the pauses a good cut would use.
    max_segment_s: float = 10.0


@dataclass(frozen=True)
class AudioFeatureOptions:
    # Length of the windows the whole track is classified in (speech, silence, loud, music-like, sound).
    window_s: float = 1.0
    # A silence or music-like run shorter than this is not an event.
    min_event_s: float = 2.0


@dataclass(frozen=True)
class FusionOptions:
    # "hybrid" (cross-attention from each speech segment to the keyframes around it), "late"
    # (weighted mix of per-modality predictions) or "early" (concatenated features, one head).
    strategy: str = "hybrid"
    # A segment's window: its span widened by this many seconds each side.
    window_s: float = 5.0
    # Softmax temperature of the attention over cosine similarities.
    tau: float = 0.05
    # Mixing weights of the text, face and voice predictions (renormalised over those present).
    text_weight: float = 0.5
    face_weight: float = 0.3
    voice_weight: float = 0.2
    # Query/key projections trained by ``avpipe train align`` (a .safetensors file); None: the
    # untrained identity projections (attention by plain cosine similarity).
    align_weights: str | None = None
    # Text-emotion head weights folder; None: the one shipped in the package.
    text_emotion: str | None = None


@dataclass(frozen=True)
class EventOptions:
    # Speech segments closer than this are one speech turn.
    turn_gap_s: float = 1.5
    # Salient terms of the transcript emitted as keyword events (at each place they are said).
    keywords: int = 8
    # A visual label enters when it is a keyframe's top label with at least this probability.
    label_min_score: float = 0.3
    # Events of the same kind and label closer than this are merged into one.
    merge_gap_s: float = 1.0


@dataclass(frozen=True)
class SummaryOptions:
    # "extractive" (sentences chosen in the shared space) or "transformers" (a generative model,
    # given a prompt built from the fused timeline; needs `model`).
    backend: str = "extractive"
    # Hub id (from the local cache) or folder of a causal LM or seq2seq model, for "transformers".
    model: str | None = None
    # Tokens the generative model may write.
    max_new_tokens: int = 160
    # Sentences in the summary paragraph, and the range of highlights.
    sentences: int = 3
    min_highlights: int = 3
    max_highlights: int = 7
    # How much visual salience (from fusion) adds to a sentence's centrality (0: none).
    salience_weight: float = 0.5
    # Chapters are at least this long (seconds) and at most this many.
    min_chapter_s: float = 20.0
    max_chapters: int = 8


@dataclass(frozen=True)
class PipelineOptions:
    # Name of the pipeline definition (file stem), recorded in every result.
    name: str = "default"
    # Stage names in order; each must be registered in ``avpipe.pipeline.STAGES``.
    stages: tuple[str, ...] = ("probe", "decode", "shots", "keyframes", "vision", "speech", "audio", "fusion",
                               "events", "summary")
    # Compute device for model stages: "auto" (CUDA when available), "cpu" or "cuda".
    device: str = "auto"
    decode: DecodeOptions = field(default_factory=DecodeOptions)
    shots: ShotOptions = field(default_factory=ShotOptions)
    keyframes: KeyframeOptions = field(default_factory=KeyframeOptions)
    speech: SpeechOptions = field(default_factory=SpeechOptions)
    vision: VisionOptions = field(default_factory=VisionOptions)
    audio: AudioFeatureOptions = field(default_factory=AudioFeatureOptions)
    fusion: FusionOptions = field(default_factory=FusionOptions)
    events: EventOptions = field(default_factory=EventOptions)
    summary: SummaryOptions = field(default_factory=SummaryOptions)
