"""Tracks of boxes across keyframes, for faces and objects: what appears, for how long, and when
it is gone.

A box joins the open track whose last box it overlaps best (IoU at least ``min_iou``), one box
per track per keyframe. A track stays open through keyframes where it is not seen as long as
they are in the same shot, so a face that turns to profile for a keyframe, or an object hidden
for a moment, stays one track; a shot change closes every track that was not seen in the new
shot's first keyframe.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Box = tuple[float, float, float, float]  # x, y, w, h as fractions of the frame


@dataclass
class Track:
    first: float  # time of the first keyframe it is seen in
    last: float  # time of the last
    gone: float  # the first keyframe after its last sighting (its last sighting at the video's end)
    count: int  # keyframes it is seen in
    best: float  # its best score
    box: Box  # its last box
    seen: list[tuple[int, int]] = field(default_factory=list)  # (keyframe, box) indices of its sightings


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two x, y, w, h boxes."""
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    inter = max(0.0, min(ax2, bx2) - max(a[0], b[0])) * max(0.0, min(ay2, by2) - max(a[1], b[1]))
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def tracks(times: list[float], shots: list[int | None], found: list[list[tuple[Box, float]]],
           min_iou: float = 0.3, across_cuts: bool = True) -> list[Track]:
    """Tracks over keyframes at ``times`` (in order; ``shots[i]`` is keyframe i's shot) from the
    ``(box, score)`` pairs seen in each, in order of appearance; a track's ``seen`` says which
    keyframe and which of its boxes each sighting was. ``across_cuts=False``: a new shot opens
    new tracks only (a face in the same place after a cut is often someone else)."""
    done: list[Track] = []
    open_tracks: list[Track] = []
    current: int | None = None
    for i, (t, shot, boxes) in enumerate(zip(times, shots, found)):
        if not across_cuts and shot != current:
            open_tracks = []
        taken: set[int] = set()
        new: list[Track] = []
        for j, (box, score) in sorted(enumerate(boxes), key=lambda jbs: -jbs[1][1]):
            candidates = [(iou(tr.box, box), n) for n, tr in enumerate(open_tracks) if n not in taken]
            overlap, n = max(candidates, default=(0.0, -1))
            if n >= 0 and overlap >= min_iou:
                tr = open_tracks[n]
                tr.last, tr.count, tr.best, tr.box = t, tr.count + 1, max(tr.best, score), box
                tr.seen.append((i, j))
                taken.add(n)
            else:
                new.append(Track(first=t, last=t, gone=t, count=1, best=score, box=box, seen=[(i, j)]))
        done += new
        if shot != current:  # a new shot: only what its first keyframe shows carries on
            open_tracks = [tr for n, tr in enumerate(open_tracks) if n in taken]
            current = shot
        open_tracks += new
    for tr in done:
        later = [t for t in times if t > tr.last]
        tr.gone = later[0] if later else tr.last
    done.sort(key=lambda tr: (tr.first, -tr.best))
    return done
