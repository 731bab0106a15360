"""What the commands print, in one place: JSON on stdout, lines and tables on stderr.

stdout carries only JSON (one document, or one line per row, as each row is done), so that it can
be piped and parsed; everything meant for a person goes to stderr: ``avpipe: ...`` messages
(:func:`warn`, :func:`fail`), summary lines (:func:`note`) and aligned tables (:func:`table`).
Every command prints through these functions, so that the formats stay the same across them.
Standard library only: it is imported before any command runs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def emit(obj: object, *, ensure_ascii: bool = True, indent: int | None = None) -> None:
    """``obj`` as JSON on stdout (one line unless ``indent``); ``ensure_ascii=False`` keeps non-ASCII text as it is."""
    print(json.dumps(obj, ensure_ascii=ensure_ascii, indent=indent))


def rows(items: Iterable[dict], *, ensure_ascii: bool = True, hide: tuple[str, ...] = ()) -> list[dict]:
    """Each of ``items`` as a JSON line on stdout as it comes (without the keys in ``hide``);
    returns them whole, for a summary."""
    kept = []
    for row in items:
        emit({k: v for k, v in row.items() if k not in hide} if hide else row, ensure_ascii=ensure_ascii)
        kept.append(row)
    return kept


def failure(exc: BaseException, message: str | None = None) -> dict:
    """The ``error`` object of a JSON line: the exception's type and message (``str(exc)`` unless given)."""
    return {"type": type(exc).__name__, "message": str(exc) if message is None else message}


def note(text: str) -> None:
    """One line for a person, on stderr."""
    print(text, file=sys.stderr)


def warn(message: object) -> None:
    """``avpipe: message`` on stderr."""
    note(f"avpipe: {message}")


def fail(message: object, code: int) -> int:
    """:func:`warn`, then ``code``: ``return fail(exc, 2)``."""
    warn(message)
    return code


def f1_text(r: dict) -> str:
    """``F1 0.950 (P 0.905 R 1.000`` of a precision/recall/F1 dict; the caller closes the bracket."""
    return f"F1 {r['f1']:.3f} (P {r['precision']:.3f} R {r['recall']:.3f}"


@dataclass(frozen=True)
class Column:
    """A column of :func:`table`: its title, width and alignment, and the format of its values
    (a format spec such as ``"d"`` or ``".3f"``; a None value is shown as ``-``)."""

    title: str
    width: int
    fmt: str = ""
    align: str = ">"

    def cell(self, value: object) -> str:
        if value is None:
            return f"{'-':{self.align}{self.width}}"
        return f"{value:{self.align}{self.width}{self.fmt}}"


def table(columns: Sequence[Column], values: Iterable[Sequence[object]], indent: str = "") -> None:
    """A header of the columns' titles, then a line per row of ``values``, on stderr; cells are
    separated by one space."""
    note(indent + " ".join(f"{c.title:{c.align}{c.width}}" for c in columns))
    for row in values:
        note(indent + " ".join(c.cell(v) for c, v in zip(columns, row)))
