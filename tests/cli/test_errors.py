"""Exit codes and the handling of unexpected errors, through the installed entry point."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from para.errors import EXIT_INTERRUPTED, EXIT_UNEXPECTED
from tests.conftest import Para, para_executable, run_para


def test_usage_error_is_exit_2(repo: Path) -> None:
    proc = run_para("start", "--no-such-flag", cwd=repo)
    assert proc.returncode == 2
    assert "No such option" in proc.stderr


def test_para_error_is_exit_1_with_hint(repo: Path) -> None:
    proc = run_para("status", "ghost", cwd=repo)
    assert proc.returncode == 1
    assert "error: no session named 'ghost'" in proc.stderr
    assert "hint:" in proc.stderr


def test_unexpected_error_writes_traceback_and_exits_3(
    repo: Path, para: Para, monkeypatch: pytest.MonkeyPatch
) -> None:
    from para.sessions import views

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(views, "records", boom)
    result = para.fails("list", code=EXIT_UNEXPECTED)
    assert "unexpected error: RuntimeError: kaboom" in result.stderr
    logs = list((repo / ".para" / "state" / "logs").glob("crash-*.log"))
    assert len(logs) == 1
    assert str(logs[0]) in result.stderr
    text = logs[0].read_text()
    assert "Traceback" in text and "kaboom" in text


def test_interrupt_is_exit_130(repo: Path) -> None:
    (repo / ".para").mkdir()
    (repo / ".para" / "config.json").write_text('{"setup_command": "sleep 30"}')
    proc = subprocess.Popen(
        [para_executable(), "start", "slow"],
        cwd=repo,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    marker = repo / ".para" / "state" / "sessions" / "slow.starting"
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists()
    time.sleep(0.3)  # let the setup command start
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == EXIT_INTERRUPTED, err
    # the interrupted start rolled back
    branches = subprocess.run(
        ["git", "branch", "--list", "para/slow"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert branches == ""
    assert not (repo / ".para" / "worktrees" / "slow").exists()
    assert not marker.exists()


def test_version_and_help(repo: Path) -> None:
    proc = run_para("--version", cwd=repo)
    assert proc.returncode == 0 and "para" in proc.stdout
    proc = run_para("--help", cwd=repo)
    for command in (
        "start",
        "list",
        "status",
        "finish",
        "cancel",
        "recover",
        "clean",
        "resume",
        "path",
        "init",
        "config",
    ):
        assert f"  {command} " in proc.stdout
