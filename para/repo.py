"""Find the repository para works on, without starting git or importing GitPython.

Every command needs the main checkout's root; reading ``.git`` ourselves costs microseconds
where ``git rev-parse`` costs a process. Layouts we do not understand fall back to git.
"""

from __future__ import annotations

from pathlib import Path


class Repo:
    """Paths of one repository: the main checkout and where para keeps its files.

    A plain class rather than a dataclass: ``docker exec``'s fast path imports this
    module, and dataclasses costs ~10 ms to import.
    """

    __slots__ = ("common_dir", "root")

    def __init__(self, root: Path, common_dir: Path):
        self.root = root
        self.common_dir = common_dir

    def __repr__(self) -> str:
        return f"Repo(root={self.root!r}, common_dir={self.common_dir!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Repo) and (self.root, self.common_dir) == (
            other.root,
            other.common_dir,
        )

    def __hash__(self) -> int:
        return hash((self.root, self.common_dir))

    @property
    def para_dir(self) -> Path:
        return self.root / ".para"

    @property
    def state_dir(self) -> Path:
        return self.para_dir / "state"

    @property
    def sessions_dir(self) -> Path:
        return self.state_dir / "sessions"

    @property
    def archive_dir(self) -> Path:
        return self.state_dir / "archived"

    @property
    def channels_dir(self) -> Path:
        return self.state_dir / "channels"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def repo_id(self) -> str:
        """Short stable id of the repository: names its containers and networks."""
        import hashlib

        return hashlib.sha256(str(self.root).encode()).hexdigest()[:10]


def _read_gitfile(dotgit: Path) -> Path | None:
    try:
        text = dotgit.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    gitdir = Path(text.removeprefix("gitdir:").strip())
    return gitdir if gitdir.is_absolute() else (dotgit.parent / gitdir).resolve()


def _common_dir(gitdir: Path) -> Path:
    commondir = gitdir / "commondir"
    try:
        rel = commondir.read_text(encoding="utf-8").strip()
    except OSError:
        return gitdir
    path = Path(rel)
    return path if path.is_absolute() else (gitdir / path).resolve()


def discover(start: Path | None = None) -> Repo:
    """The repository containing ``start`` (default: cwd); inside a worktree, its main checkout."""
    here = (start or Path.cwd()).resolve()
    # Inside <root>/.para/worktrees/NAME the root is known from the path itself: a
    # session's .git file is writable by its container, so it is not asked first.
    parts = here.parts
    for i in range(len(parts) - 2, 0, -1):
        if parts[i] == ".para" and parts[i + 1] == "worktrees":
            root = Path(*parts[:i])
            if (root / ".git").is_dir():
                return Repo(root=root, common_dir=root / ".git")
            break
    for candidate in (here, *here.parents):
        dotgit = candidate / ".git"
        if dotgit.is_dir():
            return Repo(root=candidate, common_dir=dotgit)
        if dotgit.is_file():
            gitdir = _read_gitfile(dotgit)
            if gitdir is None:
                break
            common = _common_dir(gitdir)
            if common.name == ".git":
                return Repo(root=common.parent, common_dir=common)
            break  # submodule or separate git dir: let git answer
    return _discover_with_git(here)


def _discover_with_git(here: Path) -> Repo:
    import subprocess

    from para.git import scrubbed_env

    proc = subprocess.run(
        ["git", "rev-parse", "--path-format=absolute", "--git-common-dir", "--show-toplevel"],
        cwd=here,
        env=scrubbed_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    lines = proc.stdout.splitlines()
    if proc.returncode != 0 or len(lines) != 2:
        from para.errors import BareRepository, NotAGitRepository  # errors import click

        bare = subprocess.run(
            ["git", "rev-parse", "--is-bare-repository"],
            cwd=here,
            env=scrubbed_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if bare.stdout.strip() == "true":
            raise BareRepository(path=str(here))
        raise NotAGitRepository(path=str(here))
    common, top = Path(lines[0]), Path(lines[1])
    root = common.parent if common.name == ".git" else top
    return Repo(root=root, common_dir=common)


def session_of_path(repo: Repo, worktrees_dir: Path, path: Path | None = None) -> str | None:
    """The session whose worktree contains ``path`` (default: cwd), if any."""
    here = (path or Path.cwd()).resolve()
    try:
        rel = here.relative_to(worktrees_dir.resolve())
    except ValueError:
        return None
    return rel.parts[0] if rel.parts else None
