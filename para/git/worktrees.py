"""Worktrees, and the commits para makes in them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from para.errors import GitError
from para.git.base import GitBase, Worktree, WorktreeEntry


class Worktrees(GitBase):
    def add_worktree(self, path: Path, branch: str, base: str | None) -> None:
        """New branch ``branch`` at ``base`` checked out at ``path``; or, with base None,
        check out the existing ``branch``."""
        with self._worktrees_locked():
            if base is None:
                self._read("worktree", "add", "--quiet", "--", str(path), branch, changes=True)
            else:
                self._read(
                    "worktree", "add", "--quiet", "-b", branch, "--", str(path), base, changes=True
                )

    def remove_worktree(self, path: Path, *, force: bool = False) -> None:
        args = ["worktree", "remove"]
        if force:
            args.append("--force")
        with self._worktrees_locked():
            self._git(*args, "--", str(path))

    def prune_worktrees(self) -> None:
        with self._worktrees_locked():
            self._read("worktree", "prune", changes=True)

    def worktrees(self) -> list[WorktreeEntry]:
        out = self._read("worktree", "list", "--porcelain")
        entries: list[WorktreeEntry] = []
        fields: dict[str, str] = {}

        def flush() -> None:
            if "worktree" in fields:
                branch = fields.get("branch")
                entries.append(
                    WorktreeEntry(
                        path=Path(fields["worktree"]),
                        head=fields.get("HEAD"),
                        branch=branch.removeprefix("refs/heads/") if branch else None,
                        prunable="prunable" in fields,
                    )
                )
            fields.clear()

        for line in [*out.splitlines(), ""]:
            if not line:
                flush()
                continue
            key, _, value = line.partition(" ")
            fields[key] = value
        return entries

    def registered_worktree(self, path: Path) -> WorktreeEntry | None:
        wanted = path.resolve()
        for entry in self.worktrees():
            if entry.path.resolve() == wanted:
                return entry
        return None

    def admin_dir(self, worktree: Path) -> Path | None:
        """The admin directory git keeps for ``worktree`` (found from git's side)."""
        wanted = str(worktree / ".git")
        base = self.common_dir / "worktrees"
        try:
            entries = sorted(base.iterdir())
        except OSError:
            return None
        for entry in entries:
            try:
                if (entry / "gitdir").read_text(encoding="utf-8").strip() == wanted:
                    return entry
            except OSError:
                continue
        return None

    def commit_all(
        self,
        worktree: Worktree,
        message: str,
        *,
        stage: bool = True,
        no_verify: bool = False,
        leave: Sequence[str] = (),
    ) -> str | None:
        """Stage everything (when ``stage``) but the paths in ``leave``, and commit; the
        new commit id, or None if clean.

        ``no_verify`` skips the user's hooks: para's own safekeeping commit at cancel must not
        be blocked by a hook that checks work in progress."""
        at = worktree.args()
        if stage:
            skip = [f":(top,exclude,literal){path}" for path in leave]
            self._git(*at, "add", "--all", "--", ":/", *skip, cwd=worktree.path)
        staged = self._git(*at, "diff", "--cached", "--name-only", cwd=worktree.path)
        if not staged:
            return None
        self._git(
            *at,
            "commit",
            "--quiet",
            *(["--no-verify"] if no_verify else []),
            "-m",
            message,
            cwd=worktree.path,
        )
        return self._git(*at, "rev-parse", "HEAD", cwd=worktree.path)

    def reset_mixed(self, worktree: Worktree, ref: str) -> None:
        self._git(*worktree.args(), "reset", "--quiet", "--mixed", ref, cwd=worktree.path)

    def head_of(self, worktree: Worktree) -> str:
        return self._read(*worktree.args(), "rev-parse", "HEAD", cwd=worktree.path)

    def parent_of(self, commit: str) -> str | None:
        try:
            return self._read("rev-parse", "--verify", "--quiet", f"{commit}^")
        except GitError:
            return None

    def reset_index(self, worktree: Worktree) -> None:
        """Make the worktree's index match its HEAD again (the files stay as they are)."""
        self._git(*worktree.args(), "reset", "--quiet", cwd=worktree.path)
