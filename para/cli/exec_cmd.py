"""``para docker exec`` and ``para docker jobs``."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import click

from para.cli import render

if TYPE_CHECKING:
    from para.app import App


def run_exec(
    app: App,
    name: str | None,
    argv: list[str],
    *,
    all_: bool,
    detach: bool,
    env: list[str],
    workdir: str | None,
    timeout: float | None = None,
) -> int:
    """Run and return the exit code para should exit with."""
    from para.docker.manager import parse_env_pairs

    variables = parse_env_pairs(env)
    if all_:
        if name:
            raise click.UsageError("--all runs in every session; do not name one")
        if detach:
            raise click.UsageError("--all and --detach do not go together")
        return app.docker.exec_all(
            argv, env=variables, workdir=workdir, out=sys.stdout.buffer, err=sys.stderr.buffer
        )
    record = app.store.read(app.sessions.resolve(name, command="docker exec"))
    if detach:
        from para.errors import ContainerNotFound

        if record.container is None:
            raise ContainerNotFound(name=record.name)
        job = app.sessions.channel(record.name).enqueue(
            argv, env=variables, cwd=workdir, timeout=timeout
        )
        click.echo(job.id)
        return 0
    stdin = sys.stdin.buffer
    tty = stdin.isatty() and sys.stdout.isatty()
    return app.docker.exec(
        record,
        argv,
        env=variables,
        workdir=workdir,
        tty=tty,
        interactive=True,
        stdin=stdin,
        stdout=sys.stdout.buffer,
        stderr=sys.stderr.buffer,
    )


def show_jobs(app: App, name: str | None, job_id: str | None, *, wait: bool, as_json: bool) -> int:
    """List jobs, or one job's log; with ``wait``, until it ends (exit code = the job's)."""
    from para.channel import ID_PATTERN
    from para.errors import ChannelError

    sessions = app.sessions
    if job_id is None and name and not app.store.exists(name) and ID_PATTERN.fullmatch(name):
        name, job_id = None, name  # `para docker jobs ID` from inside a session
    record = app.store.read(sessions.resolve(name, command="docker jobs"))
    channel = sessions.channel(record.name)

    def alive() -> bool:
        if record.container is None:
            return True
        state = app.docker.states([record]).get(record.name, {}).get("state")
        return state == "running"

    def stopped() -> ChannelError:
        return ChannelError(
            problem=f"the container of session {record.name} is not running: "
            "queued jobs wait for it",
            hint=f"para docker start {record.name}",
        )

    if job_id is None:
        while wait and any(j.state in ("pending", "running") for j in channel.jobs()):
            if not alive():
                raise stopped()
            time.sleep(0.2)
        jobs = channel.jobs(runner_alive=alive())
        if as_json:
            render.echo_json([j.to_json() for j in jobs])
        elif not jobs:
            click.echo("no jobs")
        else:
            for job in jobs:
                code = "" if job.exit_code is None else f" exit {job.exit_code}"
                note = " (timed out)" if job.timed_out else ""
                click.echo(f"{job.id}  {job.state:<11}{code:<9} {' '.join(job.argv)}{note}")
        return 0
    offset = 0
    job = channel.job(job_id, runner_alive=alive())
    while True:
        if not as_json:
            data, offset = channel.log_chunks(job_id, offset)
            if data:
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
        if not wait or job.state in ("done", "interrupted"):
            break
        if not alive():
            raise stopped()
        time.sleep(0.2)
        job = channel.job(job_id, runner_alive=alive())
    if as_json:
        render.echo_json(job.to_json())
    if job.state == "interrupted":
        click.echo(f"job {job_id} was interrupted (the container stopped)", err=True)
        return 1
    if job.timed_out:
        click.echo(f"job {job_id} was stopped: it ran past its timeout", err=True)
    return job.exit_code if (wait and job.exit_code is not None) else 0
