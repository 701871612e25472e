"""Which containers cleanup removes, on the fake engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from para.docker import labels as L
from para.docker.service import ContainerInfo
from tests.conftest import Para
from tests.docker.fake import FakeDockerService


@pytest.mark.parametrize(("state", "removed"), [("running", False), ("exited", True)])
def test_other_repositories_containers_only_when_stopped_and_gone(
    repo: Path, para: Para, fake: FakeDockerService, tmp_path: Path, state: str, removed: bool
) -> None:
    """--all-repos: a container of a repository that is not there is removed only when
    stopped; a running one may belong to a repository out of this process's sight."""
    fake.containers["f" * 64] = ContainerInfo(
        id="f" * 64,
        name="para-other-x",
        image="img:1",
        state=state,
        labels={
            L.MANAGED: "true",
            L.REPO_ID: "0123456789",
            L.REPO: str(tmp_path / "not-here"),
            L.SESSION: "x",
        },
    )
    actions = para.json("docker", "cleanup", "--all-repos", "--json")
    assert [a["name"] for a in actions] == (["para-other-x"] if removed else [])
    assert ("f" * 64 in fake.containers) is not removed
