"""finish_session, called directly: commit, hand back, clean up; re-runnable."""

from __future__ import annotations

from pathlib import Path

import pytest

from para.errors import BranchExists, EmptyMessage, SessionStateError
from para.sessions.archive import cancel_session
from para.sessions.context import SessionContext
from para.sessions.finish import finish_session
from para.sessions.start import start_session
from tests.conftest import git


def test_finish_commits_everything_and_removes_the_worktree(
    ctx: SessionContext, repo: Path
) -> None:
    record = start_session(ctx, "f")
    (Path(record.worktree) / "new.txt").write_text("new\n")
    done = finish_session(ctx, "f", "add new")
    assert done.status == "review" and done.finished_at is not None
    assert git(repo, "log", "-1", "--format=%s", "para/f") == "add new"
    assert git(repo, "show", "para/f:new.txt") == "new"
    assert not Path(record.worktree).exists()
    assert not (repo / ".para" / "state" / "channels" / "f").exists()


def test_finish_onto_a_new_branch_and_again(ctx: SessionContext, repo: Path) -> None:
    start_session(ctx, "b")
    done = finish_session(ctx, "b", "m", branch="feature/b")
    assert done.branch == "feature/b"
    assert git(repo, "branch", "--list", "para/b") == ""
    assert finish_session(ctx, "b", "m") == done  # a second finish changes nothing
    with pytest.raises(SessionStateError, match="already finished on feature/b"):
        finish_session(ctx, "b", "m", branch="other")


def test_bad_input_is_refused_before_anything_changes(ctx: SessionContext, repo: Path) -> None:
    start_session(ctx, "x")
    with pytest.raises(EmptyMessage):
        finish_session(ctx, "x", "  ")
    with pytest.raises(BranchExists):
        finish_session(ctx, "x", "m", branch="main")
    assert ctx.store.read("x").status == "active"
    assert ctx.store.read("x").pending is None


def test_interrupted_finish_completes(ctx: SessionContext, repo: Path) -> None:
    record = start_session(ctx, "i")
    (Path(record.worktree) / "w.txt").write_text("w")
    # the state a finish killed after its commit and rename leaves
    ctx.store.update(
        "i", lambda r: r.model_copy(update={"pending": "finish", "pending_branch": "done/i"})
    )
    git(Path(record.worktree), "add", "-A")
    git(Path(record.worktree), "commit", "-qm", "first try")
    git(repo, "branch", "-m", "para/i", "done/i")
    done = finish_session(ctx, "i", "second try")
    assert (done.status, done.branch, done.pending) == ("review", "done/i", None)
    assert git(repo, "log", "-1", "--format=%s", "done/i") == "first try"


def test_finish_of_a_cancelled_session_is_refused(ctx: SessionContext) -> None:
    start_session(ctx, "c")
    cancel_session(ctx, "c")
    with pytest.raises(SessionStateError, match="'c' is cancelled") as info:
        finish_session(ctx, "c", "m")
    assert info.value.hint == "bring it back with: para recover c"
