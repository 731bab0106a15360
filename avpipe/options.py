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
    # Longest side of the thumbnail in pixels.
    thumbnail_size: int = 320
    # JPEG quality, 1..100.
    jpeg_quality: int = 85


@dataclass(frozen=True)
class PipelineOptions:
    # Name of the pipeline definition (file stem), recorded in every result.
    name: str = "default"
    # Stage names in order; each must be registered in ``avpipe.pipeline.STAGES``.
    stages: tuple[str, ...] = ("probe", "decode", "shots", "keyframes")
    # Compute device for model stages: "auto" (CUDA when available), "cpu" or "cuda".
    device: str = "auto"
    decode: DecodeOptions = field(default_factory=DecodeOptions)
    shots: ShotOptions = field(default_factory=ShotOptions)
    keyframes: KeyframeOptions = field(default_factory=KeyframeOptions)
