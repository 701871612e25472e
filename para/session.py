"""SessionManager: the session use cases (start, finish, cancel, recover, clean, list).

Every step that creates something registers its undo on an ExitStack first, so a start
that fails anywhere leaves no branch, worktree, record or container behind. Steps of
finish and cancel check the repository before acting, so running them again after an
interruption completes the work instead of failing on what is already done.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from para import git as gitmod
from para.config import Config
from para.errors import (
    AmbiguousSession,
    BranchExists,
    ChannelError,
    DirtyWorktree,
    EngineUnavailable,
    GitError,
    InvalidName,
    ParaError,
    SessionExists,
    SessionNotFound,
    WorktreeError,
)
from para.names import generate_name, validate_name
from para.state import BadRecord, ContainerRef, SessionRecord, StateStore, utcnow

if TYPE_CHECKING:
    from para.channel import Channel, QueuedCommand
    from para.docker.options import ContainerOptions
    from para.git import Git
    from para.repo import Repo

EXCLUDE_LINES = ("/.para/worktrees/", "/.para/state/")
ARCHIVE_STAMP = "%Y%m%d-%H%M%S"


class ContainerHooks(Protocol):
    """What sessions need from the container layer (implemented by DockerManager)."""

    warnings: list[str]

    def check_engine(self, options: ContainerOptions | None) -> None: ...

    def create_for(
        self, record: SessionRecord, options: ContainerOptions | None, undo: contextlib.ExitStack
    ) -> ContainerRef: ...

    def remove_for(self, record: SessionRecord) -> None: ...

    def states(self, records: list[SessionRecord]) -> dict[str, dict[str, Any]]: ...

    def details(self, record: SessionRecord) -> dict[str, Any]: ...

    def logs(self, record: SessionRecord, *, follow: bool, tail: int | None) -> Iterator[bytes]: ...

    def exec(
        self,
        record: SessionRecord,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        workdir: str | None = None,
        tty: bool = False,
        interactive: bool = False,
        stdin: Any = None,
        stdout: Any,
        stderr: Any,
    ) -> int: ...


@dataclass
class SessionView:
    """A record plus what only the repository and engine know right now."""

    record: SessionRecord
    dirty: int = 0
    ahead: int = 0
    behind: int = 0
    worktree_exists: bool = True
    container_state: dict[str, Any] | None = None
    report: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.record.name

    def to_json(self) -> dict[str, Any]:
        rec = self.record
        container: dict[str, Any] | None = None
        if rec.container is not None:
            container = {
                "id": rec.container.id,
                "name": rec.container.name,
                "image": rec.container.image,
                "backend": rec.container.backend,
                "state": "unknown",
                "health": None,
                "ports": dict(rec.container.ports),
            }
            if self.container_state is not None:
                container.update(self.container_state)
        return {
            "name": rec.name,
            "branch": rec.archive_branch if rec.status == "cancelled" else rec.branch,
            "base": rec.base,
            "base_commit": rec.base_commit,
            "worktree": rec.worktree,
            "worktree_exists": self.worktree_exists,
            "status": rec.status,
            "created_at": rec.created_at.isoformat(),
            "finished_at": rec.finished_at.isoformat() if rec.finished_at else None,
            "dirty": self.dirty,
            "ahead": self.ahead,
            "behind": self.behind,
            "container": container,
            "report": self.report if self.report is not None else rec.report,
            "last_request": rec.last_request,
            "problems": list(self.problems),
        }


@dataclass
class CleanAction:
    kind: str
    target: str
    detail: str
    done: bool

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target, "detail": self.detail, "done": self.done}


class SessionManager:
    """Sessions of one repository. Methods take plain values and return records or views."""

    def __init__(
        self,
        repo: Repo,
        config: Config,
        store: StateStore,
        git: Git,
        *,
        containers: Callable[[], ContainerHooks] | None = None,
        env: dict[str, str] | None = None,
    ):
        self.repo = repo
        self.config = config
        self.store = store
        self.git = git
        self._containers = containers
        self.env = env if env is not None else dict(os.environ)
        self.warnings: list[str] = []

    # -- paths and names --------------------------------------------------------------------

    @property
    def worktrees_dir(self) -> Path:
        path = Path(self.config.worktrees_dir).expanduser()
        return path if path.is_absolute() else self.repo.root / path

    def branch_for(self, name: str) -> str:
        return f"{self.config.branch_prefix}/{name}"

    def worktree_for(self, name: str) -> Path:
        return self.worktrees_dir / name

    def worktree_ref(self, rec: SessionRecord) -> gitmod.Worktree:
        """The worktree with the admin dir para recorded (git's, not the worktree's word)."""
        path = Path(rec.worktree)
        admin = Path(rec.git_admin) if rec.git_admin else self.git.admin_dir(path)
        if admin is None:
            raise WorktreeError(
                problem=f"git has no worktree entry for {path}",
                hint="para clean repairs a worktree deleted by hand",
            )
        return gitmod.Worktree(path, admin)

    def resolve(
        self,
        name: str | None,
        *,
        command: str,
        statuses: Sequence[str] = ("active",),
        cwd: Path | None = None,
    ) -> str:
        """The session meant: ``name``, else the one whose worktree holds the cwd, else the
        only session in ``statuses``; otherwise an error listing the candidates."""
        if name:
            return name
        from para.repo import session_of_path

        here = session_of_path(self.repo, self.worktrees_dir, cwd)
        if here and self.store.exists(here):
            return here
        records, _bad = self.store.load_all()
        candidates = sorted(r.name for r in records if r.status in statuses)
        if len(candidates) == 1:
            return candidates[0]
        wanted = "/".join(statuses)
        if not candidates:
            raise SessionNotFound(
                f"no {wanted} session to {command}",
                hint="start one with: para start NAME"
                if "active" in statuses
                else "see all sessions with: para list --archived",
            )
        raise AmbiguousSession(
            problem=f"{len(candidates)} {wanted} sessions, which one? {', '.join(candidates)}",
            command=command,
        )

    # -- init -------------------------------------------------------------------------------

    def init(self) -> list[str]:
        """Create para's directories and git excludes; returns what was done."""
        done: list[str] = []
        for path in (self.repo.sessions_dir, self.worktrees_dir):
            if not path.is_dir():
                path.mkdir(parents=True, exist_ok=True)
                done.append(f"created {path}")
        added = self._ensure_excludes()
        if added:
            done.append(f"added {', '.join(added)} to {self.repo.common_dir / 'info' / 'exclude'}")
        return done

    def _exclude_lines(self) -> list[str]:
        lines = list(EXCLUDE_LINES)
        try:
            rel = self.worktrees_dir.resolve().relative_to(self.repo.root)
        except ValueError:
            return lines  # outside the checkout: nothing to exclude
        line = f"/{rel.as_posix()}/"
        if line not in lines:
            lines.append(line)
        return lines

    def _ensure_excludes(self) -> list[str]:
        exclude = self.repo.common_dir / "info" / "exclude"
        wanted = self._exclude_lines()
        with contextlib.suppress(FileNotFoundError):
            present = set(exclude.read_text(encoding="utf-8").splitlines())
            if all(line in present for line in wanted):
                return []
        with self.store.lock():
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

    # -- start ------------------------------------------------------------------------------

    def start(
        self,
        name: str | None = None,
        *,
        base: str | None = None,
        docker: ContainerOptions | None = None,
        fallback: bool = False,
    ) -> SessionRecord:
        """Create branch, worktree, record and, when ``docker`` is given, a container.

        With ``fallback``, an unreachable engine gives a host session and a warning instead
        of an error (``docker.fallback = "host"``).
        """
        if name is None:
            records, _ = self.store.load_all()
            name = generate_name(
                {r.name for r in records} | set(self.git.branches(f"{self.config.branch_prefix}/*"))
            )
        validate_name(name)
        branch = self.branch_for(name)
        if not self.git.check_branch_name(branch):
            raise InvalidName(name=name, reason=f"git refuses the branch name {branch!r}")
        self.git.require_commits()
        base_ref = base or "HEAD"
        base_commit = self.git.resolve(base_ref)
        base_name = base or self.git.current_branch() or base_commit[:12]
        worktree = self.worktree_for(name)
        if docker is not None:
            try:
                self.containers.check_engine(docker)
            except EngineUnavailable as exc:
                if not fallback:
                    raise
                self.warnings.append(
                    f"{exc.message}; starting a host session instead (docker.fallback = host)"
                )
                docker = None

        with self.store.reserve(name), contextlib.ExitStack() as undo:
            self._check_free(name, branch, worktree)
            self._ensure_excludes()
            self.git.add_worktree(worktree, branch, base_commit)
            undo.callback(self._undo_worktree, worktree, branch)
            self._copy_includes(worktree)
            admin = self.git.admin_dir(worktree.resolve())
            record = SessionRecord(
                name=name,
                branch=branch,
                base=base_name,
                base_commit=base_commit,
                worktree=str(worktree.resolve()),
                git_admin=str(admin) if admin else None,
                created_at=utcnow(),
            )
            self._prepare_channel(record, undo)
            self._run_setup(record)
            if docker is not None:
                ref = self.containers.create_for(record, docker, undo)
                record = record.model_copy(update={"container": ref})
            self.store.write(record)
            undo.pop_all()
        return record

    def _check_free(self, name: str, branch: str, worktree: Path) -> None:
        if self.store.exists(name):
            try:
                old = self.store.read(name)
            except ParaError:
                raise SessionExists(
                    name=name, reason="its record is unreadable; para clean reports it"
                ) from None
            if old.status == "active":
                raise SessionExists(name=name, reason="an active session has this name")
            if old.status == "review" and self.git.branch_exists(old.branch):
                raise SessionExists(
                    name=name,
                    reason=f"finished session awaiting review on branch {old.branch}",
                    hint=f"merge or delete {old.branch} first, or pick another name",
                )
            self.store.archive(old)
        if self.git.branch_exists(branch):
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

    def _undo_worktree(self, worktree: Path, branch: str) -> None:
        with contextlib.suppress(ParaError):
            if self.git.registered_worktree(worktree) is not None:
                self.git.remove_worktree(worktree, force=True)
        with contextlib.suppress(ParaError):
            self.git.prune_worktrees()
        with contextlib.suppress(ParaError):
            if self.git.branch_exists(branch):
                self.git.delete_branch(branch)

    def _copy_includes(self, worktree: Path) -> list[Path]:
        """Copy the files named by ``.worktreeinclude`` (globs; usually ignored files)."""
        spec = self.repo.root / ".worktreeinclude"
        try:
            patterns = spec.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        root = self.repo.root
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
                if rel.parts[0] in {".git", ".para"} or _under(source, self.worktrees_dir):
                    continue
                target = worktree / rel
                if target.exists() or target.is_symlink():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                if source.is_dir() and not source.is_symlink():
                    shutil.copytree(source, target, symlinks=True)
                else:
                    shutil.copy2(source, target, follow_symlinks=False)
                copied.append(rel)
        return copied

    def channel(self, name: str) -> Channel:
        from para.channel import Channel

        return Channel(self.repo.channels_dir / name, name)

    def _prepare_channel(self, record: SessionRecord, undo: contextlib.ExitStack) -> None:
        path = self.repo.channels_dir / record.name
        if path.exists() or path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        from para.channel_dirs import create

        create(path)
        undo.callback(shutil.rmtree, path, True)

    def session_env(self, record: SessionRecord) -> dict[str, str]:
        """Variables every process para starts in a host session sees; PATH ends with the
        channel helpers (para-status, para-finish...), as /para/bin does in containers."""
        from para.channel_dirs import install_helpers

        helpers = install_helpers(self.repo.state_dir)
        path = self.env.get("PATH") or os.defpath
        return {
            "PARA_SESSION": record.name,
            "PARA_WORKTREE": record.worktree,
            "PARA_BRANCH": record.branch,
            "PARA_REPO": str(self.repo.root),
            "PARA_CHANNEL": str(self.repo.channels_dir / record.name),
            "PATH": f"{path}{os.pathsep}{helpers}",
        }

    def _run_setup(self, record: SessionRecord) -> None:
        command = self.config.setup_command
        if not command:
            return
        env = gitmod.scrubbed_env(self.env) | self.session_env(record)
        proc = subprocess.run(
            ["sh", "-c", command],
            cwd=record.worktree,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-10:])
            raise WorktreeError(
                problem=f"setup command {command!r} failed with exit code {proc.returncode}"
                + (f":\n{tail}" if tail else ""),
                hint="fix the command (setup_command in .para/config.json); nothing was kept",
            )

    def open_in_ide(self, record: SessionRecord) -> None:
        """Run ``ide.command`` (argv; ``{path}`` is the worktree, appended when absent)."""
        command = self.config.ide.command
        if not command:
            return
        argv = [part.replace("{path}", record.worktree) for part in command]
        if not any("{path}" in part for part in command):
            argv.append(record.worktree)
        env = gitmod.scrubbed_env(self.env) | self.session_env(record)
        try:
            proc = subprocess.run(argv, cwd=record.worktree, env=env, check=False)
        except OSError as exc:
            raise WorktreeError(
                problem=f"cannot run ide.command {argv[0]!r}: {exc.strerror}",
                hint="fix ide.command in your para config",
            ) from exc
        if proc.returncode != 0:
            raise WorktreeError(
                problem=f"ide.command exited with code {proc.returncode}",
                hint="fix ide.command in your para config",
            )

    # -- channel: reports, dispatch ---------------------------------------------------------

    def report(self, name: str, **fields: Any) -> dict[str, Any]:
        """Write a host session's status.json; fields not given keep their last value."""
        from para.channel import Progress, Status

        channel = self.channel(name)
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
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise ChannelError(
                problem=f"invalid report: {problems}",
                hint="shorten or fix the values (see docs/channel.md)",
            ) from exc
        channel.write_status(status)
        return status.model_dump(mode="json")

    def dispatch(
        self,
        name: str | None,
        prompt: str,
        *,
        agent: list[str] | None = None,
        docker: ContainerOptions | None = None,
        base: str | None = None,
        fallback: bool = False,
    ) -> tuple[SessionRecord, QueuedCommand]:
        """Start a session and run the agent command in it, detached; output in the channel."""
        command = agent or self.config.agent.command
        if not command:
            raise WorktreeError(
                problem="no agent command to dispatch",
                hint='set agent.command (e.g. ["my-agent", "{prompt}"]) or pass --agent',
            )
        argv = [part.replace("{prompt}", prompt) for part in command]
        if not any("{prompt}" in part for part in command):
            argv.append(prompt)
        record = self.start(name, base=base, docker=docker, fallback=fallback)
        job = self.channel(record.name).enqueue(argv)
        if record.container is None:
            self._spawn_host_runner(record)
        return record, job

    def _spawn_host_runner(self, record: SessionRecord) -> None:
        """Serve a host session's queue with the same sh runner, detached from para."""
        env = gitmod.scrubbed_env(self.env) | self.session_env(record)
        runner = self.repo.state_dir / "bin" / "para-runner"  # installed by session_env
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

    # -- finish -----------------------------------------------------------------------------

    def finish(self, name: str, message: str, *, branch: str | None = None) -> SessionRecord:
        """Commit everything, hand the branch back for review, remove worktree and container."""
        if not message.strip():
            raise WorktreeError(
                problem="the commit message is empty", hint='para finish "what this session did"'
            )
        rec = self.store.read(name)
        if rec.status == "review" and rec.pending is None:
            if branch and branch != rec.branch:
                raise WorktreeError(
                    problem=f"session {name!r} is already finished on {rec.branch}",
                    hint=f"git branch -m {rec.branch} {branch}",
                )
            return rec
        if rec.status == "cancelled" or rec.pending == "cancel":
            raise WorktreeError(
                problem=f"session {name!r} was cancelled",
                hint=f"bring it back with: para recover {name}",
            )
        target = branch or rec.pending_branch or rec.branch
        if not self.git.check_branch_name(target):
            raise InvalidName(
                name=target,
                reason="git refuses it as a branch name",
                hint="pass a valid branch name to --branch",
            )
        renamed_already = (
            rec.pending == "finish"
            and rec.pending_branch == target
            and not self.git.branch_exists(rec.branch)
            and self.git.branch_exists(target)
        )
        if target != rec.branch and not renamed_already and self.git.branch_exists(target):
            raise BranchExists(branch=target)
        rec = self.store.update(
            name,
            lambda r: r.model_copy(
                update={"pending": "finish", "pending_branch": target, "message": message}
            ),
        )

        worktree = Path(rec.worktree)
        if worktree.is_dir() and self.git.registered_worktree(worktree) is not None:
            ref = self.worktree_ref(rec)
            self.git.commit_all(ref, message, stage=self.config.auto_stage)
            left = gitmod.dirty_count(ref)
            if left:
                raise DirtyWorktree(
                    name=name,
                    count=left,
                    hint="auto_stage is off: stage what belongs in the commit (git add), "
                    "then run finish again",
                )
        if target != rec.branch and not renamed_already:
            self.git.rename_branch(rec.branch, target)
        self._remove_container(rec)
        self._remove_worktree(worktree, force=False)
        self._drop_channel(name)
        return self.store.update(
            name,
            lambda r: r.model_copy(
                update={
                    "status": "review",
                    "branch": target,
                    "pending": None,
                    "pending_branch": None,
                    "finished_at": utcnow(),
                    "container": None,
                }
            ),
        )

    @property
    def containers(self) -> ContainerHooks:
        if self._containers is None:
            raise WorktreeError(problem="containers are not available in this setup")
        return self._containers()

    def _remove_container(self, rec: SessionRecord) -> None:
        if rec.container is not None:
            self.containers.remove_for(rec)

    def _remove_worktree(self, worktree: Path, *, force: bool) -> None:
        entry = self.git.registered_worktree(worktree)
        if entry is None:
            if worktree.exists():
                # Never delete a directory git does not know as a worktree.
                raise WorktreeError(
                    problem=f"{worktree} exists but is not a registered git worktree",
                    hint="look at it and remove it by hand if it holds nothing you need",
                )
            self.git.prune_worktrees()
            return
        if entry.prunable or not worktree.exists():
            self.git.prune_worktrees()
            return
        try:
            self.git.remove_worktree(worktree, force=force)
        except GitError as exc:
            raise WorktreeError(
                problem=f"cannot remove worktree {worktree}: {exc.facts.get('stderr', exc)}",
                hint="close programs using it (or commit what is left) and run the command again",
            ) from exc

    def _drop_channel(self, name: str) -> None:
        """Keep the last report in the record, then remove the channel directory."""
        path = self.repo.channels_dir / name
        if path.is_dir() and not path.is_symlink():
            status = self.channel(name).status()
            if status is not None:
                report = status.model_dump(mode="json")
                self.store.update(name, lambda r: r.model_copy(update={"report": report}))
        shutil.rmtree(path, ignore_errors=True)

    # -- cancel -----------------------------------------------------------------------------

    def cancel(
        self,
        name: str,
        *,
        force: bool = False,
        confirm: Callable[[str], bool] | None = None,
    ) -> SessionRecord:
        """Archive the session: uncommitted work is committed to the archive branch first."""
        rec = self.store.read(name)
        if rec.status == "cancelled" and rec.pending is None:
            return rec
        if rec.status == "review":
            raise WorktreeError(
                problem=f"session {name!r} is finished (branch {rec.branch})",
                hint=f"delete the branch if unwanted: git branch -D {rec.branch}",
            )
        worktree = Path(rec.worktree)
        present = worktree.is_dir() and self.git.registered_worktree(worktree) is not None
        dirty = gitmod.dirty_count(self.worktree_ref(rec)) if present else 0
        if dirty and not force and rec.pending != "cancel":
            question = (
                f"session {name!r} has {dirty} uncommitted change(s); archive them and cancel?"
            )
            if confirm is None or not confirm(question):
                raise DirtyWorktree(name=name, count=dirty)
        archive = (
            rec.pending_branch
            if rec.pending == "cancel" and rec.pending_branch
            else (f"{self.config.branch_prefix}/archived/{utcnow().strftime(ARCHIVE_STAMP)}/{name}")
        )
        rec = self.store.update(
            name, lambda r: r.model_copy(update={"pending": "cancel", "pending_branch": archive})
        )
        wip = rec.wip_commit
        if present and dirty:
            wip = self.git.commit_all(
                self.worktree_ref(rec),
                f"para: uncommitted work of session {name} at cancel",
                stage=True,
                no_verify=True,
            )
            if wip:
                self.store.update(name, lambda r: r.model_copy(update={"wip_commit": wip}))
        if self.git.branch_exists(rec.branch) and not self.git.branch_exists(archive):
            self.git.rename_branch(rec.branch, archive)
        self._remove_container(rec)
        self._remove_worktree(worktree, force=True)
        self._drop_channel(name)
        return self.store.update(
            name,
            lambda r: r.model_copy(
                update={
                    "status": "cancelled",
                    "archive_branch": archive,
                    "pending": None,
                    "pending_branch": None,
                    "finished_at": utcnow(),
                    "container": None,
                    "previous_container": r.container or r.previous_container,
                }
            ),
        )

    # -- recover ----------------------------------------------------------------------------

    def recover(self, name: str) -> SessionRecord:
        """Bring a cancelled (or finished) session back: branch, worktree, uncommitted work."""
        rec = self.store.read(name)
        worktree = Path(rec.worktree)
        if rec.status == "active":
            if worktree.is_dir():
                raise WorktreeError(
                    problem=f"session {name!r} is active and its worktree exists",
                    hint=f"work in it: cd $(para path {name})",
                )
            source = rec.branch
        elif rec.status == "cancelled":
            source = rec.archive_branch or rec.branch
        else:
            source = rec.branch
        if not self.git.branch_exists(source):
            raise WorktreeError(
                problem=f"branch {source} of session {name!r} no longer exists",
                hint="nothing left to recover from",
            )
        if worktree.exists():
            raise WorktreeError(problem=f"{worktree} exists", hint="move it away first")
        if source != rec.branch and self.git.branch_exists(rec.branch):
            raise SessionExists(
                name=name,
                reason=f"branch {rec.branch} exists",
                hint=f"delete or rename {rec.branch}, then recover again",
            )
        previous = rec.container or rec.previous_container
        if rec.container is not None:
            self._remove_container(rec)  # it mounted the worktree that is gone
        with contextlib.ExitStack() as undo:
            self.git.prune_worktrees()
            if source != rec.branch:
                self.git.rename_branch(source, rec.branch)
                undo.callback(self.git.rename_branch, rec.branch, source)
            self.git.add_worktree(worktree, rec.branch, None)
            undo.callback(self._undo_checkout, worktree)
            admin = self.git.admin_dir(worktree.resolve())
            ref = gitmod.Worktree(worktree, admin) if admin else self.worktree_ref(rec)
            tip = self.git.head_of(ref)
            if rec.wip_commit and tip == rec.wip_commit:
                parent = self.git.parent_of(tip)
                if parent:
                    self.git.reset_mixed(ref, parent)
            updated = rec.model_copy(
                update={
                    "status": "active",
                    "archive_branch": None,
                    "wip_commit": None,
                    "pending": None,
                    "pending_branch": None,
                    "finished_at": None,
                    "message": None,
                    "container": None,
                    "previous_container": None,
                    "git_admin": str(ref.admin),
                }
            )
            self._prepare_channel(updated, undo)
            if previous is not None:
                from para.docker.options import ContainerOptions

                made = self.containers.create_for(
                    updated, ContainerOptions.from_ref(previous), undo
                )
                updated = updated.model_copy(update={"container": made})
            self.store.write(updated)
            undo.pop_all()
        return updated

    def _undo_checkout(self, worktree: Path) -> None:
        with contextlib.suppress(ParaError):
            self.git.remove_worktree(worktree, force=True)
        with contextlib.suppress(ParaError):
            self.git.prune_worktrees()

    # -- list / status ----------------------------------------------------------------------

    def records(self, *, archived: bool = False) -> tuple[list[SessionRecord], list[BadRecord]]:
        records, bad = self.store.load_all()
        if not archived:
            records = [r for r in records if r.status != "cancelled"]
        else:
            old, old_bad = self.store.load_archived()
            records += [rec for _path, rec in old]
            bad += old_bad
        return records, bad

    def views(self, records: Sequence[SessionRecord]) -> list[SessionView]:
        """Git facts for each record, gathered in parallel (each is one git process)."""
        if not records:
            return []
        tips = gitmod.branch_tips(self.repo.root)
        cache = _AheadBehindCache(self.repo.state_dir / "cache" / "ahead-behind.json")
        workers = min(8, len(records))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            views = list(pool.map(lambda r: self._view(r, tips, cache), records))
        cache.save()
        with_containers = [r for r in records if r.container is not None]
        if with_containers and self._containers is not None:
            states = self.containers.states(with_containers)
            for view in views:
                if view.name in states:
                    view.container_state = states[view.name]
        return views

    def _view(
        self,
        rec: SessionRecord,
        tips: dict[str, str] | None = None,
        cache: _AheadBehindCache | None = None,
    ) -> SessionView:
        view = SessionView(record=rec)
        worktree = Path(rec.worktree)
        branch = (
            rec.archive_branch if rec.status == "cancelled" and rec.archive_branch else rec.branch
        )
        if rec.status == "active":
            if not (worktree / ".git").exists():
                view.worktree_exists = False
                view.problems.append(
                    "worktree missing (para clean archives it; para recover brings it back)"
                )
            else:
                try:
                    view.dirty = gitmod.dirty_count(self.worktree_ref(rec))
                except ParaError as exc:
                    view.problems.append(f"git status failed: {exc.message}")
            status_file = self.repo.channels_dir / rec.name / "status.json"
            # lexists: the channel module (and its models) is imported only when there is
            # something to read; a symlink is read (and rejected) by the channel itself.
            if view.worktree_exists and os.path.lexists(status_file):
                status = self.channel(rec.name).status()
                if status is not None:
                    view.report = status.model_dump(mode="json")
        else:
            view.worktree_exists = worktree.exists()
        tips = tips if tips is not None else gitmod.branch_tips(self.repo.root)
        # Against the base branch as it is now (behind = what it gained since), or the
        # commit the session started from when the base was not a branch.
        tip = tips.get(branch)
        base = tips.get(rec.base, rec.base_commit)
        if tip is None:
            return view
        key = f"{tip}...{base}"
        counts = cache.get(key) if cache is not None else None
        if counts is None:
            counts = gitmod.ahead_behind(self.repo.root, tip, base)
            if cache is not None:
                cache.put(key, counts)
        view.ahead, view.behind = counts
        return view

    def view(self, name: str, *, detailed: bool = False) -> SessionView:
        """One session; ``detailed`` adds the container's inspect data (limits, OOM...)."""
        record = self.store.read(name)
        view = self._view(record)
        if record.container is not None and self._containers is not None:
            states = (
                self.containers.details(record)
                if detailed
                else self.containers.states([record]).get(record.name, {})
            )
            view.container_state = states
        return view

    # -- clean ------------------------------------------------------------------------------

    def clean(self, *, dry_run: bool = False, now: datetime | None = None) -> list[CleanAction]:
        """Repair and prune what is stale; never touches another repository or unknown files."""
        now = now or utcnow()
        actions: list[CleanAction] = []

        def act(kind: str, target: str, detail: str, fn: Callable[[], None] | None) -> None:
            done = False
            if not dry_run and fn is not None:
                try:
                    fn()
                    done = True
                except ParaError as exc:
                    detail = f"{detail} (failed: {exc.message})"
            actions.append(CleanAction(kind, target, detail, done))

        for marker in self.store.stale_markers():
            act("marker", str(marker), "start interrupted; removing its marker", marker.unlink)

        records, bad = self.store.load_all()
        for item in bad:
            act(
                "record",
                str(item.path),
                f"unreadable, left for you to inspect: {item.reason}",
                None,
            )
        active = {r.name: r for r in records if r.status == "active"}
        for rec in active.values():
            if not (Path(rec.worktree) / ".git").exists():
                act(
                    "session",
                    rec.name,
                    "worktree missing: archiving the branch and record",
                    functools.partial(self._archive_missing, rec),
                )

        known = {Path(r.worktree).resolve() for r in active.values()}
        registered = {e.path.resolve(): e for e in self.git.worktrees()}
        if any(e.prunable for e in registered.values()):
            act(
                "worktree",
                str(self.repo.common_dir / "worktrees"),
                "pruning git's entries of deleted worktrees",
                self.git.prune_worktrees,
            )
        base = self.worktrees_dir.resolve()
        for path, entry in sorted(registered.items()):
            if entry.prunable or not _under(path, base) or path in known:
                continue
            admin = self.git.admin_dir(path)
            if admin is None or gitmod.dirty_count(gitmod.Worktree(path, admin)):
                act(
                    "worktree",
                    str(path),
                    "no session record and uncommitted changes: left "
                    "alone (commit them, then para clean again)",
                    None,
                )
            else:
                act(
                    "worktree",
                    str(path),
                    f"no session record; removing the clean worktree (branch {entry.branch} kept)",
                    functools.partial(self.git.remove_worktree, path),
                )
        if base.is_dir():
            for child in sorted(base.iterdir()):
                resolved = child.resolve()
                if resolved not in registered and resolved not in known:
                    act(
                        "directory",
                        str(child),
                        "not a git worktree: left alone (remove it by hand if you do not need it)",
                        None,
                    )

        homes = self.repo.state_dir / "homes"
        for home in sorted(homes.glob("*")) if homes.is_dir() else []:
            if home.name not in active:
                act(
                    "home",
                    str(home),
                    "no active session; removing its container HOME",
                    functools.partial(shutil.rmtree, home),
                )

        for channel in (
            sorted(self.repo.channels_dir.glob("*")) if self.repo.channels_dir.is_dir() else []
        ):
            if channel.name not in active:
                act(
                    "channel",
                    str(channel),
                    "no active session; removing",
                    functools.partial(shutil.rmtree, channel),
                )

        actions.extend(self._prune_archives(now, dry_run))
        return actions

    def _archive_missing(self, rec: SessionRecord) -> None:
        self.git.prune_worktrees()
        self.cancel(rec.name, force=True)

    def _prune_archives(self, now: datetime, dry_run: bool) -> list[CleanAction]:
        prefix = f"{self.config.branch_prefix}/archived/"
        branches = self.git.branches(f"{prefix}*/*")
        dated: list[tuple[datetime, str]] = []
        for branch in branches:
            stamp = branch.removeprefix(prefix).split("/", 1)[0]
            try:
                when = datetime.strptime(stamp, ARCHIVE_STAMP).replace(tzinfo=now.tzinfo)
            except ValueError:
                continue
            dated.append((when, branch))
        dated.sort(reverse=True)
        limit = self.config.archive
        expired = [
            (when, branch)
            for i, (when, branch) in enumerate(dated)
            if now - when > timedelta(days=limit.days) or i >= limit.max
        ]
        actions = []
        records, _ = self.store.load_all()
        archived, _ = self.store.load_archived()
        for when, branch in expired:
            reason = (
                f"older than {limit.days} days"
                if now - when > timedelta(days=limit.days)
                else f"beyond the newest {limit.max}"
            )
            done = False
            if not dry_run:
                self.git.delete_branch(branch)
                for rec in records:
                    if rec.status == "cancelled" and rec.archive_branch == branch:
                        self.store.delete(rec.name)
                for path, rec in archived:
                    if rec.archive_branch == branch:
                        self.store.remove_archived(path)
                done = True
            actions.append(CleanAction("archive", branch, f"archive {reason}: deleting", done))
        return actions


def _under(path: Path, parent: Path) -> bool:
    try:
        path.resolve().relative_to(parent.resolve())
    except ValueError:
        return False
    return True


class _AheadBehindCache:
    """Ahead/behind counts by (branch tip, base tip): they only change when a tip moves,
    so a steady ``list`` runs no rev-list at all. Advisory: lost or stale is harmless."""

    def __init__(self, path: Path):
        self.path = path
        self.used: dict[str, tuple[int, int]] = {}
        self.changed = False
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            self.known = {k: (int(v[0]), int(v[1])) for k, v in raw.items()}
        except (OSError, ValueError, TypeError, IndexError, AttributeError):
            self.known = {}

    def get(self, key: str) -> tuple[int, int] | None:
        value = self.known.get(key)
        if value is not None:
            self.used[key] = value
        return value

    def put(self, key: str, value: tuple[int, int]) -> None:
        self.used[key] = value
        self.changed = True

    def save(self) -> None:
        if not self.changed and len(self.used) == len(self.known):
            return
        with contextlib.suppress(OSError):
            from para.state import write_atomic

            write_atomic(self.path, json.dumps(self.used).encode())
