"""The ``para`` command group: global options, error handling, exit codes."""

from __future__ import annotations

import errno
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from para import __version__
from para.app import App
from para.errors import (
    EXIT_INTERRUPTED,
    Interrupted,
    ParaError,
    StorageError,
    UnexpectedError,
)


def _crash_log_dir(ctx: click.Context) -> Path:
    app: App | None = ctx.obj
    repo = app.repo_or_none() if app is not None else None
    if repo is not None:
        return repo.logs_dir
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "para" / "logs"


def redacted(argv: list[str]) -> list[str]:
    """The command line without the values of ``--env``/``-e`` (they may be secrets)."""
    out: list[str] = []
    hide = False
    for word in argv:
        if word == "--":
            out.extend(argv[len(out) :])
            break
        if hide:
            out.append(word.partition("=")[0] + "=***")
            hide = False
        elif word in ("--env", "-e"):
            out.append(word)
            hide = True
        elif word.startswith("--env="):
            out.append("--env=" + word.removeprefix("--env=").partition("=")[0] + "=***")
        else:
            out.append(word)
    return out


def write_crash_log(ctx: click.Context, exc: BaseException) -> Path | None:
    import traceback

    text = "".join(traceback.format_exception(exc))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    try:
        directory = _crash_log_dir(ctx)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"crash-{stamp}-{os.getpid()}.log"
        argv = " ".join(redacted(sys.argv))
        path.write_text(f"para {__version__}\nargv: {argv}\n\n{text}", encoding="utf-8")
    except Exception:
        return None
    return path


def _print_warnings(ctx: click.Context) -> None:
    """Print what the services noticed but did not fail on, whatever the outcome."""
    app: App | None = ctx.obj
    for text in app.warnings if app is not None else []:
        click.echo(f"warning: {text}", err=True)


# What the machine says when it cannot store something: the user's to fix, not a bug.
_STORAGE_ERRORS = frozenset(
    {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EIO}
)


def _unexpected(ctx: click.Context, exc: BaseException) -> UnexpectedError:
    if os.environ.get("PARA_DEBUG") == "1":
        import traceback

        traceback.print_exception(exc)
    path = write_crash_log(ctx, exc)
    where = f"traceback saved to {path}" if path else "traceback could not be saved"
    return UnexpectedError(
        error=f"{type(exc).__name__}: {exc}",
        hint=f"{where}; please report it (PARA_DEBUG=1 prints it)",
    )


class ParaGroup(click.Group):
    """Turns unexpected exceptions into exit 3 with a saved traceback, Ctrl-C into 130."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return self._invoke(ctx)
        finally:
            _print_warnings(ctx)

    def _invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            raise Interrupted() from None
        except OSError as exc:
            if exc.errno not in _STORAGE_ERRORS:
                raise _unexpected(ctx, exc) from exc
            raise StorageError(
                path=exc.filename or "a file", cause=exc.strerror or str(exc)
            ) from exc
        except Exception as exc:
            raise _unexpected(ctx, exc) from exc

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().main(*args, **kwargs)
        except KeyboardInterrupt:
            sys.exit(EXIT_INTERRUPTED)


@click.group(
    cls=ParaGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "-C",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Run as if para was started in this directory.",
)
@click.option(
    "--backend",
    type=click.Choice(["auto", "docker", "podman"]),
    help="Container engine to use (overrides docker.backend and PARA_BACKEND).",
)
@click.version_option(__version__, prog_name="para")
@click.pass_context
def cli(ctx: click.Context, directory: Path | None, backend: str | None) -> None:
    """Run many development sessions of one git repository in parallel.

    Without a command, in a terminal: opens the monitor.

    Each session is a git worktree on its own branch (para/NAME), optionally with its own
    container. Start sessions, run commands in them, watch them, and hand each back as a
    branch to review.

    \b
      para start feat --docker     new session with a container
      para docker exec -- pytest   run in the session's container
      para finish "Add feature"    commit, hand back the branch, clean up
      para docker cleanup          remove containers whose session is gone
    """
    from para.app import App
    from para.cli.render import build_progress, pull_progress

    flags = {"docker.backend": backend} if backend else {}
    ctx.obj = App(cwd=directory, flags=flags)
    ctx.obj.pull_reporter = pull_progress
    ctx.obj.build_reporter = build_progress
    if ctx.invoked_subcommand is None:
        if sys.stdin.isatty() and sys.stdout.isatty():
            from para.cli.channel_cmds import monitor

            ctx.invoke(monitor)
        else:
            click.echo(ctx.get_help())


def _register() -> None:
    from para.cli import channel_cmds, config_cmd, docker_cmds, sessions, trust_cmd

    for command in (
        *sessions.COMMANDS,
        channel_cmds.report,
        channel_cmds.watch,
        channel_cmds.dispatch,
        channel_cmds.monitor,
        config_cmd.config,
        trust_cmd.trust,
        docker_cmds.docker,
    ):
        cli.add_command(command)


_register()


GLOBAL_OPTIONS = ("-C", "--backend")


def global_options_first(argv: list[str]) -> list[str]:
    """``para start feat --backend podman`` as ``para --backend podman start feat``: the
    global options are taken wherever they stand before a ``--``."""
    cut = argv.index("--") if "--" in argv else len(argv)
    moved: list[str] = []
    rest: list[str] = []
    i = 0
    while i < cut:
        word = argv[i]
        if i > 0 and word in GLOBAL_OPTIONS and i + 1 < cut:
            moved += [word, argv[i + 1]]
            i += 2
            continue
        if i > 0 and word.startswith("--backend="):
            moved.append(word)
        else:
            rest.append(word)
        i += 1
    return [*moved, *rest, *argv[cut:]]


def main(argv: list[str] | None = None) -> int:
    """Console entry point. Returns the exit code (also used by tests)."""
    args = global_options_first(list(sys.argv[1:] if argv is None else argv))
    try:
        cli.main(args=args, prog_name="para", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except ParaError as exc:  # raised outside click's handling (e.g. during teardown)
        exc.show()
        return exc.exit_code
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
