"""The layering rules of docs/architecture.md, checked on the source (AST, not time)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PARA = Path(__file__).resolve().parent.parent / "para"
MAX_MODULE_LINES = 450
MAX_CLASS_LINES = 320


def modules() -> list[Path]:
    return sorted(PARA.rglob("*.py"))


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (functions, TYPE_CHECKING blocks)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def rel(path: Path) -> str:
    return str(path.relative_to(PARA.parent))


def test_cli_imports_no_git_or_docker_code() -> None:
    for path in sorted((PARA / "cli").glob("*.py")):
        bad = sorted(
            name
            for name in imports(path)
            if name.startswith(("para.docker", "para.git", "docker", "git"))
        )
        assert not bad, f"{rel(path)} imports {bad}"


def test_the_docker_sdk_is_imported_in_one_module() -> None:
    users = sorted(
        rel(path)
        for path in modules()
        if any(name == "docker" or name.startswith("docker.") for name in imports(path))
    )
    assert users == ["para/docker/sdk.py"]


def test_git_runs_only_behind_the_adapter() -> None:
    """Services and the monitor ask the Git adapter; only it (and repository discovery's
    fallback) run git or import GitPython."""
    allowed = {"para/repo.py"}
    for path in modules():
        if rel(path) in allowed or rel(path).startswith("para/git/"):
            continue
        names = imports(path)
        assert "para.git.run_git" not in names, rel(path)
        assert not any(n == "git" or n.startswith("git.") for n in names), rel(path)


@pytest.mark.parametrize("path", modules(), ids=rel)
def test_modules_and_classes_stay_small(path: Path) -> None:
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{rel(path)} is too long"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef):
            size = (node.end_lineno or node.lineno) - node.lineno + 1
            assert size <= MAX_CLASS_LINES, f"{rel(path)}: class {node.name} has {size} lines"
