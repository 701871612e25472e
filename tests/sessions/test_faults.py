"""Data and state under races, kills and bad input: each case a new user or a fault
test found, reproduced."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from para.channel.channel import Channel
from para.errors import SessionExists, SessionStateError
from para.sessions import archive as archive_module
from para.sessions.archive import cancel_session, recover_session
from para.sessions.clean import clean_sessions
from para.sessions.context import SessionContext
from para.sessions.finish import finish_session
from para.sessions.start import start_session
from para.sessions.views import records, views
from para.sessions.watch import Watcher
from tests.conftest import Para, git, para_executable
from tests.docker.fake import FakeDockerService

NESTED = b"[" * 20_000


def dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(proc.stdout)


def test_two_cancels_of_one_name_in_one_second_keep_both(
    ctx: SessionContext, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Archive names are never reused: the second cancel gets a branch of its own, and
    recover brings back the second session's work, not the first's."""
    moment = datetime(2026, 11, 22, 6, 15, 19, tzinfo=UTC)
    monkeypatch.setattr(archive_module, "utcnow", lambda: moment)
    branches = []
    for work in ("first", "second"):
        record = start_session(ctx, "same")
        (Path(record.worktree) / "work.txt").write_text(f"{work}\n")
        done = cancel_session(ctx, "same", force=True)
        assert done.archive_branch not in branches
        branches.append(done.archive_branch)
    assert branches == [
        "para/archived/20261122-061519/same",
        "para/archived/20261122-061519.2/same",
    ]
    assert [git(repo, "show", f"{b}:work.txt") for b in branches] == ["first", "second"]
    back = recover_session(ctx, "same")
    assert (Path(back.worktree) / "work.txt").read_text() == "second\n"
    assert git(repo, "show", f"{branches[0]}:work.txt") == "first"
    archived = sorted(p.name for p in (repo / ".para" / "state" / "archived").glob("*.json"))
    assert len(archived) == 1 and archived[0].endswith("-same.json")
    assert len(clean_sessions(ctx, dry_run=True, now=moment)) == 0  # both stamps parse


def test_finish_and_cancel_at_once_agree(repo: Path, para: Para) -> None:
    """Run together, one wins and the other says what happened instead; the record
    matches the branches."""
    para("start", "race")
    (repo / ".para" / "worktrees" / "race" / "w.txt").write_text("w\n")
    procs = [
        subprocess.Popen(
            [para_executable(), *args],
            cwd=repo,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in (["finish", "done", "race"], ["cancel", "race", "--force"])
    ]
    results = [(p.wait(timeout=120), p.communicate()[1]) for p in procs]
    assert sorted(code for code, _err in results) == [0, 1], results
    loser = next(err for code, err in results if code == 1)
    assert "session 'race' is" in loser and "Traceback" not in loser
    record = json.loads((repo / ".para" / "state" / "sessions" / "race.json").read_text())
    branch = record["branch"] if record["status"] == "review" else record["archive_branch"]
    assert record["status"] in ("review", "cancelled") and record["pending"] is None
    assert git(repo, "show", f"{branch}:w.txt") == "w"


def test_two_finishes_with_different_branches(ctx: SessionContext, repo: Path) -> None:
    start_session(ctx, "twice")
    finish_session(ctx, "twice", "m", branch="one")
    with pytest.raises(SessionStateError, match="already finished on one"):
        finish_session(ctx, "twice", "m", branch="two")


def test_watch_survives_a_session_that_vanishes(ctx: SessionContext, repo: Path) -> None:
    for name in ("gone", "kept"):
        start_session(ctx, name)
        requests = repo / ".para" / "state" / "channels" / name / "requests"
        (requests / "finish-r1.json").write_text(
            json.dumps({"schema_version": 1, "id": "r1", "message": f"{name} done"})
        )
    shutil.rmtree(repo / ".para" / "state" / "channels" / "gone")  # finished elsewhere
    outcomes = Watcher(ctx).run_once()
    assert [(o.session, o.ok) for o in outcomes] == [("kept", True)]


def test_deeply_nested_json_is_refused_like_invalid_json(
    ctx: SessionContext, repo: Path, para: Para
) -> None:
    record = start_session(ctx, "deep")
    start_session(ctx, "fine")
    channel = repo / ".para" / "state" / "channels" / "deep"
    (channel / "status.json").write_bytes(NESTED)
    shown = {v.name: v for v in views(ctx, records(ctx)[0])}
    assert shown["deep"].report is None
    assert list((channel / "rejected").glob("*status.json"))
    (repo / ".para" / "state" / "sessions" / "bad.json").write_bytes(NESTED)
    result = para("list")
    assert "bad.json" in result.stderr and "nested too deeply" in result.stderr
    (channel / "status.json").write_bytes(NESTED)
    assert finish_session(ctx, "deep", "done").status == "review"
    assert not Path(record.worktree).exists()
    (repo / ".para" / "config.json").write_bytes(NESTED)
    assert "nested too deeply" in para.fails("list").stderr


def test_recover_killed_half_way_completes(ctx: SessionContext, repo: Path) -> None:
    """kill -9 after the archive branch was renamed back (and after the checkout):
    recover run again picks up from there."""
    record = start_session(ctx, "rk")
    (Path(record.worktree) / "w.txt").write_text("w\n")
    done = cancel_session(ctx, "rk", force=True)
    assert done.archive_branch
    git(repo, "branch", "-m", done.archive_branch, "para/rk")  # what the killed run did
    back = recover_session(ctx, "rk")
    assert back.status == "active" and (Path(back.worktree) / "w.txt").exists()
    cancel_session(ctx, "rk", force=True)
    archived = ctx.store.read("rk").archive_branch or ""
    git(repo, "branch", "-m", archived, "para/rk")
    git(repo, "worktree", "add", "-q", str(repo / ".para" / "worktrees" / "rk"), "para/rk")
    assert recover_session(ctx, "rk").status == "active"


def test_finish_killed_while_removing_the_worktree_completes(
    ctx: SessionContext, repo: Path
) -> None:
    """A finish killed in ``git worktree remove`` left a half-deleted worktree: the re-run
    removes the rest and commits nothing of the half-deletion."""
    record = start_session(ctx, "fk")
    worktree = Path(record.worktree)
    (worktree / "a.txt").write_text("a\n")
    (worktree / "b.txt").write_text("b\n")
    git(worktree, "add", ".")
    git(worktree, "commit", "-qm", "the work")
    ctx.store.update(
        "fk",
        lambda r: r.model_copy(
            update={"pending": "finish", "pending_branch": "para/fk", "pending_step": "cleanup"}
        ),
    )
    (worktree / "a.txt").unlink()
    (worktree / ".git").unlink()  # git removes the .git file early
    done = finish_session(ctx, "fk", "the work")
    assert done.status == "review" and not worktree.exists()
    assert git(repo, "log", "-1", "--format=%s", "para/fk") == "the work"
    assert git(repo, "show", "para/fk:a.txt") == "a"


def test_a_failed_start_leaves_the_cancelled_record(ctx: SessionContext, repo: Path) -> None:
    start_session(ctx, "again")
    cancel_session(ctx, "again", force=True)
    git(repo, "branch", "para/again")  # the start fails: the branch exists
    with pytest.raises(SessionExists):
        start_session(ctx, "again")
    assert ctx.store.read("again").status == "cancelled"
    git(repo, "branch", "-D", "para/again")
    ctx.config.setup_command = "exit 3"
    with pytest.raises(Exception, match="setup command"):
        start_session(ctx, "again")
    assert ctx.store.read("again").status == "cancelled"
    ctx.config.setup_command = None
    start_session(ctx, "again")
    archived = list((repo / ".para" / "state" / "archived").glob("*-again.json"))
    assert len(archived) == 1  # moved only once the new session existed


def test_clean_finishes_the_rollback_of_a_killed_start(
    repo: Path, para: Para, fake: FakeDockerService
) -> None:
    """kill -9 of start --docker after the container was made: branch, worktree and a
    running container, no record; clean removes them and the name is free again."""
    para("start", "k", "--docker", "--image", "img:1")
    sessions = repo / ".para" / "state" / "sessions"
    base = git(repo, "rev-parse", "main")
    (sessions / "k.json").unlink()  # killed before the record was written
    (sessions / "k.starting").write_text(
        json.dumps(
            {
                "pid": dead_pid(),
                "branch": "para/k",
                "base_commit": base,
                "worktree": str(repo / ".para" / "worktrees" / "k"),
            }
        )
    )
    refused = para.fails("start", "k")
    assert "para clean" in refused.stderr
    para("clean")
    assert git(repo, "branch", "--list", "para/k") == ""
    assert not (repo / ".para" / "worktrees" / "k").exists()
    assert fake.containers == {}
    assert not (sessions / "k.starting").exists()
    para("start", "k")


def test_records_must_name_their_own_file(ctx: SessionContext, repo: Path, para: Para) -> None:
    start_session(ctx, "a")
    start_session(ctx, "b")
    sessions = repo / ".para" / "state" / "sessions"
    data = json.loads((sessions / "b.json").read_text())
    data["name"] = "a"
    (sessions / "b.json").write_text(json.dumps(data))
    (sessions / "x.json").mkdir()
    result = para("list")
    assert "names session 'a', not 'b'" in result.stderr
    assert "x.json: not a regular file" in result.stderr
    assert para.fails("finish", "m", "b").exit_code == 1
    assert json.loads((sessions / "a.json").read_text())["status"] == "active"


def test_state_is_private(ctx: SessionContext, repo: Path) -> None:
    repo.chmod(0o755)
    start_session(ctx, "p")
    state = repo / ".para" / "state"
    assert state.stat().st_mode & 0o777 == 0o700
    assert (state / "sessions" / "p.json").stat().st_mode & 0o777 == 0o600


def test_crash_logs_keep_no_env_values() -> None:
    from para.cli.main import redacted

    argv = [
        "para",
        "start",
        "s",
        "--env",
        "TOKEN=s3cret",
        "-e",
        "A=1",
        "--env=B=2",
        "docker",
        "--",
        "echo",
        "--env",
        "C=3",
    ]
    assert redacted(argv) == [
        "para",
        "start",
        "s",
        "--env",
        "TOKEN=***",
        "-e",
        "A=***",
        "--env=B=***",
        "docker",
        "--",
        "echo",
        "--env",
        "C=3",
    ]


def test_a_channel_written_under_a_full_disk_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = Channel(tmp_path / "ch", "s")
    channel.create()

    def full(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError):
        channel.write(None, "status.json", b"{}")
    monkeypatch.undo()
    assert [p.name for p in (tmp_path / "ch").iterdir() if p.is_file()] == []
