"""Trust of repository-supplied configuration (para/trust.py and config loading)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from para.config import load_config
from para.trust import gated_keys, without
from tests.conftest import Para, git


@pytest.mark.parametrize(
    ("layer", "gated"),
    [
        ({"setup_command": "x", "branch_prefix": "p"}, ["setup_command"]),
        (
            {"ide": {"command": ["code"]}, "agent": {"command": ["a"]}},
            ["ide.command", "agent.command"],
        ),
        ({"worktrees_dir": "wt"}, []),
        ({"worktrees_dir": "/elsewhere"}, ["worktrees_dir"]),
        ({"worktrees_dir": "../outside"}, ["worktrees_dir"]),
        ({"docker": {"network": {"mode": "session"}}}, []),
        ({"docker": {"network": {"mode": "host"}}}, ["docker.network.mode"]),
        ({"docker": {"resources": {"cpus": 1}}}, []),
        ({"docker": {"resources": None}}, ["docker.resources"]),
        ({"docker": {"resources": {"memory": None}}}, ["docker.resources"]),
        ({"docker": {"environment": {"PATH": "/x", "A": "1"}}}, ["docker.environment.PATH"]),
        ({"docker": {"environment": {"A": "1"}, "image": "i", "ports": ["8000"]}}, []),
        (
            {"docker": {"volumes": [], "allow_volumes": [], "user": "0:0"}},
            ["docker.volumes", "docker.allow_volumes", "docker.user"],
        ),
        (
            {"docker": {"forward_env": ["T"], "host": "tcp://x"}},
            ["docker.forward_env", "docker.host"],
        ),
    ],
)
def test_gated_keys(tmp_path: Path, layer: dict[str, object], gated: list[str]) -> None:
    assert gated_keys(layer, tmp_path) == gated


def test_without_removes_nested_keys() -> None:
    layer = {"docker": {"volumes": ["a"], "image": "i"}, "setup_command": "x"}
    assert without(layer, ["docker.volumes", "setup_command"]) == {"docker": {"image": "i"}}
    assert layer["setup_command"] == "x"  # a copy


def write(repo: Path, name: str, data: dict[str, object]) -> Path:
    path = repo / ".para" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_committed_config_waits_for_trust(repo: Path, para: Para, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    write(repo, "config.json", {"setup_command": f"touch {marker}", "branch_prefix": "team"})
    write(repo, "docker.json", {"volumes": ["/data:/data"], "image": "img:1"})
    # the user's own files (not committed) apply as they are
    loaded = load_config(repo)
    assert loaded.config.setup_command and loaded.ignored == {}
    git(repo, "add", ".para")
    git(repo, "commit", "-qm", "para config")
    loaded = load_config(repo)
    assert loaded.config.setup_command is None
    assert loaded.config.docker.volumes == []
    assert loaded.config.branch_prefix == "team"  # narrowing keys apply
    assert loaded.config.docker.image == "img:1"
    assert {p.name: keys for p, keys in loaded.ignored.items()} == {
        "config.json": ["setup_command"],
        "docker.json": ["volumes"],
    }
    result = para("start", "s")
    assert "ignoring settings" in result.stderr and "para trust" in result.stderr
    assert not marker.exists()
    shown = para.json("config", "show", "--json")
    assert str(repo / ".para" / "config.json") in shown["ignored"]

    para("trust")
    assert load_config(repo).ignored == {}
    para("start", "t")
    assert marker.exists()
    assert "ignoring" not in para("list").stderr

    write(repo, "config.json", {"setup_command": "echo changed"})
    assert "setup_command" in next(iter(load_config(repo).ignored.values()))
    para("trust", "--revoke")
    assert len(load_config(repo).ignored) == 2


def test_trust_show(repo: Path, para: Para) -> None:
    assert "no .para/config.json" in para("trust", "--show").stdout
    write(repo, "config.json", {"setup_command": "true"})
    git(repo, "add", ".para")
    git(repo, "commit", "-qm", "c")
    [item] = para.json("trust", "--show", "--json")
    assert (item["tracked"], item["trusted"], item["keys"]) == (True, False, ["setup_command"])
    assert "not trusted (setup_command)" in para("trust", "--show").stdout
    assert "trusted (setup_command)" in para("trust").stdout
