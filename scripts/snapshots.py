"""Read-only access to pinned commits of fetched repository snapshots, for the evaluation-set
builders in this folder (``build_*_set.py``).

The project's ``fetch`` tool leaves each repository as a bare git directory at
``<mirror>/<owner>+<name>/repo``. A builder names the commit it reads of each repository; every
file it takes is read at that commit, so a set is the same whatever was fetched later, and its
provenance can name the commit and the git blob of each file.
"""

from __future__ import annotations

import io
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Source:
    """One file read from a snapshot: where it is, for a PROVENANCE.md."""

    repo: str
    commit: str
    path: str
    blob: str

    def cite(self) -> str:
        return f"{self.repo}@{self.commit[:12]}:{self.path} (blob {self.blob[:12]})"


class Mirror:
    """The snapshots under ``root``, each read at its commit in ``commits`` (repo -> commit).
    Stops the builder, naming what to fetch, when a snapshot or its commit is missing."""

    def __init__(self, root: Path, commits: dict[str, str]) -> None:
        self.root, self.commits = root, commits
        missing = []
        for repo, commit in commits.items():
            git_dir = self.git_dir(repo)
            ok = git_dir.is_dir() and subprocess.run(
                ["git", "--git-dir", str(git_dir), "cat-file", "-e", f"{commit}^{{commit}}"],
                capture_output=True).returncode == 0
            if not ok:
                missing.append(f"  {repo} at {commit} (expected in {git_dir})")
        if missing:
            sys.exit("missing repository snapshots; fetch them (search tool: fetch github:OWNER/NAME) with these "
                     "commits, or pass --mirror:\n" + "\n".join(missing))

    def git_dir(self, repo: str) -> Path:
        """The git directory of ``repo`` under the mirror root: the bare ``repo`` folder, or the
        ``.git`` inside it where a snapshot came with a work tree."""
        folder = self.root / repo.replace("/", "+") / "repo"
        return folder / ".git" if (folder / ".git").is_dir() else folder

    def _git(self, repo: str, *args: str) -> bytes:
        return subprocess.run(["git", "--git-dir", str(self.git_dir(repo)), *args], check=True,
                              capture_output=True).stdout

    def files(self, repo: str, folder: str) -> dict[str, str]:
        """path -> blob id of every file under ``folder`` (or the one file ``folder``) at the pinned
        commit; stops when there is none."""
        out = self._git(repo, "ls-tree", "-r", "-z", self.commits[repo], "--", folder)
        found = {}
        for entry in out.split(b"\0"):
            if entry:
                meta, path = entry.split(b"\t", 1)
                found[path.decode("utf-8")] = meta.split()[2].decode()
        if not found:
            sys.exit(f"{repo}@{self.commits[repo]}: nothing at {folder}")
        return found

    def read(self, repo: str, path: str) -> tuple[bytes, Source]:
        """The file's bytes at the pinned commit and its :class:`Source`; stops if it is absent or
        a Git LFS pointer (the snapshot then lacks the file itself)."""
        blob = self.files(repo, path).get(path)
        if blob is None:
            sys.exit(f"{repo}@{self.commits[repo]}: no file {path}")
        data = self._git(repo, "cat-file", "blob", blob)
        if data.startswith(b"version https://git-lfs"):
            sys.exit(f"{repo}:{path} is a Git LFS pointer in this snapshot, not the file itself")
        return data, Source(repo, self.commits[repo], path, blob)

    def audio(self, repo: str, path: str, rate: int) -> tuple["np.ndarray", Source]:
        """The file's samples as float32 mono; stops unless it is at ``rate`` Hz (nothing is
        resampled here, so the set holds the recordings' own samples)."""
        import soundfile as sf

        data, source = self.read(repo, path)
        samples, found = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        if found != rate:
            sys.exit(f"{repo}:{path}: {found} Hz, expected {rate}")
        return samples.mean(axis=1), source
