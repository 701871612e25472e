"""``para docker exec NAME -- CMD`` without click, pydantic or the docker SDK.

Importing the CLI stack costs several times what ``docker exec`` itself takes, so the
common case runs here: the session record is read as plain JSON, and the exec goes
straight to the engine's unix socket. Anything out of the ordinary (an option this
parser does not know, no record, no container, a container that is not running, an
engine on TCP) returns None before the command has started, and the full CLI handles
it, with its checks and error messages. Once the command has started, its exit code
is final.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

# Annotations only; not importing typing keeps docker exec's fast path fast.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _parse(args: list[str]) -> tuple[str | None, list[str], dict[str, str], str | None] | None:
    """(name, argv, env, workdir), or None when the full parser should handle it."""
    if "--" not in args:
        return None
    cut = args.index("--")
    head, argv = args[:cut], args[cut + 1 :]
    if not argv:
        return None
    name: str | None = None
    env: dict[str, str] = {}
    workdir: str | None = None
    i = 0
    while i < len(head):
        word = head[i]
        if word in ("-e", "--env", "-w", "--workdir"):
            if i + 1 >= len(head):
                return None
            value = head[i + 1]
            i += 2
        elif word.startswith(("--env=", "--workdir=")):
            word, value = word.split("=", 1)
            i += 1
        elif word.startswith("-"):
            return None  # --all, --detach, --help...: the full CLI
        else:
            if name is not None:
                return None
            name = word
            i += 1
            continue
        if word in ("-e", "--env"):
            key, sep, val = value.partition("=")
            if not sep or not key or not key.replace("_", "a").isalnum():
                return None  # the CLI explains what a valid KEY=VALUE is
            env[key] = val
        else:
            workdir = value
    return name, argv, env, workdir


def _record(sessions: Path, name: str | None, cwd: Path) -> dict[str, Any] | None:
    records: list[dict[str, Any]] = []
    try:
        paths = [sessions / f"{name}.json"] if name else sorted(sessions.glob("*.json"))
        for path in paths:
            data = json.loads(path.read_bytes())
            if isinstance(data, dict) and data.get("schema_version") == 1:
                records.append(data)
    except (OSError, ValueError):
        return None
    active = [r for r in records if r.get("status") == "active"]
    if name:
        return active[0] if active else None
    inside = [r for r in active if _contains(str(r.get("worktree", "")), cwd)]
    if len(inside) == 1:
        return inside[0]
    return active[0] if len(active) == 1 and not inside else None


def _contains(worktree: str, cwd: Path) -> bool:
    if not worktree:
        return False
    try:
        cwd.relative_to(worktree)
    except ValueError:
        return False
    return True


def try_fast_exec(args: list[str]) -> int | None:
    parsed = _parse(args)
    if parsed is None or os.environ.get("PARA_NO_FAST_EXEC"):
        return None
    name, argv, env, workdir = parsed
    from para.repo import discover

    try:
        cwd = Path.cwd()
        repo = discover(cwd)
    except Exception:
        return None
    record = _record(repo.sessions_dir, name, cwd.resolve())
    container = record.get("container") if record else None
    if not isinstance(container, dict):
        return None
    endpoint = str(container.get("endpoint", ""))
    container_id = str(container.get("id", ""))
    if not endpoint.startswith("unix://") or not container_id:
        return None
    from para.docker.api import APIError, ConnectionFailed, UnixAPI, quote_path

    api = UnixAPI(endpoint.removeprefix("unix://"))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    tty = stdin.isatty() and stdout.isatty()
    from para.docker import stream

    config = stream.exec_config(argv, stdin=True, tty=tty, env=env, workdir=workdir)
    try:
        exec_id = api.request(
            "POST", f"/containers/{quote_path(container_id)}/exec", body=config
        ).json()["Id"]
        sock, rest = api.hijack(f"/exec/{exec_id}/start", {"Detach": False, "Tty": tty})
    except (APIError, ConnectionFailed, KeyError, ValueError, TypeError):
        return None

    def resize(exec_ref: str, rows: int, cols: int) -> None:
        try:
            api.request("POST", f"/exec/{exec_ref}/resize", params={"h": rows, "w": cols})
        except (APIError, ConnectionFailed):
            return

    try:
        if tty:
            stream.pump_tty(resize, exec_id, sock, rest, stdin, stdout)
        else:
            stream.pump_multiplexed(sock, rest, stdin, stdout, sys.stderr.buffer)
    finally:
        sock.close()
    try:
        code = api.request("GET", f"/exec/{exec_id}/json").json().get("ExitCode")
    except (APIError, ConnectionFailed, ValueError):
        code = None
    exit_code = int(code) if code is not None else 1
    if exit_code == 137:
        _report_oom(repo.root, str(record.get("name") if record else ""))
    return exit_code


def _report_oom(root: Path, name: str) -> None:
    """Rare path: tell the user when the command was killed for memory (full stack)."""
    try:
        from para.app import App

        app = App(cwd=root)
        warning = app.docker.oom_warning(app.store.read(name))
    except Exception:
        return
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
