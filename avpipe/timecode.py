"""Times for people: seconds as ``M:SS`` or ``H:MM:SS`` (the report, summaries, answers)."""

from __future__ import annotations


def clock(t: float) -> str:
    """``75.4`` -> ``"1:15"``; an hour or more -> ``"1:02:03"``."""
    s = int(max(0.0, t))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
