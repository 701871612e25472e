"""``para cancel`` and ``para recover``: archive a session without losing anything, and
bring it back.

Cancel commits uncommitted work (with ``--no-verify``: a user's hook must not block a
safekeeping commit) before renaming the branch to ``<prefix>/archived/<time>/NAME``;
recover renames it back and undoes that commit, so the work is uncommitted again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
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
from para.sessions.finish import drop_channel, remove_container, remove_worktree, say_kept
from para.sessions.repair import keep_nested, restore_worktree_files, unreadable_gitlinks
from para.sessions.start import prepare_channel
from para.sessions.sync import drop_repository, halt_container, sync_session
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
    rec = ctx.store.read(name)
    if rec.status == "cancelled" and rec.pending is None:
        return rec
    if rec.status == "review":
        raise SessionStateError(
            name=name,
            state=f"finished (branch {rec.branch})",
            hint=f"delete the branch if unwanted: git branch -D {rec.branch}",
        )
    # git must see the worktree as para made it, and the container's commits, before
    # anything is counted: what the question counts is what is really uncommitted
    restore_worktree_files(ctx, rec)
    sync_session(ctx, rec)
    worktree = Path(rec.worktree)

    def uncommitted() -> tuple[bool, int]:
        present = worktree.is_dir() and ctx.git.registered_worktree(worktree) is not None
        return present, ctx.git.dirty_count(ctx.worktree_ref(rec)) if present else 0

    present, dirty = uncommitted()
    if dirty and not force and rec.pending != "cancel":
        question = f"session {name!r} has {dirty} uncommitted change(s); archive them and cancel?"
        if confirm is None or not confirm(question):
            raise DirtyWorktree(name=name, count=dirty)
    archive = (
        rec.pending_branch
        if rec.pending == "cancel" and rec.pending_branch
        else (f"{ctx.config.branch_prefix}/archived/{utcnow().strftime(ARCHIVE_STAMP)}/{name}")
    )
    rec = ctx.store.update(
        name, lambda r: r.model_copy(update={"pending": "cancel", "pending_branch": archive})
    )
    halt_container(ctx, rec)
    restore_worktree_files(ctx, rec)  # again: the container was running until now
    sync_session(ctx, rec)  # diverged: the container's tip stays at refs/para/diverged/NAME
    present, dirty = uncommitted()
    wip = rec.wip_commit
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
    remove_container(ctx, rec)
    remove_worktree(ctx, worktree, force=True)
    drop_channel(ctx, name)
    drop_repository(ctx, name)
    return ctx.store.update(
        name,
        lambda r: r.model_copy(
            update={
                "status": "cancelled",
                "archive_branch": archive,
                "pending": None,
                "pending_branch": None,
                "finished_at": utcnow(),
                "container": None,
                "previous_container": r.container or r.previous_container,
            }
        ),
    )


def recover_session(ctx: SessionContext, name: str) -> SessionRecord:
    """Bring a cancelled (or finished) session back: branch, worktree, uncommitted work."""
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
    if not ctx.git.branch_exists(source):
        raise NothingToRecover(branch=source, name=name)
    if worktree.exists():
        raise WorktreeError(problem=f"{worktree} exists", hint="move it away first")
    if source != rec.branch and ctx.git.branch_exists(rec.branch):
        raise SessionExists(
            name=name,
            reason=f"branch {rec.branch} exists",
            hint=f"delete or rename {rec.branch}, then recover again",
        )
    previous = rec.container or rec.previous_container
    if rec.container is not None:
        remove_container(ctx, rec)  # it mounted the worktree that is gone
    with contextlib.ExitStack() as undo:
        ctx.git.prune_worktrees()
        if source != rec.branch:
            ctx.git.rename_branch(source, rec.branch)
            undo.callback(ctx.git.rename_branch, rec.branch, source)
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
                "git_admin": str(ref.admin),
            }
        )
        prepare_channel(ctx, updated, undo)
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
