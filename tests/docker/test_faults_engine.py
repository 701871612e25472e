"""Faults with real engines: limits an engine refuses, Ctrl-C during an exec, a lost
engine connection, an offline pull, a start killed after its container was made."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from para.docker.service import DockerService
from tests.conftest import Para, git, para_executable, run_para
from tests.docker.engine_helpers import containers_of, start

pytestmark = pytest.mark.engine


def test_a_limit_the_engine_refuses_is_named(repo: Path, para: Para, engine: DockerService) -> None:
    result = para.fails(
        "start", "lim", "--docker", "--image", "localhost/para-test/busybox:1", "--cpus", "0.001"
    )
    assert "the engine refused the limit --cpus" in result.stderr
    assert "unexpected" not in result.stderr
    assert containers_of(engine, repo) == []
    assert git(repo, "branch", "--list", "para/lim") == ""


def test_ctrl_c_stops_the_command_in_the_container(
    repo: Path, para: Para, engine: DockerService
) -> None:
    """Without a TTY, Ctrl-C does not travel in the stream: para signals the command
    inside (it runs its INT trap here), exits 130, and nothing is left running."""
    start(para, "intr")
    proc = subprocess.Popen(
        [
            para_executable(),
            "docker",
            "exec",
            "intr",
            "--",
            "sh",
            "-c",
            "trap 'echo got-int; exit 5' INT; echo started; while true; do sleep 1; done",
        ],
        cwd=repo,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "got-int" in out and "Traceback" not in err
    left = run_para("docker", "exec", "intr", "--", "ps", cwd=repo).stdout
    assert "while true" not in left and "sleep 1" not in left


class CuttingProxy:
    """A unix socket in front of the engine's that cuts every connection on ``cut()``."""

    def __init__(self, path: Path, target: str):
        self.path, self.target = path, target
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(str(path))
        self.server.listen()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.server.accept()
                upstream = socket.socket(socket.AF_UNIX)
                upstream.connect(self.target)
                self.conns += [client, upstream]
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def pipe(a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)
            b.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)  # ends a blocked accept()
        self.server.close()
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()


@pytest.fixture
def proxied(
    repo: Path, para: Para, engine: DockerService, tmp_path: Path
) -> Iterator[CuttingProxy]:
    start(para, "cut")
    record_file = repo / ".para" / "state" / "sessions" / "cut.json"
    record = json.loads(record_file.read_text())
    proxy = CuttingProxy(
        tmp_path / "proxy.sock", record["container"]["endpoint"].removeprefix("unix://")
    )
    record["container"]["endpoint"] = f"unix://{proxy.path}"
    record_file.write_text(json.dumps(record))
    yield proxy
    proxy.cut()


@pytest.mark.parametrize("path", ["fast", "cli"])
def test_a_lost_engine_connection_during_exec_is_said(
    repo: Path, proxied: CuttingProxy, path: str
) -> None:
    env = dict(os.environ, **({"PARA_NO_FAST_EXEC": "1"} if path == "cli" else {}))
    proc = subprocess.Popen(
        [para_executable(), "docker", "exec", "cut", "--", "sh", "-c", "echo started; sleep 30"],
        cwd=repo,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
    proxied.cut()
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "lost the connection to the" in err and "Traceback" not in err


def test_an_offline_pull_blames_the_registry(repo: Path, para: Para, engine: DockerService) -> None:
    result = para.fails("start", "off", "--docker", "--image", "docker.io/library/alpine:3")
    assert "its registry could not be reached" in result.stderr
    assert git(repo, "branch", "--list", "para/off") == ""


def test_clean_undoes_a_start_killed_after_its_container(
    repo: Path, para: Para, engine: DockerService
) -> None:
    """The state a kill -9 of start --docker leaves after the container was made and
    before the record was written (the marker says what the start made)."""
    start(para, "killed")
    sessions = repo / ".para" / "state" / "sessions"
    (sessions / "killed.json").unlink()
    ended = subprocess.Popen(["true"])
    ended.wait()
    (sessions / "killed.starting").write_text(
        json.dumps(
            {
                "pid": ended.pid,
                "branch": "para/killed",
                "base_commit": git(repo, "rev-parse", "main"),
                "worktree": str(repo / ".para" / "worktrees" / "killed"),
            }
        )
    )
    assert containers_of(engine, repo) != []
    para("clean")
    assert containers_of(engine, repo) == []
    assert git(repo, "branch", "--list", "para/killed") == ""
    para("start", "killed")
