"""``para init`` and ``para start``: branch, worktree, includes, setup, record, container.

Every step that creates something registers its undo on an ExitStack first, so a start
that fails anywhere leaves no branch, worktree, record or container behind.
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

from para.config import Config
from para.errors import CommandFailed, EngineUnavailable, InvalidName, ParaError, SessionExists
from para.git import scrubbed_env
from para.names import generate_name, validate_name
from para.options import ContainerOptions
from para.sessions.context import SessionContext
from para.state import SessionRecord, utcnow

EXCLUDE_LINES = ("/.para/worktrees/", "/.para/state/")


def container_request(
    config: Config, options: ContainerOptions, docker: bool | None
) -> tuple[ContainerOptions | None, bool]:
    """Whether a new session gets a container, and whether an unreachable engine falls
    back to a host session: ``--docker``/``--no-docker`` when given, else any container
    option, else ``docker.enabled`` (which alone may fall back, ``docker.fallback``)."""
    explicit = docker is True or (docker is None and options.any_given())
    wanted = explicit or (docker is None and config.docker.enabled)
    fallback = wanted and not explicit and config.docker.fallback == "host"
    return (options if wanted else None), fallback


def init(ctx: SessionContext) -> list[str]:
    """Create para's directories and git excludes; returns what was done."""
    done: list[str] = []
    for path in (ctx.repo.sessions_dir, ctx.worktrees_dir):
        if not path.is_dir():
            path.mkdir(parents=True, exist_ok=True)
            done.append(f"created {path}")
    added = ensure_excludes(ctx)
    if added:
        done.append(f"added {', '.join(added)} to {ctx.repo.common_dir / 'info' / 'exclude'}")
    return done


def _exclude_lines(ctx: SessionContext) -> list[str]:
    lines = list(EXCLUDE_LINES)
    try:
        rel = ctx.worktrees_dir.resolve().relative_to(ctx.repo.root)
    except ValueError:
        return lines  # outside the checkout: nothing to exclude
    line = f"/{rel.as_posix()}/"
    if line not in lines:
        lines.append(line)
    return lines


def ensure_excludes(ctx: SessionContext) -> list[str]:
    """para's lines in ``.git/info/exclude`` (never the user's tracked .gitignore)."""
    exclude = ctx.repo.common_dir / "info" / "exclude"
    wanted = _exclude_lines(ctx)
    with contextlib.suppress(FileNotFoundError):
        present = set(exclude.read_text(encoding="utf-8").splitlines())
        if all(line in present for line in wanted):
            return []
    with ctx.store.lock():
        try:
            text = exclude.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = ""
        present = set(text.splitlines())
        missing = [line for line in wanted if line not in present]
        if missing:
            exclude.parent.mkdir(parents=True, exist_ok=True)
            prefix = "" if not text or text.endswith("\n") else "\n"
            with exclude.open("a", encoding="utf-8") as fh:
                fh.write(prefix + "# para\n" + "".join(f"{line}\n" for line in missing))
        return missing


def start_session(
    ctx: SessionContext,
    name: str | None = None,
    *,
    base: str | None = None,
    docker: ContainerOptions | None = None,
    fallback: bool = False,
    services: bool = True,
) -> SessionRecord:
    """Create branch, worktree, record, the session's services when the configuration
    has some (unless ``services`` is False), and when ``docker`` is given a container.

    With ``fallback``, an unreachable engine gives a host session and a warning instead
    of an error (``docker.fallback = "host"``); services still need the engine.
    """
    if name is None:
        records, _ = ctx.store.load_all()
        taken = {r.name for r in records} | set(ctx.git.branches(f"{ctx.config.branch_prefix}/*"))
        name = generate_name(taken)
    validate_name(name)
    branch = ctx.branch_for(name)
    if not ctx.git.check_branch_name(branch):
        raise InvalidName(name=name, reason=f"git refuses the branch name {branch!r}")
    ctx.git.require_commits()
    base_ref = base or "HEAD"
    base_commit = ctx.git.resolve(base_ref)
    base_name = base or ctx.git.current_branch() or base_commit[:12]
    worktree = ctx.worktree_for(name)
    if docker is not None:
        try:
            ctx.containers.check_engine(docker)
        except EngineUnavailable as exc:
            if not fallback:
                raise
            ctx.warnings.append(
                f"{exc.message}; starting a host session instead (docker.fallback = host)"
            )
            docker = None
    # the configuration alone says whether there are services: no engine code is loaded
    # for a host session without them
    stacked = services and bool(ctx.config.docker.compose_file or ctx.config.docker.services)
    if stacked:
        ctx.containers.stacks.check()

    with ctx.store.reserve(name) as note, contextlib.ExitStack() as undo:
        previous = _check_free(ctx, name, branch, worktree)
        ensure_excludes(ctx)
        note(branch=branch, worktree=str(worktree), base_commit=base_commit)
        ctx.git.add_worktree(worktree, branch, base_commit)
        undo.callback(_undo_worktree, ctx, worktree, branch)
        copy_includes(ctx, worktree)
        admin = ctx.git.admin_dir(worktree.resolve())
        record = SessionRecord(
            name=name,
            branch=branch,
            base=base_name,
            base_commit=base_commit,
            worktree=str(worktree.resolve()),
            git_admin=str(admin) if admin else None,
            created_at=utcnow(),
        )
        prepare_channel(ctx, record, undo)
        if stacked:
            record = record.model_copy(update={"stack": ctx.containers.stacks.up(record, undo)})
        run_setup(ctx, record)
        if docker is not None:
            ref = ctx.containers.create_for(record, docker, undo)
            record = record.model_copy(update={"container": ref})
        # a finished or cancelled session of this name is archived only now that the
        # new one exists: a start that fails leaves it where recover finds it
        ctx.store.write(record, replacing=previous)
        undo.pop_all()
    return record


def _check_free(
    ctx: SessionContext, name: str, branch: str, worktree: Path
) -> SessionRecord | None:
    """Refuse a name in use; the ended session of that name, if any, to archive."""
    old = None
    if ctx.store.exists(name):
        try:
            old = ctx.store.read(name)
        except ParaError:
            raise SessionExists(
                name=name, reason="its record is unreadable; para clean reports it"
            ) from None
        if old.status == "active":
            raise SessionExists(name=name, reason="an active session has this name")
        if old.status == "review" and ctx.git.branch_exists(old.branch):
            raise SessionExists(
                name=name,
                reason=f"finished session awaiting review on branch {old.branch}",
                hint=f"merge or delete {old.branch} first, or pick another name",
            )
    if ctx.git.branch_exists(branch):
        raise SessionExists(
            name=name,
            reason=f"branch {branch} exists",
            hint=f"pick another name, or delete the branch: git branch -D {branch}",
        )
    if worktree.exists() or worktree.is_symlink():
        raise SessionExists(
            name=name,
            reason=f"{worktree} already exists",
            hint="pick another name, or run para clean to see what is left there",
        )
    return old


def _undo_worktree(ctx: SessionContext, worktree: Path, branch: str) -> None:
    with contextlib.suppress(ParaError):
        if ctx.git.registered_worktree(worktree) is not None:
            ctx.git.remove_worktree(worktree, force=True)
    with contextlib.suppress(ParaError):
        ctx.git.prune_worktrees()
    with contextlib.suppress(ParaError):
        if ctx.git.branch_exists(branch):
            ctx.git.delete_branch(branch)


def copy_includes(ctx: SessionContext, worktree: Path) -> list[Path]:
    """Copy the files named by ``.worktreeinclude`` (globs; usually ignored files).

    The new worktree is a checkout of the base branch, which may hold symlinks: a copy
    never writes through one (its target's resolved parent must stay inside the
    worktree), nor reads a file that a symlink places outside the repository."""
    spec = ctx.repo.root / ".worktreeinclude"
    try:
        patterns = spec.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    root = ctx.repo.root
    inside = worktree.resolve()
    copied: list[Path] = []
    for raw in patterns:
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        if pattern.startswith("/"):
            pattern = pattern[1:]
        if ".." in Path(pattern).parts:
            continue
        for source in sorted(root.glob(pattern)):
            rel = source.relative_to(root)
            if rel.parts[0] in {".git", ".para"} or under(source, ctx.worktrees_dir):
                continue
            target = worktree / rel
            if target.exists() or target.is_symlink():
                continue
            if not under(source.parent, root) or not under(target.parent, inside):
                ctx.warnings.append(
                    f".worktreeinclude: not copying {rel}: a symlink on its way leads out of "
                    "the repository or the new worktree"
                )
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if not under(target.parent, inside):  # made through a symlink just now
                continue
            if source.is_dir() and not source.is_symlink():
                shutil.copytree(source, target, symlinks=True)
            else:
                shutil.copy2(source, target, follow_symlinks=False)
            copied.append(rel)
    return copied


def under(path: Path, parent: Path) -> bool:
    try:
        path.resolve().relative_to(parent.resolve())
    except ValueError:
        return False
    return True


def prepare_channel(ctx: SessionContext, record: SessionRecord, undo: contextlib.ExitStack) -> None:
    """A fresh channel directory for the session (removed again on rollback)."""
    from para.channel.layout import create

    path = ctx.repo.channels_dir / record.name
    if path.exists() or path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    create(path)
    undo.callback(shutil.rmtree, path, True)


def run_setup(ctx: SessionContext, record: SessionRecord, *, out: IO[str] | None = None) -> None:
    """The configured ``setup_command`` in the new worktree, its output streamed to
    ``out`` (default: stderr, so ``--json`` stays clean) as it comes; a failure fails the
    start, with the last lines of that output."""
    from para.sessions.host import session_env

    command = ctx.config.setup_command
    if not command:
        return
    out = out or sys.stderr
    out.write(f"running setup command: {command}\n")
    out.flush()
    env = scrubbed_env(ctx.env) | session_env(ctx, record)
    tail: collections.deque[str] = collections.deque(maxlen=10)
    with subprocess.Popen(
        ["sh", "-c", command],
        cwd=record.worktree,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,  # its own process group: killed whole if para stops
    ) as proc:
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                out.write(f"  {line}")
                out.flush()
                tail.append(line.rstrip("\n"))
        except BaseException:  # Ctrl-C, a closed terminal: the start is undone, so is this
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            raise
    if proc.returncode != 0:
        raise CommandFailed(
            what="setup command",
            command=command,
            code=proc.returncode,
            output="\n".join(tail),
            hint="fix the command (setup_command in .para/config.json); nothing was kept",
        )
