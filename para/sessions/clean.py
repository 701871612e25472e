"""``para clean``: repair and prune what is stale, never another repository's files.

Markers of interrupted starts, records whose worktree is gone (archived), worktrees
without a record (removed when clean), homes and channels of ended sessions, and
archive branches past the retention (``archive.days``, ``archive.max``).
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from para.errors import ParaError
from para.git import Worktree
from para.sessions.archive import archive_time, cancel_session
from para.sessions.context import SessionContext
from para.sessions.start import under
from para.state import SessionRecord, marker_facts, utcnow


@dataclass
class CleanAction:
    kind: str
    target: str
    detail: str
    done: bool

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target, "detail": self.detail, "done": self.done}


def clean_sessions(
    ctx: SessionContext, *, dry_run: bool = False, now: datetime | None = None
) -> list[CleanAction]:
    """Repair and prune what is stale; never touches another repository or unknown files."""
    now = now or utcnow()
    actions: list[CleanAction] = []

    def act(kind: str, target: str, detail: str, fn: Callable[[], None] | None) -> None:
        done = False
        if not dry_run and fn is not None:
            try:
                fn()
                done = True
            except ParaError as exc:
                detail = f"{detail} (failed: {exc.message})"
        actions.append(CleanAction(kind, target, detail, done))

    records, bad = ctx.store.load_all()
    names = {r.name for r in records}
    for marker in ctx.store.stale_markers():
        name = marker.name.removesuffix(".starting")
        if name in names:
            act(
                "marker",
                str(marker),
                "start finished but for its marker: removing it",
                marker.unlink,
            )
        else:
            act(
                "start",
                name,
                "start interrupted: undoing what it made",
                functools.partial(_undo_start, ctx, marker, act),
            )

    for item in bad:
        act("record", str(item.path), f"unreadable, left for you to inspect: {item.reason}", None)
    active = {r.name: r for r in records if r.status == "active"}
    for rec in records:
        if rec.status == "review" and not ctx.git.branch_exists(rec.branch):
            act(
                "session",
                rec.name,
                f"finished, and its branch {rec.branch} is gone (merged and deleted?): "
                "forgetting it",
                functools.partial(_forget, ctx, rec),
            )
    for rec in active.values():
        if not (Path(rec.worktree) / ".git").exists():
            act(
                "session",
                rec.name,
                "worktree missing: archiving the branch and record",
                functools.partial(_archive_missing, ctx, rec),
            )
    _clean_worktrees(ctx, active, act)
    for kind, parent, detail in (
        ("home", ctx.repo.state_dir / "homes", "no active session; removing its container HOME"),
        ("channel", ctx.repo.channels_dir, "no active session; removing"),
        (
            "repository",
            ctx.repo.state_dir / "git",
            "no active session; removing the container's repository",
        ),
    ):
        for path in sorted(parent.glob("[!.]*")) if parent.is_dir() else []:
            if path.name not in active:
                act(kind, str(path), detail, functools.partial(shutil.rmtree, path))
    actions.extend(_prune_archives(ctx, now, dry_run))
    return actions


def _clean_worktrees(
    ctx: SessionContext,
    active: dict[str, SessionRecord],
    act: Callable[[str, str, str, Callable[[], None] | None], None],
) -> None:
    known = {Path(r.worktree).resolve() for r in active.values()}
    registered = {e.path.resolve(): e for e in ctx.git.worktrees()}
    if any(e.prunable for e in registered.values()):
        act(
            "worktree",
            str(ctx.repo.common_dir / "worktrees"),
            "pruning git's entries of deleted worktrees",
            ctx.git.prune_worktrees,
        )
    base = ctx.worktrees_dir.resolve()
    for path, entry in sorted(registered.items()):
        if entry.prunable or not under(path, base) or path in known:
            continue
        admin = ctx.git.admin_dir(path)
        if admin is None or ctx.git.dirty_count(Worktree(path, admin)):
            act(
                "worktree",
                str(path),
                "no session record and uncommitted changes: left "
                "alone (commit them, then para clean again)",
                None,
            )
        else:
            act(
                "worktree",
                str(path),
                f"no session record; removing the clean worktree (branch {entry.branch} kept)",
                functools.partial(ctx.git.remove_worktree, path),
            )
    if base.is_dir():
        for child in sorted(base.iterdir()):
            resolved = child.resolve()
            if resolved not in registered and resolved not in known:
                act(
                    "directory",
                    str(child),
                    "not a git worktree: left alone (remove it by hand if you do not need it)",
                    None,
                )


def _undo_start(
    ctx: SessionContext,
    marker: Path,
    act: Callable[[str, str, str, Callable[[], None] | None], None],
) -> None:
    """Finish the rollback of a start that was killed: its container, and its worktree
    and branch while they hold nothing but what the start made; then the marker."""
    facts = marker_facts(marker)
    name = marker.name.removesuffix(".starting")
    if ctx.containers_factory is not None:
        try:
            ctx.containers.remove_leftovers(name)
        except ParaError as exc:
            act("container", name, f"left for para docker cleanup ({exc.message})", None)
    worktree = Path(str(facts.get("worktree", "")))
    if facts.get("worktree") and ctx.git.registered_worktree(worktree) is not None:
        admin = ctx.git.admin_dir(worktree.resolve())
        if admin is not None and not ctx.git.dirty_count(Worktree(worktree, admin)):
            ctx.git.remove_worktree(worktree, force=True)
        else:
            act("worktree", str(worktree), "has changes: left alone", None)
    branch = str(facts.get("branch", ""))
    if branch and ctx.git.branch_tip(branch) == facts.get("base_commit"):
        if ctx.git.registered_worktree(worktree) is None:
            ctx.git.delete_branch(branch)
    elif branch and ctx.git.branch_exists(branch):
        act("branch", branch, "has commits of its own: left alone", None)
    marker.unlink(missing_ok=True)


def _forget(ctx: SessionContext, rec: SessionRecord) -> None:
    ctx.store.archive(rec)


def _archive_missing(ctx: SessionContext, rec: SessionRecord) -> None:
    ctx.git.prune_worktrees()
    cancel_session(ctx, rec.name, force=True)


def _prune_archives(ctx: SessionContext, now: datetime, dry_run: bool) -> list[CleanAction]:
    prefix = f"{ctx.config.branch_prefix}/archived/"
    dated: list[tuple[datetime, str]] = []
    for branch in ctx.git.branches(f"{prefix}*/*"):
        when = archive_time(branch.removeprefix(prefix).split("/", 1)[0])
        if when is not None:
            dated.append((when, branch))
    dated.sort(reverse=True)
    limit = ctx.config.archive
    expired = [
        (when, branch)
        for i, (when, branch) in enumerate(dated)
        if now - when > timedelta(days=limit.days) or i >= limit.max
    ]
    actions = []
    records, _ = ctx.store.load_all()
    archived, _ = ctx.store.load_archived()
    for when, branch in expired:
        reason = (
            f"older than {limit.days} days"
            if now - when > timedelta(days=limit.days)
            else f"beyond the newest {limit.max}"
        )
        if not dry_run:
            ctx.git.delete_branch(branch)
            for rec in records:
                if rec.status == "cancelled" and rec.archive_branch == branch:
                    ctx.store.delete(rec.name)
            for path, rec in archived:
                if rec.archive_branch == branch:
                    ctx.store.remove_archived(path)
        actions.append(CleanAction("archive", branch, f"archive {reason}: deleting", not dry_run))
    return actions
