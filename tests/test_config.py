from __future__ import annotations

import json
from pathlib import Path

import pytest

from para.config import load_config, parse_size, user_config_path
from para.errors import ConfigError


def write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_defaults_when_no_files(tmp_path: Path) -> None:
    loaded = load_config(tmp_path, env={"HOME": str(tmp_path)})
    assert loaded.config.branch_prefix == "para"
    assert loaded.config.docker.network.mode == "bridge"
    assert loaded.sources["branch_prefix"] == "default"
    assert loaded.files == []


def test_precedence_user_project_session_env_flags(tmp_path: Path) -> None:
    home = tmp_path / "home"
    user = write(
        home / ".config" / "para" / "config.json",
        {
            "branch_prefix": "user",
            "auto_stage": False,
            "docker": {"default_image": "u:1", "resources": {"cpus": 1}},
        },
    )
    project = write(
        tmp_path / ".para" / "config.json",
        {"branch_prefix": "proj", "docker": {"resources": {"memory": "1g"}}},
    )
    session = write(
        tmp_path / ".para" / "docker.json", {"image": "sess:1", "environment": {"A": "1"}}
    )
    env = {"HOME": str(home), "PARA_BACKEND": "podman", "PARA_AUTO_STAGE": "true"}
    loaded = load_config(tmp_path, env=env, flags={"docker.resources.cpus": 3.5})
    cfg = loaded.config
    assert cfg.branch_prefix == "proj"
    assert loaded.sources["branch_prefix"] == str(project)
    assert cfg.auto_stage is True
    assert loaded.sources["auto_stage"] == "env"
    assert cfg.docker.default_image == "u:1"
    assert loaded.sources["docker.default_image"] == str(user)
    assert cfg.docker.image == "sess:1"
    assert loaded.sources["docker.image"] == str(session)
    assert cfg.docker.environment == {"A": "1"}
    assert cfg.docker.resources.memory == "1g"
    assert cfg.docker.resources.cpus == 3.5
    assert loaded.sources["docker.resources.cpus"] == "flag"
    assert cfg.docker.resources.pids == 4096  # untouched default survives nested merges
    assert cfg.docker.backend == "podman"
    assert loaded.files == [user, project, session]


def test_maps_merge_key_by_key(tmp_path: Path) -> None:
    write(tmp_path / ".para" / "config.json", {"docker": {"image_mappings": {"rust": "r:2"}}})
    cfg = load_config(tmp_path, env={"HOME": str(tmp_path)}).config
    assert cfg.docker.image_mappings["rust"] == "r:2"
    assert cfg.docker.image_mappings["node"] == "node:lts"


def test_bad_file_lists_file_key_problem(tmp_path: Path) -> None:
    project = write(
        tmp_path / ".para" / "config.json",
        {"bogus": 1, "docker": {"resources": {"memory": "lots"}, "backend": "lxc"}},
    )
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, env={"HOME": str(tmp_path)})
    text = info.value.message
    assert f"{project}: bogus: Extra inputs are not permitted" in text
    assert f"{project}: docker.resources.memory:" in text
    assert f"{project}: docker.backend:" in text


def test_invalid_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / ".para" / "config.json"
    path.parent.mkdir()
    path.write_text('{\n  "auto_stage": true,\n}')
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, env={"HOME": str(tmp_path)})
    assert f"{path}: line 3" in info.value.message


def test_bad_env_value_is_reported_as_env(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, env={"HOME": str(tmp_path), "PARA_NETWORK": "wifi"})
    assert "env: docker.network.mode" in info.value.message


def test_para_config_names_the_user_file(tmp_path: Path) -> None:
    custom = write(tmp_path / "mine.json", {"worktrees_dir": "../wt"})
    assert user_config_path({"PARA_CONFIG": str(custom)}) == custom
    loaded = load_config(None, env={"PARA_CONFIG": str(custom)})
    assert loaded.config.worktrees_dir == "../wt"


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512m", 512 * 2**20),
        ("4g", 4 * 2**30),
        ("1.5G", int(1.5 * 2**30)),
        ("100", 100),
        ("64mb", 64 * 2**20),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "-1m", "0"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"size|positive"):
        parse_size(text)
