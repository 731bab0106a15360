"""Decode stage: sampled RGB frames and 16 kHz mono audio, streamed with bounded memory.

Frame backends sit behind :class:`~avpipe.decode.base.FrameReader` and a registry of names
(``open_frames(..., backend="pyav")``), the way PySceneDetect's ``open_video`` does it:

- ``decord``: fast random access; x86_64 wheels only, and known to hang or abort on some broken
  files (decord issues #373, #25), which is why each video runs in its own worker process.
- ``pyav``: FFmpeg through PyAV; the fallback, and the backend for files with several video streams.
"""

from .audio import AudioTrack, iter_audio, load_audio
from .base import Frame, FrameReader, open_frames, sample_times

__all__ = ["AudioTrack", "Frame", "FrameReader", "iter_audio", "load_audio", "open_frames", "sample_times"]
