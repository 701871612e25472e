"""The files of .para.example/ are valid configuration as they stand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from para.config import Config, DockerConfig

EXAMPLES = Path(__file__).resolve().parent.parent / ".para.example"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_example_files_validate(path: Path) -> None:
    data = json.loads(path.read_text())
    model = DockerConfig if path.name.startswith("docker") else Config
    model.model_validate(data)


def test_the_example_compose_file_loads(tmp_path: Path) -> None:
    from para.compose import load

    (tmp_path / "compose.yaml").write_text((EXAMPLES / "compose.yaml").read_text())
    (tmp_path / "Dockerfile").write_text("FROM python:3.12\n")
    stack = load(
        tmp_path,
        compose_file="compose.yaml",
        services=None,
        env={},
        trusted=True,
        allow_privileged=False,
    )
    assert stack is not None
    assert list(stack.services) == ["db", "migrate", "web"]
    assert stack.services["db"].environment["POSTGRES_PASSWORD"] == "dev"
    assert stack.unsupported == []
