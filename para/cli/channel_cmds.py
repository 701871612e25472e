"""Channel commands: report (host sessions), watch (carry out requests), dispatch, monitor."""

from __future__ import annotations

import json
import shlex
import time
from typing import Any

import click

from para.cli import render
from para.cli.common import app_of, name_of
from para.cli.options import build_options, container_options


def _progress(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    current, sep, total = value.partition("/")
    if not sep or not current.isdigit() or not total.isdigit():
        raise click.BadParameter("use CUR/TOTAL, e.g. 3/10", param_hint="--progress")
    return int(current), int(total)


@click.command()
@click.argument("name", required=False)
@click.option("--state", type=click.Choice(["working", "blocked", "done", "failed"]))
@click.option("--task", metavar="T", help="What the session is doing.")
@click.option("--phase", metavar="P", help="Step of the task, e.g. tests.")
@click.option("--tests", type=click.Choice(["passed", "failed", "unknown"]))
@click.option("--progress", metavar="CUR/TOTAL", help="Progress, e.g. 3/10.")
@click.option("--message", metavar="M", help="Progress message.")
@click.option("--blocked", metavar="REASON", help="Blocked, and why (sets state blocked).")
@click.option("--json", "as_json", is_flag=True, help="Print the written status.")
@click.pass_context
def report(
    ctx: click.Context, /, name: str | None, as_json: bool, progress: str | None, **fields: Any
) -> None:
    """Report a host session's status (what para-status does inside containers)."""
    from para.sessions.host import report as write_report

    chosen = name_of(ctx, name, "report")
    status = write_report(app_of(ctx).sessions, chosen, progress=_progress(progress), **fields)
    if as_json:
        render.echo_json(status)
    else:
        click.echo(f"reported: {render.report_cell(status)}")


@click.command()
@click.option("--once", is_flag=True, help="Carry out pending requests once and exit.")
@click.option(
    "--interval", type=float, default=1.0, show_default=True, help="Seconds between checks."
)
@click.option("--json", "as_json", is_flag=True, help="Print outcomes as JSON lines.")
@click.pass_context
def watch(ctx: click.Context, once: bool, interval: float, as_json: bool) -> None:
    """Carry out finish/cancel requests sessions made (para-finish, para-cancel)."""
    from para.sessions.watch import Watcher

    watcher = Watcher(app_of(ctx).sessions)
    if not once:
        click.echo("watching for session requests (Ctrl-C to stop)", err=True)
    while True:
        for outcome in watcher.run_once():
            if as_json:
                click.echo(json.dumps(outcome.to_json()))
            else:
                mark = "ok" if outcome.ok else "failed"
                click.echo(f"[{mark}] {outcome.session} {outcome.kind}: {outcome.message}")
        if once:
            return
        time.sleep(interval)


@click.command()
@click.argument("name")
@click.argument("prompt")
@click.option("--base", metavar="REF", help="Branch, tag or commit to start from (default: HEAD).")
@click.option(
    "--agent",
    metavar="CMD",
    help="Agent command line (default: agent.command); "
    "{prompt} is replaced by the prompt, or it is appended.",
)
@click.option(
    "--docker/--no-docker",
    "docker",
    default=None,
    help="Run the agent in a container (default: docker.enabled).",
)
@container_options
@click.option(
    "--no-services", is_flag=True, help="Without the services of docker.compose_file/services."
)
@click.option("--json", "as_json", is_flag=True, help="Print session and job as JSON.")
@click.pass_context
def dispatch(
    ctx: click.Context,
    /,
    name: str,
    prompt: str,
    agent: str | None,
    base: str | None,
    docker: bool | None,
    no_services: bool,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Start a session and run an agent in it with PROMPT, detached."""
    from para.sessions.host import dispatch as dispatch_agent
    from para.sessions.start import container_request
    from para.sessions.views import view

    app = app_of(ctx)
    options, fallback = container_request(app.config, build_options(kwargs), docker)
    record, job = dispatch_agent(
        app.sessions,
        name,
        prompt,
        agent=shlex.split(agent) if agent else None,
        docker=options,
        base=base,
        fallback=fallback,
        services=not no_services,
    )
    if as_json:
        render.echo_json({"session": view(app.sessions, record.name).to_json(), "job": job.id})
        return
    click.echo(f"dispatched to session {record.name} as job {job.id}")
    click.echo(f"  follow: para docker jobs {record.name} {job.id} --wait")


@click.command()
@click.option(
    "--interval", type=float, default=2.0, show_default=True, help="Seconds between refreshes."
)
@click.option("--no-watch", is_flag=True, help="Do not carry out session requests.")
@click.pass_context
def monitor(ctx: click.Context, interval: float, no_watch: bool) -> None:
    """Every session at a glance, with actions (keys: a attach, l logs, f finish,
    c cancel, r refresh, q quit). Also carries out requests like para watch."""
    import sys

    if not (sys.stdout.isatty() and sys.stdin.isatty()):
        from para.errors import NotATerminal

        raise NotATerminal(what="para monitor")
    from para.monitor.app import MonitorApp

    MonitorApp(app_of(ctx).sessions, interval=interval, watch_requests=not no_watch).run()
