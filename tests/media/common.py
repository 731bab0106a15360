"""What every set of the test media shares: the ``ffmpeg`` binary, where the real material is
read, and the helpers that read, write and speak 16 kHz audio.

``FFMPEG`` is imageio-ffmpeg's static build (the wheel ships it; no system FFmpeg is needed).
The real pictures and footage nobody here made are Debian's opencv-doc sample images and videos
(``apt-get install opencv-doc``): ``PHOTOS``, and in it ``FILM`` (a clip of the animated film
Megamind) and ``STREET`` (the static street camera vtest). The real voices are the checkout's
``sample_videos/`` (NASA's narrated Webb clip and President Kennedy's line: US federal government
works, public domain; see sample_videos/SOURCES.md). Made speech is espeak-ng's (Debian's
``espeak-ng`` package).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import imageio_ffmpeg

if TYPE_CHECKING:
    import numpy as np

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
#: Real photos nobody here made: Debian's opencv-doc sample images (`apt-get install opencv-doc`).
PHOTOS = Path("/usr/share/doc/opencv-doc/examples/data")

#: Real footage nobody here made, read where Debian's opencv-doc installs it: a film clip
#: (Megamind, 23.976 fps, four shots) and a static street camera (vtest, 10 fps, 79.5 s).
FILM = PHOTOS / "Megamind.avi"
STREET = PHOTOS / "vtest.avi"
#: Real photos of real people (tests/media/portraits/PROVENANCE.md): US federal works, public
#: domain, and a CC0 self-portrait.
PORTRAITS = Path(__file__).resolve().parent / "portraits"
#: The checkout's real clips (sample_videos/SOURCES.md): NASA's narrated clip and Kennedy's line.
SAMPLES = Path(__file__).resolve().parents[2] / "sample_videos"
NASA = SAMPLES / "nasa_13013.mp4"
JFK = SAMPLES / "jfk.mp4"


def _write_jsonl(path: Path, items: list[dict]) -> Path:
    """``items`` as JSON Lines at ``path`` (a set's reference file); returns ``path``."""
    path.write_text("".join(json.dumps(x) + "\n" for x in items))
    return path


def _espeak_exe() -> str:
    """The espeak-ng binary, or FileNotFoundError saying how to install it."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise FileNotFoundError("espeak-ng is not installed (apt-get install espeak-ng)")
    return espeak


def _pcm(source: Path, start: float = 0.0, end: float | None = None) -> "np.ndarray":
    """16 kHz mono float32 samples of ``source`` (any FFmpeg input), from ``start`` to ``end`` s."""
    import numpy as np

    cmd = [FFMPEG, "-v", "error", "-ss", str(start), "-i", str(source)]
    cmd += ["-t", str(end - start)] if end is not None else []
    raw = subprocess.run([*cmd, "-map", "0:a:0", "-ac", "1", "-ar", "16000", "-f", "s16le", "-"],
                         check=True, capture_output=True, timeout=60).stdout
    return np.frombuffer(raw, np.int16).astype(np.float32) / 32768.0


def _espeak(voice: str, text: str) -> "np.ndarray":
    """A sentence spoken by espeak-ng in ``voice``, as 16 kHz samples, silence trimmed."""
    import tempfile

    import numpy as np

    espeak = _espeak_exe()
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "line.wav"
        subprocess.run([espeak, "-v", voice, "-s", "150", "-w", str(wav), text], check=True, timeout=60)
        x = _pcm(wav)
    loud = np.flatnonzero(np.abs(x) > 0.02)
    return x[loud[0]:loud[-1] + 1] if len(loud) else x


def _write_mp4(out: Path, audio: "np.ndarray") -> None:
    """16 kHz samples as an MP4's AAC track under a grey picture."""
    import tempfile
    import wave

    import numpy as np

    samples = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "audio.wav"
        with wave.open(str(wav), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes(samples.tobytes())
        subprocess.run([FFMPEG, "-y", "-v", "error", "-f", "lavfi", "-i", "color=c=gray:size=160x120:rate=5",
                        "-i", str(wav), "-shortest", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
                        "-b:a", "96k", str(out)], check=True, timeout=120)


def _join_mp4(out: Path, parts: list["np.ndarray"], gap_s: float, lead: bool = False) -> list[tuple[float, float]]:
    """16 kHz parts one after another, ``gap_s`` of silence after each (and before the first, with
    ``lead``), written by :func:`_write_mp4`; returns each part's (start, end) in seconds, rounded to ms."""
    import numpy as np

    gap = np.zeros(int(gap_s * 16000), np.float32)
    audio, spans, t = ([gap], [], gap_s) if lead else ([], [], 0.0)
    for x in parts:
        spans.append((round(t, 3), round(t + len(x) / 16000, 3)))
        audio += [x, gap]
        t += (len(x) + len(gap)) / 16000
    _write_mp4(out, np.concatenate(audio))
    return spans
