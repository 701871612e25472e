"""What a user sees when the machine, the input or the order of words is wrong: a
message naming the problem and the fix, exit 1, never a traceback (exit 3)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from para.cli.main import global_options_first
from para.docker.sdk import pull_failed
from para.errors import StateLocked
from para.git import Git
from tests.conftest import Para, git, para_executable, run_para
from tests.docker.fake import FakeDockerService


@pytest.mark.parametrize("where", ["para.state.write_atomic", "para.safefs.write_file"])
def test_a_full_disk_is_an_error_not_a_crash(repo: Path, para: Para, where: str) -> None:
    para("start", "s")
    name = where.rpartition(".")[2]

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", "/the/file")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(where, full)
        command = ["start", "t"] if name == "write_atomic" else ["report", "s", "--task", "x"]
        result = para.fails(*command)
    assert "cannot write /the/file: No space left on device" in result.stderr
    assert "please report" not in result.stderr
    assert git(repo, "branch", "--list", "para/t") == ""
    para("finish", "done", "s")


def test_read_only_file_system_during_finish_then_again(repo: Path, para: Para) -> None:
    para("start", "f")
    (repo / ".para" / "worktrees" / "f" / "w.txt").write_text("w\n")
    from para.state import write_atomic

    calls = {"n": 0}

    def read_only_once(path: Path, data: bytes, *, mode: int = 0o644) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        write_atomic(path, data, mode=mode)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("para.state.write_atomic", read_only_once)
        assert "Read-only file system" in para.fails("finish", "done", "f").stderr
    para("finish", "done", "f")
    assert git(repo, "show", "para/f:w.txt") == "w"


@pytest.mark.parametrize(
    ("config", "args", "said"),
    [
        (b'{"setup_command": "caf\xe9"}', ["list"], "not UTF-8 text"),
        (b'{"docker": {"resources": {"memory": "inf"}}}', ["list"], "positive number"),
        (b'{"docker": {"resources": {"cpus": 1e400}}}', ["list"], "docker.resources.cpus"),
        (None, ["start", "s", "--memory", "inf"], "invalid option --memory"),
        (None, ["start", "s", "--cpus", "0"], "invalid option --cpus"),
        (None, ["start", "s", "--pids", "0"], "invalid option --pids"),
        (None, ["start", "s", "--memory", "1k"], "less than the 6m"),
    ],
)
def test_bad_values_name_the_file_or_the_option(
    repo: Path, para: Para, config: bytes | None, args: list[str], said: str
) -> None:
    if config is not None:
        (repo / ".para").mkdir()
        (repo / ".para" / "config.json").write_bytes(config)
    result = para.fails(*args)
    assert said in result.stderr
    if config is None:
        assert "fix the keys above" not in result.stderr
    assert git(repo, "branch", "--list", "para/s") == ""


def test_a_stopped_holder_of_the_worktree_lock(repo: Path, tmp_path: Path) -> None:
    """Waiting says so at once; the timeout names the lock and not a file to delete."""
    lock = tmp_path / "worktrees.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from filelock import FileLock; l = FileLock({str(lock)!r}); l.acquire(); "
            "print('held', flush=True); import time; time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        git_ = Git(repo, worktree_lock=lock)
        started = time.monotonic()
        with pytest.raises(StateLocked) as info:
            git_.add_worktree(tmp_path / "wt", "para/x", git(repo, "rev-parse", "HEAD"))
        assert 14 < time.monotonic() - started < 30
        assert "delete" not in (info.value.hint or "")
    finally:
        holder.kill()
        holder.communicate()


def test_docker_order_without_dashes(repo: Path, para: Para, fake: FakeDockerService) -> None:
    para("start", "one", "--docker", "--image", "img:1")
    para("start", "two", "--docker", "--image", "img:1")
    assert para("docker", "exec", "two", "echo", "hi").stdout.strip() == "echo hi"
    result = para.fails("docker", "exec", "echo", "hi")
    assert "which one?" in result.stderr and "para docker exec NAME -- CMD" in result.stderr


def test_exec_all_says_which_it_skipped(repo: Path, para: Para, fake: FakeDockerService) -> None:
    para("start", "up", "--docker", "--image", "img:1")
    para("start", "down", "--docker", "--image", "img:1")
    para("docker", "stop", "down")
    result = para("docker", "exec", "--all", "--", "true")
    assert "skipped, container not running: down (exited)" in result.stderr
    assert "[up] true" in result.stdout


def test_a_dead_docker_host_is_named_when_another_engine_answers(
    repo: Path, fake: FakeDockerService
) -> None:
    from para.app import App

    app = App(cwd=repo, env={**os.environ, "DOCKER_HOST": "unix:///nowhere.sock"})
    app.docker.service()
    assert any("DOCKER_HOST=unix:///nowhere.sock did not answer" in w for w in app.warnings)


def test_an_offline_pull_blames_the_registry_and_names_the_choice(
    repo: Path, para: Para, fake: FakeDockerService
) -> None:
    offline = pull_failed(
        "python:3.12", 'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry'
    )
    assert "its registry could not be reached" in offline.message
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    git(repo, "add", "pyproject.toml")
    git(repo, "commit", "-qm", "a python project")
    result = para.fails("start", "p", "--docker")
    assert "para chose it from docker.image_mappings['python']" in result.stderr
    assert "--image" in result.stderr


def test_the_monitor_needs_a_terminal(repo: Path, para: Para) -> None:
    result = para.fails("monitor")
    assert "needs a terminal" in result.stderr and "para list" in result.stderr


def test_global_options_after_the_command(repo: Path) -> None:
    assert global_options_first(["start", "feat", "--backend", "podman"]) == [
        "--backend",
        "podman",
        "start",
        "feat",
    ]
    assert global_options_first(["docker", "exec", "s", "--", "x", "--backend", "y"]) == [
        "docker",
        "exec",
        "s",
        "--",
        "x",
        "--backend",
        "y",
    ]
    proc = run_para("start", "feat", "--backend", "docker", cwd=repo)
    assert proc.returncode == 0, proc.stderr


def test_finished_sessions_whose_branch_was_merged_and_deleted(repo: Path, para: Para) -> None:
    para("start", "merged")
    para("finish", "done", "merged")
    git(repo, "branch", "-D", "para/merged")
    listed = para("list")
    assert "is gone (merged and deleted?)" in listed.stderr
    assert "forgetting it" in para("clean").stdout
    assert "merged" not in para("list").stdout


def test_setup_command_output_streams(repo: Path, para: Para) -> None:
    (repo / ".para").mkdir()
    (repo / ".para" / "config.json").write_text(
        json.dumps({"setup_command": "echo installing; echo done >&2"})
    )
    result = para("start", "s", "--json")
    assert "running setup command: echo installing" in result.stderr
    assert "installing" in result.stderr and "done" in result.stderr
    assert json.loads(result.stdout)["name"] == "s"  # stdout stays JSON


@pytest.mark.parametrize("bad", ["@", "-x", "HEAD", "a..b"])
def test_bad_branch_names_are_called_branch_names(repo: Path, para: Para, bad: str) -> None:
    para("start", "b")
    result = para.fails("finish", "m", "b", "--branch", bad)
    assert "invalid branch name" in result.stderr and "invalid session name" not in result.stderr
    assert git(repo, "for-each-ref", "refs/heads/@") == ""


def test_env_keys_are_ascii(repo: Path, para: Para, fake: FakeDockerService) -> None:
    result = para.fails("start", "e", "--docker", "--image", "img:1", "--env", "É=v")
    assert "bad environment entry" in result.stderr


def test_a_bare_repository_is_called_so(
    tmp_path: Path, para: Para, monkeypatch: pytest.MonkeyPatch
) -> None:
    git(tmp_path, "init", "-q", "--bare", "b.git")
    monkeypatch.chdir(tmp_path / "b.git")
    assert "is a bare repository" in para.fails("list").stderr


def test_finishing_from_inside_the_worktree_says_where_to_go(repo: Path, para: Para) -> None:
    para("start", "in")
    proc = subprocess.run(
        [para_executable(), "finish", "done"],
        cwd=repo / ".para" / "worktrees" / "in",
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"cd {repo}" in proc.stderr


def test_project_text_cites_only_the_project() -> None:
    root = Path(__file__).resolve().parents[2]
    texts = [
        root / "README.md",
        *root.glob("docs/*.md"),
        *root.glob("para/**/*.py"),
        *root.glob("scripts/*"),
    ]
    cited = [str(p) for p in texts if "DESIGN" in p.read_text(errors="replace")]
    assert cited == []
