"""Session commands: init, start, list, status, path, finish, cancel, recover, clean, resume."""

from __future__ import annotations

import shlex
import sys
from typing import TYPE_CHECKING, Any

import click

from para.cli import render
from para.cli.options import any_container_option, build_options, container_options

if TYPE_CHECKING:
    from para.app import App


def interactive() -> bool:
    """Whether a person can answer a question (stdin is a terminal)."""
    return sys.stdin.isatty()


def _app(ctx: click.Context) -> App:
    app: App = ctx.find_root().obj
    return app


@click.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Prepare the repository: para's directories and git excludes (start does this too)."""
    done = _app(ctx).sessions.init()
    for line in done or ["already initialised"]:
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
@click.option("--json", "as_json", is_flag=True, help="Print the session as JSON.")
@click.pass_context
def start(
    ctx: click.Context,
    /,
    name: str | None,
    base: str | None,
    docker: bool | None,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Start a session: branch <prefix>/NAME and a worktree, optionally a container.

    A name is made up when omitted. Any container option implies --docker.
    """
    app = _app(ctx)
    options = build_options(kwargs)
    explicit = docker is True or (docker is None and any_container_option(options))
    wanted = explicit or (docker is None and app.config.docker.enabled)
    sessions = app.sessions
    record = sessions.start(
        name,
        base=base,
        docker=options if wanted else None,
        fallback=wanted and not explicit and app.config.docker.fallback == "host",
    )
    if as_json:
        render.echo_json(sessions.view(record.name).to_json())
        return
    click.echo(f"started session {record.name}")
    click.echo(f"  branch    {record.branch} (from {record.base})")
    click.echo(f"  worktree  {record.worktree}")
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
    sessions = _app(ctx).sessions
    records, bad = sessions.records(archived=archived)
    views = sessions.views(records)
    render.warn_bad_records(bad)
    if as_json:
        render.echo_json([view.to_json() for view in views])
    elif views:
        render.session_table(views)
    else:
        click.echo("no sessions (start one with: para start NAME)")


@click.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the session as JSON.")
@click.pass_context
def status(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Show one session in detail."""
    sessions = _app(ctx).sessions
    view = sessions.view(sessions.resolve(name, command="status"), detailed=True)
    if as_json:
        render.echo_json(view.to_json())
    else:
        render.session_detail(view)


@click.command()
@click.argument("name", required=False)
@click.pass_context
def path(ctx: click.Context, name: str | None) -> None:
    """Print a session's worktree path (for: cd $(para path NAME))."""
    sessions = _app(ctx).sessions
    click.echo(sessions.store.read(sessions.resolve(name, command="path")).worktree)


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
    sessions = _app(ctx).sessions
    record = sessions.finish(sessions.resolve(name, command="finish"), message, branch=branch)
    if as_json:
        render.echo_json(sessions.view(record.name).to_json())
        return
    click.echo(f"finished session {record.name}: branch {record.branch} is ready for review")
    click.echo(f"  review: git log {record.base}..{record.branch}")


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
    sessions = _app(ctx).sessions
    confirm = (lambda q: click.confirm(q, default=False)) if interactive() else None
    record = sessions.cancel(sessions.resolve(name, command="cancel"), force=force, confirm=confirm)
    if as_json:
        render.echo_json(sessions.view(record.name).to_json())
        return
    click.echo(f"cancelled session {record.name}: archived on {record.archive_branch}")
    click.echo(f"  bring it back: para recover {record.name}")


@click.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the recovered session as JSON.")
@click.pass_context
def recover(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Bring back a cancelled or finished session (worktree, uncommitted work, container)."""
    sessions = _app(ctx).sessions
    record = sessions.recover(
        sessions.resolve(name, command="recover", statuses=("cancelled",)),
    )
    if as_json:
        render.echo_json(sessions.view(record.name).to_json())
        return
    click.echo(f"recovered session {record.name} on {record.branch}")
    click.echo(f"  worktree  {record.worktree}")


@click.command()
@click.option("--dry-run", is_flag=True, help="Only say what would be done.")
@click.option("--json", "as_json", is_flag=True, help="Print the actions as JSON.")
@click.pass_context
def clean(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    """Repair and prune stale sessions, worktrees, markers and old archives."""
    actions = _app(ctx).sessions.clean(dry_run=dry_run)
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
    sessions = _app(ctx).sessions
    record = sessions.store.read(sessions.resolve(name, command="resume"))
    click.echo(record.worktree)
    sessions.open_in_ide(record)


COMMANDS = (init, start, list_, status, path, finish, cancel, recover, clean, resume)
