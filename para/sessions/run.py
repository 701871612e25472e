"""Commands in a session: ``para docker exec`` (one session, or detached through the
queue) and ``para docker jobs`` (list, follow and wait for detached commands)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from para.channel.models import ID_PATTERN, Job, QueuedCommand
from para.errors import ContainerNotFound
from para.sessions.context import SessionContext
from para.sessions.resolve import resolve
from para.state import SessionRecord

if TYPE_CHECKING:
    from para.docker.execio import ExecIO


def process_io(*, tty: bool) -> ExecIO:
    """This process's stdin, stdout and stderr for a command in a container."""
    from para.docker.execio import ExecIO

    return ExecIO(sys.stdout.buffer, sys.stderr.buffer, sys.stdin.buffer, tty=tty)


def run_command(
    ctx: SessionContext,
    record: SessionRecord,
    argv: list[str],
    *,
    env: dict[str, str],
    workdir: str | None,
) -> int:
    """``argv`` in the session's container with this process's stdio (a TTY when both
    ends are terminals); the command's exit code."""
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    try:
        return ctx.containers.exec(record, argv, process_io(tty=tty), env=env, workdir=workdir)
    finally:
        _bring_in(ctx, record)


def attach(ctx: SessionContext, record: SessionRecord) -> int:
    """An interactive shell in the session's container."""
    if record.container is None:
        raise ContainerNotFound(name=record.name)
    try:
        return ctx.containers.attach(record, process_io(tty=sys.stdin.isatty()))
    finally:
        _bring_in(ctx, record)


def run_everywhere(
    ctx: SessionContext,
    argv: list[str],
    *,
    env: dict[str, str],
    workdir: str | None,
    out: Any,
    err: Any,
) -> int:
    """``argv`` in every running session container at once (``docker exec --all``)."""
    try:
        return ctx.containers.exec_all(argv, env=env, workdir=workdir, out=out, err=err)
    finally:
        for record in ctx.store.load_all()[0]:
            if record.status == "active":
                _bring_in(ctx, record)


def _bring_in(ctx: SessionContext, record: SessionRecord) -> None:
    """A commit made by the command shows on the host branch as soon as it returns."""
    from para.sessions.sync import sync_quietly

    result = sync_quietly(ctx, record)
    if result.problem:
        ctx.warnings.append(f"session {record.name}: {result.problem}")


def detach(
    ctx: SessionContext,
    record: SessionRecord,
    argv: list[str],
    *,
    env: dict[str, str],
    workdir: str | None,
    timeout: float | None,
) -> QueuedCommand:
    """Queue ``argv`` for the runner in the session's container; the job."""
    if record.container is None:
        raise ContainerNotFound(name=record.name)
    return ctx.channel(record.name).queue.enqueue(argv, env=env, cwd=workdir, timeout=timeout)


def jobs_session(
    ctx: SessionContext, name: str | None, job_id: str | None
) -> tuple[str, str | None]:
    """The session and job meant by ``para docker jobs [NAME] [ID]``: a lone ID from
    inside a session is the job, not a session name."""
    if job_id is None and name and not ctx.store.exists(name) and ID_PATTERN.fullmatch(name):
        name, job_id = None, name
    return resolve(ctx, name, command="docker jobs"), job_id


def runner_alive(ctx: SessionContext, record: SessionRecord) -> Callable[[], bool]:
    """Whether the session's runner can serve its queue (its container is running)."""

    def alive() -> bool:
        if record.container is None:
            return True
        state = ctx.containers.states([record]).get(record.name, {}).get("state")
        return state == "running"

    return alive


def list_jobs(ctx: SessionContext, record: SessionRecord, *, wait: bool) -> list[Job]:
    """The session's jobs; with ``wait``, once none is pending or running."""
    queue = ctx.channel(record.name).queue
    alive = runner_alive(ctx, record)
    if wait:
        return queue.wait_all(alive)
    return queue.jobs(runner_alive=alive())


def follow_job(
    ctx: SessionContext,
    record: SessionRecord,
    job_id: str,
    *,
    wait: bool,
    output: Callable[[bytes], None] | None,
) -> Job:
    """One job, its log to ``output`` as it grows; with ``wait``, until it ends."""
    queue = ctx.channel(record.name).queue
    return queue.follow(job_id, alive=runner_alive(ctx, record), output=output, wait=wait)
