"""On-screen text: PP-OCRv4 detection and recognition (the ONNX models rapidocr-onnxruntime
ships) on keyframes, as ``text_on_screen`` events. Off by default (``[vision] ocr = true``):
about 0.1-0.4 s per keyframe on two CPU cores, more than the rest of the vision stage.

rapidocr-onnxruntime declares the GUI build of OpenCV; it runs with the headless one, so the
Makefile installs it with ``--no-deps`` and pyproject lists what it really needs.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from ..schema import Event


class ScreenText:
    def __init__(self, min_score: float = 0.8) -> None:
        from rapidocr_onnxruntime import RapidOCR

        self.engine = RapidOCR()
        self.min_score = min_score

    def __call__(self, image: "np.ndarray") -> list[tuple[str, float]]:
        """Lines of text read in an RGB image, top to bottom, with their confidence."""
        import cv2

        found, _ = self.engine(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        lines = sorted(found or [], key=lambda r: (r[0][0][1], r[0][0][0]))
        return [(text.strip(), round(float(score), 3)) for _, text, score in lines
                if float(score) >= self.min_score and text.strip()]


def _key(text: str) -> str:
    return re.sub(r"\W+", "", text.lower())


def text_events(times: list[float], texts: list[list[tuple[str, float]]], end_s: float) -> list["Event"]:
    """One ``text_on_screen`` event per line for as long as it stays on consecutive keyframes:
    from the first keyframe showing it to the first keyframe that no longer does."""
    from ..schema import Event

    events: list[Event] = []
    open_lines: dict[str, list] = {}  # key -> [start, text, best score]
    for t, lines in zip(times, texts):
        seen = {}
        for text, score in lines:
            seen.setdefault(_key(text), (text, score))
        for key in list(open_lines):
            if key not in seen:
                start, text, score = open_lines.pop(key)
                events.append(Event(start=start, end=t, kind="text_on_screen", label=text, score=score))
        for key, (text, score) in seen.items():
            if key in open_lines:
                open_lines[key][2] = max(open_lines[key][2], score)
            else:
                open_lines[key] = [t, text, score]
    for start, text, score in open_lines.values():
        events.append(Event(start=start, end=max(end_s, start), kind="text_on_screen", label=text, score=score))
    return sorted(events, key=lambda e: (e.start, e.label))
