"""A session container's lifecycle on real engines: start, stop, finish, cancel,
recover, recreate, rollback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from para.docker.service import DockerService
from tests.conftest import Para, git
from tests.docker.conftest import BUSYBOX
from tests.docker.engine_helpers import containers_of, nothing_left, start
from tests.test_imports import modules_after

pytestmark = pytest.mark.engine


def test_finish_removes_container_and_commits_its_file(
    repo: Path, para: Para, engine: DockerService
) -> None:
    data = start(para, "fin")
    para("docker", "exec", "fin", "--", "sh", "-c", "echo from-container > result.txt")
    finished = para.json("finish", "container work", "fin", "--json")
    assert finished["status"] == "review"
    assert finished["container"] is None
    container = data["container"]
    assert isinstance(container, dict)
    assert engine.inspect(str(container["id"])) is None
    assert git(repo, "show", "para/fin:result.txt") == "from-container"


def test_cancel_and_recover_recreate_the_container(
    repo: Path, para: Para, engine: DockerService
) -> None:
    data = start(para, "cr", "--memory", "80m")
    para("docker", "exec", "cr", "--", "sh", "-c", "echo wip > wip.txt")
    para("cancel", "cr", "--force")
    container = data["container"]
    assert isinstance(container, dict)
    assert engine.inspect(str(container["id"])) is None
    assert containers_of(engine, repo) == []
    recovered = para.json("recover", "cr", "--json")
    new = recovered["container"]
    assert new is not None and new["id"] != container["id"]
    assert new["state"] == "running"
    assert new["image"] == BUSYBOX
    out = para("docker", "exec", "cr", "--", "cat", "wip.txt").stdout
    assert out == "wip\n"


def test_docker_stop_start_and_exec_on_stopped(
    repo: Path, para: Para, engine: DockerService
) -> None:
    start(para, "ss")
    para("docker", "stop", "ss")
    assert para.json("status", "ss", "--json")["container"]["state"] == "exited"
    stopped = para.fails("docker", "exec", "ss", "--", "true")
    assert "session 'ss' is not running" in stopped.stderr
    assert "start it with: para docker start ss" in stopped.stderr
    para("docker", "start", "ss")
    assert para("docker", "exec", "ss", "--", "echo", "back").stdout == "back\n"
    again = para.fails("docker", "start", "ss")
    assert "already running" in again.stderr


def test_host_session_gets_a_container_later(repo: Path, para: Para, engine: DockerService) -> None:
    para("start", "later")
    para("docker", "start", "later", "--image", BUSYBOX)
    data = para.json("status", "later", "--json")
    assert data["container"]["state"] == "running"
    assert para("docker", "logs", "later").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--image", "localhost/para-test/no-such-image:1"],
            "image 'localhost/para-test/no-such-image:1'",
        ),
        (["--image", BUSYBOX, "--volume", "/no/such/dir:/x"], "does not exist"),
        (["--image", BUSYBOX, "--volume", "/tmp:/"], "replace the container's whole"),
        (["--image", BUSYBOX, "--volume", "/tmp:/para/channel"], "session channel"),
    ],
    ids=["unknown-image", "missing-volume-source", "mount-over-root", "mount-over-channel"],
)
def test_failed_start_rolls_back(
    repo: Path, para: Para, engine: DockerService, args: list[str], message: str
) -> None:
    result = para.fails("start", "bad", "--docker", *args)
    assert message in result.stderr
    assert "hint:" in result.stderr
    nothing_left(repo, engine)


def test_port_in_use_rolls_back(repo: Path, para: Para, engine: DockerService) -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = para.fails("start", "bad", "--docker", "--image", BUSYBOX, "--port", f"{port}:80")
    assert f"host port {port} is already in use" in result.stderr
    nothing_left(repo, engine)


def test_recreate_keeps_earlier_choices(repo: Path, para: Para, engine: DockerService) -> None:
    start(para, "re", "--memory", "72m", "--pids", "60")
    para("docker", "exec", "re", "--", "sh", "-c", "echo kept > $HOME/note")
    assert para.json("docker", "status", "re", "--json")["config_changed"] is False
    (repo / ".para").mkdir(exist_ok=True)
    (repo / ".para" / "config.json").write_text('{"docker": {"environment": {"MODE": "b"}}}')
    assert para.json("status", "re", "--json")["container"]["config_changed"] is True
    para("docker", "start", "re", "--recreate")
    status = para.json("docker", "status", "re", "--json")
    assert status["config_changed"] is False
    assert para("docker", "exec", "re", "--", "sh", "-c", "echo $MODE").stdout == "b\n"
    assert status["image"] == BUSYBOX
    assert status["limits"]["memory"] == 72 * 2**20
    assert status["limits"]["pids"] == 60
    out = para("docker", "exec", "re", "--", "cat", "/para/home/note").stdout
    assert out == "kept\n"  # HOME survives a recreate
    bad = para.fails(
        "docker", "start", "re", "--recreate", "--image", "localhost/para-test/no-such-image:1"
    )
    assert "image 'localhost/para-test/no-such-image:1'" in bad.stderr
    # the failed recreate left the running container alone
    assert para.json("docker", "status", "re", "--json")["state"] == "running"


def test_start_with_a_container_loads_no_channel_models(
    repo: Path, engine: DockerService, tmp_path: Path
) -> None:
    """A container start writes the helpers and the channel's directories; the channel's
    pydantic models (~12 ms to build) are for the commands that read the channel."""
    args = ["start", "light", "--docker", "--image", BUSYBOX]
    code, loaded = modules_after(args, repo, tmp_path, full=True)
    assert code == 0
    assert "para.docker.manager" in loaded  # it did start a container
    assert "para.channel.models" not in loaded


def test_failed_start_leaves_no_home(repo: Path, para: Para, engine: DockerService) -> None:
    para.fails("start", "nohome", "--docker", "--image", "localhost/para-test/no-such:1")
    assert not (repo / ".para" / "state" / "homes" / "nohome").exists()
