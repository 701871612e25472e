"""The git adapter: worktrees, branches, commits and status, with git errors translated.

Changes to history and branches (commit, rename, delete, reset, worktree removal) go
through GitPython, imported on first use. Queries, and the steps of ``start`` (which
``make bench`` measures against a bare ``git worktree add``), run git directly: each is
one git process either way, and GitPython's import alone costs ~0.1 s.

Git runs with a scrubbed environment. para may be started from a git hook, where variables
such as GIT_DIR or GIT_INDEX_FILE point at another repository; ``scrub_process_env`` removes
them from para's own environment once at start-up, because GitPython copies ``os.environ``
into every git it starts and offers no way to unset a variable per call.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from para.errors import (
    BranchExists,
    GitError,
    InvalidRef,
    NotAGitRepository,
    RepositoryHasNoCommits,
)

if TYPE_CHECKING:
    import git as gitpython

# Variables that make git act on another repository, index or object store than the one
# para names. Identity (GIT_AUTHOR_*), config isolation (GIT_CONFIG_*), transport (GIT_SSH*)
# and GIT_EXEC_PATH are the user's choices and stay.
_REDIRECTING_VARS = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
        "GIT_PREFIX",
        "GIT_CEILING_DIRECTORIES",
        "GIT_DISCOVERY_ACROSS_FILESYSTEM",
        "GIT_QUARANTINE_PATH",
        "GIT_REFLOG_ACTION",
        "GIT_EDITOR",
        "GIT_SEQUENCE_EDITOR",
        "GIT_INTERNAL_SUPER_PREFIX",
    }
)


def scrubbed_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    for var in _REDIRECTING_VARS:
        env.pop(var, None)
    # A hook-invoked para must never wait for a password prompt.
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


def scrub_process_env(environ: MutableMapping[str, str] | None = None) -> None:
    target = os.environ if environ is None else environ
    for var in _REDIRECTING_VARS:
        target.pop(var, None)


def run_git(args: Sequence[str], cwd: Path, *, check: bool = True) -> str:
    """Run git directly (no GitPython) and return stdout. Only ``Git`` and ``repo``'s
    fallback call it: everything else asks the ``Git`` adapter."""
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=scrubbed_env(), capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        raise GitError(
            command=" ".join(args), stderr=proc.stderr.strip() or f"exit {proc.returncode}"
        )
    return proc.stdout


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


class Git:
    """One repository, through GitPython. Every method raises ParaError subclasses only.

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

        self.worktree_lock.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.worktree_lock), timeout=120, thread_local=False):
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

    def _read(self, *args: str, cwd: Path | None = None) -> str:
        """A query or a worktree change on ``start``'s path: git directly (see module doc)."""
        return run_git(args, cwd or self.root).rstrip("\n")

    def _git(self, *args: str, cwd: Path | None = None, **kwargs: Any) -> str:
        """A change to history or branches, through GitPython."""
        import git as gitpython

        try:
            if cwd is None:
                return str(self.repo.git.execute(["git", *args], **kwargs))
            return str(gitpython.Git(str(cwd)).execute(["git", *args], **kwargs))
        except gitpython.GitCommandError as exc:
            stderr = (exc.stderr or "").strip().removeprefix("stderr:").strip().strip("'").strip()
            raise GitError(command=" ".join(args), stderr=stderr or str(exc)) from exc

    # -- refs -------------------------------------------------------------------------------

    def require_commits(self) -> None:
        try:
            self._read("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
        except GitError:
            raise RepositoryHasNoCommits(path=str(self.root)) from None

    def resolve(self, ref: str) -> str:
        """Full commit id of ``ref``, or InvalidRef."""
        try:
            return self._read(
                "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"
            )
        except GitError as exc:
            raise InvalidRef(ref=ref) from exc

    def current_branch(self) -> str | None:
        """The main checkout's branch, or None when HEAD is detached."""
        try:
            return self._read("symbolic-ref", "--quiet", "--short", "HEAD")
        except GitError:
            return None

    def branch_exists(self, branch: str) -> bool:
        try:
            self._read("show-ref", "--verify", "--quiet", f"refs/heads/{branch}")
        except GitError:
            return False
        return True

    def check_branch_name(self, branch: str) -> bool:
        try:
            self._read("check-ref-format", "--branch", branch)
        except GitError:
            return False
        return True

    def rename_branch(self, old: str, new: str) -> None:
        if self.branch_exists(new):
            raise BranchExists(branch=new)
        self._git("branch", "-m", "--", old, new)

    def delete_branch(self, branch: str) -> None:
        self._git("branch", "-D", "--", branch)

    def branches(self, pattern: str) -> dict[str, str]:
        """Branch name -> commit id for branches matching ``refs/heads/<pattern>``."""
        out = self._read(
            "for-each-ref", "--format=%(refname:strip=2) %(objectname)", f"refs/heads/{pattern}"
        )
        result: dict[str, str] = {}
        for line in out.splitlines():
            name, _, sha = line.partition(" ")
            result[name] = sha
        return result

    # -- worktrees --------------------------------------------------------------------------

    def add_worktree(self, path: Path, branch: str, base: str | None) -> None:
        """New branch ``branch`` at ``base`` checked out at ``path``; or, with base None,
        check out the existing ``branch``."""
        with self._worktrees_locked():
            if base is None:
                self._read("worktree", "add", "--quiet", "--", str(path), branch)
            else:
                self._read("worktree", "add", "--quiet", "-b", branch, "--", str(path), base)

    def remove_worktree(self, path: Path, *, force: bool = False) -> None:
        args = ["worktree", "remove"]
        if force:
            args.append("--force")
        with self._worktrees_locked():
            self._git(*args, "--", str(path))

    def prune_worktrees(self) -> None:
        with self._worktrees_locked():
            self._read("worktree", "prune")

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

    # -- changes ----------------------------------------------------------------------------

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
        self, worktree: Worktree, message: str, *, stage: bool = True, no_verify: bool = False
    ) -> str | None:
        """Stage everything (when ``stage``) and commit; the new commit id, or None if clean.

        ``no_verify`` skips the user's hooks: para's own safekeeping commit at cancel must not
        be blocked by a hook that checks work in progress."""
        at = worktree.args()
        if stage:
            self._git(*at, "add", "--all", cwd=worktree.path)
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

    # -- queries ------------------------------------------------------------------------------

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

    def diff_numstat(self, worktree: Worktree) -> tuple[int, int]:
        """Lines added and removed in the worktree against HEAD (tracked files)."""
        out = run_git(
            [*worktree.args(), "--no-optional-locks", "diff", "--numstat", "HEAD"],
            worktree.path,
            check=False,
        )
        added = removed = 0
        for line in out.splitlines():
            cols = line.split("\t")
            if len(cols) >= 2 and cols[0].isdigit() and cols[1].isdigit():
                added += int(cols[0])
                removed += int(cols[1])
        return added, removed

    def last_commit_time(self, branch: str) -> str | None:
        """The committer date of the branch's tip (ISO 8601), None when unknown."""
        out = run_git(["log", "-1", "--format=%cI", branch, "--"], self.root, check=False)
        return out.strip() or None

    def config_value(self, key: str, cwd: Path | None = None) -> str | None:
        """A git config value as git sees it from ``cwd`` (default: the repository)."""
        value = run_git(["config", "--get", key], cwd or self.root, check=False).strip()
        return value or None
