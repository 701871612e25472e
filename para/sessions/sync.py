"""Bringing a container's commits to the host branch, and the host's to the container.

A container commits into a repository of its own (``docker/gitdir.py``); its session's
branch on the host moves only through here. Three tips decide what to do: S, the
branch in the container's repository (read as a file, never through git); H, the branch
on the host; and L, the tip both last agreed on (kept beside the container's repository,
where the container cannot write it).

- S == H: nothing to do.
- only S moved (H == L): the container committed (or rewrote its own branch). Its objects
  are copied in through ``index-pack --strict`` and the host branch moves to S, only if
  it is still at H; the host worktree's index is reset to it, so ``git status`` on the
  host shows only what is really uncommitted.
- only H moved (S == L): someone committed on the host. The container's branch moves to
  H (its index is refreshed when it runs; see ``refresh``).
- both moved: whichever contains the other wins; otherwise the branches diverged. The
  container's tip is kept at ``refs/para/diverged/NAME`` (nothing is lost) and finish
  refuses until the two are merged.

No other ref ever moves. Everything runs under the session's lock.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from para.errors import ParaError, StateLocked, SyncConflict
from para.sessions.context import SessionContext
from para.state import SessionRecord

if TYPE_CHECKING:
    from para.docker.gitdir import SessionGitDir

Outcome = Literal["none", "unchanged", "from-container", "from-host", "diverged", "unreadable"]


@dataclass
class SyncResult:
    outcome: Outcome
    message: str = ""
    tip: str | None = None

    @property
    def problem(self) -> str | None:
        """What list and status should say about it, if anything."""
        return self.message if self.outcome in ("diverged", "unreadable") else None


def diverged_ref(name: str) -> str:
    return f"refs/para/diverged/{name}"


def has_own_repository(record: SessionRecord) -> bool:
    return record.container is not None and record.container.git == "own"


def sync_session(
    ctx: SessionContext,
    record: SessionRecord,
    *,
    wait: bool = True,
    host_tip: str | None = None,
) -> SyncResult:
    """Bring the two sides of ``record``'s branch together (see the module doc).
    Without ``wait``, a session another para process is working on is left alone.
    ``host_tip``, when the caller knows it (list reads every branch at once), saves a
    git process: a session where nothing moved costs one file read."""
    from para.docker.gitdir import SessionGitDir

    if not has_own_repository(record):
        return SyncResult("none")
    gitdir = SessionGitDir(ctx.repo.state_dir, record.name)
    if not gitdir.exists():
        return SyncResult("none")
    try:
        inside = gitdir.tip(record.branch)
    except ValueError:
        inside = None  # _sync says why
    host = host_tip or ctx.git.branch_tip(record.branch)
    if inside is not None and inside == host and gitdir.agreed() == host:
        return SyncResult("unchanged", tip=host)
    try:
        with ctx.store.session_lock(record.name, timeout=120 if wait else 0):
            return _sync(ctx, ctx.store.read(record.name), gitdir)
    except StateLocked:
        return SyncResult("unchanged", "another para process is working on it")


def _sync(ctx: SessionContext, rec: SessionRecord, gitdir: SessionGitDir) -> SyncResult:
    branch = rec.branch
    try:
        inside = gitdir.tip(branch)
    except ValueError as exc:
        return SyncResult("unreadable", f"the container's branch {branch} is unreadable: {exc}")
    host = ctx.git.branch_tip(branch)
    agreed = gitdir.agreed() or host
    if inside is None or host is None:
        what = "the container's repository" if inside is None else "the host"
        return SyncResult("unreadable", f"{what} has no branch {branch}; nothing was moved")
    if inside == host:
        gitdir.agree(host)
        return SyncResult("unchanged", tip=host)
    if not ctx.git.has_commit(inside):
        ctx.git.import_objects(gitdir.root / "objects", inside, [host])
    container_moved = inside != agreed
    host_moved = host != agreed
    if container_moved and host_moved:
        if ctx.git.is_ancestor(host, inside):
            host_moved = False
        elif ctx.git.is_ancestor(inside, host):
            container_moved = False
        else:
            ctx.git.update_ref(diverged_ref(rec.name), inside)
            return SyncResult(
                "diverged",
                f"the branch moved on the host and in the container; the container's "
                f"commits are at {diverged_ref(rec.name)} (merge them into {branch})",
                tip=inside,
            )
    if container_moved:
        ctx.git.update_ref(f"refs/heads/{branch}", inside, host)
        ctx.git.delete_ref(diverged_ref(rec.name))
        if rec.status == "active" and rec.git_admin:
            ctx.git.reset_index(ctx.worktree_ref(rec))
        gitdir.agree(inside)
        return SyncResult("from-container", f"brought in the container's {branch}", tip=inside)
    gitdir.set_tip(branch, host)
    gitdir.agree(host)
    _refresh_container_index(ctx, rec)
    return SyncResult("from-host", f"moved the container's {branch} to the host's", tip=host)


def _refresh_container_index(ctx: SessionContext, rec: SessionRecord) -> None:
    """After the host moved the container's branch, its index still describes the old
    tip; when the container runs, reset it (the files stay). Best effort: a stopped
    container or an image without git keeps its index."""
    import io

    from para.docker.execio import ExecIO

    sink = io.BytesIO()
    with contextlib.suppress(ParaError):
        ctx.containers.exec(rec, ["git", "reset", "-q"], ExecIO(sink, sink))


def halt_container(ctx: SessionContext, record: SessionRecord) -> None:
    """Stop the session's container before the host takes its branch and worktree over
    for good (finish, cancel): nothing can land after the last sync, or change the
    worktree's git files while para repairs them."""
    if record.container is None:
        return
    try:
        ctx.containers.stop(record)
    except ParaError as exc:
        ctx.warnings.append(f"could not stop the container of {record.name}: {exc.message}")


def drop_repository(ctx: SessionContext, name: str) -> None:
    """Remove the container's own repository once its branch is the host's alone."""
    from para.docker.gitdir import SessionGitDir

    SessionGitDir(ctx.repo.state_dir, name).remove()


def require_synced(ctx: SessionContext, record: SessionRecord) -> None:
    """Sync before finish or cancel; a divergence stops finish (cancel keeps both)."""
    result = sync_session(ctx, record)
    if result.outcome == "diverged":
        raise SyncConflict(
            name=record.name,
            detail=result.message,
            branch=record.branch,
            ref=diverged_ref(record.name),
        )
    if result.outcome == "unreadable":
        ctx.warnings.append(f"session {record.name}: {result.message}")


def sync_quietly(
    ctx: SessionContext, record: SessionRecord, *, host_tip: str | None = None
) -> SyncResult:
    """Sync for a command that only reads the session: never waits, never fails."""
    try:
        return sync_session(ctx, record, wait=False, host_tip=host_tip)
    except ParaError as exc:
        return SyncResult(
            "unreadable", f"bringing in the container's commits failed: {exc.message}"
        )
