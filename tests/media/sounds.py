"""The labelled set of `avpipe eval sounds`: music, tones, noise and speech, each clip's labels
over the spans where they are heard.

Real: NASA's narrated clip and President Kennedy's line with the crowd behind him, from the
checkout's sample_videos/ (US federal government works, public domain; sample_videos/SOURCES.md).
Made here: a short piece (:data:`CHORDS` and a melody, written as MIDI by :func:`_midi`) rendered
by FluidSynth with the FluidR3 General MIDI soundfont (Debian's ``fluidsynth`` and
``fluid-soundfont-gm``: sampled real instruments, MIT), sines, beeps, a siren sweep, seeded pink
noise, and espeak-ng speech (Debian's ``espeak-ng``; the lines of :data:`ESPEAK_DIALOGUE`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from .common import JFK, NASA, _espeak, _join_mp4, _pcm, _write_jsonl, _write_mp4
from .speakers import ESPEAK_DIALOGUE

if TYPE_CHECKING:
    import numpy as np


#: The made piece of the sound set: four chords (C, Am, F, G) of four beats under a four-note
#: melody, eight bars at 120 beats a minute (16 s). Written here; rendered by FluidSynth with the
#: FluidR3 General MIDI soundfont (Debian's fluid-soundfont-gm: sampled real instruments, MIT).
CHORDS = [(60, 64, 67), (57, 60, 64), (53, 57, 60), (55, 59, 62)]
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")


def _midi(program: int, drums: bool = False) -> bytes:
    """The piece as a standard MIDI file (format 0, one track) played by General MIDI ``program``;
    with ``drums``, over a rock beat on the drum channel (kick, snare, eighth-note hi-hat)."""
    import struct

    def vlq(n: int) -> bytes:
        out = [n & 0x7F]
        while n > 0x7F:
            n >>= 7
            out.append((n & 0x7F) | 0x80)
        return bytes(reversed(out))

    ticks, events = 480, []
    for bar in range(8):
        chord = CHORDS[bar % 4]
        melody = [chord[2] + 12, chord[1] + 12, chord[0] + 12, chord[1] + 12]
        for beat in range(4):
            for pitch, length, velocity in [*((p - 12, 1.0, 70) for p in chord), (melody[beat], 0.9, 90)]:
                start = (bar * 4 + beat) * ticks
                events += [(start, 1, 0x90, pitch, velocity), (start + int(length * ticks), 0, 0x80, pitch, 0)]
            if drums:
                start = (bar * 4 + beat) * ticks
                hits = [(36 if beat % 2 == 0 else 38, 0), (42, 0), (42, ticks // 2)]
                events += [e for note, at in hits for e in ((start + at, 1, 0x99, note, 100),
                                                             (start + at + ticks // 4, 0, 0x89, note, 0))]
    body = b"\x00\xff\x51\x03" + (500000).to_bytes(3, "big") + bytes([0, 0xC0, program])
    now = 0
    for at, _, status, pitch, velocity in sorted(events):
        body += vlq(at - now) + bytes([status, pitch, velocity])
        now = at
    body += b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, ticks) + b"MTrk" + struct.pack(">I", len(body)) + body


def _render(program: int, drums: bool = False) -> "np.ndarray":
    """The piece played by ``program`` through FluidSynth, as 16 kHz samples (trailing silence cut)."""
    import shutil
    import tempfile

    import numpy as np

    synth = shutil.which("fluidsynth")
    if synth is None or not SOUNDFONT.is_file():
        raise FileNotFoundError("fluidsynth and its soundfont are not installed (apt-get install fluidsynth fluid-soundfont-gm)")
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "piece.mid", Path(tmp) / "piece.wav"
        mid.write_bytes(_midi(program, drums))
        subprocess.run([synth, "-ni", "-q", "-F", str(wav), "-r", "16000", str(SOUNDFONT), str(mid)],
                       check=True, capture_output=True, timeout=120)
        x = _pcm(wav)
    loud = np.flatnonzero(np.abs(x) > 0.01)
    return x[: loud[-1] + 1] if len(loud) else x


def _sine(freq: float, seconds: float, level: float = 0.3) -> "np.ndarray":
    import numpy as np

    return (level * np.sin(2 * np.pi * freq * np.arange(int(seconds * 16000)) / 16000)).astype(np.float32)


def _siren(seconds: float, level: float = 0.3) -> "np.ndarray":
    """A tone sweeping 600 to 1,200 Hz and back every 2 s (a siren): tonal, but neither held nor music."""
    import numpy as np

    t = np.arange(int(seconds * 16000)) / 16000
    freq = 900 + 300 * np.sin(2 * np.pi * t / 2.0)
    return (level * np.sin(2 * np.pi * np.cumsum(freq) / 16000)).astype(np.float32)


def _labelled(out: Path, parts: list[tuple["np.ndarray", list[str]]], gap_s: float = 0.0) -> dict:
    """Audio parts one after another (``gap_s`` of silence between) as an MP4, with each part's
    labels over its span."""
    spans = _join_mp4(out, [samples for samples, _ in parts], gap_s)
    labels = [{"label": n, "start": a, "end": b} for (_, names), (a, b) in zip(parts, spans) for n in names]
    return {"video": out.name, "labels": labels}


def sound_set(folder: Path) -> tuple[list[Path], Path]:
    """Build the labelled set of `avpipe eval sounds` in ``folder``: the videos and
    ``sounds.jsonl``. Real: the NASA narration (its music bed, which the tagger hears
    throughout, is a ``maybe``: not checked by ear) and President Kennedy's line with the crowd
    behind him. Made: the piece above on piano and on flute (real instruments' samples), a 440 Hz
    tone and 1 kHz beeps, espeak-ng speech, pink noise, and the piano followed by Kennedy."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    nasa, jfk = NASA, JFK
    piano, flute = _render(0), _render(73)
    kennedy = _pcm(jfk, 0.3, 10.35)
    rng = np.random.default_rng(7)
    white = rng.standard_normal(8 * 16000)
    pink = np.fft.irfft(np.fft.rfft(white) / np.sqrt(np.arange(len(white) // 2 + 1) + 1.0), len(white))
    pink = (0.1 * pink / np.abs(pink).max()).astype(np.float32)
    silence = np.zeros(2 * 16000, np.float32)
    items = [
        {**_labelled(folder / "music_piano.mp4", [(piano, ["music"])]), "made": "made piece, FluidSynth piano"},
        {**_labelled(folder / "music_flute.mp4", [(flute, ["music"])]), "made": "made piece, FluidSynth flute"},
        {**_labelled(folder / "tone_440.mp4", [(_sine(440, 8), ["tone"])]), "made": "440 Hz sine, 8 s"},
        {**_labelled(folder / "tone_beeps.mp4", [(_sine(1000, 3), ["tone"]), (silence, []), (_sine(1000, 3), ["tone"])]),
         "made": "1 kHz beeps of 3 s, 2 s apart"},
        {**_labelled(folder / "noise_pink.mp4", [(pink, [])]), "made": "pink noise, 8 s"},
        {**_labelled(folder / "speech_espeak.mp4", [(np.concatenate([_espeak(v, t) for v, t in ESPEAK_DIALOGUE[:3]]),
                                                     ["speech"])]), "made": "espeak-ng, three lines"},
        {**_labelled(folder / "speech_kennedy.mp4", [(kennedy, ["speech"])]), "made": "real: jfk.mp4, 0.3-10.35 s"},
        {"video": "speech_nasa.mp4", "made": "real: the NASA clip's narration, unchanged",
         "labels": [{"label": "speech", "start": 0.2, "end": 12.9}], "maybe": ["music"]},
        {**_labelled(folder / "piano_then_speech.mp4", [(piano[: 8 * 16000], ["music"]), (kennedy, ["speech"])],
                     gap_s=1.0), "made": "8 s of the piano piece, 1 s of silence, Kennedy's line"},
        {**_labelled(folder / "music_band.mp4", [(_render(33, drums=True), ["music"])]),
         "made": "made piece, FluidSynth electric bass over drums"},
        {**_labelled(folder / "music_under_speech.mp4",
                     [(kennedy + 0.25 * piano[: len(kennedy)] / max(float(np.abs(piano).max()), 1e-9), ["speech", "music"])]),
         "made": "Kennedy's line with the piano piece mixed under it (peak 0.25)"},
        {**_labelled(folder / "siren.mp4", [(_siren(8), [])]), "made": "a sine sweeping 600-1,200 Hz and back every 2 s"},
    ]
    _write_mp4(folder / "speech_nasa.mp4", _pcm(nasa))
    return [folder / x["video"] for x in items], _write_jsonl(folder / "sounds.jsonl", items)
