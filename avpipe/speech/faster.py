"""faster-whisper backend (CTranslate2): int8 on CPU, float16 on CUDA, batched on request.

On CPU, speech is cut at pauses into pieces that fit one Whisper window (up to ``PIECE_S``) and
the pieces are decoded side by side, one single-threaded CTranslate2 worker per core. Whisper's decoder steps
are small matrix products, so a second thread inside one step mostly waits for the first
(tiny.en's decoding was 2.3x slower on two threads than on one, here); whole pieces on separate
cores scale almost linearly. The weights are loaded once and shared by the workers.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from ..cache import once
from ..decode.audio import SAMPLE_RATE
from ..models import REGISTRY, resolve
from ..threads import cpu_threads, torch_threads_kept
from .base import RawSegment, RawWord, group_words

if TYPE_CHECKING:
    import numpy as np

    from ..options import SpeechOptions


#: Longest piece decoded side by side. Shorter than Whisper's 30 s window on purpose: with
#: the speech ending seconds before the window does, Whisper closes its last segment instead of
#: leaving it unfinished for a second window (on 600 s of speech: 25-30 % less time than 30 s
#: pieces, and no worse word error rate).
PIECE_S = 26.0
#: See ``FasterWhisperBackend.transcribe``: a piece's last this-many seconds get no window of their own.
PIECE_TAIL_S = 1.0


@once
def whisper_model(folder: str, device: str, compute: str, workers: int, threads: int):
    """A CTranslate2 Whisper model (faster-whisper's ``WhisperModel``), loaded once per process for
    each set of arguments: the language head and the multilingual backend, both ``base`` with
    one single-threaded worker per core on CPU, share one copy of the weights (280 MB and half a
    second less)."""
    from faster_whisper import WhisperModel

    with torch_threads_kept():  # CTranslate2 sets the loading thread's OpenMP count to its own
        return WhisperModel(folder, device=device, compute_type=compute, num_workers=workers, cpu_threads=threads,
                            local_files_only=True)


class FasterWhisperBackend:
    name = "faster-whisper"

    def __init__(self, options: "SpeechOptions", device: str) -> None:
        from faster_whisper import BatchedInferencePipeline

        self.options = options
        self.model_name = options.model
        folder = resolve(options.model)
        spec = REGISTRY.get(options.model)
        compute = options.compute_type
        if compute == "auto":
            compute = "float16" if device == "cuda" else "int8"
        threads = cpu_threads(options.cpu_threads)
        #: Pieces of one window, each decoded by a single-threaded worker (CPU, unbatched), as
        #: many side by side as there are threads. One thread decodes the same pieces the same
        #: way, one after another, so the transcript does not depend on the thread count (a
        #: Ray actor's one CPU, a laptop's eight). Off: one decoder using every thread slides
        #: over long pieces, as openai-whisper decodes.
        self.pieces = device == "cpu" and options.batch_size <= 1 and options.parallel_pieces
        self.workers = threads if self.pieces else 1
        self.model = whisper_model(str(folder), device, compute, self.workers, 1 if self.pieces else threads)
        self.piece_s = PIECE_S if self.pieces else None
        self.long_pieces_ok = False
        self.english_only = (spec.english_only if spec else False) or not self.model.model.is_multilingual
        # faster-whisper's batched pipeline (GPU) cuts its input with its own VAD into windows of
        # up to 30 s and decodes batch_size of them at once; it is given our speech pieces.
        self.batched = BatchedInferencePipeline(self.model) if options.batch_size > 1 else None

    def transcribe(self, audio: "np.ndarray", language: str | None,
                   task: str = "transcribe") -> tuple[list[RawSegment], str | None]:
        o = self.options
        common = dict(language="en" if self.english_only else language, task=task, beam_size=o.beam_size,
                      word_timestamps=True, condition_on_previous_text=False,
                      temperature=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0) if o.temperature_fallback else (0.0,),
                      compression_ratio_threshold=o.compression_ratio_threshold,
                      log_prob_threshold=o.log_prob_threshold, no_speech_threshold=o.no_speech_threshold)
        if self.batched is not None:
            segments, info = self.batched.transcribe(audio, batch_size=o.batch_size, vad_filter=True, **common)
        else:
            segments, info = self.model.transcribe(audio, vad_filter=False, **common)
        # A piece decoded side by side fits one window. Whisper's loop would seek to its last
        # word and decode what is left, mostly the pause the piece was cut in, as a second full
        # window (as long as the first); a piece whose text reaches its last second stops there.
        stop_at = len(audio) / SAMPLE_RATE - PIECE_TAIL_S if self.pieces else float("inf")
        out = []
        for s in segments:  # a generator: decoding happens here (CTranslate2 releases the GIL)
            words = [RawWord(w.start, w.end, w.word, w.probability) for w in (s.words or [])]
            raw = RawSegment(s.start, s.end, s.text, words, s.avg_logprob, s.no_speech_prob)
            # batched mode gives one segment per 30 s window: split it into sentences
            out.extend(group_words(words, like=raw) if self.batched is not None and words else [raw])
            if s.end >= stop_at:
                break
        return out, info.language

    def transcribe_many(self, pieces: list["np.ndarray"], language: str | None,
                        task: str = "transcribe") -> tuple[list[list[RawSegment]], str | None]:
        """Each piece on its own worker, ``self.workers`` at a time. A multilingual model with
        no language given detects it on the first piece, which is then decoded alone."""
        if not pieces:
            return [], language
        first: list[list[RawSegment]] = []
        if not self.english_only and language is None:
            segments, language = self.transcribe(pieces[0], None, task)
            first, pieces = [segments], pieces[1:]
        with ThreadPoolExecutor(self.workers) as pool:
            rest = [segments for segments, _ in pool.map(lambda piece: self.transcribe(piece, language, task), pieces)]
        return first + rest, "en" if self.english_only else language
