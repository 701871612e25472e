"""devcontainer.json as a configuration layer: parsing, the keys para maps, what it names
as unsupported, where it sits among the layers, and what waits for trust."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from para import devcontainer
from para.config import load_config
from para.errors import ConfigError
from para.imagesource import image_source
from tests.conftest import Para, git


def write(repo: Path, text: str, name: str = ".devcontainer/devcontainer.json") -> Path:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_comments_and_trailing_commas_are_json_with_comments(repo: Path) -> None:
    write(
        repo,
        """{
  // line comment with "quotes" and a , comma
  "image": "img:1", /* block
  comment */
  "containerEnv": {"URL": "http://x//y", "A": "1",},
  "forwardPorts": [8000, "9000:90",],
}""",
    )
    found = devcontainer.load(repo, {})
    assert found is not None
    assert found.docker["image"] == "img:1"
    assert found.docker["environment"] == {"URL": "http://x//y", "A": "1"}
    assert found.docker["ports"] == ["8000", "9000:90"]


def test_a_parse_error_names_file_line_and_column(repo: Path) -> None:
    path = write(repo, '{\n  "image": "img:1"\n  "remoteUser": "dev"\n}\n')
    with pytest.raises(ConfigError) as err:
        devcontainer.load(repo, {})
    assert f"{path}: line 3, column 3" in err.value.message


def test_the_root_file_is_read_when_there_is_no_folder(repo: Path) -> None:
    write(repo, '{"image": "root:1"}', ".devcontainer.json")
    assert load_config(repo, env={}).config.docker.image == "root:1"
    write(repo, '{"image": "folder:1"}')
    assert load_config(repo, env={}).config.docker.image == "folder:1"


def test_keys_are_mapped_onto_para_s(repo: Path) -> None:
    write(
        repo,
        json.dumps(
            {
                "build": {
                    "dockerfile": "Dockerfile",
                    "context": "..",
                    "args": {"V": "${localWorkspaceFolderBasename}"},
                    "target": "dev",
                },
                "remoteEnv": {"WS": "${containerWorkspaceFolder}"},
                "containerUser": "dev",
                "workspaceFolder": "/src",
                "mounts": [
                    "source=pip-cache,target=/home/dev/.cache/pip,type=volume",
                    {"source": "/opt/data", "target": "/data", "type": "bind"},
                ],
                "appPort": 3000,
                "runArgs": ["--cpus=2", "--memory", "1g", "-e", "K=v", "--cap-add=SYS_PTRACE"],
                "onCreateCommand": "make deps",
                "updateContentCommand": ["make", "sync"],
                "postCreateCommand": {"one": "a", "two": ["b", "c"]},
                "postStartCommand": "serve &",
                "features": {"x": {}},
                "customizations": {"vscode": {}},
            }
        ),
    )
    found = devcontainer.load(repo, {})
    assert found is not None
    docker = found.docker
    assert docker["build"] == {
        "context": ".",
        "dockerfile": ".devcontainer/Dockerfile",
        "name": "devcontainer",
        "args": {"V": repo.name},
        "target": "dev",
    }
    assert docker["environment"] == {"WS": "/src", "K": "v"}
    assert docker["user"] == "dev" and docker["workdir"] == "/src"
    assert docker["cache_volumes"] == {"pip-cache": "/home/dev/.cache/pip"}
    assert docker["volumes"] == ["/opt/data:/data"]
    assert docker["ports"] == ["3000"]
    assert docker["resources"] == {"cpus": 2.0, "memory": "1g"}
    assert docker["on_create_command"] == "make deps"
    assert docker["update_content_command"] == ["make", "sync"]
    assert docker["post_create_command"] == {"one": "a", "two": ["b", "c"]}
    assert docker["post_start_command"] == "serve &"
    assert found.unsupported == ["features", "runArgs --cap-add"]  # customizations: quiet
    assert found.gated == ["volumes"]


def test_unsupported_keys_are_one_warning(repo: Path, para: Para) -> None:
    write(repo, '{"image": "img:1", "features": {}, "otherThing": 1}')
    result = para("config", "show")
    lines = [line for line in result.stderr.splitlines() if "does not use" in line]
    assert len(lines) == 1 and "features, otherThing" in lines[0]


def test_a_bad_lifecycle_command_is_refused(repo: Path) -> None:
    write(repo, '{"postCreateCommand": 5}')
    with pytest.raises(ConfigError) as err:
        devcontainer.load(repo, {})
    assert "postCreateCommand" in err.value.message


def test_image_and_build_in_one_file_is_an_error(repo: Path, para: Para) -> None:
    write(repo, '{"image": "img:1", "build": {"dockerfile": "Dockerfile"}}')
    result = para.fails("config", "show")
    assert "docker.image and docker.build: both given" in result.stderr
    assert "devcontainer.json" in result.stderr


def test_the_first_image_source_wins(repo: Path, para: Para) -> None:
    """--image > PARA_IMAGE > .para/docker.json > devcontainer.json > config files."""
    user = repo.parent / "user.json"
    user.write_text(json.dumps({"docker": {"image": "user:1"}}))
    env = {"PARA_CONFIG": str(user)}

    def chosen(flags: dict[str, str] | None = None, **more: str) -> tuple[str, str | None, str]:
        loaded = load_config(repo, env={**env, **more}, flags=flags)
        found = image_source(loaded, repo, repo)
        return found.kind, found.image, found.origin

    assert chosen() == ("image", "user:1", f"image in {user}")
    write(repo, '{"build": {"dockerfile": "Dockerfile"}}')
    assert chosen() == ("build", None, "build in .devcontainer/devcontainer.json")
    (repo / ".para").mkdir(exist_ok=True)
    (repo / ".para" / "docker.json").write_text('{"image": "docker-json:1"}')
    assert chosen() == ("image", "docker-json:1", "image in .para/docker.json")
    assert chosen(PARA_IMAGE="env:1") == ("image", "env:1", "PARA_IMAGE")
    assert chosen({"docker.image": "flag:1"}) == ("image", "flag:1", "--image")
    (repo / ".para" / "docker.json").write_text('{"build": {"context": "."}}')
    assert chosen()[0:2] == ("build", None)
    loaded = load_config(repo, env=env)
    assert loaded.config.docker.build is not None
    assert loaded.config.docker.build.dockerfile == "Dockerfile"  # not merged with the file's
    assert loaded.config.docker.build.name is None


def test_config_show_names_the_image_source(repo: Path, para: Para) -> None:
    write(repo, '{"build": {"dockerfile": "Dockerfile"}}')
    out = para("config", "show").stdout
    assert "image of new containers: built by the build in .devcontainer/devcontainer.json" in out
    data = para.json("config", "show", "--json")
    assert data["image"] == {
        "kind": "build",
        "image": None,
        "source": "build in .devcontainer/devcontainer.json",
    }


def test_access_widening_keys_wait_for_trust(repo: Path, para: Para) -> None:
    """A committed devcontainer.json's host mounts, host network, root user and host
    variables apply after ``para trust``; its image, build and commands at once."""
    write(
        repo,
        json.dumps(
            {
                "image": "img:1",
                "mounts": [f"source={repo.parent},target=/host,type=bind"],
                "runArgs": ["--network=host"],
                "containerUser": "root",
                "containerEnv": {"TOKEN": "${localEnv:SECRET}"},
                "postCreateCommand": "make",
            }
        ),
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "devcontainer")
    loaded = load_config(repo, env={"SECRET": "s3"})
    docker = loaded.config.docker
    assert docker.volumes == [] and docker.network.mode != "host" and docker.user is None
    assert "TOKEN" not in docker.environment
    assert docker.image == "img:1" and docker.post_create_command == "make"
    path = repo / ".devcontainer" / "devcontainer.json"
    assert sorted(loaded.ignored[path]) == ["environment", "network", "user", "volumes"]
    para("trust")
    trusted = load_config(repo, env={"SECRET": "s3"}).config.docker
    assert trusted.network.mode == "host" and trusted.user == "root"
    assert trusted.environment["TOKEN"] == "s3"
    assert trusted.volumes == [f"{repo.parent}:/host"]


def test_only_the_main_checkout_s_file_is_read(repo: Path, para: Para) -> None:
    write(repo, '{"image": "main:1"}')
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "devcontainer")
    para("start", "s")
    worktree = repo / ".para" / "worktrees" / "s"
    write(worktree, '{"image": "worktree:1", "runArgs": ["--network=host"]}')
    loaded = load_config(repo, env={})
    assert loaded.config.docker.image == "main:1"
    assert loaded.devcontainer == repo / ".devcontainer" / "devcontainer.json"
