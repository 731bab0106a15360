"""Build the real-meeting evaluation set (``tests/data/meetings/manifest.json`` and its
``PROVENANCE.md``) that ``avpipe eval summary`` / ``avpipe eval chapters`` and the
``needs_meetings`` tests in ``tests/test_talks.py`` read.

What it makes: the 58 AMI and ICSI meetings of QMSum's validation (our *dev*) and test (our *test*)
splits -- QMSum's ``Product`` domain is AMI (40), its ``Academic`` domain ICSI (18); its
``Committee`` domain (Welsh/Canadian parliament) and its training meetings are not used. Each item
holds the transcript turn by turn as QMSum gives it (the corpus marks ``{vocalsound}``,
``{disfmarker}`` ... and the spaced punctuation stay; ``avpipe.understand.evaluate.plain`` removes
them when the set is read), the human general summary (the answer to QMSum's first general query,
"Summarize the whole meeting." or its like) and the human topic list, one topic per span of turns
(a topic QMSum gives with two spans is two topics with the same title).

Times. QMSum has none. AMI turns get their real times from the AMI manual word annotations
(``words/<meeting>.<A-D>.words.xml``, each word with its start and end): QMSum's speaker roles
are mapped to the AMI speaker letters through ``corpusResources/meetings.xml``, and, speaker by
speaker, the tokens of that speaker's turns (in QMSum's order) are aligned to the words of that
speaker's file (in file order) with :class:`difflib.SequenceMatcher`, then what is left of both
again, keeping only runs of three tokens or more (QMSum now and then lists a turn after where it
was said); a turn runs from the first to the last token of its main run of aligned tokens. The
marks take part in the alignment (``{vocalsound}`` to ``<vocalsound>``, ``{disfmarker}`` to
``<disfmarker>``, ``{gap}`` to ``<gap>``), so a turn that is only a laugh is timed too; the match
rate reported is over the words alone. ICSI turns have no word times in any fetched source, so
they follow each other at 2.5 words a second (words of the plain text). A topic runs from the
start of its first turn to the latest end of its turns.

Sources (fetch both, e.g. with the ``fetch`` tool, as bare git directories; the script reads the
pinned commits with ``git cat-file`` and stops with a clear message when one is missing):

- ``github:Yale-LILY/QMSum`` at ``83d7768c1f2b4dfeb091385d3dc7e239b8e5bb7e`` -- MIT licence
  (Zhong et al. 2021, "QMSum: A New Benchmark for Query-based Multi-domain Meeting
  Summarization", NAACL). Files: ``data/Product/{val,test}/*.json``,
  ``data/Academic/{val,test}/*.json``, ``LICENSE``.
- ``github:Hasetomo2142/ami-corpus-preprocessing`` at
  ``6d845bc07b21c8862afbf38f1b1f9ab3bf40c437`` -- holds the AMI manual annotations as the
  folder ``ami_public_manual_1.6.2`` (its ``00README_MANUAL.txt`` says release 1.7, 2014),
  CC BY 4.0 (its ``LICENCE.txt``); the words files read here are as its first commit added them
  (the one words file it edited later, ``EN2002a.A``, is not used). Files:
  ``ami_public_manual_1.6.2/words/*.words.xml``, ``.../corpusResources/meetings.xml``,
  ``.../LICENCE.txt``.

A mirror is looked for at ``<mirror>/<owner>+<name>/repo`` (a bare repository, or a repository
whose ``.git`` is inside it).

Usage::

    .venv/bin/python scripts/build_meetings_set.py [--out tests/data/meetings] [--mirror /work/.mirror]

The output is deterministic (sorted items, fixed rounding, no dates of the run).
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import html
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from avpipe.understand.evaluate import plain  # noqa: E402  (the same plain text the eval reads)

QMSUM_REPO = "Yale-LILY/QMSum"
QMSUM_COMMIT = "83d7768c1f2b4dfeb091385d3dc7e239b8e5bb7e"
AMI_REPO = "Hasetomo2142/ami-corpus-preprocessing"
AMI_COMMIT = "6d845bc07b21c8862afbf38f1b1f9ab3bf40c437"
AMI_ROOT = "ami_public_manual_1.6.2"

#: QMSum's domain folder -> our corpus name; QMSum's split folder -> our split.
DOMAINS = {"Product": "ami", "Academic": "icsi"}
SPLITS = {"val": "dev", "test": "test"}

#: AMI's role codes (corpusResources/meetings.xml) as QMSum writes them.
ROLES = {"PM": "Project Manager", "ID": "Industrial Designer", "UI": "User Interface", "ME": "Marketing"}

#: Speaking rate that times the ICSI turns (words of the plain text per second).
ICSI_WORDS_PER_SECOND = 2.5

#: AMI word-file elements that stand for a QMSum mark; the rest (e.g. ``transformerror``) are skipped.
AMI_MARKS = {"vocalsound", "disfmarker", "gap", "nonvocalsound", "comment", "pause"}

MARK = re.compile(r"\{[^}]*\}")


class SourceError(RuntimeError):
    """A mirror or a file in it is missing."""


class Mirror:
    """One fetched repository, read at one pinned commit through ``git cat-file``."""

    def __init__(self, root: Path, repo: str, commit: str) -> None:
        base = root / repo.replace("/", "+") / "repo"
        git_dir = base / ".git" if (base / ".git").is_dir() else base
        if not (git_dir / "objects").is_dir():
            raise SourceError(f"{repo}: no mirror at {base}; fetch github:{repo} (commit {commit}) first")
        self.repo, self.commit, self.git_dir = repo, commit, git_dir
        probe = subprocess.run(["git", f"--git-dir={git_dir}", "cat-file", "-e", f"{commit}^{{commit}}"],
                               capture_output=True)
        if probe.returncode != 0:
            raise SourceError(f"{repo}: commit {commit} is not in the mirror at {git_dir}; fetch it again")

    def names(self, folder: str) -> list[str]:
        """The file paths under ``folder`` at the pinned commit, sorted."""
        out = subprocess.run(["git", f"--git-dir={self.git_dir}", "ls-tree", "-r", "--name-only", self.commit,
                              folder.rstrip("/") + "/"], capture_output=True, text=True, check=True).stdout
        return sorted(line for line in out.splitlines() if line)

    def read(self, path: str) -> bytes:
        """The bytes of ``path`` at the pinned commit."""
        done = subprocess.run(["git", f"--git-dir={self.git_dir}", "cat-file", "blob", f"{self.commit}:{path}"],
                              capture_output=True)
        if done.returncode != 0:
            raise SourceError(f"{self.repo}@{self.commit[:12]}: {path} is missing")
        return done.stdout

    def blob(self, path: str) -> str:
        """The git blob id of ``path`` at the pinned commit (for the provenance)."""
        return subprocess.run(["git", f"--git-dir={self.git_dir}", "rev-parse", f"{self.commit}:{path}"],
                              capture_output=True, text=True, check=True).stdout.strip()


@dataclass
class AmiToken:
    """One element of an AMI words file: its key for the alignment and its times."""

    key: str
    start: float
    end: float
    word: bool


@dataclass
class Alignment:
    """Per-turn times of one AMI meeting and the word counts behind its match rate."""

    times: list[tuple[float, float] | None]
    words: int = 0
    matched: int = 0


def token_key(token: str) -> str:
    """The form a QMSum token or an AMI word is compared in (case and HTML entities folded)."""
    return html.unescape(token).casefold()


def ami_speakers(meetings_xml: bytes) -> dict[str, dict[str, str]]:
    """Per AMI meeting, QMSum's role name -> the speaker letter of its words file."""
    out: dict[str, dict[str, str]] = {}
    for meeting in ET.fromstring(meetings_xml).iter("meeting"):
        roles = {}
        for speaker in meeting.iter("speaker"):
            role = ROLES.get(speaker.get("role", ""))
            if role:
                roles[role] = speaker.get("nxt_agent", "")
        out[meeting.get("observation", "")] = roles
    return out


def ami_tokens(words_xml: bytes) -> list[AmiToken]:
    """The words and marks of one speaker's words file, in file order."""
    tokens = []
    for el in ET.fromstring(words_xml):
        tag = el.tag.rsplit("}", 1)[-1]
        if "starttime" not in el.attrib:
            continue
        start = float(el.get("starttime"))
        end = float(el.get("endtime", el.get("starttime")))
        if tag == "w":
            tokens.append(AmiToken(token_key(el.text or ""), start, max(start, end), True))
        elif tag in AMI_MARKS:
            tokens.append(AmiToken("{" + tag + "}", start, max(start, end), False))
    return tokens


def matched_pairs(ours: list[str], theirs: list[str], passes: int = 4, least: int = 3) -> list[tuple[int, int]]:
    """Index pairs of equal tokens: first one monotonic alignment of the whole sequences, then,
    on what is left of both, further alignments that keep only runs of ``least`` tokens or more.
    The later passes catch turns that QMSum lists out of the order the words were spoken in (a
    speaker's turn moved past another of theirs), without pairing lone words far apart."""
    pairs: list[tuple[int, int]] = []
    left_ours, left_theirs = list(range(len(ours))), list(range(len(theirs)))
    for n in range(passes):
        matcher = difflib.SequenceMatcher(None, [ours[i] for i in left_ours], [theirs[j] for j in left_theirs],
                                          autojunk=False)
        found = [(left_ours[a + k], left_theirs[b + k]) for a, b, size in matcher.get_matching_blocks()
                 if size >= (1 if n == 0 else least) for k in range(size)]
        if not found:
            break
        pairs += found
        used_ours, used_theirs = {a for a, _ in found}, {b for _, b in found}
        left_ours = [i for i in left_ours if i not in used_ours]
        left_theirs = [j for j in left_theirs if j not in used_theirs]
    return sorted(pairs)


def main_run(pairs: list[tuple[int, int, bool]], slack: int = 5) -> list[tuple[int, int, bool]]:
    """The part of a turn's aligned tokens that times it: a turn is one stretch of its speaker's
    words file, so the pairs (in our order) are cut where their index in the file goes back or
    jumps ahead by more than the tokens skipped plus ``slack``, and the run with the most words
    (then the most tokens, then the first) is kept. A word or laugh of the turn paired far off in
    the file no longer stretches the turn over minutes."""
    runs: list[list[tuple[int, int, bool]]] = [[pairs[0]]]
    for prev, cur in zip(pairs, pairs[1:]):
        if cur[1] <= prev[1] or cur[1] - prev[1] > (cur[0] - prev[0]) + slack:
            runs.append([])
        runs[-1].append(cur)
    return max(runs, key=lambda r: (sum(w for _, _, w in r), len(r), -r[0][0]))


def align_ami(turns: list[dict], speakers: dict[str, str], words: dict[str, list[AmiToken]]) -> Alignment:
    """Each QMSum turn's (start, end) from the AMI word times (None where no token aligned): the
    first to the last token of its main run (:func:`main_run`)."""
    times: list[tuple[float, float] | None] = [None] * len(turns)
    result = Alignment(times)
    for role, letter in sorted(speakers.items()):
        mine = [i for i, t in enumerate(turns) if t["speaker"] == role]
        ours: list[tuple[int, str, bool]] = []  # (turn index, key, is a word)
        for i in mine:
            for tok in turns[i]["content"].split():
                is_mark = MARK.fullmatch(tok) is not None
                ours.append((i, tok.casefold() if is_mark else token_key(tok), not is_mark))
        theirs = words.get(letter, [])
        by_turn: dict[int, list[tuple[int, int, bool]]] = {}  # turn -> (our index, their index, is a word)
        matched_words = 0
        for a, b in matched_pairs([k for _, k, _ in ours], [t.key for t in theirs]):
            turn, _, is_word = ours[a]
            matched_words += is_word
            by_turn.setdefault(turn, []).append((a, b, is_word))
        for turn, pairs in by_turn.items():
            run = main_run(pairs)
            times[turn] = (min(theirs[b].start for _, b, _ in run), max(theirs[b].end for _, b, _ in run))
        n_words = sum(w for _, _, w in ours)
        result.words += n_words
        result.matched += matched_words
    unknown = {t["speaker"] for t in turns} - set(speakers)
    if unknown:
        raise SourceError(f"speaker roles {sorted(unknown)} are not in meetings.xml")
    return result


def fill_gaps(times: list[tuple[float, float] | None]) -> list[tuple[float, float]]:
    """Turns that nothing aligned to sit, with no length, where the turn before them ended."""
    out, last = [], 0.0
    for t in times:
        if t is None:
            t = (last, last)
        out.append(t)
        last = t[1]
    return out


def icsi_times(turns: list[dict]) -> list[tuple[float, float]]:
    """Back-to-back turns at :data:`ICSI_WORDS_PER_SECOND` words of plain text a second."""
    out, clock = [], 0.0
    for turn in turns:
        length = len(plain(turn["content"]).split()) / ICSI_WORDS_PER_SECOND
        out.append((clock, clock + length))
        clock += length
    return out


def topics_of(meeting: dict, times: list[tuple[float, float]]) -> list[dict]:
    """One topic per span of turns: from its first turn's start to the latest end of its turns
    (QMSum now and then lists a turn after where it was said, so the last turn need not end last)."""
    out = []
    last = len(times) - 1
    for topic in meeting["topic_list"]:
        for span in topic.get("relevant_text_span", []):
            a, b = (min(max(int(x), 0), last) for x in span)
            a, b = min(a, b), max(a, b)
            start = times[a][0]
            end = max(start, *(times[k][1] for k in range(a, b + 1)))
            out.append({"start": round(start, 3), "end": round(end, 3), "title": topic["topic"],
                        "turns": [int(span[0]), int(span[1])]})
    out.sort(key=lambda t: (t["start"], t["end"], t["title"]))
    return out


def build(mirror_root: Path) -> tuple[dict, dict]:
    """The manifest and the figures for the provenance."""
    qmsum = Mirror(mirror_root, QMSUM_REPO, QMSUM_COMMIT)
    ami = Mirror(mirror_root, AMI_REPO, AMI_COMMIT)
    roles = ami_speakers(ami.read(f"{AMI_ROOT}/corpusResources/meetings.xml"))
    word_files = set(ami.names(f"{AMI_ROOT}/words"))
    items, stats = [], {"words": 0, "matched": 0, "ami": [], "icsi": [], "blobs": {}}
    for domain, corpus in DOMAINS.items():
        for folder, split in SPLITS.items():
            paths = [p for p in qmsum.names(f"data/{domain}/{folder}") if p.endswith(".json")]
            if not paths:
                raise SourceError(f"{QMSUM_REPO}: data/{domain}/{folder} holds no meetings")
            for path in paths:
                name = Path(path).stem
                stats["blobs"][path] = qmsum.blob(path)
                meeting = json.loads(qmsum.read(path))
                turns = meeting["meeting_transcripts"]
                general = meeting["general_query_list"][0]
                item: dict = {"id": f"{corpus}-{name}", "split": split, "corpus": corpus, "meeting": name}
                if corpus == "ami":
                    letters = roles.get(name)
                    if not letters:
                        raise SourceError(f"{AMI_REPO}: {name} is not in meetings.xml")
                    words = {}
                    for letter in sorted(set(letters.values())):
                        wpath = f"{AMI_ROOT}/words/{name}.{letter}.words.xml"
                        if wpath not in word_files:
                            raise SourceError(f"{AMI_REPO}@{AMI_COMMIT[:12]}: {wpath} is missing")
                        words[letter] = ami_tokens(ami.read(wpath))
                        stats["blobs"][wpath] = ami.blob(wpath)
                    aligned = align_ami(turns, letters, words)
                    times = fill_gaps(aligned.times)
                    stats["words"] += aligned.words
                    stats["matched"] += aligned.matched
                    unaligned = sum(t is None for t in aligned.times)
                    item.update(times="aligned", word_match=round(aligned.matched / max(1, aligned.words), 6))
                    stats["ami"].append((name, split, aligned.matched, aligned.words, unaligned, max(e for _, e in times)))
                else:
                    times = icsi_times(turns)
                    item.update(times="estimated")
                    stats["icsi"].append((name, split, max(e for _, e in times)))
                item["turns"] = [{"start": round(s, 3), "end": round(max(s, e), 3), "speaker": t["speaker"],
                                  "text": t["content"]} for t, (s, e) in zip(turns, times)]
                item["summary"] = general["answer"]
                item["summary_query"] = general["query"]
                item["topics"] = topics_of(meeting, times)
                items.append(item)
    items.sort(key=lambda it: (it["corpus"], it["id"]))
    manifest = {
        "name": "QMSum AMI and ICSI meetings (validation = dev, test = test)",
        "sources": {QMSUM_REPO: QMSUM_COMMIT, AMI_REPO: AMI_COMMIT},
        "licences": {"QMSum": "MIT", "AMI manual annotations 1.6.2": "CC BY 4.0"},
        "items": items,
    }
    stats["licences"] = {"qmsum": qmsum.read("LICENSE").decode("utf-8"),
                         "ami": ami.read(f"{AMI_ROOT}/LICENCE.txt").decode("latin-1")}
    return manifest, stats


def provenance(manifest: dict, stats: dict, manifest_sha: str) -> str:
    """PROVENANCE.md: where each part comes from, under which licence, how it was made, the counts."""
    items = manifest["items"]

    def count(corpus: str | None = None, split: str | None = None) -> int:
        return sum((corpus is None or i["corpus"] == corpus) and (split is None or i["split"] == split)
                   for i in items)

    words = [len(i["summary"].split()) for i in items]
    topics = [len(i["topics"]) for i in items]
    rate = stats["matched"] / max(1, stats["words"])
    lines = [
        "# The meeting set: provenance",
        "",
        "`manifest.json` is made by `scripts/build_meetings_set.py` (tracked in the repository) from two",
        "fetched public repositories; run it again to rebuild this folder:",
        "",
        "    .venv/bin/python scripts/build_meetings_set.py --out tests/data/meetings --mirror /work/.mirror",
        "",
        "## Sources",
        "",
        f"- **QMSum** (Zhong et al. 2021, NAACL), GitHub `{QMSUM_REPO}` at commit `{QMSUM_COMMIT}`.",
        "  Licence: MIT (its `LICENSE`, copied below). Used: `data/Product/{val,test}/*.json` (AMI meetings)",
        "  and `data/Academic/{val,test}/*.json` (ICSI meetings): the transcripts turn by turn, the answer",
        "  to the first general query (the general summary) and the topic list with its turn spans.",
        f"- **AMI manual annotations 1.6.2** (University of Edinburgh et al.), as GitHub `{AMI_REPO}`",
        f"  holds them at commit `{AMI_COMMIT}` (folder `{AMI_ROOT}`; its `00README_MANUAL.txt` says",
        "  release 1.7, 2014; the words files used are as the repository's first commit added them, the",
        "  one words file edited later, `EN2002a.A`, is not used). Licence: CC BY 4.0 (its `LICENCE.txt`).",
        "  Used: `words/<meeting>.<A-D>.words.xml`",
        "  (the word times) and `corpusResources/meetings.xml` (which letter is which role).",
        "- The ICSI Meeting Corpus transcripts reach us through QMSum only (no times).",
        "",
        "## How",
        "",
        "- Dev split = QMSum's validation meetings, test split = its test meetings; QMSum's training",
        "  meetings and its Committee (parliament) domain are not used.",
        "- Each turn's text is QMSum's as is (marks such as `{vocalsound}`, `{disfmarker}` and the spaced",
        "  punctuation stay; `avpipe.understand.evaluate.plain` removes them at read time).",
        "- AMI turns: per speaker, the tokens of QMSum's turns are aligned to the words (and marks) of",
        "  that speaker's AMI words file (`difflib.SequenceMatcher`, case folded), then what is left of",
        "  both again (runs of 3 tokens or more only: QMSum lists a few turns after where they were said);",
        "  a turn runs from the first to the last token of its main run of aligned tokens. A turn with",
        "  nothing aligned has no length and sits where the turn before it ended.",
        f"- ICSI turns: back to back at {ICSI_WORDS_PER_SECOND} words (of the plain text) a second.",
        "- Topics: one per span of turns QMSum gives (a topic with two spans is two topics of one title),",
        "  from the start of the span's first turn to the latest end of its turns.",
        "- Summary: the answer to QMSum's first general query of the meeting.",
        "",
        "## Figures",
        "",
        f"- Meetings: {len(items)} ({count('ami')} AMI, {count('icsi')} ICSI); dev {count(split='dev')}"
        f" ({count('ami', 'dev')} AMI, {count('icsi', 'dev')} ICSI), test {count(split='test')}"
        f" ({count('ami', 'test')} AMI, {count('icsi', 'test')} ICSI).",
        f"- Summaries: {sum(words) / len(words):.1f} words on average ({min(words)}-{max(words)}).",
        f"- Topics: {min(topics)}-{max(topics)} a meeting, {sum(topics) / len(topics):.1f} on average.",
        f"- AMI words matched to the word annotations: {stats['matched']:,} of {stats['words']:,}"
        f" ({100 * rate:.2f} %).",
        f"- `manifest.json` sha256: `{manifest_sha}`",
        "",
        "| meeting | split | words matched | of | turns not aligned | end (s) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, split, matched, total, unaligned, end in sorted(stats["ami"]):
        lines.append(f"| {name} | {split} | {matched} | {total} | {unaligned} | {end:.0f} |")
    lines += ["", "| ICSI meeting | split | end at 2.5 words/s (s) |", "| --- | --- | --- |"]
    for name, split, end in sorted(stats["icsi"]):
        lines.append(f"| {name} | {split} | {end:.0f} |")
    lines += ["", "## Files read (git blob ids)", ""]
    lines += [f"- `{path}` `{blob}`" for path, blob in sorted(stats["blobs"].items())]
    lines += ["", "## QMSum's licence", "", "```", stats["licences"]["qmsum"].strip(), "```", "",
              "## AMI's licence (first lines; the full text is its LICENCE.txt)", "", "```",
              "\n".join(stats["licences"]["ami"].strip().splitlines()[:4]), "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Build the set into ``--out`` from the mirrors under ``--mirror``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "meetings")
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    args = parser.parse_args(argv)
    try:
        manifest, stats = build(args.mirror)
    except SourceError as exc:
        print(f"build_meetings_set: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(manifest, ensure_ascii=False, indent=1) + "\n"
    (args.out / "manifest.json").write_text(text, encoding="utf-8")
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    (args.out / "PROVENANCE.md").write_text(provenance(manifest, stats, sha), encoding="utf-8")
    rate = stats["matched"] / max(1, stats["words"])
    print(f"{len(manifest['items'])} meetings -> {args.out / 'manifest.json'} (AMI words matched {100 * rate:.2f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
