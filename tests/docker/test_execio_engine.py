"""Commands in session containers on real engines: exit codes, stdin, exec --all,
the fast path, attach, logs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from para.docker.service import DockerService
from tests.conftest import Para, run_para
from tests.docker.engine_helpers import _para, start
from tests.test_imports import modules_after

pytestmark = pytest.mark.engine


def test_exit_codes_and_stdin_pass_through(repo: Path, para: Para, engine: DockerService) -> None:
    start(para, "io")
    env = dict(os.environ)
    proc = subprocess.run(
        [
            _para(),
            "docker",
            "exec",
            "io",
            "--",
            "sh",
            "-c",
            "tr a-z A-Z; echo to-stderr >&2; exit 42",
        ],
        cwd=repo,
        input="piped stdin\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 42
    assert proc.stdout == "PIPED STDIN\n"
    assert "to-stderr" in proc.stderr
    missing = run_para("docker", "exec", "io", "--", "no-such-command", cwd=repo)
    assert missing.returncode in (126, 127)
    wt = repo / ".para" / "worktrees" / "io"
    inside = run_para(
        "docker", "exec", "-e", "A=b", "-w", "/tmp", "--", "sh", "-c", 'echo "$A $(pwd)"', cwd=wt
    )
    assert inside.stdout == "b /tmp\n", inside.stderr


def test_exec_all_runs_in_parallel(
    repo: Path, para: Para, engine: DockerService, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    names = ["p1", "p2", "p3"]
    for name in names:
        start(para, name, "--volume", f"{shared}:/shared")
    # Each command waits until all three have started: run one after another, the first
    # would give up (exit 9); run in parallel, all finish.
    script = (
        "touch /shared/$PARA_SESSION; i=0; "
        'while [ "$(ls /shared | wc -l)" -lt 3 ]; do sleep 0.1; i=$((i+1)); '
        "[ $i -gt 150 ] && exit 9; done; echo done-$PARA_SESSION"
    )
    proc = run_para("docker", "exec", "--all", "--", "sh", "-c", script, cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in names:
        assert f"[{name}] done-{name}" in proc.stdout
    worst = run_para(
        "docker",
        "exec",
        "--all",
        "--",
        "sh",
        "-c",
        "case $PARA_SESSION in p2) exit 5;; *) exit 0;; esac",
        cwd=repo,
    )
    assert worst.returncode == 5


def test_exec_takes_the_fast_path(
    repo: Path, para: Para, engine: DockerService, tmp_path: Path
) -> None:
    from tests.test_imports import HEAVY

    start(para, "fast")
    code, loaded = modules_after(["docker", "exec", "fast", "--", "true"], repo, tmp_path)
    assert code == 0
    assert not loaded & {"click", *HEAVY}, sorted(loaded & {"click", *HEAVY})
    code, _ = modules_after(["docker", "exec", "fast", "--", "sh", "-c", "exit 9"], repo, tmp_path)
    assert code == 9


def test_attach_and_logs(repo: Path, para: Para, engine: DockerService) -> None:
    start(para, "att")
    proc = subprocess.run(
        [_para(), "docker", "attach", "att"],
        cwd=repo,
        input="echo inside-$PARA_SESSION; exit 3\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 3, proc.stderr
    assert "inside-att" in proc.stdout
    # the container's own output is its init's: write there, read it back through logs
    para("docker", "exec", "att", "--", "sh", "-c", "echo to-the-log > /proc/1/fd/1")
    assert "to-the-log" in para("docker", "logs", "att", "--tail", "5").stdout
