"""``para cancel`` and ``para recover``: archive a session without losing anything, and
bring it back.

Cancel commits uncommitted work (with ``--no-verify``: a user's hook must not block a
safekeeping commit) before renaming the branch to ``<prefix>/archived/<time>/NAME``;
recover renames it back and undoes that commit, so the work is uncommitted again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from para.errors import (
    DirtyWorktree,
    NothingToRecover,
    ParaError,
    SessionExists,
    SessionStateError,
    WorktreeError,
)
from para.git import Worktree
from para.sessions.context import SessionContext
from para.sessions.finish import end_session, remove_container, remove_stack, say_kept
from para.sessions.repair import keep_nested, restore_worktree_files, unreadable_gitlinks
from para.sessions.start import prepare_channel
from para.sessions.sync import halt_container, sync_session
from para.state import SessionRecord, utcnow

ARCHIVE_STAMP = "%Y%m%d-%H%M%S"


def cancel_session(
    ctx: SessionContext,
    name: str,
    *,
    force: bool = False,
    confirm: Callable[[str], bool] | None = None,
) -> SessionRecord:
    """Archive the session: uncommitted work is committed to the archive branch first."""
    with ctx.store.session_lock(name):
        return _cancel(ctx, name, force=force, confirm=confirm)


def _cancel(
    ctx: SessionContext, name: str, *, force: bool, confirm: Callable[[str], bool] | None
) -> SessionRecord:
    rec = ctx.store.read(name)
    if rec.status == "cancelled" and rec.pending is None:
        return rec
    if rec.status == "review":
        raise SessionStateError(
            name=name,
            state=f"finished (branch {rec.branch})",
            hint=f"delete the branch if unwanted: git branch -D {rec.branch}",
        )
    worktree = Path(rec.worktree)
    if rec.pending_step != "cleanup":
        # git must see the worktree as para made it, and the container's commits, before
        # anything is counted: what the question counts is what is really uncommitted
        restore_worktree_files(ctx, rec)
        sync_session(ctx, rec)

    def uncommitted() -> tuple[bool, int]:
        present = worktree.is_dir() and ctx.git.registered_worktree(worktree) is not None
        return present, ctx.git.dirty_count(ctx.worktree_ref(rec)) if present else 0

    present, dirty = uncommitted() if rec.pending_step != "cleanup" else (False, 0)
    if dirty and not force and rec.pending != "cancel":
        question = f"session {name!r} has {dirty} uncommitted change(s); archive them and cancel?"
        if confirm is None or not confirm(question):
            raise DirtyWorktree(name=name, count=dirty)
    archive = (
        rec.pending_branch
        if rec.pending == "cancel" and rec.pending_branch
        else new_archive_branch(ctx, name)
    )
    rec = ctx.store.update(
        name, lambda r: r.model_copy(update={"pending": "cancel", "pending_branch": archive})
    )
    if rec.pending_step != "cleanup":
        halt_container(ctx, rec)
        restore_worktree_files(ctx, rec)  # again: the container was running until now
        sync_session(ctx, rec)  # diverged: its tip stays at refs/para/diverged/NAME
        present, dirty = uncommitted()
        if present and dirty:
            wip = ctx.git.commit_all(
                ctx.worktree_ref(rec),
                f"para: uncommitted work of session {name} at cancel",
                stage=True,
                no_verify=True,
                leave=unreadable_gitlinks(ctx, rec),
            )
            if wip:
                ctx.store.update(name, lambda r: r.model_copy(update={"wip_commit": wip}))
        if ctx.git.branch_exists(rec.branch) and not ctx.git.branch_exists(archive):
            ctx.git.rename_branch(rec.branch, archive)
        if ctx.git.branch_exists(archive):
            say_kept(ctx, name, keep_nested(ctx, rec, archive))
        rec = ctx.store.update(name, lambda r: r.model_copy(update={"pending_step": "cleanup"}))
    end_session(ctx, rec)
    return ctx.store.update(
        name,
        lambda r: r.model_copy(
            update={
                "status": "cancelled",
                "archive_branch": archive,
                "pending": None,
                "pending_branch": None,
                "pending_step": None,
                "finished_at": utcnow(),
                "container": None,
                "previous_container": r.container or r.previous_container,
                "stack": None,
                "previous_stack": r.stack or r.previous_stack,
            }
        ),
    )


def new_archive_branch(ctx: SessionContext, name: str) -> str:
    """``<prefix>/archived/<time>/NAME``, with ``.2``, ``.3``... after the time when a
    session of that name was archived in the same second: never a branch that exists."""
    base = f"{ctx.config.branch_prefix}/archived/{utcnow().strftime(ARCHIVE_STAMP)}"
    branch, n = f"{base}/{name}", 1
    while ctx.git.branch_exists(branch):
        n += 1
        branch = f"{base}.{n}/{name}"
    return branch


def archive_time(stamp: str) -> datetime | None:
    """When an archive branch was made, from its ``<time>[.N]`` part."""
    try:
        return datetime.strptime(stamp.partition(".")[0], ARCHIVE_STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def recover_session(ctx: SessionContext, name: str) -> SessionRecord:
    """Bring a cancelled (or finished) session back: branch, worktree, uncommitted work."""
    with ctx.store.session_lock(name):
        return _recover(ctx, name)


def _recover(ctx: SessionContext, name: str) -> SessionRecord:
    """Each step accepts what an interrupted recover left: the branch renamed back
    already, the worktree checked out already."""
    rec = ctx.store.read(name)
    worktree = Path(rec.worktree)
    if rec.status == "active":
        if worktree.is_dir():
            raise SessionStateError(
                name=name,
                state="active and its worktree exists",
                hint=f"work in it: cd $(para path {name})",
            )
        source = rec.branch
    elif rec.status == "cancelled":
        source = rec.archive_branch or rec.branch
    else:
        source = rec.branch
    if (
        source != rec.branch
        and not ctx.git.branch_exists(source)
        and ctx.git.branch_exists(rec.branch)
    ):
        source = rec.branch  # renamed back by a recover that was interrupted
    if not ctx.git.branch_exists(source):
        raise NothingToRecover(branch=source, name=name)
    entry = ctx.git.registered_worktree(worktree) if worktree.exists() else None
    checked_out = entry is not None and entry.branch == rec.branch and not entry.prunable
    if worktree.exists() and not checked_out:
        raise WorktreeError(problem=f"{worktree} exists", hint="move it away first")
    if source != rec.branch and ctx.git.branch_exists(rec.branch):
        raise SessionExists(
            name=name,
            reason=f"branch {rec.branch} exists",
            hint=f"delete or rename {rec.branch}, then recover again",
        )
    previous = rec.container or rec.previous_container
    previous_stack = rec.stack or rec.previous_stack
    if rec.container is not None:
        remove_container(ctx, rec)  # it mounted the worktree that is gone
    if rec.stack is not None:
        remove_stack(ctx, rec)
    with contextlib.ExitStack() as undo:
        ctx.git.prune_worktrees()
        if source != rec.branch:
            ctx.git.rename_branch(source, rec.branch)
            undo.callback(ctx.git.rename_branch, rec.branch, source)
        if not checked_out:
            ctx.git.add_worktree(worktree, rec.branch, None)
            undo.callback(_undo_checkout, ctx, worktree)
        admin = ctx.git.admin_dir(worktree.resolve())
        ref = Worktree(worktree, admin) if admin else ctx.worktree_ref(rec)
        tip = ctx.git.head_of(ref)
        if rec.wip_commit and tip == rec.wip_commit:
            parent = ctx.git.parent_of(tip)
            if parent:
                ctx.git.reset_mixed(ref, parent)
        updated = rec.model_copy(
            update={
                "status": "active",
                "archive_branch": None,
                "wip_commit": None,
                "pending": None,
                "pending_branch": None,
                "finished_at": None,
                "message": None,
                "container": None,
                "previous_container": None,
                "stack": None,
                "previous_stack": None,
                "git_admin": str(ref.admin),
            }
        )
        prepare_channel(ctx, updated, undo)
        if previous_stack is not None:
            # the services again, on the ports they had
            made_stack = ctx.containers.stacks.up(updated, undo, previous=previous_stack)
            updated = updated.model_copy(update={"stack": made_stack})
        if previous is not None:
            from para.options import ContainerOptions

            made = ctx.containers.create_for(updated, ContainerOptions.from_ref(previous), undo)
            updated = updated.model_copy(update={"container": made})
        ctx.store.write(updated)
        undo.pop_all()
    return updated


def _undo_checkout(ctx: SessionContext, worktree: Path) -> None:
    with contextlib.suppress(ParaError):
        ctx.git.remove_worktree(worktree, force=True)
    with contextlib.suppress(ParaError):
        ctx.git.prune_worktrees()
