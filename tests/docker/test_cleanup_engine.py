"""Finding and cleaning up para containers by label on real engines."""

from __future__ import annotations

from pathlib import Path

import pytest

from para.docker import labels as L
from para.docker.service import DockerService
from para.repo import discover
from tests.conftest import Para, make_repo
from tests.docker.conftest import BUSYBOX, engine_cli
from tests.docker.engine_helpers import containers_of, start

pytestmark = pytest.mark.engine


def test_cleanup_removes_only_orphans(
    repo: Path, para: Para, engine: DockerService, engine_name: str, tmp_path: Path
) -> None:
    live = start(para, "live")
    orphan = start(para, "orphan")
    (repo / ".para" / "state" / "sessions" / "orphan.json").unlink()
    repo_id = discover(repo).repo_id
    unlabelled = f"para-test-unlabelled-{repo_id}"
    foreign = f"para-test-foreign-{repo_id}"
    other_repo = make_repo(tmp_path / "other")
    other_id = discover(other_repo).repo_id
    try:
        for args in (
            ["--name", unlabelled],
            [
                "--name",
                foreign,
                "--label",
                f"{L.MANAGED}=true",
                "--label",
                f"{L.REPO_ID}={other_id}",
                "--label",
                f"{L.REPO}={other_repo}",
                "--label",
                f"{L.SESSION}=x",
            ],
        ):
            proc = engine_cli(engine_name, "run", "-d", *args, BUSYBOX, "sleep", "300")
            assert proc.returncode == 0, proc.stderr
        dry = para.json("docker", "cleanup", "--dry-run", "--json")
        assert [a["session"] for a in dry if a["kind"] == "container"] == ["orphan"]
        assert not any(a["done"] for a in dry)
        assert sorted(containers_of(engine, repo)) == sorted(
            [f"para-{repo_id}-live", f"para-{repo_id}-orphan"]
        )
        done = para.json("docker", "cleanup", "--json")
        assert [(a["session"], a["done"]) for a in done] == [("orphan", True)]
        assert containers_of(engine, repo) == [f"para-{repo_id}-live"]
        assert engine.inspect(unlabelled) is not None
        assert engine.inspect(foreign) is not None
        # --all-repos: the other repository still exists, so its container stays
        para("docker", "cleanup", "--all-repos")
        assert engine.inspect(foreign) is not None
        import shutil

        shutil.rmtree(other_repo)
        # a running one stays: its repository may only be out of this process's sight
        assert para.json("docker", "cleanup", "--all-repos", "--json") == []
        assert engine.inspect(foreign) is not None
        engine_cli(engine_name, "stop", "-t", "0", foreign)
        gone = para.json("docker", "cleanup", "--all-repos", "--json")
        assert [a["name"] for a in gone] == [foreign]
        assert "no longer exists" in gone[0]["reason"]
        assert engine.inspect(foreign) is None
        assert engine.inspect(unlabelled) is not None
    finally:
        for name in (unlabelled, foreign):  # one at a time: podman stops at a missing one
            engine_cli(engine_name, "rm", "-f", name)
    assert isinstance(live["container"], dict) and isinstance(orphan["container"], dict)
    assert engine.inspect(str(live["container"]["id"])) is not None


def test_list_uses_one_engine_call_and_shows_state(
    repo: Path, para: Para, engine: DockerService
) -> None:
    start(para, "l1")
    para("start", "host-only")
    listed = {s["name"]: s for s in para.json("list", "--json")}
    assert listed["host-only"]["container"] is None
    container = listed["l1"]["container"]
    for key in ("id", "name", "image", "backend", "state", "health", "ports"):
        assert key in container
    assert container["state"] == "running"
    rows = para.json("docker", "list", "--json")
    assert [(r["session"], r["orphan"]) for r in rows] == [("l1", False)]
