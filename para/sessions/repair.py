"""Finish and cancel whatever a session did to its worktree.

What git keeps about a worktree can be changed from inside it: the worktree's ``.git``
file, the admin entries of a container made by an older para (which mounted them), a
``locked`` file; a session may also leave nested repositories and submodules, which
``git worktree remove`` refuses. Before finish and cancel act, para puts back what it
made, and after its own commit it keeps the commits of nested repositories under
``refs/para/kept/NAME/...`` so the branch's gitlinks resolve and nothing is lost.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
from pathlib import Path

from para.errors import ParaError
from para.sessions.context import SessionContext
from para.state import SessionRecord


def restore_worktree_files(ctx: SessionContext, rec: SessionRecord) -> list[str]:
    """Put back the worktree's ``.git`` file and its admin entries as para made them,
    and drop a ``locked`` file (para never locks); what was changed, said in words."""
    if not rec.git_admin:
        return []
    worktree, admin = Path(rec.worktree), Path(rec.git_admin)
    if not worktree.is_dir() or not admin.is_dir():
        return []
    fixed = []
    for path, text in (
        (worktree / ".git", f"gitdir: {admin}\n"),
        (admin / "gitdir", f"{worktree}/.git\n"),
        (admin / "commondir", "../..\n"),
    ):
        if _put_back(path, text):
            fixed.append(f"restored {path}")
    locked = admin / "locked"
    if locked.exists() or locked.is_symlink():
        _remove(locked)
        fixed.append(f"removed {locked}")
    return fixed


def _put_back(path: Path, text: str) -> bool:
    """Make ``path`` a regular file holding ``text``; True if it was not."""
    try:
        if not path.is_symlink() and path.is_file() and path.read_text() == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    _remove(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)  # does not follow symlinks inside
    elif path.exists() or path.is_symlink():
        path.unlink()


def keep_nested(ctx: SessionContext, rec: SessionRecord, branch: str) -> list[str]:
    """For each gitlink on ``branch`` whose commit the repository lacks, copy it in from
    the nested repository in the worktree and keep it under ``refs/para/kept/``; the
    refs made, said in words."""
    kept = []
    for path, sha in ctx.git.gitlinks(f"refs/heads/{branch}"):
        if ctx.git.has_commit(sha):
            continue
        repository = nested_repository(ctx, rec, path)
        objects = repository / "objects" if repository else None
        if objects is None or not objects.is_dir():
            ctx.warnings.append(f"{rec.name}: {path} records commit {sha[:12]}, not found")
            continue
        ref = f"refs/para/kept/{rec.name}/{hashlib.sha256(path.encode()).hexdigest()[:12]}"
        try:
            ctx.git.import_objects(objects, sha, [])
            ctx.git.update_ref(ref, sha)
        except ParaError as exc:
            ctx.warnings.append(f"{rec.name}: could not keep {path} ({exc.message})")
            continue
        kept.append(f"{path} -> {ref}")
    return kept


def unreadable_gitlinks(ctx: SessionContext, rec: SessionRecord) -> list[str]:
    """Gitlinks in the worktree's index whose repository the host cannot open (a
    submodule git made inside a container names its git dir as the container sees it):
    ``git add`` would stop at them, so para's commits leave them as they are."""
    worktree = Path(rec.worktree)
    return [
        path
        for path in ctx.git.index_gitlinks(ctx.worktree_ref(rec))
        if not _host_git_opens(worktree / path / ".git")
    ]


def _host_git_opens(dotgit: Path) -> bool:
    """Whether git on the host can open the repository of a ``.git`` directory or file
    (none there: nothing for git to open, nothing to stop it)."""
    if not dotgit.exists() or dotgit.is_dir():
        return True
    try:
        text = dotgit.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return False
    named = Path(text.removeprefix("gitdir:").strip())
    target = named if named.is_absolute() else dotgit.parent / named
    return text.startswith("gitdir:") and (target / "HEAD").is_file()


def nested_repository(ctx: SessionContext, rec: SessionRecord, path: str) -> Path | None:
    """The git directory of the repository at ``path`` in the worktree, on the host: its
    ``.git`` directory, or the one its ``.git`` file names. A name is read the way git in
    the container wrote it (relative to the container's workspace, or under
    ``/para/git``, the container's own repository) and must stay inside the worktree or
    that repository."""
    from para.docker.gitdir import MOUNT, SessionGitDir

    worktree = Path(rec.worktree)
    own = SessionGitDir(ctx.repo.state_dir, rec.name).root
    workdir = rec.container.workdir if rec.container else str(worktree)
    dotgit = worktree / path / ".git"
    if dotgit.is_symlink():
        return None
    if dotgit.is_dir():
        found = dotgit.resolve()
    else:
        try:
            text = dotgit.read_text().strip()
        except (OSError, UnicodeDecodeError):
            return None
        if not text.startswith("gitdir:"):
            return None
        named = text.removeprefix("gitdir:").strip()
        seen = posixpath.normpath(posixpath.join(workdir, path, named))
        if seen == MOUNT or seen.startswith(f"{MOUNT}/"):
            found = (own / seen.removeprefix(MOUNT).lstrip("/")).resolve()
        elif seen.startswith(f"{workdir.rstrip('/')}/"):
            found = (worktree / seen.removeprefix(workdir.rstrip("/")).lstrip("/")).resolve()
        else:
            return None
    for allowed in (worktree.resolve(), own.resolve()):
        if (found == allowed or allowed in found.parents) and (found / "HEAD").is_file():
            return found
    return None
