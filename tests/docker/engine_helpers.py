"""Helpers of the real-engine tests."""

from __future__ import annotations

from pathlib import Path

from para.docker import labels as L
from para.docker.service import DockerService
from para.repo import discover
from tests.conftest import Para, git, para_executable
from tests.docker.conftest import BUSYBOX


def start(para: Para, name: str, *extra: str, image: str = BUSYBOX) -> dict[str, object]:
    data: dict[str, object] = para.json(
        "start", name, "--docker", "--image", image, *extra, "--json"
    )
    return data


def containers_of(engine: DockerService, repo: Path) -> list[str]:
    return [c.name for c in engine.list_containers(L.repo_filter(discover(repo).repo_id))]


def nothing_left(repo: Path, engine: DockerService) -> None:
    branches = git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads")
    assert branches.splitlines() == ["main"]
    assert not any((repo / ".para" / "worktrees").glob("*"))
    assert not any((repo / ".para" / "state" / "sessions").glob("*"))
    assert containers_of(engine, repo) == []


def _para() -> str:

    return para_executable()
