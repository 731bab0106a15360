"""``avpipe eval people``: how well faces and voices tell people apart, on photos and recordings of
real people labelled by whoever published them.

**Faces** (``--faces people.jsonl``: ``{file, person, split}`` per photo, paths relative to the
manifest): the largest face of each photo is described as the pipeline describes a sighting.
Verification over every pair of the split: the true-accept rate (same person, distance under
the threshold) at the shipped threshold and at a false-accept rate of 1 % and 0.1 %; clustering:
B-cubed precision, recall and F1 of :func:`avpipe.people.index.face_groups` at the threshold,
beside the two trivial partitions (everyone alone, everyone one person) and beside dlib's
author's 0.6.

**Voices** (``--voices voices.jsonl``: ``{item, speaker, split, files, spans?}``, each item a
recording of one speaker, or the speaker's turns inside a recording): the item's voice vector
is made as the speakers stage makes a speaker's (the unit mean of GE2E windows), and every pair
of items of different recordings is matched at the shipped similarity: accuracy over the pairs,
and separately over same-voice and different-voice pairs. Baseline in the same run: the cosine
of mean log-mel spectra (what a voice sounds like on average, no speaker model).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from .index import FACE_DISTANCE, VOICE_SIMILARITY, Member, face_groups

if TYPE_CHECKING:
    import numpy as np


def read_manifest(path: str | Path) -> list[dict]:
    """The lines of a JSON-lines manifest, each with ``root``: the manifest's folder."""
    path = Path(path)
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            item["root"] = path.parent
            items.append(item)
    return items


def bcubed(truth: list[str], found: list[int]) -> dict:
    """B-cubed precision, recall and F1 of a clustering ``found`` against labels ``truth``."""
    n = len(truth)
    precision = recall = 0.0
    for i in range(n):
        same_found = [j for j in range(n) if found[j] == found[i]]
        same_truth = [j for j in range(n) if truth[j] == truth[i]]
        both = sum(1 for j in same_found if truth[j] == truth[i])
        precision += both / len(same_found)
        recall += both / len(same_truth)
    p, r = precision / max(n, 1), recall / max(n, 1)
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4)}


def _pairs(vectors: "np.ndarray", labels: list[str], groups: list[str] | None = None):
    """Closeness and sameness of every pair (of different ``groups``, when given)."""
    import numpy as np

    i, j = np.triu_indices(len(labels), k=1)
    if groups is not None:
        keep = np.array([groups[a] != groups[b] for a, b in zip(i, j)], bool)
        i, j = i[keep], j[keep]
    same = np.array([labels[a] == labels[b] for a, b in zip(i, j)], bool)
    return i, j, same


def _rate_at(genuine: "np.ndarray", impostor: "np.ndarray", far: float) -> float:
    """True-accept rate of distances ``genuine`` at the threshold where ``far`` of ``impostor`` pass."""
    import numpy as np

    if not len(impostor) or not len(genuine):
        return float("nan")
    threshold = np.quantile(impostor, far)
    return round(float((genuine < threshold).mean()), 4)


def evaluate_faces(manifest: str | Path, split: str | None = None, threshold: float = FACE_DISTANCE) -> dict:
    """The face report of a manifest's photos (one split, or all): see the module."""
    import numpy as np

    from ..search.query import read_image
    from ..vision.identity import photo_faces

    # a photo of several people (``person`` null) is not an item: whose face is largest is not said
    items = [it for it in read_manifest(manifest) if split in (None, it.get("split")) and it.get("person")]
    vectors, labels, missed = [], [], []
    for it in items:
        faces = photo_faces(read_image(it["root"] / it["file"]))
        if faces:
            vectors.append(faces[0][1])
            labels.append(it["person"])
        else:
            missed.append(it["file"])
    report: dict = {"split": split or "all", "photos": len(items), "people": len(set(labels)),
                    "no_face_found": missed, "threshold": threshold}
    if len(vectors) < 2:
        return report
    vectors = np.stack(vectors)
    i, j, same = _pairs(vectors, labels)
    distance = np.linalg.norm(vectors[i] - vectors[j], axis=1)
    genuine, impostor = distance[same], distance[~same]
    report["pairs"] = {"same": int(same.sum()), "different": int((~same).sum())}
    report["verification"] = {
        "tar_at_threshold": round(float((genuine < threshold).mean()), 4) if len(genuine) else None,
        "far_at_threshold": round(float((impostor < threshold).mean()), 4) if len(impostor) else None,
        "tar_at_far_1%": _rate_at(genuine, impostor, 0.01),
        "tar_at_far_0.1%": _rate_at(genuine, impostor, 0.001),
    }
    members = [Member(key=str(n), video_id="eval", kind="face", local=f"face {n}", vector=v)
               for n, v in enumerate(vectors)]

    def clustered(t: float) -> list[int]:
        found = [0] * len(members)
        for g, group in enumerate(face_groups(members, t)):
            for m in group:
                found[int(m.key)] = g
        return found

    report["clustering"] = {
        f"avpipe ({threshold})": bcubed(labels, clustered(threshold)),
        "dlib's 0.6": bcubed(labels, clustered(0.6)),
        "everyone alone": bcubed(labels, list(range(len(labels)))),
        "everyone one person": bcubed(labels, [0] * len(labels)),
    }
    found = clustered(threshold)
    report["people_merged"] = sum(1 for g in set(found) if len({who for who, f in zip(labels, found) if f == g}) > 1)
    return report


def _voice_vectors(items: list[dict], device: str = "cpu") -> tuple["np.ndarray", "np.ndarray"]:
    """Each item's voice vector (GE2E, as the speakers stage makes it) and its mean log-mel
    spectrum (the baseline), both unit length."""
    import numpy as np

    from ..decode import load_audio
    from ..options import SpeakerOptions
    from ..probe import probe
    from ..speech.speakers import SAMPLE_RATE, embed, mel_frames, windows_over

    options = SpeakerOptions()
    voices, spectra = [], []
    for it in items:
        pieces = []
        for name in it["files"]:
            path = it["root"] / name
            samples = load_audio(path, probe(path)).samples
            spans = it.get("spans") or [[0.0, len(samples) / SAMPLE_RATE]]
            pieces += [samples[int(a * SAMPLE_RATE):int(b * SAMPLE_RATE)] for a, b in spans]
        samples = np.concatenate([p for p in pieces if len(p)]).astype(np.float32)
        duration = len(samples) / SAMPLE_RATE
        windows = windows_over([(0.0, duration)], options, duration)
        vectors = embed([samples[int(w.start * SAMPLE_RATE):int(w.end * SAMPLE_RATE)] for w in windows], device)
        mean = vectors.mean(axis=0)
        voices.append(mean / max(float(np.linalg.norm(mean)), 1e-9))
        spectrum = mel_frames(samples).mean(axis=0)
        spectrum = spectrum - spectrum.mean()
        spectra.append(spectrum / max(float(np.linalg.norm(spectrum)), 1e-9))
    return np.stack(voices), np.stack(spectra)


def _match_report(similarity: "np.ndarray", same: "np.ndarray", threshold: float) -> dict:
    matched = similarity > threshold
    return {"threshold": round(float(threshold), 4),
            "accuracy": round(float((matched == same).mean()), 4),
            "same_voice_matched": round(float(matched[same].mean()), 4) if same.any() else None,
            "different_kept_apart": round(float((~matched[~same]).mean()), 4) if (~same).any() else None}


def _best_threshold(similarity: "np.ndarray", same: "np.ndarray") -> float:
    """The threshold with the best balanced accuracy (a dev set's choice)."""
    import numpy as np

    best, chosen = -1.0, 0.0
    for t in np.unique(np.round(similarity, 3)):
        matched = similarity > t
        score = (matched[same].mean() + (~matched[~same]).mean()) / 2
        if score > best:
            best, chosen = score, float(t)
    return chosen


def evaluate_voices(manifest: str | Path, device: str = "cpu", threshold: float = VOICE_SIMILARITY) -> dict:
    """The voice report of a manifest (every split, each on its own; the baseline's threshold is
    chosen on dev and used on test, as the shipped one was): see the module."""
    items = read_manifest(manifest)
    voices, spectra = _voice_vectors(items, device)
    report: dict = {"items": len(items), "speakers": len({it["speaker"] for it in items}), "splits": {}}
    baseline_threshold = None
    for split in ("dev", "test"):
        rows = [n for n, it in enumerate(items) if it.get("split") == split]
        if len(rows) < 2:
            continue
        labels = [items[n]["speaker"] for n in rows]
        recordings = [items[n].get("recording", items[n]["item"]) for n in rows]
        i, j, same = _pairs(voices[rows], labels, recordings)
        ours = (voices[rows][i] * voices[rows][j]).sum(axis=1)
        base = (spectra[rows][i] * spectra[rows][j]).sum(axis=1)
        if baseline_threshold is None:
            baseline_threshold = _best_threshold(base, same)
        report["splits"][split] = {
            "items": len(rows), "speakers": len(set(labels)),
            "pairs": {"same": int(same.sum()), "different": int((~same).sum())},
            "avpipe (GE2E)": _match_report(ours, same, threshold),
            "mean log-mel baseline": _match_report(base, same, baseline_threshold),
        }
    return report
