"""Readiness and out-of-memory diagnosis on real engines."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from para.docker.service import DockerService
from para.poll import wait_for
from tests.conftest import Para, para_executable, run_para
from tests.docker.conftest import engine_cli
from tests.docker.engine_helpers import nothing_left, start

pytestmark = pytest.mark.engine


def test_image_without_shell_is_a_clear_error(
    repo: Path, para: Para, engine: DockerService, engine_name: str, tmp_path: Path
) -> None:
    tag = "localhost/para-test/noshell:1"
    if engine.image(tag) is None:
        payload = tmp_path / "payload"
        payload.mkdir()
        (payload / "hello").write_text("no shell here\n")
        tarball = tmp_path / "noshell.tar"
        subprocess.run(["tar", "-C", str(payload), "-cf", str(tarball), "."], check=True)
        proc = engine_cli(engine_name, "import", str(tarball), tag)
        assert proc.returncode == 0, proc.stderr
    result = para.fails("start", "ns", "--docker", "--image", tag)
    assert "/bin/sh" in result.stderr
    nothing_left(repo, engine)


def test_oom_kill_is_reported(repo: Path, para: Para, engine: DockerService) -> None:
    start(para, "oom", "--memory", "24m")
    hog = "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived"
    result = para.fails("docker", "exec", "oom", "--", "sh", "-c", hog, code=137)
    assert "survived" not in result.stdout
    status = para.json("docker", "status", "oom", "--json")
    seen = {k: status.get(k) for k in ("state", "oom_killed", "exit_code", "error")}
    assert "killed: out of memory (limit 24m)" in result.stderr, seen
    assert status["oom_killed"] is True
    assert "out of memory" in para("docker", "status", "oom").stdout


def test_container_killed_through_the_engine_is_not_called_oom(
    repo: Path, para: Para, engine: DockerService, engine_name: str
) -> None:
    container = start(para, "killed", "--memory", "24m")["container"]
    assert isinstance(container, dict)
    cid = str(container["id"])
    running = subprocess.Popen(
        [para_executable(), "docker", "exec", "killed", "--", "sleep", "60"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: "sleep 60" in engine_cli(engine_name, "exec", cid, "ps").stdout, timeout=30)
    proc = engine_cli(engine_name, "kill", cid)
    assert proc.returncode == 0, proc.stderr
    _out, err = running.communicate(timeout=60)
    assert "out of memory" not in err
    status = para.json("docker", "status", "killed", "--json")
    assert (status["state"], status["exit_code"], status["oom_killed"]) == ("exited", 137, False)
    assert "out of memory" not in para("docker", "status", "killed").stdout


def test_oom_warning_on_the_fast_path(repo: Path, para: Para, engine: DockerService) -> None:
    start(para, "oomfast", "--memory", "24m")
    hog = "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived"
    proc = run_para("docker", "exec", "oomfast", "--", "sh", "-c", hog, cwd=repo)
    assert proc.returncode == 137
    assert "killed: out of memory (limit 24m)" in proc.stderr, proc.stderr
