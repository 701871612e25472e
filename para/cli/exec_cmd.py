"""``para docker exec`` and ``para docker jobs``: argument handling and output."""

from __future__ import annotations

import sys

import click

from para.cli import render
from para.cli.common import app_of, record_of
from para.text import printable


def run_exec(
    ctx: click.Context,
    name: str | None,
    argv: list[str],
    *,
    all_: bool,
    detach: bool,
    env: list[str],
    workdir: str | None,
    timeout: float | None = None,
    service: str | None = None,
) -> int:
    """Run and return the exit code para should exit with."""
    from para.options import parse_env_pairs

    app = app_of(ctx)
    variables = parse_env_pairs(env)
    if all_:
        if name:
            raise click.UsageError("--all runs in every session; do not name one")
        if detach:
            raise click.UsageError("--all and --detach do not go together")
        from para.sessions.run import run_everywhere

        return run_everywhere(
            app.sessions,
            argv,
            env=variables,
            workdir=workdir,
            out=sys.stdout.buffer,
            err=sys.stderr.buffer,
        )
    record = record_of(ctx, name, "docker exec")
    if service is not None:
        from para.sessions.services import run_in_service

        return run_in_service(app.sessions, record, service, argv, env=variables, workdir=workdir)
    if detach:
        from para.sessions.run import detach as queue_command

        job = queue_command(
            app.sessions, record, argv, env=variables, workdir=workdir, timeout=timeout
        )
        click.echo(job.id)
        return 0
    from para.sessions.run import run_command

    return run_command(app.sessions, record, argv, env=variables, workdir=workdir)


def show_jobs(
    ctx: click.Context, name: str | None, job_id: str | None, *, wait: bool, as_json: bool
) -> int:
    """List jobs, or one job's log; with ``wait``, until it ends (exit code = the job's)."""
    from para.sessions.run import follow_job, jobs_session, list_jobs

    sessions = app_of(ctx).sessions
    chosen, job_id = jobs_session(sessions, name, job_id)
    record = sessions.store.read(chosen)
    if job_id is None:
        jobs = list_jobs(sessions, record, wait=wait)
        if as_json:
            render.echo_json([j.to_json() for j in jobs])
        elif not jobs:
            click.echo("no jobs")
        else:
            for job in jobs:
                code = "" if job.exit_code is None else f" exit {job.exit_code}"
                note = " (timed out)" if job.timed_out else ""
                command = printable(" ".join(job.argv))
                click.echo(f"{job.id}  {job.state:<11}{code:<9} {command}{note}")
        return 0

    def output(data: bytes) -> None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()

    job = follow_job(sessions, record, job_id, wait=wait, output=None if as_json else output)
    if as_json:
        render.echo_json(job.to_json())
    if job.state == "interrupted":
        click.echo(f"job {job_id} was interrupted (the container stopped)", err=True)
        return 1
    if job.timed_out:
        click.echo(f"job {job_id} was stopped: it ran past its timeout", err=True)
    return job.exit_code if (wait and job.exit_code is not None) else 0
