"""What a session container is made of, seen on real engines: limits, labels, mounts,
users, ports, networks, secrets, git inside."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from para.docker import labels as L
from para.docker.service import DockerService
from para.repo import discover
from tests.conftest import Para, git, run_para
from tests.docker.conftest import BUSYBOX, DEBIAN, engine_cli
from tests.docker.engine_helpers import nothing_left, start

pytestmark = pytest.mark.engine


def test_limits_labels_and_mounts_visible_in_inspect(
    repo: Path, para: Para, engine: DockerService
) -> None:
    data = start(para, "lim", "--cpus", "1.5", "--memory", "96m", "--pids", "77")
    container = data["container"]
    assert isinstance(container, dict)
    assert container["backend"] == engine.info.backend
    assert container["state"] == "running"
    info = engine.inspect(str(container["id"]))
    assert info is not None
    assert info.nano_cpus == 1_500_000_000
    assert info.memory == 96 * 2**20
    assert info.pids_limit == 77
    repo_id = discover(repo).repo_id
    assert info.name == f"para-{repo_id}-lim"
    assert info.labels[L.MANAGED] == "true"
    assert info.labels[L.REPO_ID] == repo_id
    assert info.labels[L.REPO] == str(repo)
    assert info.labels[L.SESSION] == "lim"
    assert len(info.labels[L.CONFIG_HASH]) == 16
    status = para.json("docker", "status", "lim", "--json")
    assert status["limits"] == {"cpus": 1.5, "memory": 96 * 2**20, "pids": 77}
    out = para(
        "docker", "exec", "lim", "--", "sh", "-c", "pwd; ls /para/bin; echo $HOME; cat /etc/hosts"
    ).stdout
    assert out.startswith("/workspace\n")
    assert "para-runner" in out and "/para/home" in out
    assert "host.docker.internal" in out


def test_file_written_inside_belongs_to_invoking_user(
    repo: Path, para: Para, engine: DockerService
) -> None:
    start(para, "own")
    para("docker", "exec", "own", "--", "sh", "-c", "echo made-inside > inside.txt; id -u")
    made = repo / ".para" / "worktrees" / "own" / "inside.txt"
    assert made.read_text() == "made-inside\n"
    assert made.stat().st_uid == os.getuid()
    assert made.stat().st_gid == os.getgid()


def test_configured_user_owns_files(repo: Path, para: Para, engine: DockerService) -> None:
    (repo / ".para").mkdir()
    (repo / ".para" / "docker.json").write_text(json.dumps({"user": "4321:4321"}))
    start(para, "uid")
    out = para("docker", "exec", "uid", "--", "sh", "-c", "id -u; touch $HOME/made; echo $HOME")
    assert out.stdout.split() == ["4321", "/para/home"]
    assert (repo / ".para" / "state" / "homes" / "uid" / "made").stat().st_uid == 4321


def test_ports_get_free_host_ports_and_env(repo: Path, para: Para, engine: DockerService) -> None:
    data = start(para, "web", "--port", "8080")
    container = data["container"]
    assert isinstance(container, dict)
    host_port = container["ports"]["8080"]
    assert isinstance(host_port, int) and host_port > 0
    out = para("docker", "exec", "web", "--", "sh", "-c", "echo $PARA_PORT_8080").stdout
    assert out.strip() == str(host_port)
    assert f"8080 -> localhost:{host_port}" in para("docker", "status", "web").stdout


def test_ports_are_published_on_loopback(
    repo: Path, para: Para, engine: DockerService, engine_name: str
) -> None:
    data = start(para, "lo", "--port", "8000")
    container = data["container"]
    assert isinstance(container, dict)
    out = engine_cli(engine_name, "port", str(container["id"]), "8000")
    assert out.stdout.strip().startswith("127.0.0.1:"), out.stdout


def test_forwarded_secret_is_inside_but_never_stored_or_printed(
    repo: Path, para: Para, engine: DockerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s3cr3t-value-9f8e7d"
    monkeypatch.setenv("PARA_TEST_TOKEN", secret)
    (repo / ".para").mkdir()
    (repo / ".para" / "config.json").write_text(
        json.dumps({"docker": {"forward_env": ["PARA_TEST_TOKEN"]}})
    )
    outputs = [para("start", "sec", "--docker", "--image", BUSYBOX).output]
    inside = para("docker", "exec", "sec", "--", "sh", "-c", "echo $PARA_TEST_TOKEN").stdout
    assert inside.strip() == secret
    for args in (
        ["list"],
        ["list", "--json"],
        ["status", "sec"],
        ["status", "sec", "--json"],
        ["docker", "status", "sec", "--json"],
        ["docker", "list", "--json"],
        ["config", "show"],
        ["config", "show", "--json"],
    ):
        outputs.append(para(*args).output)
    assert all(secret not in out for out in outputs)
    for path in (repo / ".para").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_network_none_has_no_network(repo: Path, para: Para, engine: DockerService) -> None:
    start(para, "offline", "--network", "none")
    out = para("docker", "exec", "offline", "--", "ls", "/sys/class/net").stdout
    assert out.split() == ["lo"]


def test_session_network_created_and_removed_with_last_container(
    repo: Path, para: Para, engine: DockerService
) -> None:
    repo_id = discover(repo).repo_id
    network = f"para-{repo_id}"
    start(para, "n1", "--network", "session")
    start(para, "n2", "--network", "session")
    nets = {n.name: n for n in engine.networks(L.repo_filter(repo_id))}
    assert nets[network].containers == 2
    out = para("docker", "exec", "n1", "--", "ls", "/sys/class/net").stdout
    assert len(out.split()) == 2  # lo and the session network's interface
    para("finish", "one", "n1")
    assert network in {n.name for n in engine.networks(L.repo_filter(repo_id))}
    para("cancel", "n2")
    assert engine.networks(L.repo_filter(repo_id)) == []


def test_mount_over_git_dir_refused(repo: Path, para: Para, engine: DockerService) -> None:
    result = para.fails(
        "start", "bad", "--docker", "--image", BUSYBOX, "--volume", f"/tmp:{repo / '.git'}"
    )
    assert "git directory" in result.stderr
    nothing_left(repo, engine)


def test_git_works_inside_and_commits_reach_the_host_branch(
    repo: Path, para: Para, engine: DockerService
) -> None:
    """The container commits into a repository of its own; the commit is on the host
    branch as soon as the exec that made it returns, and host git status is clean."""
    start(para, "g", image=DEBIAN)
    script = (
        "set -e; git status --short; echo inner > inner.txt; git add inner.txt; "
        "git commit -q -m 'commit from the container'; git log -1 --format=%s; "
        "git rev-parse --git-dir"
    )
    proc = run_para("docker", "exec", "g", "--", "sh", "-c", script, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-2:] == ["commit from the container", "/para/git"]
    assert git(repo, "log", "-1", "--format=%s", "para/g") == "commit from the container"
    worktree = repo / ".para" / "worktrees" / "g"
    assert git(worktree, "status", "--porcelain") == ""
    assert para.json("status", "g", "--json")["ahead"] == 1
