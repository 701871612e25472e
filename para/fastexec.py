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
            if (
                not sep
                or not key.isascii()
                or not key.replace("_", "a").isalnum()
                or key[0].isdigit()
            ):
                return None  # the CLI explains what a valid KEY=VALUE is
            env[key] = val
        else:
            workdir = value
    return name, argv, env, workdir


def _record(sessions: Path, name: str | None, cwd: Path) -> dict[str, Any] | None:
    """The active record the name rule picks (``para.sessions.resolve.choose``)."""
    try:
        paths = [sessions / f"{name}.json"] if name else sorted(sessions.glob("*.json"))
        records = {path.stem: json.loads(path.read_bytes()) for path in paths}
    except (OSError, ValueError, RecursionError):
        return None  # the CLI says what is wrong with which record
    active = {
        stem: r
        for stem, r in records.items()
        if isinstance(r, dict)
        and r.get("schema_version") == 1
        and r.get("status") == "active"
        and r.get("name") == stem
    }
    from para.sessions.resolve import choose, session_at

    here = session_at(cwd, {n: str(r.get("worktree") or "") for n, r in active.items()})
    chosen = choose(name, here, sorted(active))
    return active.get(chosen) if chosen else None


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
    from para.docker.execio import ExecIO, ExecLost, exec_command
    from para.docker.http import APIError, ConnectionFailed, UnixAPI

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    io = ExecIO(stdout, sys.stderr.buffer, stdin, tty=stdin.isatty() and stdout.isatty())
    api = UnixAPI(endpoint.removeprefix("unix://"))
    try:
        exit_code = exec_command(api, container_id, argv, io, env=env, workdir=workdir)
    except (APIError, ConnectionFailed, KeyError, ValueError, TypeError):
        return None  # nothing ran: the CLI takes over, with its checks and messages
    except ExecLost as exc:
        print(
            f"error: lost the connection to the engine while the command ran ({exc}); "
            "it may still be running in the container",
            file=sys.stderr,
        )
        return 1
    name = str(record.get("name") if record else "")
    if container.get("git") == "own":
        from para.docker.gitdir import moved_inside

        if moved_inside(repo.state_dir, name, str(record.get("branch") if record else "")):
            _bring_in(repo.root, name)
    if exit_code == 137:
        _report_oom(repo.root, name)
    return exit_code


def _bring_in(root: Path, name: str) -> None:
    """Rare path: the command committed; the host branch gets it now (full stack)."""
    try:
        from para.app import App
        from para.sessions.sync import sync_session

        app = App(cwd=root)
        result = sync_session(app.sessions, app.store.read(name))
    except Exception as exc:  # the command ran; its exit code stands
        print(f"warning: bringing in the commits of session {name} failed: {exc}", file=sys.stderr)
        return
    if result.problem:
        print(f"warning: session {name}: {result.problem}", file=sys.stderr)


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
