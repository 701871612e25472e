"""What a session may have done to its worktree's git files: finish and cancel repair
it (an agent on a host session can do all of it; a container of an older para could)."""

from __future__ import annotations

from pathlib import Path

import pytest

from para.sessions.archive import cancel_session
from para.sessions.context import SessionContext
from para.sessions.finish import finish_session
from para.sessions.repair import restore_worktree_files
from para.sessions.start import start_session
from tests.conftest import git


@pytest.mark.parametrize("end", ["finish", "cancel"])
def test_redirected_gitfile_and_lock_are_undone(
    ctx: SessionContext, repo: Path, tmp_path: Path, end: str
) -> None:
    record = start_session(ctx, "r")
    worktree = Path(record.worktree)
    admin = Path(record.git_admin or "")
    evil = tmp_path / "evil"
    git(tmp_path, "init", "-q", str(evil))
    marker = tmp_path / "ran"
    git(evil, "config", "core.fsmonitor", f"touch {marker}; false")
    (worktree / ".git").write_text(f"gitdir: {evil / '.git'}\n")
    (admin / "locked").write_text("mine\n")
    (admin / "gitdir").write_text("/elsewhere/.git\n")
    (worktree / "work.txt").write_text("work\n")
    if end == "finish":
        finish_session(ctx, "r", "done")
        branch = "para/r"
    else:
        branch = cancel_session(ctx, "r", force=True).archive_branch or ""
    assert git(repo, "show", f"{branch}:work.txt") == "work"
    assert not worktree.exists() and not admin.exists()
    assert not marker.exists()


def test_restore_says_what_it_changed(ctx: SessionContext) -> None:
    record = start_session(ctx, "s")
    assert restore_worktree_files(ctx, record) == []
    (Path(record.worktree) / ".git").unlink()
    (Path(record.worktree) / ".git").mkdir()
    changed = restore_worktree_files(ctx, record)
    assert changed == [f"restored {Path(record.worktree) / '.git'}"]
    assert (Path(record.worktree) / ".git").read_text() == f"gitdir: {record.git_admin}\n"
