"""Session commands: init, start, list, status, path, finish, cancel, recover, clean, resume."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import click

from para.cli import render
from para.cli.common import app_of, interactive, name_of, record_of
from para.cli.options import build_options, container_options


@click.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Prepare the repository: para's directories and git excludes (start does this too)."""
    from para.sessions.start import init as init_repo

    for line in init_repo(app_of(ctx).sessions) or ["already initialised"]:
        click.echo(line)


@click.command()
@click.argument("name", required=False)
@click.option("--base", metavar="REF", help="Branch, tag or commit to start from (default: HEAD).")
@click.option(
    "--docker/--no-docker",
    "docker",
    default=None,
    help="Give the session its own container (default: docker.enabled).",
)
@container_options
@click.option(
    "--no-services", is_flag=True, help="Without the services of docker.compose_file/services."
)
@click.option("--json", "as_json", is_flag=True, help="Print the session as JSON.")
@click.pass_context
def start(
    ctx: click.Context,
    /,
    name: str | None,
    base: str | None,
    docker: bool | None,
    no_services: bool,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Start a session: branch <prefix>/NAME and a worktree, optionally a container,
    and the session's own services when the configuration has some.

    A name is made up when omitted. Any container option implies --docker.
    """
    from para.sessions.start import container_request, start_session

    app = app_of(ctx)
    options, fallback = container_request(app.config, build_options(kwargs), docker)
    record = start_session(
        app.sessions,
        name,
        base=base,
        docker=options,
        fallback=fallback,
        services=not no_services,
    )
    if as_json:
        render.session_json(app.sessions, record.name)
        return
    click.echo(f"started session {record.name}")
    click.echo(f"  branch    {record.branch} (from {record.base})")
    click.echo(f"  worktree  {record.worktree}")
    for service, svc in (record.stack.services if record.stack else {}).items():
        ports = ", ".join(f"{c} -> localhost:{h}" for c, h in svc.ports.items())
        click.echo(f"  service   {service} ({svc.image}){f', {ports}' if ports else ''}")
    if record.container is not None:
        ref = record.container
        click.echo(f"  container {ref.name} ({ref.backend}, {ref.image})")
        for container_port, host_port in ref.ports.items():
            click.echo(f"  port      {container_port} -> localhost:{host_port}")
        click.echo(
            f"next: para docker exec {record.name} -- CMD   or   para docker attach {record.name}"
        )
    else:
        click.echo(f"next: cd {shlex.quote(record.worktree)}")


@click.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of sessions.")
@click.option("--archived", is_flag=True, help="Include cancelled and archived sessions.")
@click.pass_context
def list_(ctx: click.Context, as_json: bool, archived: bool) -> None:
    """List sessions with branch, changes, container and reported status."""
    from para.sessions.views import records, views

    sessions = app_of(ctx).sessions
    found, bad = records(sessions, archived=archived)
    shown = views(sessions, found)
    render.warn_bad_records(bad)
    if as_json:
        render.echo_json([view.to_json() for view in shown])
    elif shown:
        render.session_table(shown)
    else:
        click.echo("no sessions (start one with: para start NAME)")


@click.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the session as JSON.")
@click.pass_context
def status(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Show one session in detail."""
    from para.sessions.views import view

    shown = view(app_of(ctx).sessions, name_of(ctx, name, "status"), detailed=True)
    if as_json:
        render.echo_json(shown.to_json())
    else:
        render.session_detail(shown)


@click.command()
@click.argument("name", required=False)
@click.pass_context
def path(ctx: click.Context, name: str | None) -> None:
    """Print a session's worktree path (for: cd $(para path NAME))."""
    click.echo(record_of(ctx, name, "path").worktree)


@click.command()
@click.argument("message")
@click.argument("name", required=False)
@click.option("--branch", metavar="BRANCH", help="Hand the work back on this branch name.")
@click.option("--json", "as_json", is_flag=True, help="Print the finished session as JSON.")
@click.pass_context
def finish(
    ctx: click.Context, message: str, name: str | None, branch: str | None, as_json: bool
) -> None:
    """Commit everything, hand back the branch, remove worktree and container."""
    from para.sessions.finish import finish_session

    sessions = app_of(ctx).sessions
    record = finish_session(sessions, name_of(ctx, name, "finish"), message, branch=branch)
    if as_json:
        render.session_json(sessions, record.name)
        return
    click.echo(f"finished session {record.name}: branch {record.branch} is ready for review")
    click.echo(f"  review: git log {record.base}..{record.branch}")
    _left_the_worktree(ctx, record.worktree)


@click.command()
@click.argument("name", required=False)
@click.option(
    "--force",
    is_flag=True,
    help="Cancel even with uncommitted changes (they are committed to the archive branch).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the cancelled session as JSON.")
@click.pass_context
def cancel(ctx: click.Context, name: str | None, force: bool, as_json: bool) -> None:
    """Archive a session: branch kept as <prefix>/archived/<time>/NAME; nothing is lost."""
    from para.sessions.archive import cancel_session

    sessions = app_of(ctx).sessions
    confirm = (lambda q: click.confirm(q, default=False)) if interactive() else None
    record = cancel_session(sessions, name_of(ctx, name, "cancel"), force=force, confirm=confirm)
    if as_json:
        render.session_json(sessions, record.name)
        return
    click.echo(f"cancelled session {record.name}: archived on {record.archive_branch}")
    click.echo(f"  bring it back: para recover {record.name}")
    _left_the_worktree(ctx, record.worktree)


@click.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the recovered session as JSON.")
@click.pass_context
def recover(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Bring back a cancelled or finished session (worktree, uncommitted work, container)."""
    from para.sessions.archive import recover_session

    sessions = app_of(ctx).sessions
    record = recover_session(sessions, name_of(ctx, name, "recover", statuses=("cancelled",)))
    if as_json:
        render.session_json(sessions, record.name)
        return
    click.echo(f"recovered session {record.name} on {record.branch}")
    click.echo(f"  worktree  {record.worktree}")


def _left_the_worktree(ctx: click.Context, worktree: str) -> None:
    """Your shell was in the worktree that is gone now: say where to go."""
    app = app_of(ctx)
    here = app.cwd
    if here == Path(worktree) or Path(worktree) in here.parents:
        click.echo(
            f"note: this shell's directory was in the removed worktree: "
            f"cd {shlex.quote(str(app.repo.root))}",
            err=True,
        )


@click.command()
@click.option("--dry-run", is_flag=True, help="Only say what would be done.")
@click.option("--json", "as_json", is_flag=True, help="Print the actions as JSON.")
@click.pass_context
def clean(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    """Repair and prune stale sessions, worktrees, markers and old archives."""
    from para.sessions.clean import clean_sessions

    actions = clean_sessions(app_of(ctx).sessions, dry_run=dry_run)
    if as_json:
        render.echo_json([action.to_json() for action in actions])
        return
    if not actions:
        click.echo("nothing to clean")
    for action in actions:
        mark = "done" if action.done else ("would" if dry_run else "skip")
        click.echo(f"[{mark}] {action.kind} {action.target}: {action.detail}")


@click.command()
@click.argument("name", required=False)
@click.pass_context
def resume(ctx: click.Context, name: str | None) -> None:
    """Print a session's worktree path and open it with ide.command when configured."""
    from para.sessions.host import open_in_ide

    record = record_of(ctx, name, "resume")
    click.echo(record.worktree)
    open_in_ide(app_of(ctx).sessions, record)


COMMANDS = (init, start, list_, status, path, finish, cancel, recover, clean, resume)
