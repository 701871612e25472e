"""A session seen from the host: its variables, the IDE, status reports, dispatching an
agent, the host runner, and a shell in it (container or host)."""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from para.errors import ChannelError, CommandFailed, MissingCommand, validation_lines
from para.git import scrubbed_env
from para.options import ContainerOptions
from para.sessions.context import SessionContext
from para.sessions.start import start_session
from para.state import SessionRecord, utcnow

if TYPE_CHECKING:
    from para.channel.models import QueuedCommand


def session_env(ctx: SessionContext, record: SessionRecord) -> dict[str, str]:
    """Variables every process para starts in a host session sees; PATH ends with the
    channel helpers (para-status, para-finish...), as /para/bin does in containers; with
    services, PARA_SERVICE_* (127.0.0.1 and their published ports)."""
    from para.channel.layout import install_helpers

    helpers = install_helpers(ctx.repo.state_dir)
    path = ctx.env.get("PATH") or os.defpath
    env = {
        "PARA_SESSION": record.name,
        "PARA_WORKTREE": record.worktree,
        "PARA_BRANCH": record.branch,
        "PARA_REPO": str(ctx.repo.root),
        "PARA_CHANNEL": str(ctx.repo.channels_dir / record.name),
        "PATH": f"{path}{os.pathsep}{helpers}",
    }
    if record.stack is not None:
        from para.stackconfig import host_variables

        env.update(host_variables(record.stack))
    return env


def open_in_ide(ctx: SessionContext, record: SessionRecord) -> None:
    """Run ``ide.command`` (argv; ``{path}`` is the worktree, appended when absent)."""
    command = ctx.config.ide.command
    if not command:
        return
    argv = [part.replace("{path}", record.worktree) for part in command]
    if not any("{path}" in part for part in command):
        argv.append(record.worktree)
    env = scrubbed_env(ctx.env) | session_env(ctx, record)
    hint = "fix ide.command in your para config"
    try:
        proc = subprocess.run(argv, cwd=record.worktree, env=env, check=False)
    except OSError as exc:
        raise CommandFailed(
            f"cannot run ide.command {argv[0]!r}: {exc.strerror}", hint=hint
        ) from exc
    if proc.returncode != 0:
        raise CommandFailed(what="ide.command", command=argv[0], code=proc.returncode, hint=hint)


def open_shell(ctx: SessionContext, record: SessionRecord) -> int:
    """An interactive shell in the session: in its container, else in its worktree."""
    if record.container is not None:
        from para.sessions.run import attach

        return attach(ctx, record)
    env = dict(ctx.env) | session_env(ctx, record)
    shell = ctx.env.get("SHELL", "/bin/sh")
    return subprocess.run([shell], cwd=record.worktree, env=env, check=False).returncode


def report(ctx: SessionContext, name: str, **fields: Any) -> dict[str, Any]:
    """Write a host session's status.json; fields not given keep their last value."""
    from para.channel.models import Progress, Status

    channel = ctx.channel(name)
    previous = channel.status()
    data: dict[str, Any] = previous.model_dump() if previous is not None else {}
    progress = fields.pop("progress", None)
    message = fields.pop("message", None)
    blocked = fields.pop("blocked", None)
    data.update({k: v for k, v in fields.items() if v is not None})
    if blocked:
        data["state"] = "blocked"
        data["blocked_reason"] = blocked
    elif data.get("state") != "blocked":
        data["blocked_reason"] = None
    if progress is not None:
        current, total = progress
        data["progress"] = Progress(current=current, total=total, message=message)
    elif message is not None:
        data["progress"] = {**dict(data.get("progress") or {}), "message": message}
    data.update(session=name, timestamp=utcnow(), schema_version=1)
    try:
        status = Status.model_validate(data)
    except ValidationError as exc:
        raise ChannelError(
            problem=f"invalid report: {'; '.join(validation_lines(exc.errors()))}",
            hint="shorten or fix the values (see docs/channel.md)",
        ) from exc
    channel.write_status(status)
    return status.model_dump(mode="json")


def dispatch(
    ctx: SessionContext,
    name: str | None,
    prompt: str,
    *,
    agent: list[str] | None = None,
    docker: ContainerOptions | None = None,
    base: str | None = None,
    fallback: bool = False,
    services: bool = True,
) -> tuple[SessionRecord, QueuedCommand]:
    """Start a session and run the agent command in it, detached; output in the channel."""
    command = agent or ctx.config.agent.command
    if not command:
        raise MissingCommand(
            key="agent.command",
            purpose="dispatch",
            hint='set agent.command (e.g. ["my-agent", "{prompt}"]) or pass --agent',
        )
    argv = [part.replace("{prompt}", prompt) for part in command]
    if not any("{prompt}" in part for part in command):
        argv.append(prompt)
    record = start_session(
        ctx, name, base=base, docker=docker, fallback=fallback, services=services
    )
    job = ctx.channel(record.name).queue.enqueue(argv)
    if record.container is None:
        spawn_host_runner(ctx, record)
    return record, job


def spawn_host_runner(ctx: SessionContext, record: SessionRecord) -> None:
    """Serve a host session's queue with the same sh runner, detached from para."""
    env = scrubbed_env(ctx.env) | session_env(ctx, record)
    runner = ctx.repo.state_dir / "bin" / "para-runner"  # installed by session_env
    # Started through a shell that backgrounds it and exits at once: the runner is
    # re-parented, outlives para, and leaves no child for para to wait for.
    subprocess.run(
        [
            "/bin/sh",
            "-c",
            '"$0" "$@" </dev/null >/dev/null 2>&1 &',
            "/bin/sh",
            str(runner),
            "--drain",
        ],
        cwd=record.worktree,
        env=env,
        start_new_session=True,
        check=True,
    )
