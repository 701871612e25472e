"""cancel_session and recover_session, called directly: nothing is ever lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from para.errors import DirtyWorktree, NothingToRecover
from para.sessions.archive import cancel_session, recover_session
from para.sessions.context import SessionContext
from para.sessions.start import start_session
from tests.conftest import git


def test_dirty_cancel_asks_and_keeps_the_work(ctx: SessionContext, repo: Path) -> None:
    record = start_session(ctx, "d")
    (Path(record.worktree) / "work.txt").write_text("precious\n")
    with pytest.raises(DirtyWorktree, match="1 uncommitted"):
        cancel_session(ctx, "d")
    asked: list[str] = []

    def say_no(question: str) -> bool:
        asked.append(question)
        return False

    with pytest.raises(DirtyWorktree):
        cancel_session(ctx, "d", confirm=say_no)
    assert asked and "archive them and cancel?" in asked[0]
    done = cancel_session(ctx, "d", confirm=lambda _q: True)
    assert done.status == "cancelled" and done.archive_branch
    assert git(repo, "show", f"{done.archive_branch}:work.txt") == "precious"
    back = recover_session(ctx, "d")
    assert back.status == "active"
    assert (Path(back.worktree) / "work.txt").read_text() == "precious\n"
    # the safekeeping commit is undone: the work is uncommitted again
    assert git(Path(back.worktree), "status", "--porcelain") == "?? work.txt"


def test_recover_without_the_archive_branch(ctx: SessionContext, repo: Path) -> None:
    start_session(ctx, "gone")
    done = cancel_session(ctx, "gone")
    assert done.archive_branch is not None
    git(repo, "branch", "-D", done.archive_branch)
    with pytest.raises(NothingToRecover, match=f"branch {done.archive_branch} of session"):
        recover_session(ctx, "gone")
