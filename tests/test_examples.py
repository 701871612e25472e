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
