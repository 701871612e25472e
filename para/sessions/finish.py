"""``para finish``: commit everything, hand the branch back for review, clean up.

Before acting, finish writes ``pending`` and the target branch into the record; each
step checks the repository first (commit only if something is staged, rename only if
the old branch exists, remove the worktree only if git lists it), so running finish
again after an interruption completes it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from para.errors import (
    BranchExists,
    DirtyWorktree,
    EmptyMessage,
    GitError,
    InvalidBranch,
    SessionStateError,
    WorktreeError,
)
from para.sessions.context import SessionContext
from para.sessions.repair import keep_nested, restore_worktree_files, unreadable_gitlinks
from para.sessions.sync import drop_repository, halt_container, require_synced
from para.state import SessionRecord, utcnow


def finish_session(
    ctx: SessionContext, name: str, message: str, *, branch: str | None = None
) -> SessionRecord:
    """Commit everything, hand the branch back for review, remove worktree and container.
    One finish, cancel or recover of a session at a time: the second waits, then sees
    what the first did."""
    if not message.strip():
        raise EmptyMessage()
    with ctx.store.session_lock(name):
        return _finish(ctx, name, message, branch)


def _finish(ctx: SessionContext, name: str, message: str, branch: str | None) -> SessionRecord:
    rec = ctx.store.read(name)
    if rec.status == "review" and rec.pending is None:
        if branch and branch != rec.branch:
            raise SessionStateError(
                name=name,
                state=f"already finished on {rec.branch}",
                hint=f"git branch -m {rec.branch} {branch}",
            )
        return rec
    if rec.status == "cancelled" or rec.pending == "cancel":
        raise SessionStateError(
            name=name, state="cancelled", hint=f"bring it back with: para recover {name}"
        )
    target = branch or rec.pending_branch or rec.branch
    if not ctx.git.check_branch_name(target):
        raise InvalidBranch(branch=target)
    renamed_already = (
        rec.pending == "finish"
        and rec.pending_branch == target
        and not ctx.git.branch_exists(rec.branch)
        and ctx.git.branch_exists(target)
    )
    if target != rec.branch and not renamed_already and ctx.git.branch_exists(target):
        raise BranchExists(branch=target)
    rec = ctx.store.update(
        name,
        lambda r: r.model_copy(
            update={"pending": "finish", "pending_branch": target, "message": message}
        ),
    )

    if rec.pending_step != "cleanup":
        halt_container(ctx, rec)
        restore_worktree_files(ctx, rec)
        require_synced(ctx, rec)
        worktree = Path(rec.worktree)
        if worktree.is_dir() and ctx.git.registered_worktree(worktree) is not None:
            ref = ctx.worktree_ref(rec)
            leave = unreadable_gitlinks(ctx, rec)
            ctx.git.commit_all(ref, message, stage=ctx.config.auto_stage, leave=leave)
            left = ctx.git.dirty_count(ref)
            if left:
                raise DirtyWorktree(
                    name=name,
                    count=left,
                    hint="auto_stage is off: stage what belongs in the commit (git add), "
                    "then run finish again",
                )
        if target != rec.branch and not renamed_already:
            ctx.git.rename_branch(rec.branch, target)
        say_kept(ctx, name, keep_nested(ctx, rec, target))
        rec = ctx.store.update(name, lambda r: r.model_copy(update={"pending_step": "cleanup"}))
    end_session(ctx, rec)
    return ctx.store.update(
        name,
        lambda r: r.model_copy(
            update={
                "status": "review",
                "branch": target,
                "pending": None,
                "pending_branch": None,
                "pending_step": None,
                "finished_at": utcnow(),
                "container": None,
                "stack": None,
                "previous_stack": r.stack or r.previous_stack,
            }
        ),
    )


def end_session(ctx: SessionContext, rec: SessionRecord) -> None:
    """Remove what the session had once its work is on a branch: container, worktree
    (forced: everything is committed, and nested repositories and submodules go too),
    channel and the container's repository. Each step accepts what an interrupted run
    left (``pending_step`` is "cleanup" from the first)."""
    remove_container(ctx, rec)
    remove_stack(ctx, rec)
    remove_worktree(ctx, Path(rec.worktree), force=True, committed=True)
    drop_channel(ctx, rec.name)
    drop_repository(ctx, rec.name)


def say_kept(ctx: SessionContext, name: str, kept: list[str]) -> None:
    if kept:
        ctx.warnings.append(
            f"session {name}: the commits of nested repositories are kept at {'; '.join(kept)}"
        )


def remove_container(ctx: SessionContext, rec: SessionRecord) -> None:
    if rec.container is not None:
        ctx.containers.remove_for(rec)


def remove_stack(ctx: SessionContext, rec: SessionRecord) -> None:
    """The session's services, their volumes and network (kept in the record as
    ``previous_stack``: recover makes them again on the same ports)."""
    if rec.stack is not None:
        ctx.containers.stacks.down(rec)


def remove_worktree(
    ctx: SessionContext, worktree: Path, *, force: bool, committed: bool = False
) -> None:
    """Remove a session's worktree through git; never a directory git does not list.
    ``committed``: its work is on a branch, so a worktree git cannot remove any more (a
    removal killed half-way) is deleted, as git lists it."""
    entry = ctx.git.registered_worktree(worktree)
    if entry is None:
        if worktree.exists():
            raise WorktreeError(
                problem=f"{worktree} exists but is not a registered git worktree",
                hint="look at it and remove it by hand if it holds nothing you need",
            )
        ctx.git.prune_worktrees()
        return
    if entry.prunable or not worktree.exists():
        if committed and worktree.exists():
            shutil.rmtree(worktree)  # git still lists it (half-removed): ours to delete
        ctx.git.prune_worktrees()
        return
    try:
        ctx.git.remove_worktree(worktree, force=force)
    except GitError as exc:
        if committed:
            shutil.rmtree(worktree)  # git lists it (above): ours to delete
            ctx.git.prune_worktrees()
            return
        raise WorktreeError(
            problem=f"cannot remove worktree {worktree}: {exc.facts.get('stderr', exc)}",
            hint="close programs using it (or commit what is left) and run the command again",
        ) from exc


def drop_channel(ctx: SessionContext, name: str) -> None:
    """Keep the last report in the record, then remove the channel directory."""
    path = ctx.repo.channels_dir / name
    if path.is_dir() and not path.is_symlink():
        status = ctx.channel(name).status()
        if status is not None:
            report = status.model_dump(mode="json")
            ctx.store.update(name, lambda r: r.model_copy(update={"report": report}))
    shutil.rmtree(path, ignore_errors=True)
