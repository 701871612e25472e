"""The name rule: NAME, else the session whose worktree holds the cwd, else the only one."""

from __future__ import annotations

from pathlib import Path

import pytest

from para.errors import AmbiguousSession, SessionNotFound
from para.sessions.context import SessionContext
from para.sessions.resolve import choose, resolve, session_at
from para.sessions.start import start_session


@pytest.mark.parametrize(
    ("name", "here", "candidates", "chosen"),
    [
        ("given", "inside", ["a", "b"], "given"),
        (None, "inside", ["a", "b"], "inside"),
        (None, None, ["only"], "only"),
        (None, None, ["a", "b"], None),
        (None, None, [], None),
    ],
)
def test_choose(name: str | None, here: str | None, candidates: list[str], chosen: str) -> None:
    assert choose(name, here, candidates) == chosen


def test_session_at_matches_whole_path_components(tmp_path: Path) -> None:
    worktrees = {"a": str(tmp_path / "wt" / "a"), "ab": str(tmp_path / "wt" / "ab"), "x": ""}
    assert session_at(tmp_path / "wt" / "ab" / "src", worktrees) == "ab"
    assert session_at(tmp_path / "wt" / "a", worktrees) == "a"
    assert session_at(tmp_path / "wt", worktrees) is None


def test_resolve_from_cwd_then_the_only_active(ctx: SessionContext, repo: Path) -> None:
    with pytest.raises(SessionNotFound, match="no active session to status"):
        resolve(ctx, None, command="status")
    one = start_session(ctx, "one")
    assert resolve(ctx, None, command="status") == "one"
    start_session(ctx, "two")
    with pytest.raises(AmbiguousSession, match="2 active sessions, which one\\? one, two"):
        resolve(ctx, None, command="status")
    inside = Path(one.worktree) / "sub"
    inside.mkdir()
    assert resolve(ctx, None, command="status", cwd=inside) == "one"
    assert resolve(ctx, "named", command="status") == "named"
