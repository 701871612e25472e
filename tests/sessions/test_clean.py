"""clean_sessions, called directly."""

from __future__ import annotations

import shutil
from pathlib import Path

from para.sessions.clean import clean_sessions
from para.sessions.context import SessionContext
from para.sessions.start import start_session
from tests.conftest import git


def test_clean_archives_a_session_whose_worktree_is_gone(ctx: SessionContext, repo: Path) -> None:
    record = start_session(ctx, "lost")
    shutil.rmtree(record.worktree)
    planned = clean_sessions(ctx, dry_run=True)
    assert [(a.kind, a.target, a.done) for a in planned if a.kind == "session"] == [
        ("session", "lost", False)
    ]
    assert ctx.store.read("lost").status == "active"
    done = clean_sessions(ctx)
    assert any(a.kind == "session" and a.done for a in done)
    assert ctx.store.read("lost").status == "cancelled"
    assert git(repo, "branch", "--list", "para/archived/*/lost") != ""


def test_clean_removes_leftover_channels_but_not_active_ones(
    ctx: SessionContext, repo: Path
) -> None:
    start_session(ctx, "live")
    stale = repo / ".para" / "state" / "channels" / "ghost"
    stale.mkdir(parents=True)
    actions = clean_sessions(ctx)
    assert [a.target for a in actions if a.kind == "channel"] == [str(stale)]
    assert not stale.exists()
    assert (repo / ".para" / "state" / "channels" / "live").is_dir()


def test_nothing_to_clean(ctx: SessionContext, repo: Path) -> None:
    start_session(ctx, "fine")
    assert clean_sessions(ctx) == []
    assert Path(ctx.store.read("fine").worktree).is_dir()
