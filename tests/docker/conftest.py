"""Real-engine fixtures: every scenario runs on Docker and on Podman.

An engine that is not reachable skips its tests with the reason, unless
PARA_TEST_REQUIRE_ENGINE names it (CI: docker,podman), then they fail. Teardown removes
every container, network, volume and image labelled with the test repository's id.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from para.docker import labels as L
from para.docker.connect import default_connect
from para.docker.service import DockerService
from para.errors import ParaError
from para.repo import discover

BUSYBOX = "localhost/para-test/busybox:1"
DEBIAN = "localhost/para-test/debian:2"
ENGINES = ("docker", "podman")
CLI = {"docker": ["docker"], "podman": ["podman"]}


def required() -> set[str]:
    return {e.strip() for e in os.environ.get("PARA_TEST_REQUIRE_ENGINE", "").split(",") if e}


def connect_or_skip(name: str) -> DockerService:
    try:
        service = default_connect(name, None, os.environ)
        service.ping()
    except ParaError as exc:
        if name in required():
            pytest.fail(f"{name} is required (PARA_TEST_REQUIRE_ENGINE) but: {exc.message}")
        pytest.skip(f"{name} engine not reachable: {exc.message}")
    for image in (BUSYBOX, DEBIAN):
        if service.image(image) is None:
            message = f"test image {image} missing in {name}: run make engines"
            if name in required():
                pytest.fail(message)
            pytest.skip(message)
    return service


def sweep(service: DockerService, repo_id: str) -> None:
    for info in service.list_containers(L.repo_filter(repo_id)):
        service.remove(info.id)
    for net in service.networks(L.repo_filter(repo_id)):
        service.remove_network(net.name)
    for volume in service.volumes(L.repo_filter(repo_id)):
        service.remove_volume(volume.name)
    name = service.info.backend
    images = engine_cli(name, "images", "-q", "--filter", f"label={L.REPO_ID}={repo_id}")
    ids = sorted(set(images.stdout.split()))
    if ids:
        engine_cli(name, "rmi", "-f", *ids)


@pytest.fixture(params=ENGINES, scope="session")
def engine_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def engine(
    engine_name: str, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DockerService]:
    """The engine under test, selected for para through PARA_BACKEND; cleaned up after."""
    service = connect_or_skip(engine_name)
    monkeypatch.setenv("PARA_BACKEND", engine_name)
    repo_id = discover(repo).repo_id
    yield service
    sweep(service, repo_id)


def engine_cli(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI[name], *args], capture_output=True, text=True, check=False, timeout=120
    )
