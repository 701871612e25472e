"""What every part of the Git adapter shares: the repository, its locks, and how git
runs (directly for queries, through GitPython for changes; see ``para.git``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from para.errors import GitError, NotAGitRepository
from para.git.env import changing, run_git

if TYPE_CHECKING:
    import git as gitpython


@dataclass(frozen=True)
class Worktree:
    """A session's worktree and its admin directory under ``.git/worktrees``.

    Host git runs in a worktree with ``--git-dir``/``--work-tree`` from here, never by
    reading the worktree's ``.git`` file: a container can rewrite that file to point at a
    git directory of its making, whose config (``core.fsmonitor``) git would execute.
    """

    path: Path
    admin: Path

    def args(self) -> list[str]:
        return ["--git-dir", str(self.admin), "--work-tree", str(self.path)]


@dataclass(frozen=True)
class WorktreeEntry:
    path: Path
    head: str | None
    branch: str | None
    prunable: bool


class GitBase:
    """One repository. Every method of the adapter raises ParaError subclasses only.

    ``worktree_lock`` serialises changes to the set of worktrees: ``git worktree add``
    reads every other worktree's admin directory and fails ("failed to read
    .git/worktrees/X/commondir") when another add is half-way through creating one, and
    ``prune`` could delete such a half-made entry.
    """

    def __init__(
        self, root: Path, worktree_lock: Path | None = None, common_dir: Path | None = None
    ):
        self.root = root
        self.worktree_lock = worktree_lock
        self.common_dir = common_dir or root / ".git"
        self._repo: gitpython.Repo | None = None

    @contextlib.contextmanager
    def _worktrees_locked(self) -> Iterator[None]:
        if self.worktree_lock is None:
            yield
            return
        from filelock import FileLock

        from para.locks import held

        self.worktree_lock.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.worktree_lock), thread_local=False)
        with held(lock, self.worktree_lock, 15.0, "another para process changing worktrees"):
            yield

    @property
    def repo(self) -> gitpython.Repo:
        if self._repo is None:
            import git as gitpython

            try:
                self._repo = gitpython.Repo(self.root)
            except (gitpython.InvalidGitRepositoryError, gitpython.NoSuchPathError) as exc:
                raise NotAGitRepository(path=str(self.root)) from exc
        return self._repo

    def _read(self, *args: str, cwd: Path | None = None, changes: bool = False) -> str:
        """A query or a worktree change on ``start``'s path: git directly (see module
        doc); ``changes``: it changes the repository, so it dies with para."""
        return run_git(args, cwd or self.root, changes=changes).rstrip("\n")

    def _git(self, *args: str, cwd: Path | None = None, **kwargs: Any) -> str:
        """A change to history or branches, through GitPython."""
        import git as gitpython

        kwargs.update(changing())
        try:
            if cwd is None:
                return str(self.repo.git.execute(["git", *args], **kwargs))
            return str(gitpython.Git(str(cwd)).execute(["git", *args], **kwargs))
        except gitpython.GitCommandError as exc:
            stderr = (exc.stderr or "").strip().removeprefix("stderr:").strip().strip("'").strip()
            raise GitError(command=" ".join(args), stderr=stderr or str(exc)) from exc
