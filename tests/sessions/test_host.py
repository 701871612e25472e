"""Host sessions: reports with para report, dispatching an agent."""

from __future__ import annotations

import time
from pathlib import Path

from tests.conftest import Para, git

SHELLS = [["sh"], ["busybox", "sh"]]


def channel_of(repo: Path, name: str) -> Path:
    return repo / ".para" / "state" / "channels" / name


def test_report_on_host_shows_in_list_and_status(repo: Path, para: Para) -> None:
    para("start", "h")
    para(
        "report",
        "h",
        "--task",
        "write parser",
        "--phase",
        "impl",
        "--progress",
        "2/5",
        "--message",
        "halfway",
    )
    para("report", "h", "--tests", "passed")
    data = para.json("status", "h", "--json")
    report = data["report"]
    assert report["task"] == "write parser"  # kept from the first report
    assert report["tests"] == "passed"
    assert report["progress"] == {"current": 2, "total": 5, "message": "halfway"}
    assert report["state"] == "working"
    para("report", "h", "--blocked", "need credentials")
    [listed] = para.json("list", "--json")
    assert listed["report"]["state"] == "blocked"
    assert listed["report"]["blocked_reason"] == "need credentials"
    assert "blocked" in para("list").stdout
    bad = para.fails("report", "h", "--progress", "x", code=2)
    assert "CUR/TOTAL" in bad.stderr


def test_report_is_kept_after_finish(repo: Path, para: Para) -> None:
    para("start", "k")
    para("report", "k", "--state", "done", "--task", "all good")
    para("finish", "done", "k")
    assert para.json("status", "k", "--json")["report"]["task"] == "all good"
    assert not channel_of(repo, "k").exists()


def test_report_too_long_is_a_clear_error(repo: Path, para: Para) -> None:
    para("start", "r")
    result = para.fails("report", "r", "--task", "x" * 3000)
    assert "invalid report" in result.stderr and "task" in result.stderr


def test_dispatch_runs_agent_with_prompt_on_host(repo: Path, para: Para, tmp_path: Path) -> None:
    agent = tmp_path / "agent.sh"
    agent.write_text(
        '#!/bin/sh\necho "prompt: $1"\necho "session: $PARA_SESSION"\n'
        'para-status --task "$1" --progress 1/3\n'
        'echo done > "$PARA_WORKTREE/agent-was-here"\n'
    )
    agent.chmod(0o755)
    data = para.json(
        "dispatch", "agented", "fix the bug", "--agent", f"{agent} {{prompt}}", "--json"
    )
    job = data["job"]
    wt = Path(data["session"]["worktree"])
    deadline = time.monotonic() + 30
    while not (wt / "agent-was-here").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    waited = para("docker", "jobs", "agented", job, "--wait")
    assert "prompt: fix the bug" in waited.stdout
    assert "session: agented" in waited.stdout
    jobs = para.json("docker", "jobs", "agented", "--json")
    assert jobs[0]["state"] == "done" and jobs[0]["exit_code"] == 0
    assert jobs[0]["argv"] == [str(agent), "fix the bug"]
    report = para.json("status", "agented", "--json")["report"]  # para-status was on PATH
    assert report["task"] == "fix the bug" and report["progress"]["current"] == 1


def test_dispatch_without_agent_is_a_clear_error(repo: Path, para: Para) -> None:
    result = para.fails("dispatch", "x", "prompt")
    assert "no agent.command is set: dispatch needs one" in result.stderr


def test_dispatch_from_a_base(repo: Path, para: Para, tmp_path: Path) -> None:
    git(repo, "checkout", "-q", "-b", "dev")
    (repo / "dev.txt").write_text("dev\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "dev")
    git(repo, "checkout", "-q", "main")
    data = para.json("dispatch", "based", "look", "--base", "dev", "--agent", "true", "--json")
    assert data["session"]["base"] == "dev"
    assert (Path(data["session"]["worktree"]) / "dev.txt").exists()
