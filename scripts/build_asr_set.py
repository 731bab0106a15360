"""Rebuild ``tests/data/asr/``: the multilingual ASR evaluation set that ``avpipe eval asr --set``
and ``tests/test_languages.py`` read (the README's "Languages" section describes it).

The set is real recordings with transcripts written by people, brought from public repository
snapshots, never from a model: 38 clips in nine languages (de, en, es, fr, pt: 6 each; it, ja,
ko, zh: 2 each) and one English-then-German recording made here from two more FLEURS clips
(``en`` 4.3 s, 0.5 s of silence, ``de``), for the language-switch test: 39 in all.

- Google FLEURS (CC BY 4.0), as test fixtures of sebastian-software/cuttledoc (de, en, es, fr,
  pt: its clips 000-003 each; 004 of ``en`` and ``de`` make the switch), victorchentw/WhisperSTT
  (ja, zh) and nobel2040ne/Prosotype (ko);
- Picovoice's leopard and cheetah test recordings (Apache-2.0; the transcripts from each
  repository's ``resources/.test/test_data.json``; cheetah's ``*_norm.wav`` number sentences
  are left out).

The split is fixed by the sources alone: within each language the items are sorted by the
sha256 of ``"<owner>/<name>:<path>"`` (their source) and alternate dev, test, dev, ... The one
switching recording is test. The builder checks the README's test counts (de 3, en 3, es 3,
fr 3, it 1, pt 3, ja 1, ko 1, zh 1, switch 1) and fails if they come out otherwise.

Audio is copied byte for byte (each file's sha256 is its source blob's, pinned below, so a
changed upstream file is an error, not a silently different set); only the switch is made, by
decoding both clips with the venv's ffmpeg (``imageio_ffmpeg``) to 16 kHz mono 16-bit PCM and
writing one WAV with Python's ``wave`` (no encoder, no metadata: the same bytes each run on the
same ffmpeg build). It writes ``manifest.json`` (the ``{file, language, text, split, ...}`` list
of :func:`avpipe.evaluate.read_asr_set`; the switch has ``parts`` and ``switch_s``),
``PROVENANCE.md`` (each item's repository, commit, path, sha256, licence) and the audio under
``<lang>/`` and ``switch/``.

It reads only local mirrors, fetching nothing. Fetch these first (the project's ``fetch``
tool, ``github:<owner>/<name>``, which leaves a bare git directory at
``<mirror>/<owner>+<name>/repo``); each must contain the commit named here:

    sebastian-software/cuttledoc  e0c587883f1fdf67d521f8e0b3c216b22d91fda6
    victorchentw/WhisperSTT       eb374d6401279858cd0ee508ad396707634611c5
    nobel2040ne/Prosotype         19ae123d981dcb476a4e27632336e84570fcc084
    Picovoice/leopard             f0d80c61f03f6438c1ff89d98b62b95796d27003
    Picovoice/cheetah             83c2b51ae8648d21bb3abdb7fa18045a6bf1216d

    .venv/bin/python scripts/build_asr_set.py [--out tests/data/asr] [--mirror /work/.mirror]

The output folder is git-ignored (data from other repositories ships only through the shared
media); files of an earlier build that are no longer in the set are removed from its language
folders.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import subprocess
import sys
import wave
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_RATE = 16000
SILENCE_S = 0.5

#: The snapshot each file is read from.
COMMITS: dict[str, str] = {
    "sebastian-software/cuttledoc": "e0c587883f1fdf67d521f8e0b3c216b22d91fda6",
    "victorchentw/WhisperSTT": "eb374d6401279858cd0ee508ad396707634611c5",
    "nobel2040ne/Prosotype": "19ae123d981dcb476a4e27632336e84570fcc084",
    "Picovoice/leopard": "f0d80c61f03f6438c1ff89d98b62b95796d27003",
    "Picovoice/cheetah": "83c2b51ae8648d21bb3abdb7fa18045a6bf1216d",
}

FLEURS = "Google FLEURS, CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)"
LICENCES: dict[str, str] = {
    "sebastian-software/cuttledoc": f"{FLEURS}; carried by a MIT-licensed repository whose fixtures README says so",
    "victorchentw/WhisperSTT": f"{FLEURS}, per the repository's benchmark-clips/SOURCES.md (the repository has no licence file)",
    "nobel2040ne/Prosotype": f"{FLEURS}, per assets/sample-ko.LICENSE.md (FLEURS ko_kr test row 16); MIT-licensed repository",
    "Picovoice/leopard": "Apache-2.0 (the repository's LICENSE); the sentences are Common Voice prompts, except that "
                         "the English test.wav reads the well-known LibriSpeech line \"Mister Quilter is the apostle ...\"",
    "Picovoice/cheetah": "Apache-2.0 (the repository's LICENSE); the sentences are Common Voice prompts",
}

CUTTLEDOC = "packages/cuttledoc/fixtures"
WHISPERSTT = "WhisperiOS/Models/benchmark-clips"
PICOVOICE = "resources/audio_samples"

#: (repository, file name) -> the sha256 of the file at the pinned commit (the paths are in :func:`sources`).
SHA256: dict[tuple[str, str], str] = {
    ("sebastian-software/cuttledoc", "fleurs-de-000.ogg"): "9c491a9e769848f3ed63e06d014ab25faa338697b3da8ebc41e18f59a2120b4f",
    ("sebastian-software/cuttledoc", "fleurs-de-001.ogg"): "70d282fdca8bdf26b24e16d26e0346e80dcd0a71212bb880e97cdb4a98e1cbda",
    ("sebastian-software/cuttledoc", "fleurs-de-002.ogg"): "5d1913c9ad2abbb23aea03de83b1debff5f5ad291f982e0737ed7e9247104dff",
    ("sebastian-software/cuttledoc", "fleurs-de-003.ogg"): "1d40df38bb3a67a4d42df93a6b5c4aa1623457bb8d5c08c3056e04797ec8e2cd",
    ("sebastian-software/cuttledoc", "fleurs-de-004.ogg"): "a752ad59d87dd5f817c00fa9e5ca193fd4a82b78ac6bb0c10828ccd29c4c144a",
    ("sebastian-software/cuttledoc", "fleurs-en-000.ogg"): "3f5c5cab149908b7133cae1aade5623acae4c870a4c87c62adad0dca0c8b058c",
    ("sebastian-software/cuttledoc", "fleurs-en-001.ogg"): "1b4506c4b2d1b4f7bf34f9df6726e0aaef5736c4231d9a535dd4780be44c43c9",
    ("sebastian-software/cuttledoc", "fleurs-en-002.ogg"): "e9bf3dba720aa7e1c4ebece74a872214537c1a85ea284929b02f18f192f1eb81",
    ("sebastian-software/cuttledoc", "fleurs-en-003.ogg"): "0c1ce3d7b1f51596e6046a5b11bec5dc67585c5edc8a581e331362c9c70b35e0",
    ("sebastian-software/cuttledoc", "fleurs-en-004.ogg"): "a810ef4a6c7e4c5740fef94b9b072e4dc84499c8458d57f1bc3e1e2c12d53706",
    ("sebastian-software/cuttledoc", "fleurs-es-000.ogg"): "4f28948cba8727379a11f1217d50e9a277465a28777c0bdf52e9dd7da4068300",
    ("sebastian-software/cuttledoc", "fleurs-es-001.ogg"): "56ef868ed25dc8bfca4f14ee76f080a4024a74bc9d431a4211c70d3183322c54",
    ("sebastian-software/cuttledoc", "fleurs-es-002.ogg"): "c50bdb59d93fad1e1da2e137fad223255c962bb69c7a37c490437e8e057c2f4c",
    ("sebastian-software/cuttledoc", "fleurs-es-003.ogg"): "2100b72c7b7806db7c3fcb0130a8aa35a77d14f45d2e040da7950527e244aaaf",
    ("sebastian-software/cuttledoc", "fleurs-fr-000.ogg"): "0e5c56fee9864764bd8692a607fe4f6e5d85f575cf9b27e8d7bfb37d2cf7205e",
    ("sebastian-software/cuttledoc", "fleurs-fr-001.ogg"): "86a66127b1cbb8bbd442aa83de559aa574ec9e208fb244c6081b7f85666efbf6",
    ("sebastian-software/cuttledoc", "fleurs-fr-002.ogg"): "a0c43468f1535fbef8669ddffecad80f991fbb137304d4a818d5b945604eb137",
    ("sebastian-software/cuttledoc", "fleurs-fr-003.ogg"): "9341f8c56a4935c97c0ffa3da54ebc3ec309a366559dc3f8c0e73e9c47cd3f36",
    ("sebastian-software/cuttledoc", "fleurs-pt-000.ogg"): "ec5bd9d2a6b0fdfec1780b770f9634694da7bf5cfdc4e40bbf5aa19ce5572654",
    ("sebastian-software/cuttledoc", "fleurs-pt-001.ogg"): "e9e7cc143e4fc8ccadbb13a1999e8710232897dbe91d81cd55850c319fbf5959",
    ("sebastian-software/cuttledoc", "fleurs-pt-002.ogg"): "cdf8df4b17f36901c95bc5ce72dea6c9a0f254d77322706913d807036cb655de",
    ("sebastian-software/cuttledoc", "fleurs-pt-003.ogg"): "732025cc1bb2c1b321d3a76e259c061d683b6ec3deddf20fb3298fa7fea841d1",
    ("Picovoice/leopard", "test.wav"): "79a003da951710b76da63b1220e29e16f361220429c9a024c87667d3c98946b7",
    ("Picovoice/leopard", "test_de.wav"): "7c6d28430a748cee868a89c385d891f99ec383c86714b7e2dd901309b4c0144c",
    ("Picovoice/leopard", "test_es.wav"): "2bd19243d1fe797bd84d62f0b6be0876d26f668f66f1243c47bccdad6c3ce5cb",
    ("Picovoice/leopard", "test_fr.wav"): "e7411e4a1b97f2c56fae07767da40aedae76bd28a32b92003383d0d38c8fe291",
    ("Picovoice/leopard", "test_it.wav"): "5b6c52238937043f05dd5f628cdc0988b7e019918d23edb6df4ba3041ef50f67",
    ("Picovoice/leopard", "test_ja.wav"): "4570305f10cc30b8322aea5f808c4128c0aafb8939107dee9b085c50c6207fa8",
    ("Picovoice/leopard", "test_ko.wav"): "fa3ba55b4710c5bdbdc4a9e356c056b28ab820873ed40cef8c801c99d4c6ba3a",
    ("Picovoice/leopard", "test_pt.wav"): "6fe9613b6273c7e59881125255711f56bd30848ec8f9ec23b44e628956aa557a",
    ("Picovoice/cheetah", "test_de.wav"): "df32ed7498efb4174cf5f8d97262c29d7335a41fa7c797cbdab2c420961662c2",
    ("Picovoice/cheetah", "test_en.wav"): "bf60bcc60e3fc34b2208c1be5a85dbd1642f58611bf04eff1b4a73b20e366dff",
    ("Picovoice/cheetah", "test_es.wav"): "f13a2e9a0c98e3562d787be46be8f964c6954384499d139ea2de942f1b0e5266",
    ("Picovoice/cheetah", "test_fr.wav"): "048c87119e689d2ec7249ff90d3c80cb586c0bfd3e658945ef4e8696fd9fb250",
    ("Picovoice/cheetah", "test_it.wav"): "b04349bd04c74124281ed4f245161a26499706ac7b3622ab5cb38f40d0e6a821",
    ("Picovoice/cheetah", "test_pt.wav"): "fff70bb9e2fcb61c2828d38812a56567abd43089afc04daf1703cf8dd017bd25",
    ("victorchentw/WhisperSTT", "fleurs_ja_1837_clip4.wav"): "362db1a6f89f7a79b2d4a03f3b571c018579431c565fcb21489ac9407fa81ea8",
    ("victorchentw/WhisperSTT", "fleurs_zh_1883_clip5.wav"): "a50269a834d0efd270df29173bbe5f53a1a17184fe3998dabb1a73cbd223fd6a",
    ("victorchentw/WhisperSTT", "fleurs_zh_en_mix_1805_1830_clip6.wav"):
        "546c59974270254ae26ebbaef266569c5369b1ec2c34ca1f70064ffc7522bcaf",
    ("nobel2040ne/Prosotype", "sample-ko.wav"): "ef13e2b646212c56943e9e410f0a1a6a1f5f528ace6670bebbfaeb763c90c2b2",
}

#: The README's test split: items per language, and the one switching recording.
TEST_COUNTS: dict[str, int] = {"de": 3, "en": 3, "es": 3, "fr": 3, "it": 1, "pt": 3, "ja": 1, "ko": 1, "zh": 1,
                               "switch": 1}


@dataclass
class Source:
    """One clip as it is in a repository: where, in which language, what is said, and where it goes."""

    repo: str
    path: str
    language: str
    file: str  #: relative to the output folder
    transcript_from: str  #: where the human transcript was read (repository path, and key)
    text: str = ""
    data: bytes = b""
    sha256: str = ""
    duration_s: float = 0.0
    split: str = ""

    @property
    def key(self) -> str:
        """What the split sorts by: ``<owner>/<name>:<path>``."""
        return f"{self.repo}:{self.path}"


@dataclass
class Mirrors:
    """The local bare git snapshots, read at the pinned commits."""

    root: Path
    _cache: dict[tuple[str, str], bytes] = field(default_factory=dict)

    def git_dir(self, repo: str) -> Path:
        base = self.root / repo.replace("/", "+")
        for candidate in (base / "repo", base):
            if (candidate / "HEAD").exists() and (candidate / "objects").exists():
                return candidate
        raise SystemExit(f"build_asr_set: no mirror of {repo} under {self.root} (looked for {base}/repo); "
                         f"fetch github:{repo} first (it must hold commit {COMMITS[repo]})")

    def read(self, repo: str, path: str) -> bytes:
        """The bytes of ``path`` at the pinned commit of ``repo``."""
        if (repo, path) not in self._cache:
            git_dir, commit = self.git_dir(repo), COMMITS[repo]
            have = subprocess.run(["git", f"--git-dir={git_dir}", "cat-file", "-e", f"{commit}^{{commit}}"],
                                  capture_output=True)
            if have.returncode != 0:
                raise SystemExit(f"build_asr_set: the mirror {git_dir} lacks commit {commit} of {repo}; "
                                 "fetch a snapshot that contains it")
            out = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{commit}:{path}"], capture_output=True)
            if out.returncode != 0:
                raise SystemExit(f"build_asr_set: {repo}@{commit[:12]} has no readable {path}: "
                                 f"{out.stderr.decode(errors='replace').strip()}")
            self._cache[(repo, path)] = out.stdout
        return self._cache[(repo, path)]

    def text(self, repo: str, path: str) -> str:
        return self.read(repo, path).decode("utf-8")


def sources(mirrors: Mirrors) -> list[Source]:
    """Every clip of the set (not the switch), with its transcript, bytes and sha256 checked."""
    out: list[Source] = []
    for language in ("de", "en", "es", "fr", "pt"):
        for k in range(4):
            stem = f"{CUTTLEDOC}/fleurs-{language}-{k:03d}"
            out.append(Source("sebastian-software/cuttledoc", f"{stem}.ogg", language,
                              f"{language}/fleurs-{language}-{k:03d}.ogg", f"{stem}.txt",
                              text=mirrors.text("sebastian-software/cuttledoc", f"{stem}.txt").strip()))
    for repo in ("Picovoice/leopard", "Picovoice/cheetah"):
        tests = json.loads(mirrors.text(repo, "resources/.test/test_data.json"))["tests"]["language_tests"]
        for test in tests:
            if "_norm" in test["audio_file"]:  # number-normalisation sentences, not Common Voice prompts
                continue
            language, name = test["language"], repo.split("/")[1]
            out.append(Source(repo, f"{PICOVOICE}/{test['audio_file']}", language, f"{language}/{name}_{language}.wav",
                              f"resources/.test/test_data.json (transcript of {test['audio_file']})",
                              text=test["transcript"].strip()))
    for stem, language, name in (("fleurs_ja_1837_clip4", "ja", "fleurs_ja_1837"),
                                 ("fleurs_zh_1883_clip5", "zh", "fleurs_zh_1883"),
                                 ("fleurs_zh_en_mix_1805_1830_clip6", "zh", "fleurs_zh_1805_1830")):
        out.append(Source("victorchentw/WhisperSTT", f"{WHISPERSTT}/{stem}.wav", language, f"{language}/{name}.wav",
                          f"{WHISPERSTT}/{stem}.txt",
                          text=mirrors.text("victorchentw/WhisperSTT", f"{WHISPERSTT}/{stem}.txt").strip()))
    note = mirrors.text("nobel2040ne/Prosotype", "assets/sample-ko.LICENSE.md")
    quoted = re.search(r"^>\s*(.+)$", note, re.M)
    if quoted is None:
        raise SystemExit("build_asr_set: Prosotype's assets/sample-ko.LICENSE.md no longer quotes its transcript")
    out.append(Source("nobel2040ne/Prosotype", "assets/sample-ko.wav", "ko", "ko/fleurs_ko_test16.wav",
                      "assets/sample-ko.LICENSE.md (the quoted reference transcript)", text=quoted.group(1).strip()))

    for source in out:
        source.data = mirrors.read(source.repo, source.path)
        source.sha256 = hashlib.sha256(source.data).hexdigest()
        expected = SHA256.get((source.repo, source.path.rsplit("/", 1)[-1]))
        if expected is None:
            raise SystemExit(f"build_asr_set: {source.key} is not among the pinned files (its sha256 is {source.sha256})")
        if source.sha256 != expected:
            raise SystemExit(f"build_asr_set: {source.key} has sha256 {source.sha256}, not the pinned {expected}")
        if not source.text:
            raise SystemExit(f"build_asr_set: {source.key} has an empty transcript")
    return out


def pcm16k(data: bytes) -> bytes:
    """``data`` (any audio file) decoded by the venv's ffmpeg to 16 kHz mono signed 16-bit PCM."""
    import imageio_ffmpeg

    out = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-i", "pipe:0", "-map", "0:a:0",
                          "-ac", "1", "-ar", str(SAMPLE_RATE), "-acodec", "pcm_s16le", "-f", "s16le", "pipe:1"],
                         input=data, capture_output=True)
    if out.returncode != 0 or not out.stdout:
        raise SystemExit(f"build_asr_set: ffmpeg could not decode a clip: {out.stderr.decode(errors='replace')}")
    return out.stdout


def seconds(pcm: bytes) -> float:
    return len(pcm) / (2 * SAMPLE_RATE)


def wav_bytes(pcm: bytes) -> bytes:
    """A plain 16 kHz mono 16-bit WAV of ``pcm`` (no metadata: deterministic)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm)
    return buffer.getvalue()


def assign_splits(items: list[Source]) -> None:
    """Within each language, sorted by the sha256 of the source key, alternate dev, test."""
    for language in sorted({s.language for s in items}):
        mine = sorted((s for s in items if s.language == language),
                      key=lambda s: hashlib.sha256(s.key.encode("utf-8")).hexdigest())
        for k, source in enumerate(mine):
            source.split = "dev" if k % 2 == 0 else "test"


def switch_item(mirrors: Mirrors) -> tuple[dict, bytes]:
    """The English-then-German recording: FLEURS ``en`` 004, 0.5 s of silence, FLEURS ``de`` 004
    (clips in no other item). ``parts`` meet in the middle of the silence; ``switch_s`` is where
    the German audio starts. Returns the manifest item and the WAV bytes."""
    repo = "sebastian-software/cuttledoc"
    parts_in: list[tuple[str, str, str, str]] = []  # language, path, text, sha256
    pcm: dict[str, bytes] = {}
    for language in ("en", "de"):
        path = f"{CUTTLEDOC}/fleurs-{language}-004.ogg"
        data = mirrors.read(repo, path)
        digest = hashlib.sha256(data).hexdigest()
        expected = SHA256[(repo, path.rsplit("/", 1)[-1])]
        if digest != expected:
            raise SystemExit(f"build_asr_set: {repo}:{path} has sha256 {digest}, not the pinned {expected}")
        text = mirrors.text(repo, path[:-4] + ".txt").strip()
        parts_in.append((language, path, text, digest))
        pcm[language] = pcm16k(data)
    silence = b"\0\0" * int(SILENCE_S * SAMPLE_RATE)
    audio = pcm["en"] + silence + pcm["de"]
    en_s, total_s = seconds(pcm["en"]), seconds(audio)
    middle = round(en_s + SILENCE_S / 2, 3)
    item = {"file": "switch/en_de.wav", "language": "de", "split": "test",
            "text": f"{parts_in[0][2]} {parts_in[1][2]}",
            "switch_s": round(en_s + SILENCE_S, 3),
            "parts": [{"language": "en", "start": 0.0, "end": middle, "text": parts_in[0][2]},
                      {"language": "de", "start": middle, "end": round(total_s, 3), "text": parts_in[1][2]}],
            "duration_s": round(total_s, 2),
            "sources": [{"repo": repo, "commit": COMMITS[repo], "path": p, "sha256": d, "transcript": p[:-4] + ".txt"}
                        for _, p, _, d in parts_in],
            "licence": LICENCES[repo]}
    return item, wav_bytes(audio)


def provenance(items: list[Source], switch: dict, switch_sha: str) -> str:
    """``PROVENANCE.md``: each item's repository, commit, path, sha256 and licence."""
    lines = ["# The multilingual ASR set: provenance", "",
             "Made by `scripts/build_asr_set.py` from the repository snapshots below (nothing else, no model "
             "output). Each clip is a byte-for-byte copy of the file at the commit named (same sha256). "
             "Transcripts were written by people: FLEURS's own, and Picovoice's test transcripts (Common "
             "Voice prompts). Split: within each language, sorted by the sha256 of `<owner>/<name>:<path>`, "
             "alternating dev, test; the switching recording is test.", "",
             "## Licences", ""]
    for repo in COMMITS:
        lines.append(f"- `{repo}` @ `{COMMITS[repo]}`: {LICENCES[repo]}")
    lines += ["", "## Items", "",
              "| file | language | split | seconds | repository | commit | path | sha256 | licence | transcript |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for s in sorted(items, key=lambda s: (s.language, s.split, s.file)):
        lines.append(f"| `{s.file}` | {s.language} | {s.split} | {s.duration_s:.2f} | {s.repo} | `{COMMITS[s.repo]}` | "
                     f"`{s.path}` | `{s.sha256}` | {LICENCES[s.repo]} | `{s.transcript_from}` |")
    lines += ["", "## The English-then-German recording", "",
              f"`{switch['file']}` (sha256 `{switch_sha}`, {switch['duration_s']:.2f} s, test): made here, not copied. "
              f"FLEURS `en` then {SILENCE_S} s of silence then FLEURS `de`, each decoded by ffmpeg "
              f"(imageio-ffmpeg) to 16 kHz mono 16-bit PCM and written as one WAV. German starts at "
              f"{switch['switch_s']} s (`switch_s`); the parts meet in the middle of the silence.", ""]
    for part, src in zip(switch["parts"], switch["sources"]):
        lines.append(f"- {part['language']}: {src['repo']} @ `{src['commit']}`, `{src['path']}`, sha256 `{src['sha256']}`, "
                     f"transcript `{src['transcript']}`; {switch['licence']}")
    return "\n".join(lines) + "\n"


def build(out: Path, mirror_root: Path) -> list[dict]:
    """Write the set into ``out``; returns the manifest."""
    mirrors = Mirrors(mirror_root)
    for repo in COMMITS:  # every mirror present before anything is written
        mirrors.git_dir(repo)
    items = sources(mirrors)
    assign_splits(items)
    for source in items:
        source.duration_s = round(seconds(pcm16k(source.data)), 2)
    switch, switch_wav = switch_item(mirrors)
    switch_sha = hashlib.sha256(switch_wav).hexdigest()

    counts = {lang: sum(1 for s in items if s.language == lang and s.split == "test") for lang in TEST_COUNTS}
    counts["switch"] = 1
    if counts != TEST_COUNTS or len(items) + 1 != 39:
        raise SystemExit(f"build_asr_set: the test split came out {counts} over {len(items) + 1} items, "
                         f"not the README's {TEST_COUNTS} over 39")

    manifest = [{"file": s.file, "language": s.language, "text": s.text, "split": s.split, "duration_s": s.duration_s,
                 "repo": s.repo, "commit": COMMITS[s.repo], "path": s.path, "sha256": s.sha256,
                 "transcript": s.transcript_from, "licence": LICENCES[s.repo]}
                for s in sorted(items, key=lambda s: (s.language, s.file))]
    manifest.append({**switch, "sha256": switch_sha})

    out.mkdir(parents=True, exist_ok=True)
    wanted = {out / entry["file"] for entry in manifest}
    for folder in sorted({p.parent for p in wanted}):
        if folder.exists():
            for stale in folder.iterdir():
                if stale.is_file() and stale not in wanted:
                    stale.unlink()
        folder.mkdir(parents=True, exist_ok=True)
    for source in items:
        (out / source.file).write_bytes(source.data)
    (out / switch["file"]).write_bytes(switch_wav)
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (out / "PROVENANCE.md").write_text(provenance(items, switch, switch_sha), encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "asr", help="output folder")
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"),
                        help="folder of the fetched snapshots (<owner>+<name>/repo)")
    args = parser.parse_args(argv)
    manifest = build(args.out, args.mirror)
    print(f"{args.out}: {len(manifest)} items")
    for language in sorted({m["language"] for m in manifest if not m.get("parts")}):
        mine = [m for m in manifest if m["language"] == language and not m.get("parts")]
        durations = [m["duration_s"] for m in mine]
        print(f"  {language}: {len(mine)} items (dev {sum(m['split'] == 'dev' for m in mine)}, "
              f"test {sum(m['split'] == 'test' for m in mine)}), {min(durations):.1f}-{max(durations):.1f} s, "
              f"{sum(durations):.1f} s in all")
    for m in manifest:
        if m.get("parts"):
            print(f"  switch: {m['file']} ({m['split']}), {m['duration_s']:.1f} s, German from {m['switch_s']} s")
    everything = [m["duration_s"] for m in manifest]
    print(f"  durations {min(everything):.1f}-{max(everything):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
