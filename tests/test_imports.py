"""Commands import only what they use (checked through sys.modules, not through time)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import Para, answering_socket

HEAVY = ("pydantic", "git", "docker", "textual", "rich", "filelock", "requests")

PROBE = """
import sys
sys.argv = ["para", *{args!r}]
from para.entry import main
try:
    code = main()
except SystemExit as exc:
    code = exc.code
loaded = sorted(sys.modules)
with open({out!r}, "w") as fh:
    fh.write(repr([code, loaded]))
"""


def modules_after(
    args: list[str], cwd: Path, tmp_path: Path, *, full: bool = False
) -> tuple[int, set[str]]:
    """Exit code and the modules ``para ARGS`` loaded: top-level names, or all with full."""
    out = tmp_path / "modules.txt"
    subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args, out=str(out))],
        cwd=cwd,
        env=dict(os.environ),
        capture_output=True,
        check=False,
        timeout=60,
    )
    code, loaded = ast.literal_eval(out.read_text())
    return code, set(loaded) if full else {name.split(".")[0] for name in loaded}


def test_help_imports_no_service_library(repo: Path, tmp_path: Path) -> None:
    code, loaded = modules_after(["--help"], repo, tmp_path)
    assert code == 0
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_list_imports_no_git_docker_or_ui_library(repo: Path, para: Para, tmp_path: Path) -> None:
    para("start", "a")
    code, loaded = modules_after(["list"], repo, tmp_path)
    assert code == 0
    assert "pydantic" in loaded  # records are validated
    unwanted = {"git", "docker", "textual", "rich", "requests"}
    assert not loaded & unwanted, sorted(loaded & unwanted)


def test_docker_exec_fast_path_gives_up_without_importing_libraries(
    repo: Path, para: Para, tmp_path: Path
) -> None:
    """A record whose engine answers 404: the fast path returns None (the CLI takes over,
    with its error messages) having imported nothing but the standard library."""
    para("start", "a")
    sock = tmp_path / "engine.sock"
    record = repo / ".para" / "state" / "sessions" / "a.json"
    data = json.loads(record.read_text())
    data["container"] = {
        "id": "c" * 64,
        "name": "x",
        "image": "i",
        "backend": "docker",
        "endpoint": f"unix://{sock}",
    }
    record.write_text(json.dumps(data))
    probe = FAST_PROBE.format(args=["a", "--", "true"], out=str(tmp_path / "m.txt"))
    with answering_socket(sock, b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}"):
        subprocess.run(
            [sys.executable, "-c", probe],
            cwd=repo,
            env=dict(os.environ),
            capture_output=True,
            check=False,
            timeout=60,
        )
    code, loaded = ast.literal_eval((tmp_path / "m.txt").read_text())
    assert code is None
    assert "para.docker.http" in loaded  # it did ask the engine
    top = {name.split(".")[0] for name in loaded}
    assert not top & {"click", *HEAVY}, sorted(top & {"click", *HEAVY})


FAST_PROBE = """
import sys
from para.fastexec import try_fast_exec
code = try_fast_exec({args!r})
with open({out!r}, "w") as fh:
    fh.write(repr([code, sorted(sys.modules)]))
"""


def test_fast_path_leaves_invalid_env_to_the_cli() -> None:
    from para.fastexec import _parse

    assert _parse(["s", "-e", "A-B=1", "--", "true"]) is None
    assert _parse(["s", "-e", "A_B=1", "--", "true"]) == ("s", ["true"], {"A_B": "1"}, None)
    assert _parse(["--all", "--", "true"]) is None
