"""``para docker ...``: the containers of sessions."""

from __future__ import annotations

import sys
from typing import Any

import click

from para.cli import render
from para.cli.common import app_of, name_of, record_of
from para.cli.options import build_options, container_options
from para.errors import AmbiguousSession, ContainerNotFound


class CommandAfterDashes(click.Command):
    """Everything after ``--`` is the command to run, untouched by option parsing."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta["para.argv"] = args[cut + 1 :]
            args = args[:cut]
        else:
            ctx.meta["para.argv"] = None
        return super().parse_args(ctx, args)


@click.group()
def docker() -> None:
    """Containers of sessions: start, stop, exec, attach, logs, list, status, sync, build,
    cleanup."""


@docker.command()
@click.argument("name", required=False)
@click.option("--recreate", is_flag=True, help="Replace the container with a new one.")
@container_options
@click.pass_context
def start(ctx: click.Context, /, name: str | None, recreate: bool, **kwargs: Any) -> None:
    """Give a session a container, or restart its stopped one, with its services.

    A host session with services gets them started again; --recreate gives it a
    container too."""
    record = record_of(ctx, name, "docker start")
    record = app_of(ctx).docker.ensure_container(record, build_options(kwargs), recreate=recreate)
    if record.stack is not None:
        click.echo(f"services of session {record.name}: {', '.join(record.stack.services)}")
    if record.container is not None:
        click.echo(f"container {record.container.name} of session {record.name} is running")


@docker.command()
@click.option("--no-cache", is_flag=True, help="Run every step again (the engine's cache unused).")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_context
def build(ctx: click.Context, no_cache: bool, as_json: bool) -> None:
    """Build the image the repository describes (docker.build, or devcontainer.json's
    build) without a session, or show that it is built already."""
    result = app_of(ctx).docker.build(no_cache=no_cache)
    if as_json:
        render.echo_json(result)
        return
    done = "built" if result["built"] else "up to date: its inputs have not changed"
    click.echo(f"{result['image']} ({result['source']}): {done}")
    if result["built"]:
        click.echo(f"build log: {result['log']}")


@docker.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_context
def sync(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Bring the commits made in a session's container to its branch on the host (list,
    status, finish, cancel and exec do this too), or the host's to the container."""
    from para.sessions.sync import sync_session

    record = record_of(ctx, name, "docker sync")
    result = sync_session(app_of(ctx).sessions, record)
    if as_json:
        render.echo_json(
            {
                "session": record.name,
                "outcome": result.outcome,
                "tip": result.tip,
                "message": result.message,
            }
        )
        return
    if result.outcome == "none":
        click.echo(f"session {record.name} has no container repository to sync")
    elif result.outcome == "unchanged":
        click.echo(f"{record.branch} is up to date ({(result.tip or '')[:12]})")
    else:
        click.echo(f"{record.branch}: {result.message} ({(result.tip or '')[:12]})")
    if result.outcome in ("diverged", "unreadable"):
        ctx.exit(1)


@docker.command()
@click.argument("name", required=False)
@click.pass_context
def stop(ctx: click.Context, name: str | None) -> None:
    """Stop a session's container and services (para docker start brings them back)."""
    record = record_of(ctx, name, "docker stop")
    app_of(ctx).docker.stop(record)
    what = [w for w, has in (("container", record.container), ("services", record.stack)) if has]
    click.echo(f"stopped the {' and '.join(what) or 'container'} of session {record.name}")


@docker.command(cls=CommandAfterDashes, context_settings={"ignore_unknown_options": True})
@click.argument("words", nargs=-1, type=click.UNPROCESSED)
@click.option(
    "--all",
    "all_",
    is_flag=True,
    help="Run in every session with a running "
    "container, in parallel; output prefixed by session; exit code = worst.",
)
@click.option(
    "--detach",
    "-d",
    is_flag=True,
    help="Queue the command in the session and print its job id (see: para docker jobs).",
)
@click.option(
    "--timeout",
    type=float,
    metavar="SECONDS",
    help="With --detach: stop the command after this long.",
)
@click.option("-e", "--env", "env", multiple=True, metavar="K=V", help="Set a variable.")
@click.option("-w", "--workdir", metavar="DIR", help="Working directory in the container.")
@click.option("--service", metavar="S", help="Run it in the session's service S instead.")
@click.pass_context
def exec(
    ctx: click.Context,
    words: tuple[str, ...],
    all_: bool,
    detach: bool,
    timeout: float | None,
    env: tuple[str, ...],
    workdir: str | None,
    service: str | None,
) -> None:
    """Run a command in a session's container: para docker exec [NAME] -- CMD...

    Output streams as it comes and para exits with the command's exit code. With a
    terminal a TTY is allocated; piped stdin is passed through. Without --, all words
    are the command and the session comes from the current directory. --detach queues
    it in the session's runner and prints the job id.
    """
    argv: list[str] | None = ctx.meta.get("para.argv")
    dashes = argv is not None
    if argv is None:
        # docker's order, NAME CMD...: the first word is the session when one has its name
        from para.names import is_valid_name

        store = app_of(ctx).store
        named = len(words) > 1 and is_valid_name(words[0]) and store.exists(words[0])
        name, argv = (words[0], list(words[1:])) if named else (None, list(words))
    else:
        if len(words) > 1:
            raise click.UsageError("give at most one session NAME before --")
        name = words[0] if words else None
    if not argv:
        raise click.UsageError("no command given: para docker exec [NAME] -- CMD...")
    if timeout is not None and not detach:
        raise click.UsageError("--timeout goes with --detach")
    if service and (all_ or detach):
        raise click.UsageError("--service runs one command in one service: no --all, --detach")
    from para.cli.exec_cmd import run_exec

    try:
        code = run_exec(
            ctx,
            name,
            argv,
            all_=all_,
            detach=detach,
            env=list(env),
            workdir=workdir,
            timeout=timeout,
            service=service,
        )
    except AmbiguousSession as exc:
        if dashes:
            raise
        raise AmbiguousSession(
            problem=exc.message,
            hint="name the session before the command: para docker exec NAME -- CMD...",
        ) from None
    ctx.exit(code)


@docker.command()
@click.argument("name", required=False)
@click.argument("job_id", metavar="[ID]", required=False)
@click.option(
    "--wait",
    is_flag=True,
    help="Wait for the job (ID, or all) to end; print its log; exit with its exit code.",
)
@click.option("--json", "as_json", is_flag=True, help="Print jobs as JSON.")
@click.pass_context
def jobs(
    ctx: click.Context, name: str | None, job_id: str | None, wait: bool, as_json: bool
) -> None:
    """Commands queued in a session (para docker exec --detach): pending, running, done."""
    from para.cli.exec_cmd import show_jobs

    ctx.exit(show_jobs(ctx, name, job_id, wait=wait, as_json=as_json))


@docker.command()
@click.argument("name", required=False)
@click.pass_context
def attach(ctx: click.Context, name: str | None) -> None:
    """Open an interactive shell in a session's container."""
    from para.sessions.run import attach as attach_shell

    ctx.exit(attach_shell(app_of(ctx).sessions, record_of(ctx, name, "docker attach")))


@docker.command()
@click.argument("name", required=False)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new output.")
@click.option("--tail", type=int, metavar="N", help="Only the last N lines (of each).")
@click.option("--service", metavar="S", help="The output of the session's service S.")
@click.option(
    "--all", "every", is_flag=True, help="The container's and every service's, interleaved."
)
@click.pass_context
def logs(
    ctx: click.Context,
    name: str | None,
    follow: bool,
    tail: int | None,
    service: str | None,
    every: bool,
) -> None:
    """Print a session container's output (or its services')."""
    from para.sessions.services import logs as session_logs

    if service and every:
        raise click.UsageError("--service and --all do not go together")
    record = record_of(ctx, name, "docker logs")
    out = sys.stdout.buffer
    chunks = session_logs(
        app_of(ctx).sessions, record, service=service, every=every, follow=follow, tail=tail
    )
    for chunk in chunks:
        out.write(chunk)
        out.flush()


@docker.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """This repository's para containers (one engine call), orphans included."""
    rows = app_of(ctx).docker.containers()
    if as_json:
        render.echo_json(rows)
    elif rows:
        render.container_table(rows)
    else:
        click.echo("no para containers for this repository")


@docker.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def status(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """A session's container in detail: state, health, OOM kills, limits, ports."""
    from para.sessions.views import view

    shown = view(app_of(ctx).sessions, name_of(ctx, name, "docker status"), detailed=True)
    data = shown.to_json()["container"]
    if data is None:
        raise ContainerNotFound(name=shown.name)
    if as_json:
        render.echo_json(data)
    else:
        render.container_detail(data, shown.name)


@docker.command()
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@click.option(
    "--all-repos", is_flag=True, help="Also containers of repositories that no longer exist."
)
@click.option("--json", "as_json", is_flag=True, help="Print the actions as JSON.")
@click.pass_context
def cleanup(ctx: click.Context, dry_run: bool, all_repos: bool, as_json: bool) -> None:
    """Remove para containers whose session is gone (never unlabelled containers)."""
    actions = app_of(ctx).docker.cleanup(dry_run=dry_run, all_repos=all_repos)
    if as_json:
        render.echo_json(actions)
        return
    if not actions:
        click.echo("nothing to clean up")
    for action in actions:
        mark = "removed" if action["done"] else "would remove"
        click.echo(f"[{mark}] {action['kind']} {action['name']}: {action['reason']}")
