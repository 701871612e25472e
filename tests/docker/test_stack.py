"""A session's services on the fake engine: what start, list, status, cleanup and the
host side make of them, and the mounts a service gets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from para.compose import Service, VolumeMount
from para.config import DockerConfig
from para.docker import labels as L
from para.docker import svcspec
from para.errors import UnsafeMount
from para.repo import discover
from tests.conftest import Para, git
from tests.docker.fake import FakeDockerService

COMPOSE = """
services:
  db:
    image: img:1
    ports: ["5432"]
    volumes: [data:/var/lib/db]
    healthcheck:
      test: ["CMD", "db-ready"]
      interval: 1s
  web:
    image: img:1
    ports: ["8000", "9000"]
    volumes: [./:/app]
    depends_on:
      db: {condition: service_healthy}
volumes:
  data: {}
"""


def with_compose(repo: Path, text: str = COMPOSE, **docker: object) -> None:
    (repo / "compose.yaml").write_text(text)
    (repo / ".para").mkdir(exist_ok=True)
    (repo / ".para" / "docker.json").write_text(
        json.dumps({"compose_file": "compose.yaml", **docker})
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "services")


def test_a_host_session_gets_its_stack(repo: Path, para: Para, fake: FakeDockerService) -> None:
    with_compose(repo)
    data = para.json("start", "s", "--json")
    repo_id = discover(repo).repo_id
    assert set(data["services"]) == {"db", "web"}
    assert list(data["services"]["web"]["ports"]) == ["8000", "9000"]
    names = sorted(c.name for c in fake.containers.values())
    assert names == [
        L.service_container_name(repo_id, "s", "db"),
        L.service_container_name(repo_id, "s", "web"),
    ]
    assert L.stack_network_name(repo_id, "s") in fake.nets
    assert L.stack_volume_name(repo_id, "s", "data") in fake.vols
    order = [c.split()[1] for c in fake.calls if c.startswith("create ")]
    assert order[0].endswith("-db") and order[1].endswith("-web")  # depends_on order
    checks = [c for c in fake.calls if c.startswith("exec ") and "db-ready" in c]
    assert checks  # para ran the healthcheck itself
    spec = next(s for s in fake.specs.values() if s.name.endswith("-web"))
    assert spec.aliases == ["web"] and spec.network == L.stack_network_name(repo_id, "s")
    assert spec.labels[L.SERVICE] == "web" and spec.labels[L.SESSION] == "s"
    assert all(host for host in spec.ports.values())
    env = (repo / ".para" / "state" / "services" / "s.env").read_text()
    assert f"PARA_SERVICE_WEB_PORT={spec.ports[8000]}" in env
    assert f"PARA_SERVICE_WEB_PORT_9000={spec.ports[9000]}" in env


def test_the_setup_command_sees_the_services(
    repo: Path, para: Para, fake: FakeDockerService
) -> None:
    with_compose(repo)
    (repo / ".para" / "config.json").write_text(
        json.dumps({"setup_command": "env | grep PARA_SERVICE_ > services.txt"})
    )
    para("start", "s")
    seen = (repo / ".para" / "worktrees" / "s" / "services.txt").read_text()
    assert "PARA_SERVICE_DB_HOST=127.0.0.1" in seen and "PARA_SERVICE_DB_PORT=" in seen


def test_the_session_container_joins_and_sees_names(
    repo: Path, para: Para, fake: FakeDockerService
) -> None:
    with_compose(repo)
    para("start", "s", "--docker", "--image", "img:1")
    repo_id = discover(repo).repo_id
    spec = next(s for s in fake.specs.values() if s.name == L.container_name(repo_id, "s"))
    assert spec.network == L.stack_network_name(repo_id, "s")
    assert spec.env["PARA_SERVICE_DB_HOST"] == "db" and spec.env["PARA_SERVICE_DB_PORT"] == "5432"
    assert spec.env["PARA_SERVICE_WEB_PORT_9000"] == "9000"


def test_list_asks_the_engine_once(repo: Path, para: Para, fake: FakeDockerService) -> None:
    with_compose(repo)
    para("start", "a", "--docker", "--image", "img:1")
    para("start", "b")
    fake.calls.clear()
    data = para.json("list", "--json")
    assert [c for c in fake.calls if c == "list"] == ["list"]
    by_name = {s["name"]: s for s in data}
    assert by_name["b"]["container"] is None
    assert by_name["b"]["services"]["db"]["state"] == "running"
    assert by_name["a"]["services"]["web"]["state"] == "running"


def test_no_services_and_cleanup_of_what_an_ended_session_left(
    repo: Path, para: Para, fake: FakeDockerService
) -> None:
    with_compose(repo)
    para("start", "plain", "--no-services")
    assert fake.containers == {}
    para("start", "s")
    para("docker", "stop", "s")
    assert "nothing to clean up" in para("docker", "cleanup").stdout  # stopped, not orphans
    record_file = repo / ".para" / "state" / "sessions" / "s.json"
    record = json.loads(record_file.read_text())
    record["status"] = "review"  # as if finish had not reached the engine
    record_file.write_text(json.dumps(record))
    out = para("docker", "cleanup").stdout
    assert out.count("[removed] container") == 2
    assert "[removed] volume" in out and "[removed] network" in out
    assert fake.containers == {} and fake.vols == {} and fake.nets == {}


def test_a_failing_service_undoes_everything(
    repo: Path, para: Para, fake: FakeDockerService
) -> None:
    with_compose(repo)
    fake.fail_start = "boom"
    result = para.fails("start", "s")
    assert "boom" in result.stderr
    assert fake.containers == {} and fake.vols == {} and fake.nets == {}
    assert git(repo, "branch", "--list", "para/s") == ""
    assert not (repo / ".para" / "state" / "services" / "s.env").exists()


def test_a_volume_name_that_is_another_s_is_refused(
    repo: Path, para: Para, fake: FakeDockerService
) -> None:
    """Session "cache"'s volume "data" is named like the repository's cache volume "data":
    para does not take the cache volume for the session's."""
    with_compose(repo)
    repo_id = discover(repo).repo_id
    name = L.cache_volume_name(repo_id, "data")
    assert name == L.stack_volume_name(repo_id, "cache", "data")
    cache = {**L.repo_filter(repo_id), L.CACHE: "data"}
    fake.vols[name] = cache
    result = para.fails("start", "cache")
    assert f"volume {name} is the cache volume data, not session cache's volume data" in (
        result.stderr
    )
    assert fake.vols == {name: cache} and fake.containers == {} and fake.nets == {}
    assert git(repo, "branch", "--list", "para/cache") == ""


@pytest.mark.parametrize(
    ("have", "words", "foreign"),
    [
        ({L.MANAGED: "true", L.SESSION: "s", L.VOLUME: "data"}, "session s's volume data", False),
        ({L.MANAGED: "true", L.SESSION: "t", L.VOLUME: "data"}, "session t's volume data", True),
        ({L.MANAGED: "true", L.SESSION: "s", L.SERVICE: "db"}, "session s's service db", True),
        ({L.MANAGED: "true", L.SESSION: "s"}, "session s's container", True),
        ({L.MANAGED: "true", L.CACHE: "data"}, "the cache volume data", True),
        ({}, "not para's", True),
    ],
)
def test_whose_an_engine_object_is(have: dict[str, str], words: str, foreign: bool) -> None:
    want = {L.MANAGED: "true", L.SESSION: "s", L.VOLUME: "data", L.VERSION: "1"}
    assert L.owner(have) == words
    assert L.foreign(have, want) is foreign


def test_privileged_settings_need_the_user_s_own_config(
    repo: Path, para: Para, fake: FakeDockerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_compose(
        repo,
        "services:\n  box:\n    image: img:1\n    privileged: true\n    cap_add: [NET_ADMIN]\n",
        allow_privileged_services=True,
    )
    result = para("start", "s")
    assert "only your own configuration may set" in result.stderr
    assert "para trust" in result.stderr  # the committed compose file is not trusted yet
    para("trust")
    para("start", "t")
    spec = next(s for s in fake.specs.values() if s.labels[L.SESSION] == "t")
    assert not spec.privileged and spec.cap_add == []  # refused: not allowed by the user
    user = repo.parent / "user.json"
    user.write_text(json.dumps({"docker": {"allow_privileged_services": True}}))
    monkeypatch.setenv("PARA_CONFIG", str(user))
    para("start", "u")
    spec = next(s for s in fake.specs.values() if s.labels[L.SESSION] == "u")
    assert spec.privileged and spec.cap_add == ["NET_ADMIN"]


def _service(*volumes: VolumeMount) -> Service:
    return Service(name="web", image="img:1", volumes=list(volumes))


def test_a_repository_bind_is_the_session_worktree(repo: Path, para: Para) -> None:
    para("start", "s")
    worktree = repo / ".para" / "worktrees" / "s"
    found = svcspec.mounts(
        discover(repo),
        "s",
        worktree,
        _service(
            VolumeMount("bind", str(repo), "/app"),
            VolumeMount("bind", str(repo / "src"), "/src", True),
        ),
        cfg=DockerConfig(),
        env={},
        worktrees=repo / ".para" / "worktrees",
    )
    assert (found[0].source, found[0].target, found[0].read_only) == (
        str(worktree.resolve()),
        "/app",
        False,
    )
    assert (found[1].source, found[1].target, found[1].read_only) == (
        str(worktree.resolve() / ".git"),
        "/app/.git",
        True,
    )
    assert (found[2].source, found[2].read_only) == (str(worktree.resolve() / "src"), True)


@pytest.mark.parametrize(
    ("make", "source", "reason"),
    [
        (None, ".git", "git directory or para's state"),
        (None, ".para/state", "git directory or para's state"),
        ("link", "escape", "symlink leading out"),
    ],
)
def test_repository_binds_that_a_service_never_gets(
    repo: Path, para: Para, tmp_path: Path, make: str | None, source: str, reason: str
) -> None:
    para("start", "s")
    worktree = repo / ".para" / "worktrees" / "s"
    if make == "link":
        (worktree / "escape").symlink_to(tmp_path)
    with pytest.raises(UnsafeMount) as err:
        svcspec.mounts(
            discover(repo),
            "s",
            worktree,
            _service(VolumeMount("bind", str(repo / source), "/x")),
            cfg=DockerConfig(),
            env={},
            worktrees=repo / ".para" / "worktrees",
        )
    assert reason in err.value.message
