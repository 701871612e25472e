"""The POSIX sh helpers (para-status, para-finish, para-cancel) on the host."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from para.channel.layout import install_helpers
from tests.conftest import Para, git

SHELLS = [["sh"], ["busybox", "sh"]]


def channel_of(repo: Path, name: str) -> Path:
    return repo / ".para" / "state" / "channels" / name


def test_host_helpers_write_valid_requests_and_status(repo: Path, para: Para) -> None:
    para("start", "r")
    bin_dir = install_helpers(repo / ".para" / "state")
    env = {**os.environ, "PARA_CHANNEL": str(channel_of(repo, "r")), "PARA_SESSION": "r"}
    subprocess.run(
        ["sh", str(bin_dir / "para-status"), "--task", 'quote " and \\ back', "--progress", "1/2"],
        env=env,
        check=True,
    )
    assert para.json("status", "r", "--json")["report"]["task"] == 'quote " and \\ back'
    bad = subprocess.run(
        ["sh", str(bin_dir / "para-status"), "--tests", "maybe"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "usage" in bad.stderr
    subprocess.run(
        ["sh", str(bin_dir / "para-finish"), "host finish", "--branch", "done/r"],
        env=env,
        check=True,
        capture_output=True,
    )
    (repo / ".para" / "worktrees" / "r" / "f").write_text("x")
    out = para.json("watch", "--once", "--json")
    assert out["ok"] is True and out["kind"] == "finish"
    assert git(repo, "log", "-1", "--format=%s", "done/r") == "host finish"


def test_helpers_refuse_malformed_progress(repo: Path, para: Para) -> None:
    para("start", "p")
    bin_dir = install_helpers(repo / ".para" / "state")
    env = {**os.environ, "PARA_CHANNEL": str(channel_of(repo, "p")), "PARA_SESSION": "p"}
    for bad in ("/5", "3/", "x/5", "3-5"):
        proc = subprocess.run(
            ["sh", str(bin_dir / "para-status"), "--progress", bad],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 2, bad
    subprocess.run(
        ["sh", str(bin_dir / "para-status"), "--message", "thinking"], env=env, check=True
    )
    report = para.json("status", "p", "--json")["report"]
    assert report["progress"] == {"current": None, "total": None, "message": "thinking"}


@pytest.mark.parametrize("shell", ["dash", "busybox"])
def test_para_status_keeps_what_para_report_set(repo: Path, para: Para, shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    para("start", "mix")
    task = 'it\'s $(touch pwned) `x` "q"\nline two'
    para("report", "mix", "--task", task, "--phase", "build", "--progress", "2/5")
    bin_dir = install_helpers(repo / ".para" / "state")
    channel = channel_of(repo, "mix")
    env = {**os.environ, "PARA_CHANNEL": str(channel), "PARA_SESSION": "mix"}
    argv = [*([shell, "sh"] if shell == "busybox" else [shell]), str(bin_dir / "para-status")]
    subprocess.run([*argv, "--tests", "passed"], env=env, check=True, cwd=repo)
    report = para.json("status", "mix", "--json")["report"]
    assert (report["task"], report["phase"], report["tests"]) == (task, "build", "passed")
    assert report["progress"] == {"current": 2, "total": 5, "message": None}
    assert not (repo / "pwned").exists()
    para("report", "mix", "--blocked", "needs a key")
    subprocess.run([*argv, "--state", "working"], env=env, check=True)
    report = para.json("status", "mix", "--json")["report"]
    assert (report["state"], report["blocked_reason"], report["task"]) == ("working", None, task)
