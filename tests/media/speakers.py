"""The annotated set of `avpipe eval speakers`: dialogues with known turns, assembled here.

Real voices: NASA's narrator and President Kennedy, cut at their pauses from the checkout's
sample_videos/ (US federal government works, public domain; sample_videos/SOURCES.md). Made
voices: espeak-ng (Debian's ``espeak-ng`` package) speaking the lines written here
(``ESPEAK_DIALOGUE``, ``ESPEAK_THREE``). The turn times are known from the assembly.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .common import JFK, NASA, _espeak, _join_mp4, _pcm, _write_jsonl

if TYPE_CHECKING:
    import numpy as np


def _dialogue(out: Path, lines: list[tuple[str, "np.ndarray"]], gap_s: float = 0.5) -> dict:
    """Lines (speaker, samples) one after another with ``gap_s`` of silence between, as an MP4
    over a grey picture; returns the reference turns."""
    spans = _join_mp4(out, [x for _, x in lines], gap_s, lead=True)
    turns = [{"start": a, "end": b, "speaker": speaker} for (speaker, _), (a, b) in zip(lines, spans)]
    return {"video": out.name, "turns": turns}


#: The espeak-ng lines of the made dialogues: (voice, sentence).
ESPEAK_DIALOGUE = [
    ("en-us", "Good morning. Did you see the launch yesterday afternoon?"),
    ("en+f3", "I did. The rocket climbed so fast that I almost missed it."),
    ("en-us", "The second stage separated right on time, they said."),
    ("en+f3", "And the booster landed back on the ship a few minutes later."),
    ("en-us", "Next month they will try again with a heavier payload."),
    ("en+f3", "Then I will take the whole afternoon off to watch it."),
]
ESPEAK_THREE = [
    ("en-us", "Welcome back to the show. Today we talk about gardens."),
    ("en+f3", "Thank you. Spring is the best time to plant tomatoes."),
    ("en-gb-x-rp+m7", "I disagree. Autumn is better for most vegetables."),
    ("en-us", "Why is that? Most people start their seeds in spring."),
    ("en+f3", "Because the soil is warm and the days are getting longer."),
    ("en-gb-x-rp+m7", "But the autumn rain means you hardly need to water them."),
]


def speaker_set(folder: Path) -> tuple[list[Path], Path]:
    """Build the annotated set of `avpipe eval speakers` in ``folder``: the videos and
    ``speakers.jsonl`` (the reference turns of each). Real voices where we have them: NASA's
    narrator and President Kennedy (``../shared/media``), alternated A B A B from their own
    recordings at their pauses (``sample_videos/``), and the narrator alone; and made voices (espeak-ng), two
    alternating and three in turn. Turn times are known from the assembly."""
    folder.mkdir(parents=True, exist_ok=True)
    nasa, jfk = NASA, JFK
    items = []
    # Real voices: the narrator's two sentences (0.2-4.9 s, 5.15-12.9 s of the clip) and
    # Kennedy's line cut at its pauses ("And so my fellow Americans, ask not" 0.3-4.3 s; "what
    # your country can do for you, ask what you can do for your country" 5.4-10.35 s).
    lines = [("narrator", _pcm(nasa, 0.2, 4.9)), ("kennedy", _pcm(jfk, 0.3, 4.3)),
             ("narrator", _pcm(nasa, 5.15, 12.9)), ("kennedy", _pcm(jfk, 5.4, 10.35))]
    items.append({**_dialogue(folder / "real_two_voices.mp4", lines), "made": "NASA narration and jfk.mp4, alternated"})
    items.append({**_dialogue(folder / "real_one_voice.mp4", [("narrator", _pcm(nasa, 0.2, 12.9))]),
                  "made": "NASA narration alone"})
    items.append({**_dialogue(folder / "espeak_two_voices.mp4", [(v, _espeak(v, s)) for v, s in ESPEAK_DIALOGUE]),
                  "made": "espeak-ng en-us and en+f3, alternating"})
    items.append({**_dialogue(folder / "espeak_three_voices.mp4", [(v, _espeak(v, s)) for v, s in ESPEAK_THREE]),
                  "made": "espeak-ng en-us, en+f3 and en-gb-x-rp+m7 in turn"})
    return [folder / x["video"] for x in items], _write_jsonl(folder / "speakers.jsonl", items)
