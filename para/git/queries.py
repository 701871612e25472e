"""Read-only questions about worktrees and branches (run directly: no GitPython)."""

from __future__ import annotations

from pathlib import Path

from para.git.base import GitBase, Worktree
from para.git.env import run_git


class Queries(GitBase):
    def dirty_count(self, worktree: Worktree) -> int:
        """Number of changed, staged or untracked paths in a worktree.

        ``--no-optional-locks``: a read must not rewrite the index (and so never collides
        with an agent's git in that worktree); untracked directories count once.
        """
        out = run_git(
            [
                *worktree.args(),
                "--no-optional-locks",
                "status",
                "--porcelain=v1",
                "--untracked-files=normal",
                "--no-renames",
                "--ignore-submodules=dirty",
            ],
            worktree.path,
        )
        return sum(1 for line in out.splitlines() if line)

    def ahead_behind(self, branch: str, base: str) -> tuple[int, int]:
        """Commits on ``branch`` not in ``base``, and the reverse (branches or commit ids)."""
        out = run_git(
            ["rev-list", "--left-right", "--count", f"{branch}...{base}"], self.root, check=False
        )
        parts = out.split()
        if len(parts) != 2:
            return 0, 0
        return int(parts[0]), int(parts[1])

    def branch_tips(self) -> dict[str, str]:
        """Every local branch and its commit id, in one git process."""
        out = run_git(
            ["for-each-ref", "--format=%(objectname) %(refname:strip=2)", "refs/heads/"],
            self.root,
            check=False,
        )
        tips: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, name = line.partition(" ")
            if name:
                tips[name] = sha
        return tips

    def last_commit_time(self, branch: str) -> str | None:
        """The committer date of the branch's tip (ISO 8601), None when unknown."""
        out = run_git(["log", "-1", "--format=%cI", branch, "--"], self.root, check=False)
        return out.strip() or None

    def config_value(self, key: str, cwd: Path | None = None) -> str | None:
        """A git config value as git sees it from ``cwd`` (default: the repository)."""
        value = run_git(["config", "--get", key], cwd or self.root, check=False).strip()
        return value or None

    def is_tracked(self, path: Path) -> bool:
        """Whether git tracks ``path`` in the main checkout (a committed file)."""
        proc = run_git(["ls-files", "--", str(path)], self.root, check=False)
        return bool(proc.strip())

    def gitlinks(self, tree_ish: str) -> list[tuple[str, str]]:
        """(path, commit) of every gitlink (nested repository, submodule) in a tree."""
        out = run_git(["ls-tree", "-r", "-z", tree_ish], self.root, check=False)
        found = []
        for entry in out.split("\0"):
            meta, _, path = entry.partition("\t")
            mode, _, rest = meta.partition(" ")
            kind, _, sha = rest.partition(" ")
            if mode == "160000" and kind == "commit" and path:
                found.append((path, sha))
        return found

    def index_gitlinks(self, worktree: Worktree) -> list[str]:
        """Paths of the gitlinks in a worktree's index."""
        out = run_git([*worktree.args(), "ls-files", "-s", "-z"], worktree.path, check=False)
        paths = []
        for entry in out.split("\0"):
            meta, _, path = entry.partition("\t")
            if meta.startswith("160000 ") and path:
                paths.append(path)
        return paths

    def index_entries(self, rel: str) -> list[tuple[str, str, str]]:
        """(mode, blob id, path) of the main checkout's index entries under ``rel``."""
        out = run_git(["ls-files", "-s", "-z", "--", rel], self.root, check=False)
        entries = []
        for entry in out.split("\0"):
            meta, _, path = entry.partition("\t")
            parts = meta.split(" ")
            if path and len(parts) == 3 and parts[2] == "0":  # stage 0: no conflict
                entries.append((parts[0], parts[1], path))
        return entries

    def worktree_changes(self, rel: str) -> list[tuple[str, str]]:
        """(status, path) of what under ``rel`` in the main checkout differs from the
        index: changed or deleted files (``M``, ``D``...), untracked ones (``?``) and
        ignored files or directories (``!``, directories with a trailing ``/``)."""
        out = run_git(
            [
                "--no-optional-locks",
                "status",
                "--porcelain=v1",
                "-z",
                "--untracked-files=all",
                "--ignored=matching",
                "--no-renames",
                "--ignore-submodules=all",
                "--",
                rel,
            ],
            self.root,
            check=False,
        )
        changes = []
        for entry in out.split("\0"):
            if len(entry) < 4:
                continue
            index, work, path = entry[0], entry[1], entry[3:]
            if index in "?!":
                changes.append((index, path))
            elif work != " ":
                changes.append((work, path))
        return changes
