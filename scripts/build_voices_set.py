"""Build ``tests/data/conversations/voices.jsonl`` and ``tests/data/conversations/voices/``, the
voice set of real speakers that ``avpipe eval people --voices voices.jsonl`` reads (README,
"avpipe eval people": **Voices**).

It is made from the same recordings as the conversation set beside it
(``scripts/build_conversations_set.py``), read from the same public repository snapshots at the
same commits, brought here with the search tool's ``fetch`` as bare git directories under
``--mirror`` (``OWNER+NAME/repo``). A missing snapshot or commit stops the build with the list of
what to fetch:

- ``pyannote/pyannote-audio`` at ``b749285c5cdd4636b2edc7f766f1352c8dde9369``: ``tests/data/``,
  the "Debug" protocol's AMI excerpts (``*.wav``, the first 30 s of 13 meetings) and their RTTMs.
- ``resemble-ai/Resemblyzer`` at ``15d828edebe06bc72b9cabc8ef8ca5ab2cb457ce``:
  ``audio_data/librispeech_test-other/``, 10 LibriSpeech readers with 10 lines each.
- ``auspicious3000/autovc`` at ``c1827a60e83e6d26030b8953843b2f7cf2bd36db``: ``wavs/``, 4 VCTK
  readers with 10 lines each.

Each item is one speaker's voice in one recording; every pair of items is matched by the
evaluation, so the set asks whether one voice is found again in another recording and two voices
are told apart. What is made (16 kHz mono 16-bit FLAC under ``voices/``, one file per item, its
speech stretches 0.5 s apart, the stretches given as ``spans``):

* ``<READER>-<k>.flac`` (k = 1, 2, 3): each reader's first 10 lines (file order, the lines of the
  conversation set's ``one-<READER>.flac``) cut into three recordings of lines 1-3, 4-6 and 7-10,
  each line trimmed of the silence at its ends and levelled to -24 dBFS as the conversation set
  does. A reader's three recordings are different sentences read at different times.
* ``ami-<MEETING>-<PARTICIPANT>.flac``: an AMI participant's speech alone in one excerpt: the
  stretches where the reference (pyannote's RTTM) has that participant speaking and nobody else,
  pieces of at least :data:`MIN_PIECE_S` (shorter ones are mostly the slop at the edges of
  others' turns), kept when they add up to :data:`MIN_ITEM_S` (a few GE2E windows); the audio as
  published. The excerpts are pyannote's (the conversation set calls their mix the headset mix).
  Some participants speak enough in two excerpts of their meeting series: their two items are
  the set's genuine pairs across meeting recordings.

The split is by speaker and is the conversation set's: readers as ``one_voice.jsonl`` has them
(:data:`READER_SPLIT`; the build stops if that file says otherwise), AMI participants by meeting
series (ES2003 and EN2003 dev, the other EN meetings test; no participant is in both).

``voices.jsonl``: ``{item, speaker, split, files, spans, ...}`` per item, as
:func:`avpipe.people.evaluate.evaluate_voices` reads it (paths relative to the manifest); no
``recording`` key, so that every pair of items is scored (each item is its own recording).
``voices/PROVENANCE.md`` says where each item comes from and under which licence.

    .venv/bin/python scripts/build_voices_set.py [--out tests/data/conversations] [--mirror /work/.mirror]

Deterministic: the inputs are pinned and nothing is drawn.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from snapshots import Mirror, Source  # scripts/snapshots.py: this folder is on sys.path when a script runs

ROOT = Path(__file__).resolve().parents[1]
RATE = 16000

#: repository -> (commit, licence of the repository's own files)
SOURCES: dict[str, tuple[str, str]] = {
    "pyannote/pyannote-audio": ("b749285c5cdd4636b2edc7f766f1352c8dde9369", "MIT"),
    "resemble-ai/Resemblyzer": ("15d828edebe06bc72b9cabc8ef8ca5ab2cb457ce", "Apache-2.0"),
    "auspicious3000/autovc": ("c1827a60e83e6d26030b8953843b2f7cf2bd36db", "MIT"),
}

#: pyannote's Debug excerpt -> the AMI meeting whose first 30 s it is (as the conversation set
#: found them; ``trn02``, one speaker, is not part of that set and not used here).
AMI: dict[str, str] = {
    "dev00": "ES2003a", "dev01": "ES2003b", "trn04": "EN2003a",
    "trñ00": "EN2001a", "trn01": "EN2001b", "trn03": "EN2001e", "tst00": "EN2002a", "tst01": "EN2002b",
    "trn05": "EN2004a", "trn06": "EN2005a", "trn07": "EN2006a", "trn08": "EN2006b", "trn09": "EN2009b",
}
DEBUG_RTTMS = ("tests/data/debug.train.rttm", "tests/data/debug.development.rttm", "tests/data/debug.test.rttm")
#: AMI meeting series whose participants are dev (the conversation set's dev meetings).
AMI_DEV_SERIES = ("ES2003", "EN2003")

#: The conversation set's reader split (its ``one_voice.jsonl``, seed 25).
READER_SPLIT: dict[str, str] = {
    "ls1688": "dev", "ls2033": "dev", "ls2414": "dev", "ls3005": "dev", "ls3080": "dev",
    "vctk-p225": "dev", "vctk-p226": "dev",
    "ls1998": "test", "ls2609": "test", "ls3331": "test", "ls367": "test", "ls533": "test",
    "vctk-p227": "test", "vctk-p228": "test",
}
#: A reader's three recordings: which of its first 10 lines each holds.
READER_PARTS = ((0, 3), (3, 6), (6, 10))

MIN_PIECE_S, MIN_ITEM_S = 0.5, 4.0
GAP_S = 0.5

LICENCES = {
    "AMI": "AMI Meeting Corpus, CC BY 4.0 (AMI Consortium; Carletta et al. 2005)",
    "LibriSpeech": "LibriSpeech ASR corpus, CC BY 4.0 (Panayotov et al. 2015; from LibriVox, public domain)",
    "VCTK": "CSTR VCTK Corpus, CC BY 4.0 (Yamagishi, Veaux, MacDonald 2019)",
}


@dataclass
class Item:
    """One speaker's voice in one recording: its speech pieces and where they came from."""

    name: str
    speaker: str
    split: str
    corpus: str
    pieces: list[np.ndarray]
    sources: list[Source]
    note: str


def speech_frames(samples: np.ndarray, floor_db: float = -35.0) -> np.ndarray:
    """10 ms frame RMS of ``samples`` and which frames are within ``floor_db`` of the loud ones
    (the 95th percentile): the same rule the conversation set trims and levels by."""
    hop = RATE // 100
    frames = samples[: len(samples) // hop * hop].reshape(-1, hop).astype(np.float64)
    rms = np.sqrt((frames ** 2).mean(axis=1)) + 1e-10
    return rms, rms >= np.percentile(rms, 95) * 10 ** (floor_db / 20)


def trimmed(samples: np.ndarray, pad_s: float = 0.05) -> np.ndarray:
    """``samples`` from its first to its last sound, ``pad_s`` kept either side."""
    _, loud = speech_frames(samples)
    where = np.flatnonzero(loud)
    hop, pad = RATE // 100, int(pad_s * RATE)
    return samples[max(0, where[0] * hop - pad): min(len(samples), (where[-1] + 1) * hop + pad)]


def levelled(samples: np.ndarray, target_db: float = -24.0) -> np.ndarray:
    """``samples`` scaled so that their speech frames have an RMS of ``target_db`` dBFS."""
    rms, loud = speech_frames(samples)
    level = np.sqrt((rms[loud] ** 2).mean())
    return (samples * (10 ** (target_db / 20) / level)).astype(np.float32)


def reader_items(mirror: Mirror) -> list[Item]:
    """Three recordings per reader (:data:`READER_PARTS` of its first 10 lines in file order)."""
    lines: dict[str, list[tuple[np.ndarray, Source]]] = {}
    corpus_of: dict[str, str] = {}
    for repo, folder, corpus in (("resemble-ai/Resemblyzer", "audio_data/librispeech_test-other", "LibriSpeech"),
                                 ("auspicious3000/autovc", "wavs", "VCTK")):
        for path in sorted(p for p in mirror.files(repo, folder) if p.endswith((".flac", ".wav"))):
            folder_name = path.split("/")[-2]
            reader = f"ls{folder_name}" if corpus == "LibriSpeech" else f"vctk-{folder_name}"
            if len(lines.setdefault(reader, [])) < 10:
                samples, source = mirror.audio(repo, path, RATE)
                lines[reader].append((levelled(trimmed(samples)), source))
            corpus_of[reader] = corpus
    if sorted(lines) != sorted(READER_SPLIT):
        sys.exit(f"readers found {sorted(lines)}, expected {sorted(READER_SPLIT)}")
    items = []
    for reader in sorted(lines):
        if len(lines[reader]) < 10:
            sys.exit(f"reader {reader}: {len(lines[reader])} lines, expected 10")
        for k, (a, b) in enumerate(READER_PARTS, start=1):
            part = lines[reader][a:b]
            items.append(Item(f"{reader}-{k}", reader, READER_SPLIT[reader], corpus_of[reader], [s for s, _ in part],
                              [src for _, src in part],
                              f"{corpus_of[reader]} reader {reader}, lines {a + 1}-{b} of its first 10"))
    return items


def ascii_name(name: str) -> str:
    """AMI participant ids as AMI writes them (pyannote spells ``MEO069`` ``MÉO069`` on purpose)."""
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()


def read_rttm(text: str) -> dict[str, list[tuple[float, float, str]]]:
    """RTTM ``SPEAKER`` lines by file id: (start, end, speaker)."""
    turns: dict[str, list[tuple[float, float, str]]] = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 8 and f[0] == "SPEAKER":
            start, length = float(f[3]), float(f[4])
            turns.setdefault(ascii_name(f[1]), []).append((start, start + length, ascii_name(f[7])))
    return turns


def solo_pieces(turns: list[tuple[float, float, str]], who: str, duration: float) -> list[tuple[float, float]]:
    """(start, end) of the stretches, on a 10 ms grid, where ``who`` speaks and nobody else does,
    each at least :data:`MIN_PIECE_S` long."""
    n = int(round(duration * 100))
    count, mine = np.zeros(n, int), np.zeros(n, bool)
    for a, b, s in turns:
        i, j = max(0, int(round(a * 100))), min(n, int(round(b * 100)))
        count[i:j] += 1
        if s == who:
            mine[i:j] = True
    alone = np.concatenate([[False], mine & (count == 1), [False]]).astype(int)
    edges = np.flatnonzero(np.diff(alone))
    return [(a / 100, b / 100) for a, b in zip(edges[::2], edges[1::2]) if (b - a) / 100 >= MIN_PIECE_S]


def ami_items(mirror: Mirror) -> list[Item]:
    """Each AMI participant's speech alone in each excerpt, where there is :data:`MIN_ITEM_S` of it."""
    repo = "pyannote/pyannote-audio"
    references: dict[str, list[tuple[float, float, str]]] = {}
    rttm_of: dict[str, Source] = {}
    for path in DEBUG_RTTMS:
        data, source = mirror.read(repo, path)
        for uri, turns in read_rttm(data.decode("utf-8")).items():
            references[uri], rttm_of[uri] = turns, source
    items = []
    for uri, meeting in sorted(AMI.items(), key=lambda kv: kv[1]):
        samples, source = mirror.audio(repo, f"tests/data/{uri}.wav", RATE)
        duration = len(samples) / RATE
        turns = references[ascii_name(uri)]
        split = "dev" if meeting.startswith(AMI_DEV_SERIES) else "test"
        for who in sorted({s for *_, s in turns}):
            pieces = solo_pieces(turns, who, duration)
            if sum(b - a for a, b in pieces) >= MIN_ITEM_S:
                items.append(Item(f"ami-{meeting}-{who}", who, split, "AMI",
                                  [samples[round(a * RATE):round(b * RATE)] for a, b in pieces],
                                  [source, rttm_of[ascii_name(uri)]],
                                  f"AMI {meeting} (pyannote `{uri}`, its first 30 s): {who} alone, "
                                  + ", ".join(f"{a:.2f}-{b:.2f}" for a, b in pieces) + " s"))
    splits: dict[str, set[str]] = {}
    for item in items:
        splits.setdefault(item.speaker, set()).add(item.split)
    both = sorted(s for s, found in splits.items() if len(found) > 1)
    if both:
        sys.exit(f"AMI participants in both splits: {both}")
    return items


def check_reader_split(out: Path) -> None:
    """Stop if the conversation set beside us splits its readers otherwise than :data:`READER_SPLIT`."""
    path = out / "one_voice.jsonl"
    if not path.exists():
        print(f"note: {path} is not there; the reader split is taken as pinned here", file=sys.stderr)
        return
    theirs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            theirs[row["video"].removeprefix("one-").removesuffix(".flac")] = row["split"]
    if theirs != READER_SPLIT:
        sys.exit(f"{path} splits the readers otherwise than READER_SPLIT here: {theirs}")


def write(items: list[Item], out: Path) -> list[dict]:
    """The items' audio under ``voices/`` and ``voices.jsonl``; the manifest rows."""
    folder = out / "voices"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.flac"):
        old.unlink()
    gap = np.zeros(round(GAP_S * RATE), np.float32)
    rows = []
    for item in items:
        parts, spans, t = [], [], 0
        for k, piece in enumerate(item.pieces):
            if k:
                parts.append(gap)
                t += len(gap)
            parts.append(piece)
            spans.append([round(t / RATE, 3), round((t + len(piece)) / RATE, 3)])
            t += len(piece)
        pcm = np.clip(np.round(np.concatenate(parts) * 32767), -32768, 32767).astype(np.int16)
        name = f"voices/{item.name}.flac"
        sf.write(out / name, pcm, RATE, format="FLAC", subtype="PCM_16")
        rows.append({"item": item.name, "speaker": item.speaker, "split": item.split, "files": [name],
                     "spans": spans, "corpus": item.corpus,
                     "speech_s": round(sum(b - a for a, b in spans), 2),
                     "sha256": hashlib.sha256((out / name).read_bytes()).hexdigest(),
                     "sources": [s.cite() for s in item.sources]})
    (out / "voices.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return rows


def provenance(items: list[Item], rows: list[dict]) -> str:
    """voices/PROVENANCE.md: sources, licences, split, and every item."""
    lines = ["# Voices: provenance", "",
             "Built by `scripts/build_voices_set.py` from these repository snapshots (the conversation set's):", ""]
    for repo, (commit, licence) in SOURCES.items():
        lines.append(f"- `{repo}` at `{commit}` (repository licence {licence})")
    lines += ["", "Licences of the recordings:", ""] + [f"- {text}" for text in LICENCES.values()]
    lines += ["", "Changes made: 16 kHz mono 16-bit FLAC; read lines are trimmed of the silence at their ends and "
              "levelled to -24 dBFS (as in the conversation set); AMI speech is as published, cut to the stretches "
              "where the reference has one participant alone. Speech stretches are 0.5 s apart in each file and "
              "listed as `spans` in `voices.jsonl`, which the evaluation reads (the gaps are not heard).", "",
              "## Split (by speaker)", ""]
    for split in ("dev", "test"):
        mine = [r for r in rows if r["split"] == split]
        by_corpus = {c: sum(1 for r in mine if r["corpus"] == c) for c in ("LibriSpeech", "VCTK", "AMI")}
        lines.append(f"- {split}: {len(mine)} recordings of {len({r['speaker'] for r in mine})} speakers "
                     f"({', '.join(f'{c} {n}' for c, n in by_corpus.items())}); "
                     f"{len(mine) * (len(mine) - 1) // 2} pairs")
    lines += ["", "## Evaluate", "", "From `tests/data/conversations/`:", "",
              "    avpipe eval people --voices voices.jsonl", "",
              "## Items", "", "| item | speaker | split | speech s | licence | from | sha256 |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for item, row in zip(items, rows):
        lines.append(f"| `{row['files'][0]}` | {item.speaker} | {item.split} | {row['speech_s']:.1f} | "
                     f"{LICENCES[item.corpus]} | {item.note}:<br>{'<br>'.join(row['sources'])} | {row['sha256'][:12]} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "conversations")
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    args = parser.parse_args()
    mirror = Mirror(args.mirror, {repo: commit for repo, (commit, _) in SOURCES.items()})
    check_reader_split(args.out)
    items = [*reader_items(mirror), *ami_items(mirror)]
    rows = write(items, args.out)
    (args.out / "voices" / "PROVENANCE.md").write_text(provenance(items, rows), encoding="utf-8")
    for split in ("dev", "test"):
        mine = [r for r in rows if r["split"] == split]
        print(f"{split:4} {len(mine):2} recordings of {len({r['speaker'] for r in mine}):2} speakers, "
              f"{sum(r['speech_s'] for r in mine):7.1f} s of speech")
    print(f"wrote {len(rows)} recordings of {len({r['speaker'] for r in rows})} speakers, voices.jsonl and "
          f"voices/PROVENANCE.md to {args.out}")


if __name__ == "__main__":
    main()
