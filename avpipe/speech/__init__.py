"""Speech stage: voice activity detection, then Whisper, then guards against invented text.

    audio (16 kHz mono) ─► vad.speech_regions ─► pieces of speech only ─► backend (Whisper)
        ─► times mapped back to the media ─► guards (no-speech, compression, repetition,
        outside-speech) ─► Transcript with word timestamps

Backends sit behind one protocol (:mod:`avpipe.speech.base`) and a registry of names:
``faster-whisper`` (CTranslate2, the default), ``openai-whisper`` and ``transformers``.
VAD and the guards are ours and shared, so every backend gets the same protection, and
silence is never handed to a model that might fill it with words.
"""

from .transcribe import transcribe

__all__ = ["transcribe"]
