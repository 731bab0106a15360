"""``avpipe eval search``: how often a query finds its own moment.

A labelled set is a JSON-lines file, one query a line: ``{"text": "a squirrel"}`` or
``{"image": "photo.jpg"}`` (relative to the file), with the moment it should find:
``"video"`` (the input's file name or stem, or a video id) and ``"start"``/``"end"`` in seconds.
A returned moment is right when it is of that video and overlaps the labelled span with an
intersection over union of at least :data:`MIN_IOU`: a moment spanning the whole video does not
count for one 3-second shot of it. Recall@k is the share of queries with a right moment among
the first k.
"""

from __future__ import annotations

from pathlib import Path

#: How much a found moment must overlap the labelled one (intersection over union).
MIN_IOU = 0.5


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else float(a == b)


def same_video(video_id: str, label: str) -> bool:
    """Whether an index's ``video_id`` (``<stem>-<16 hex>``) is the labelled video."""
    stem = Path(label).stem if "." in Path(label).name else label
    return video_id == label or video_id.rsplit("-", 1)[0] == stem


def read_queries(path: str | Path) -> list[dict]:
    """The labelled queries of a JSON-lines file, image paths made absolute."""
    from ..evaluate import json_lines

    path = Path(path)
    queries = []
    for n, q in json_lines(path):
        if ("text" in q) == ("image" in q) or not {"video", "start", "end"} <= set(q):
            raise ValueError(f"{path}:{n}: a query needs text or image, and video, start, end")
        if "image" in q:
            q["image"] = str((path.parent / q["image"]).resolve())
        queries.append(q)
    return queries


def evaluate_search(index: str | Path, queries: list[dict], ks: tuple[int, ...] = (1, 5)) -> dict:
    """Recall@k per kind of query (``text``, ``image``) and overall, with each query's rank of
    its first right moment (None when not within the largest k)."""
    from .index import load_index
    from .query import search

    collection = load_index(index)
    rows = []
    for q in queries:
        kind = "text" if "text" in q else "image"
        moments = search(collection, text=q.get("text"), image=q.get("image"), k=max(ks))
        rank = next((i + 1 for i, m in enumerate(moments)
                     if same_video(m.video_id, q["video"]) and iou((m.start, m.end), (q["start"], q["end"])) >= MIN_IOU),
                    None)
        top = moments[0] if moments else None
        rows.append({"kind": kind, "query": q.get("text") or Path(q["image"]).name, "video": q["video"],
                     "rank": rank, "top": None if top is None else [top.video_id, top.start, top.end]})
    summary: dict = {}
    for kind in ("text", "image", "all"):
        mine = [r for r in rows if kind in ("all", r["kind"])]
        if mine:
            summary[kind] = {"queries": len(mine), **{f"recall@{k}": round(sum(r["rank"] is not None and r["rank"] <= k
                                                                          for r in mine) / len(mine), 3) for k in ks}}
    return {"summary": summary, "queries": rows}
