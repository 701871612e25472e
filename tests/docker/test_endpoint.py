"""Endpoint selection: docker.host, DOCKER_HOST, docker contexts, Podman sockets."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from para.docker.connect import default_connect
from para.docker.endpoint import Endpoint, candidates, docker_context
from para.docker.engine import DockerEngineService
from para.docker.service import EngineInfo
from para.errors import EngineUnavailable
from tests.conftest import answering_socket


def test_docker_host_and_config_precedence() -> None:
    env = {"DOCKER_HOST": "tcp://10.0.0.1:2375", "HOME": "/nonexistent"}
    assert candidates("docker", None, env)[0].url == "tcp://10.0.0.1:2375"
    assert candidates("docker", "unix:///x.sock", env)[0].source == "docker.host"
    assert candidates("docker", None, {"HOME": "/nonexistent"})[0].url == (
        "unix:///var/run/docker.sock"
    )


def test_docker_context_is_honoured(tmp_path: Path) -> None:
    config = tmp_path / "dockercfg"
    digest = hashlib.sha256(b"remote").hexdigest()
    meta = config / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(
        json.dumps({"Name": "remote", "Endpoints": {"docker": {"Host": "ssh://me@box"}}})
    )
    (config / "config.json").write_text(json.dumps({"currentContext": "remote"}))
    env = {"DOCKER_CONFIG": str(config)}
    ctx = docker_context(env)
    assert ctx is not None
    assert ctx.url == "ssh://me@box"
    assert ctx.source == "docker context remote"
    assert candidates("docker", None, env)[0].url == "ssh://me@box"
    assert docker_context({**env, "DOCKER_CONTEXT": "default"}) is None


def test_auto_tries_docker_then_podman() -> None:
    urls = [e.url for e in candidates("auto", None, {"HOME": "/nonexistent"})]
    assert urls[0] == "unix:///var/run/docker.sock"
    assert "unix:///run/podman/podman.sock" in urls
    podman = candidates("podman", None, {"CONTAINER_HOST": "unix:///p.sock"})
    assert podman[0].url == "unix:///p.sock"


def test_unreachable_engine_names_every_endpoint(tmp_path: Path) -> None:
    with pytest.raises(EngineUnavailable) as info:
        default_connect("docker", f"unix://{tmp_path}/none.sock", {})
    assert f"unix://{tmp_path}/none.sock" in info.value.message
    assert "no socket there" in info.value.message
    assert info.value.hint and "DOCKER_HOST" in info.value.hint


def test_podman_is_recognised_by_its_ping_header(tmp_path: Path) -> None:
    path = tmp_path / "fake.sock"
    ping = (
        b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nLibpod-Api-Version: 4.3.1\r\n"
        b"Content-Length: 2\r\n\r\nOK"
    )
    with answering_socket(path, ping):
        service = default_connect("docker", f"unix://{path}", {})
    assert service.info.backend == "podman"
    assert type(service).__name__ == "PodmanService"


@pytest.mark.parametrize(("status", "health"), [("running", "healthy"), ("exited", None)])
def test_inspect_reports_health_only_while_running(
    tmp_path: Path, status: str, health: str | None
) -> None:
    path = tmp_path / "i.sock"
    # an engine keeps the last health of a stopped container: stale, so not reported
    body = json.dumps(
        {"Id": "c1", "State": {"Status": status, "Health": {"Status": "healthy"}}}
    ).encode()
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    endpoint = Endpoint(url=f"unix://{path}", source="test", backend_hint="docker")
    info = EngineInfo(backend="docker", endpoint=endpoint.url, version="1.41")
    service = DockerEngineService(endpoint, info, {})
    with answering_socket(path, answer):
        seen = service.inspect("c1")
    assert seen is not None and (seen.state, seen.health) == (status, health)
