"""Build ``tests/data/conversations/``, the diarization set of real conversations that
``avpipe eval speakers`` and ``benchmarks/language_cost.py`` read (README, "Real conversations").

The set is git-ignored: it is made from public repository snapshots, brought here with the search
tool's ``fetch`` as bare git directories under ``--mirror`` (``OWNER+NAME/repo``), and every file
is read at the commit pinned in :data:`SOURCES`, so that the same snapshots give the same set:

- ``pyannote/pyannote-audio`` at ``b749285c5cdd4636b2edc7f766f1352c8dde9369``: ``tests/data/``,
  the "Debug" protocol's 14 AMI excerpts (``*.wav``) and their RTTMs; ``tutorials/assets/
  sample.{wav,rttm}``.
- ``resemble-ai/Resemblyzer`` at ``15d828edebe06bc72b9cabc8ef8ca5ab2cb457ce``:
  ``audio_data/librispeech_test-other/``, 10 LibriSpeech readers with 10 lines each.
- ``auspicious3000/autovc`` at ``c1827a60e83e6d26030b8953843b2f7cf2bd36db``: ``wavs/``, 4 VCTK
  readers with 10 lines each (16 kHz).

A missing snapshot or commit stops the build with the list of what to fetch.

What is made (all 16 kHz mono 16-bit FLAC), and why each kind is there:

* ``ami-<MEETING>.flac``: the first 30 s of 13 AMI meetings with their human reference turns
  (pyannote's RTTMs, speakers named by AMI participant ids). The mix is the close-talking one
  (the headset mix, which pyannote's AMI protocols use; the commit that added them, f820edb,
  does not say). This is real
  meeting talk, with short turns, back-channels and overlap. pyannote's 14th excerpt (``trn02``,
  one speaker only) is left out: the set's real meetings have 2-4 people. Which meeting each
  excerpt starts was found by matching its turns against BUT's AMI references
  (BUTSpeechFIT/AMI-diarization-setup, only_words): every excerpt lines up with a meeting's
  first 30 s (see :data:`AMI`).
* ``pyannote-sample.flac``: pyannote's own 30 s two-speaker sample with its RTTM.
* ``conv-NN.flac``: 12 conversations spliced turn by turn from real read speech (LibriSpeech
  test-other and VCTK), 2-4 people, some turns overlapping the one before. The turns are known
  from the assembly: each runs from its line's first to last sound (see :func:`trimmed`).
  These measure who-speaks-when on clean voices where the answer is exact.
* ``one-<READER>.flac``: 14 recordings of one voice, each reader's first 10 lines (in file
  order) back to back, 0.5 s apart, each line a turn: a diarizer must not split one voice.

References: ``speakers.jsonl`` (the real-annotated and the built files) and ``one_voice.jsonl``,
JSON lines ``{video, turns: [{start, end, speaker}], split, kind, ...}`` as
:func:`avpipe.evaluate.read_turns` reads them. The split is per file: real meetings by meeting
series (ES2003 and EN2003 dev, the rest test; the sample dev), and readers by a seeded draw, 7
dev and 7 test, each conversation drawing only on readers of its own split. ``PROVENANCE.md``
says where every file comes from (repository, commit, path, blob) and under which licence, and
gives the evaluation commands per split and kind.

    .venv/bin/python scripts/build_conversations_set.py [--out tests/data/conversations] [--mirror /work/.mirror]

Deterministic: the draws come from one seeded generator (:data:`SEED`) and the inputs are pinned.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from snapshots import Mirror, Source  # scripts/snapshots.py: this folder is on sys.path when a script runs

ROOT = Path(__file__).resolve().parents[1]
RATE = 16000
SEED = 25  # the issue the set was made for

#: repository -> (commit, licence of the repository's own files)
SOURCES: dict[str, tuple[str, str]] = {
    "pyannote/pyannote-audio": ("b749285c5cdd4636b2edc7f766f1352c8dde9369", "MIT"),
    "resemble-ai/Resemblyzer": ("15d828edebe06bc72b9cabc8ef8ca5ab2cb457ce", "Apache-2.0"),
    "auspicious3000/autovc": ("c1827a60e83e6d26030b8953843b2f7cf2bd36db", "MIT"),
}

#: pyannote's Debug excerpt -> (AMI meeting whose first 30 s it is, split). ``trn02`` (one
#: speaker) is not used. ``trn01`` matches EN2001b less closely than the others do their meeting
#: (turn overlap 0.29 against 0.72-1.00): its meeting is the likeliest, not certain.
AMI: dict[str, tuple[str, str]] = {
    "dev00": ("ES2003a", "dev"),
    "dev01": ("ES2003b", "dev"),
    "trn04": ("EN2003a", "dev"),
    "trñ00": ("EN2001a", "test"),
    "trn01": ("EN2001b", "test"),
    "trn03": ("EN2001e", "test"),
    "tst00": ("EN2002a", "test"),
    "tst01": ("EN2002b", "test"),
    "trn05": ("EN2004a", "test"),
    "trn06": ("EN2005a", "test"),
    "trn07": ("EN2006a", "test"),
    "trn08": ("EN2006b", "test"),
    "trn09": ("EN2009b", "test"),
}
DEBUG_RTTMS = ("tests/data/debug.train.rttm", "tests/data/debug.development.rttm", "tests/data/debug.test.rttm")

#: VCTK readers' split, chosen so that each split has one woman and one man (VCTK's speaker
#: info: p225 F, p226 M, p227 M, p228 F). LibriSpeech readers are drawn (:func:`reader_split`).
VCTK_SPLIT = {"p225": "dev", "p226": "dev", "p227": "test", "p228": "test"}

#: Speakers per built conversation, in order: dev's 4 and test's 8.
CONVERSATIONS = {"dev": (2, 3, 3, 4), "test": (2, 2, 2, 3, 3, 3, 4, 4)}

LICENCES = {
    "AMI": "AMI Meeting Corpus, CC BY 4.0 (AMI Consortium; Carletta et al. 2005)",
    "LibriSpeech": "LibriSpeech ASR corpus, CC BY 4.0 (Panayotov et al. 2015; from LibriVox, public domain)",
    "VCTK": "CSTR VCTK Corpus, CC BY 4.0 (Yamagishi, Veaux, MacDonald 2019)",
    "pyannote": "pyannote-audio's sample, shipped under the repository's MIT licence (origin not stated there)",
}


@dataclass
class Line:
    """One read utterance: its speech (silence at both ends trimmed) and where it came from."""

    reader: str
    corpus: str
    samples: np.ndarray
    source: Source


@dataclass
class Item:
    """One file of the set with its reference turns (start, end, speaker)."""

    name: str
    kind: str
    split: str
    samples: np.ndarray
    turns: list[tuple[float, float, str]]
    sources: list[Source]
    licences: list[str]
    note: str = ""
    extra: dict = field(default_factory=dict)


def ascii_name(name: str) -> str:
    """AMI participant ids as AMI writes them: pyannote spells one ``MÉO069`` on purpose (to test
    non-ASCII labels); the corpus's own id is ``MEO069``."""
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()


def read_rttm(text: str) -> dict[str, list[tuple[float, float, str]]]:
    """RTTM ``SPEAKER`` lines by file id: (start, end, speaker)."""
    turns: dict[str, list[tuple[float, float, str]]] = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 8 and f[0] == "SPEAKER":
            start, length = float(f[3]), float(f[4])
            turns.setdefault(f[1], []).append((round(start, 3), round(start + length, 3), ascii_name(f[7])))
    return turns


def real_items(mirror: Mirror) -> list[Item]:
    """The 13 AMI excerpts and pyannote's sample, with their reference turns clipped to the
    audio (the protocol's UEM is 0-30 s for every excerpt)."""
    repo = "pyannote/pyannote-audio"
    references: dict[str, list[tuple[float, float, str]]] = {}
    origin: dict[str, Source] = {}
    for path in DEBUG_RTTMS:
        data, source = mirror.read(repo, path)
        for uri, turns in read_rttm(data.decode("utf-8")).items():
            references[uri], origin[uri] = turns, source
    items = []
    for uri, (meeting, split) in AMI.items():
        samples, source = mirror.audio(repo, f"tests/data/{uri}.wav", RATE)
        end = len(samples) / RATE
        turns = sorted((a, min(b, end), s) for a, b, s in references[ascii_name(uri)] if a < end)
        items.append(Item(f"ami-{meeting}.flac", "ami", split, samples, turns, [source, origin[ascii_name(uri)]],
                          [LICENCES["AMI"]],
                          note=f"pyannote Debug protocol file `{uri}`: the first 30 s of AMI {meeting}, headset mix",
                          extra={"meeting": meeting}))
    samples, source = mirror.audio(repo, "tutorials/assets/sample.wav", RATE)
    data, rttm = mirror.read(repo, "tutorials/assets/sample.rttm")
    items.append(Item("pyannote-sample.flac", "sample", "dev", samples, sorted(read_rttm(data.decode())["sample"]),
                      [source, rttm], [LICENCES["pyannote"]], note="pyannote-audio's tutorial sample"))
    return items


def trimmed(samples: np.ndarray, floor_db: float = -35.0, pad_s: float = 0.05) -> np.ndarray:
    """``samples`` from its first to its last sound: 10 ms frames whose RMS is within
    ``floor_db`` of the loud frames' (95th percentile), ``pad_s`` kept either side. A turn that
    kept the room silence at a recording's ends would count it as speech in the reference (the
    lines here are already tight: this takes off tenths of a second)."""
    hop = RATE // 100
    frames = samples[: len(samples) // hop * hop].reshape(-1, hop)
    rms = np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1)) + 1e-10
    loud = np.flatnonzero(rms >= np.percentile(rms, 95) * 10 ** (floor_db / 20))
    pad = int(pad_s * RATE)
    return samples[max(0, loud[0] * hop - pad): min(len(samples), (loud[-1] + 1) * hop + pad)]


def levelled(samples: np.ndarray, target_db: float) -> np.ndarray:
    """``samples`` scaled so that their speech (frames within 35 dB of the loud ones) has an RMS
    of ``target_db`` dBFS: the sources were recorded at different levels."""
    hop = RATE // 100
    frames = samples[: len(samples) // hop * hop].reshape(-1, hop).astype(np.float64)
    rms = np.sqrt((frames ** 2).mean(axis=1)) + 1e-10
    speech = rms[rms >= np.percentile(rms, 95) * 10 ** (-35 / 20)]
    level = np.sqrt((speech ** 2).mean())
    return (samples * (10 ** (target_db / 20) / level)).astype(np.float32)


def read_lines(mirror: Mirror) -> dict[str, list[Line]]:
    """Each reader's 10 lines in file order: LibriSpeech test-other readers from Resemblyzer's
    demo data (``ls<ID>``), VCTK readers from AutoVC's examples (``vctk-<ID>``)."""
    readers: dict[str, list[Line]] = {}
    for repo, folder, corpus in (("resemble-ai/Resemblyzer", "audio_data/librispeech_test-other", "LibriSpeech"),
                                 ("auspicious3000/autovc", "wavs", "VCTK")):
        for path in sorted(p for p in mirror.files(repo, folder) if p.endswith((".flac", ".wav"))):
            speaker = path.split("/")[-2]
            name = f"ls{speaker}" if corpus == "LibriSpeech" else f"vctk-{speaker}"
            samples, source = mirror.audio(repo, path, RATE)
            readers.setdefault(name, []).append(Line(name, corpus, trimmed(samples), source))
    for name, lines in readers.items():
        if len(lines) < 10:
            sys.exit(f"reader {name}: {len(lines)} lines, expected 10")
        readers[name] = lines[:10]
    return readers


def reader_split(readers: list[str], rng: np.random.Generator) -> dict[str, str]:
    """dev or test per reader: VCTK's by :data:`VCTK_SPLIT`, LibriSpeech's half and half by a draw."""
    librispeech = sorted(r for r in readers if r.startswith("ls"))
    drawn = list(rng.permutation(librispeech))
    split = {r: ("dev" if i < len(drawn) // 2 else "test") for i, r in enumerate(drawn)}
    split.update({f"vctk-{r}": s for r, s in VCTK_SPLIT.items()})
    return split


def one_voice_items(readers: dict[str, list[Line]], split: dict[str, str]) -> list[Item]:
    """Each reader's 10 lines back to back, 0.5 s of silence between them, each line a turn."""
    gap = np.zeros(RATE // 2, np.float32)
    items = []
    for name in sorted(readers):
        parts, turns, t = [], [], 0.0
        for k, line in enumerate(readers[name]):
            if k:
                parts.append(gap)
                t += len(gap) / RATE
            speech = levelled(line.samples, -24.0)
            parts.append(speech)
            turns.append((round(t, 3), round(t + len(speech) / RATE, 3), name))
            t += len(speech) / RATE
        corpus = readers[name][0].corpus
        items.append(Item(f"one-{name}.flac", "one voice", split[name], np.concatenate(parts), turns,
                          [line.source for line in readers[name]], [LICENCES[corpus]],
                          note=f"{corpus} reader {name}'s first 10 lines, 0.5 s apart"))
    return items


def conversation(index: int, names: list[str], readers: dict[str, list[Line]], split: str,
                 rng: np.random.Generator) -> Item:
    """A conversation of ``names`` spliced turn by turn: each turn one whole line of a speaker
    other than the last one (while another has lines left), lines in a drawn order, until the
    drawn length (75-100 s) is reached or the lines run out. A turn follows the latest end so
    far after a pause of 0.15-1.2 s, or, two times in five, starts 0.3-1.5 s before it (an
    overlap, never less than 1 s after the previous turn's start). Each speaker's level is set
    to -24 dBFS within +-3 dB."""
    target = rng.uniform(75.0, 100.0)
    gains = {n: -24.0 + rng.uniform(-3.0, 3.0) for n in names}
    left = {n: [readers[n][i] for i in rng.permutation(len(readers[n]))] for n in names}
    placed: list[tuple[int, np.ndarray, str]] = []
    used: list[Source] = []
    turns: list[tuple[float, float, str]] = []
    last, cursor, last_start = None, 0.0, 0.0
    while any(left.values()) and cursor < target:
        choices = [n for n in names if left[n] and n != last] or [n for n in names if left[n]]
        who = choices[int(rng.integers(len(choices)))]
        line = left[who].pop()
        used.append(line.source)
        speech = levelled(line.samples, gains[who])
        if not turns:
            start = 0.5
        elif rng.random() < 0.4:
            start = max(cursor - rng.uniform(0.3, 1.5), last_start + 1.0)
        else:
            start = cursor + rng.uniform(0.15, 1.2)
        start = round(start * RATE) / RATE
        placed.append((round(start * RATE), speech, who))
        end = start + len(speech) / RATE
        turns.append((round(start, 3), round(end, 3), who))
        last, cursor, last_start = who, max(cursor, end), start
    mix = np.zeros(max(a + len(s) for a, s, _ in placed) + RATE // 2, np.float32)
    for a, speech, _ in placed:
        mix[a:a + len(speech)] += speech
    peak = float(np.abs(mix).max())
    if peak > 0.95:
        mix *= 0.95 / peak
    corpora = sorted({readers[n][0].corpus for n in names})
    return Item(f"conv-{index:02d}.flac", "built", split, mix, sorted(turns), used, [LICENCES[c] for c in corpora],
                note=f"{len(names)} readers: {', '.join(names)}")


def built_items(readers: dict[str, list[Line]], split: dict[str, str], rng: np.random.Generator) -> list[Item]:
    """The 12 conversations of :data:`CONVERSATIONS`, each from readers of its own split."""
    items, index = [], 1
    for part, counts in CONVERSATIONS.items():
        pool = sorted(r for r in readers if split[r] == part)
        for count in counts:
            names = sorted(str(n) for n in rng.choice(pool, size=count, replace=False))
            items.append(conversation(index, names, readers, part, rng))
            index += 1
    return items


def overlap_share(turns: list[tuple[float, float, str]]) -> float:
    """Share of speech time with two or more speakers (10 ms grid)."""
    end = max(b for _, b, _ in turns)
    count = np.zeros(int(end * 100) + 1, int)
    for a, b, _ in turns:
        count[int(round(a * 100)):int(round(b * 100))] += 1
    speech = (count > 0).sum()
    return float((count > 1).sum() / speech) if speech else 0.0


def write(items: list[Item], out: Path) -> None:
    """The audio, the two reference files and PROVENANCE.md."""
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("ami-*.flac"), *out.glob("conv-*.flac"), *out.glob("one-*.flac"), *out.glob("pyannote-*.flac")]:
        old.unlink()
    refs: dict[str, list[str]] = {"speakers.jsonl": [], "one_voice.jsonl": []}
    for item in items:
        pcm = np.clip(np.round(item.samples * 32767), -32768, 32767).astype(np.int16)
        sf.write(out / item.name, pcm, RATE, format="FLAC", subtype="PCM_16")
        row = {"video": item.name, "split": item.split, "kind": item.kind,
               "speakers": len({s for *_, s in item.turns}), "duration_s": round(len(pcm) / RATE, 2),
               **item.extra, "turns": [{"start": a, "end": b, "speaker": s} for a, b, s in item.turns]}
        refs["one_voice.jsonl" if item.kind == "one voice" else "speakers.jsonl"].append(json.dumps(row))
    for name, rows in refs.items():
        (out / name).write_text("\n".join(rows) + "\n", encoding="utf-8")
    (out / "PROVENANCE.md").write_text(provenance(items, out), encoding="utf-8")


def provenance(items: list[Item], out: Path) -> str:
    """Where each file comes from, under which licence, and how the set is evaluated."""
    lines = ["# Real conversations: provenance", "",
             "Built by `scripts/build_conversations_set.py` (seed %d) from these repository snapshots:" % SEED, ""]
    for repo, (commit, licence) in SOURCES.items():
        lines.append(f"- `{repo}` at `{commit}` (repository licence {licence})")
    lines += ["", "Licences of the recordings:", ""] + [f"- {text}" for text in LICENCES.values()]
    lines += ["", "Changes made: all files are 16 kHz mono 16-bit FLAC; read lines are trimmed of the silence at "
              "their ends and levelled; AMI excerpts and pyannote's sample are otherwise as published.", "",
              "## Evaluate", "", "From this folder:", ""]
    groups = {}
    for item in items:
        ref = "one_voice.jsonl" if item.kind == "one voice" else "speakers.jsonl"
        kind = {"ami": "real", "sample": "real"}.get(item.kind, item.kind)
        groups.setdefault((item.split, kind, ref), []).append(item.name)
    for (split, kind, ref), names in sorted(groups.items()):
        lines += [f"    # {split}, {kind} ({len(names)} files)", f"    avpipe eval speakers {' '.join(names)} --ref {ref}"]
    lines += ["", "## Files", "", "| file | split | kind | seconds | speakers | overlap | licence | from |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for item in items:
        digest = hashlib.sha256((out / item.name).read_bytes()).hexdigest()[:12]
        sources = "<br>".join(s.cite() for s in item.sources)
        lines.append(f"| `{item.name}` (sha256 {digest}) | {item.split} | {item.kind} | {len(item.samples) / RATE:.1f} | "
                     f"{len({s for *_, s in item.turns})} | {overlap_share(item.turns):.0%} | "
                     f"{'; '.join(item.licences)} | {item.note}:<br>{sources} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "conversations")
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    args = parser.parse_args()
    mirror = Mirror(args.mirror, {repo: commit for repo, (commit, _) in SOURCES.items()})
    rng = np.random.default_rng(SEED)
    readers = read_lines(mirror)
    split = reader_split(list(readers), rng)
    items = [*real_items(mirror), *built_items(readers, split, rng), *one_voice_items(readers, split)]
    write(items, args.out)
    for part in ("dev", "test"):
        for kind in ("ami", "sample", "built", "one voice"):
            mine = [i for i in items if i.split == part and i.kind == kind]
            if mine:
                print(f"{part:4} {kind:9} {len(mine):2} files, {sum(len(i.samples) for i in mine) / RATE:7.1f} s")
    print(f"wrote {len(items)} files and their references to {args.out}")


if __name__ == "__main__":
    main()
