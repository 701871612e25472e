"""records, views and view, called directly: what list and status show."""

from __future__ import annotations

import shutil
from pathlib import Path

from para.sessions.archive import cancel_session
from para.sessions.context import SessionContext
from para.sessions.start import start_session
from para.sessions.views import AheadBehindCache, records, view, views
from tests.conftest import git


def test_views_count_changes_and_commits(ctx: SessionContext, repo: Path) -> None:
    record = start_session(ctx, "v")
    wt = Path(record.worktree)
    (wt / "a.txt").write_text("a")
    git(wt, "add", ".")
    git(wt, "commit", "-qm", "a")
    (wt / "b.txt").write_text("b")
    (repo / "main.txt").write_text("m")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "main moves")
    [shown] = views(ctx, records(ctx)[0])
    assert (shown.dirty, shown.ahead, shown.behind) == (1, 1, 1)
    assert shown.to_json()["container"] is None
    assert view(ctx, "v").to_json() == shown.to_json()


def test_cancelled_sessions_only_with_archived(ctx: SessionContext) -> None:
    start_session(ctx, "keep")
    start_session(ctx, "drop")
    cancel_session(ctx, "drop")
    assert [r.name for r in records(ctx)[0]] == ["keep"]
    shown = {v.name: v.to_json() for v in views(ctx, records(ctx, archived=True)[0])}
    assert shown["drop"]["branch"].startswith("para/archived/")


def test_missing_worktree_is_a_problem_not_an_error(ctx: SessionContext) -> None:
    record = start_session(ctx, "m")
    shutil.rmtree(record.worktree)
    shown = view(ctx, "m")
    assert shown.worktree_exists is False
    assert any("worktree missing" in p for p in shown.problems)


def test_ahead_behind_cache_survives_garbage(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    path.write_text("[not a dict")
    cache = AheadBehindCache(path)
    assert cache.get("x...y") is None
    cache.put("x...y", (2, 3))
    cache.save()
    assert AheadBehindCache(path).get("x...y") == (2, 3)
