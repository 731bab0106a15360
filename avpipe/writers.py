"""Writers: everything avpipe puts on disk goes through here, atomically.

Each file is written to a temporary name in the same folder and renamed into place, so a crash
or a kill never leaves a half-written file under its real name. A video's whole result folder
is built under a temporary name too and renamed in one step (see :func:`publish_dir`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import numpy as np

    from .schema import Result


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename (readers never see half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_npz(path: Path, **arrays) -> None:
    """Numpy arrays as one uncompressed ``.npz``, written atomically."""
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def encode_thumbnail(image: "np.ndarray", size: int, quality: int) -> bytes:
    """An RGB frame as JPEG bytes, scaled so its longest side is at most ``size`` pixels."""
    import cv2

    h, w = image.shape[:2]
    scale = min(1.0, size / max(h, w))
    if scale < 1.0:
        image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def write_json(result: "Result", folder: Path) -> Path:
    """``result.json``: the whole result, indented for people, in UTF-8."""
    path = folder / "result.json"
    atomic_write_text(path, result.model_dump_json(indent=2) + "\n")
    return path


def _subtitles(result: "Result", folder: Path, fmt: str) -> Path:
    """The transcript as subtitles through pysubs2 (one cue per segment); an empty file, valid
    for its format, when nothing was said."""
    import pysubs2

    subs = pysubs2.SSAFile()
    for seg in result.transcript.segments:
        subs.append(pysubs2.SSAEvent(start=round(seg.start * 1000), end=round(seg.end * 1000), text=seg.text))
    path = folder / f"transcript.{fmt}"
    atomic_write_text(path, subs.to_string(fmt))
    return path


def write_srt(result: "Result", folder: Path) -> Path:
    """``transcript.srt``: SubRip, ``HH:MM:SS,mmm`` times."""
    return _subtitles(result, folder, "srt")


def write_vtt(result: "Result", folder: Path) -> Path:
    """``transcript.vtt``: WebVTT, with its ``WEBVTT`` header."""
    return _subtitles(result, folder, "vtt")


def write_html(result: "Result", folder: Path) -> Path:
    """``report.html``: the page a person looks at (:mod:`avpipe.report`)."""
    from .report import write_report

    return write_report(result, folder)


#: Output formats by the name ``--formats`` uses.
WRITERS: dict[str, Callable[["Result", Path], Path]] = {"json": write_json, "srt": write_srt, "vtt": write_vtt,
                                                       "html": write_html}


def publish_dir(tmp_dir: Path, final_dir: Path) -> None:
    """Move a finished result folder into place, replacing an older one.

    The old folder is first renamed aside, then the new one renamed in, then the old removed, so
    at every moment the final name holds either a complete old result or a complete new one
    (or, for an instant between the two renames, nothing).
    """
    if final_dir.exists():
        aside = tmp_dir.parent / f"{final_dir.name}.old.{os.getpid()}"
        os.replace(final_dir, aside)
        os.replace(tmp_dir, final_dir)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(tmp_dir, final_dir)


def dumps_line(record: dict) -> str:
    """One JSON line (no spaces wasted, non-ASCII kept readable)."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))
