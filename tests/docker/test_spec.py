"""What a container is made of, from configuration alone (no engine)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from para.config import DockerConfig, load_config
from para.docker import spec
from para.errors import ParaError
from para.imagesource import image_source
from para.options import ContainerOptions
from para.repo import Repo
from para.state import SessionRecord


def record(tmp_path: Path) -> SessionRecord:
    return SessionRecord(
        name="s",
        branch="para/s",
        base="main",
        base_commit="0" * 40,
        worktree=str(tmp_path / "wt"),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_parse_ports() -> None:
    ports = spec.parse_ports(["8000", "19876:80"])
    assert ports[80] == 19876
    assert 0 < ports[8000] < 65536
    for bad in ("x", "70000", "1:2:3"):
        with pytest.raises(ParaError):
            spec.parse_ports([bad])


def test_image_resolution_order(tmp_path: Path) -> None:
    user = tmp_path / "user.json"
    user.write_text('{"docker": {"default_image": "dflt:1", "image_mappings": {"python": "py:1"}}}')
    env = {"PARA_CONFIG": str(user)}
    project = tmp_path / "project"
    project.mkdir()

    def chosen(flags: dict[str, str] | None = None) -> tuple[str, str | None]:
        loaded = load_config(None, env=env, flags=flags)
        found = image_source(loaded, None, project)
        return found.kind, found.image

    assert chosen() == ("default", "dflt:1")
    (project / "pyproject.toml").write_text("")
    assert chosen() == ("mapping", "py:1")
    assert chosen({"docker.image": "chosen:1"}) == ("image", "chosen:1")


def test_fingerprint_changes_with_what_shapes_the_container() -> None:
    cfg = DockerConfig()
    base = spec.fingerprint(cfg, "img:1", None)
    assert spec.fingerprint(cfg, "img:1", ContainerOptions()) == base
    assert spec.fingerprint(cfg, "img:2", None) != base
    assert spec.fingerprint(cfg, "img:1", ContainerOptions(env=["A=1"])) != base
    # the host side of a port is chosen anew: only the container port counts
    one = spec.fingerprint(cfg, "img:1", ContainerOptions(ports=["18000:8000"]))
    assert one == spec.fingerprint(cfg, "img:1", ContainerOptions(ports=["8000"]))
    cfg.backend = "podman"  # which engine runs it does not change the container
    assert spec.fingerprint(cfg, "img:1", None) == base


def test_environment(tmp_path: Path) -> None:
    cfg = DockerConfig(environment={"FROM_CONFIG": "1"}, forward_env=["TOKEN", "ABSENT"])
    env, missing = spec.environment(
        record(tmp_path),
        cfg,
        ContainerOptions(env=["FROM_FLAG=2", "FROM_CONFIG=flag wins"]),
        image_env=["PATH=/opt/bin:/bin", "LANG=C"],
        ports={8000: 18000},
        identity={"GIT_AUTHOR_NAME": "A"},
        host_env={"TOKEN": "s3cret", "OTHER": "no"},
    )
    assert env["PATH"] == "/opt/bin:/bin:/para/bin"
    assert env["HOME"] == "/para/home"
    assert env["PARA_SESSION"] == "s" and env["PARA_BRANCH"] == "para/s"
    assert env["PARA_PORT_8000"] == "18000"
    assert env["FROM_CONFIG"] == "flag wins" and env["FROM_FLAG"] == "2"
    assert env["TOKEN"] == "s3cret" and "OTHER" not in env
    assert env["GIT_AUTHOR_NAME"] == "A"
    assert (env["GIT_CONFIG_KEY_0"], env["GIT_CONFIG_VALUE_0"]) == ("safe.directory", "*")
    assert missing == ["ABSENT"]


@pytest.mark.parametrize(
    ("network", "gateway"), [("bridge", True), ("host", False), ("none", False)]
)
def test_build(tmp_path: Path, network: str, gateway: bool) -> None:
    cfg = DockerConfig.model_validate(
        {"resources": {"cpus": 1.5, "memory": "512m", "pids": 100}, "healthcheck": None}
    )
    made = spec.build(
        repo=Repo(tmp_path, tmp_path / ".git"),
        record=record(tmp_path),
        cfg=cfg,
        image="img:1",
        env={},
        mounts=[],
        network=network,
        ports={},
        config_hash="h",
    )
    assert (made.nano_cpus, made.memory, made.pids_limit) == (1_500_000_000, 512 * 2**20, 100)
    assert made.command == ["/bin/sh", "/para/bin/para-runner"]
    assert made.healthcheck is None
    assert ("host.docker.internal" in made.extra_hosts) is gateway
    assert made.labels["dev.para.session"] == "s" and made.labels["dev.para.config-hash"] == "h"
    assert made.name.startswith("para-") and made.name.endswith("-s")
