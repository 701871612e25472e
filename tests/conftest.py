"""Test sandbox: every test gets its own HOME, git identity and config; nothing leaks."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from para.cli.main import cli
from tests.docker.fake import FakeDockerService

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Para Test",
    "GIT_AUTHOR_EMAIL": "test@para.invalid",
    "GIT_COMMITTER_NAME": "Para Test",
    "GIT_COMMITTER_EMAIL": "test@para.invalid",
}


@pytest.fixture(autouse=True)
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Own HOME, XDG dirs and git identity; no PARA_*/GIT_* from the caller.

    Fails the test if it leaves the environment changed (changes through the
    ``monkeypatch`` fixture are undone before this check).
    """
    original = _environ()
    patch = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("home")
    for var in list(os.environ):
        if var.startswith(("PARA_", "GIT_")) and var != "PARA_TEST_REQUIRE_ENGINE":
            patch.delenv(var)
    patch.setenv("HOME", str(home))
    patch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    patch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    patch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    patch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    for key, value in GIT_IDENTITY.items():
        patch.setenv(key, value)
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    yield home
    patch.undo()
    after = _environ()
    leaked = (set(after) ^ set(original)) | {k for k in original if after.get(k) != original[k]}
    assert not leaked, f"test changed environment variables: {sorted(leaked)}"


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"git {' '.join(args)} failed: {proc.stderr}"
    return proc.stdout.strip()


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("hello\n")
    (path / ".gitignore").write_text(".env\n*.log\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "initial")
    return path


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with one commit; the test runs inside it."""
    root = make_repo(tmp_path / "repo")
    monkeypatch.chdir(root)
    return root


class Para:
    """Runs para in-process through click's CliRunner."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, ok: bool = True) -> Result:
        result = self.runner.invoke(cli, list(args), input=input, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, (
                f"para {' '.join(args)} exited {result.exit_code}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}"
            )
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args).stdout)

    def fails(self, *args: str, code: int = 1, input: str | None = None) -> Result:
        result = self(*args, ok=False, input=input)
        assert result.exit_code == code, (
            f"para {' '.join(args)} exited {result.exit_code}, expected {code}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}"
        )
        return result


@pytest.fixture
def para() -> Para:
    return Para()


@pytest.fixture
def fake(repo: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDockerService:
    """Every App built in this test reaches the in-memory FakeDockerService."""
    from para.app import App
    from para.docker.connect import ServiceFactory

    service = FakeDockerService()
    factory: ServiceFactory = lambda *_args: service  # noqa: E731
    monkeypatch.setattr(App, "connect", staticmethod(factory))
    return service


def para_executable() -> str:
    exe = Path(sys.executable).parent / "para"
    assert exe.exists(), f"the para entry point is not installed next to {sys.executable}"
    return str(exe)


def run_para(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Runs the installed ``para`` entry point as a separate process."""
    return subprocess.run(
        [para_executable(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env if env is not None else dict(os.environ),
        timeout=timeout,
        check=False,
    )


@contextlib.contextmanager
def answering_socket(path: Path, response: bytes) -> Iterator[None]:
    """A unix socket that answers one request with ``response`` (a fake engine)."""
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()
    server.settimeout(30)

    def answer() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(response)
        conn.close()

    thread = threading.Thread(target=answer)
    thread.start()
    try:
        yield
    finally:
        thread.join()
        server.close()
