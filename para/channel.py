"""The session channel: status reports, the command queue and requests (DESIGN section 6).

Each session has ``.para/state/channels/NAME/``, mounted at ``/para/channel`` in its
container. The container can write anything there, so the host reads it defensively:
every path is opened relative to a directory descriptor with O_NOFOLLOW (a symlink is
never followed, at any level), files larger than 64 KiB are not read, content is
validated with pydantic, and a bad file is moved to ``rejected/`` with a ``.reason``
file next to it instead of failing the command.

Layout::

    status.json               session -> host: the latest status report
    runner.json               the runner's heartbeat (pid, started_at)
    queue/<seq>-<id>.json     host -> session: commands waiting
    running/<seq>-<id>.json   claimed by the runner (renamed from queue/)
    done/<seq>-<id>.json      moved here by the runner once the result is written
    logs/<id>.log             output of a command
    results/<id>.json         exit code and times of a finished command
    requests/<kind>-<id>.json session -> host: finish / cancel
    requests/claimed/         a request being carried out (claimed by rename)
    rejected/                 files the host refused, each with <name>.reason
"""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import os
import re
import secrets
import shlex
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from para.errors import ChannelError
from para.state import pid_alive, utcnow

MAX_FILE = 64 * 1024
SCHEMA_VERSION = 1
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")

JobState = Literal["pending", "running", "done", "interrupted"]
# Where a job file lives, in the order the runner moves it.
_STAGES = ("queue", "running", "done")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Progress(_Model):
    current: int | None = Field(default=None, ge=0)
    total: int | None = Field(default=None, ge=0)
    message: str | None = Field(default=None, max_length=2000)


class Status(_Model):
    """status.json: what the session says about itself."""

    schema_version: Literal[1] = 1
    session: str | None = Field(default=None, max_length=100)
    timestamp: datetime
    state: Literal["working", "blocked", "done", "failed"] = "working"
    task: str | None = Field(default=None, max_length=2000)
    phase: str | None = Field(default=None, max_length=200)
    tests: Literal["passed", "failed", "unknown"] = "unknown"
    progress: Progress | None = None
    blocked_reason: str | None = Field(default=None, max_length=2000)
    health: str | None = Field(default=None, max_length=200)


class QueuedCommand(_Model):
    """queue/<seq>-<id>.json, written by the host."""

    schema_version: Literal[1] = 1
    id: str
    argv: list[str] = Field(min_length=1)
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    timeout: float | None = Field(default=None, gt=0)
    created_at: datetime
    # The command as one POSIX shell line, base64: what the sh runner executes (it has no
    # JSON parser; base64 has no quotes or escapes to get wrong).
    command_b64: str

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return check_id(value)


class JobResult(_Model):
    """results/<id>.json, written by the runner."""

    schema_version: Literal[1] = 1
    id: str
    exit_code: int | None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    state: Literal["done", "interrupted", "timeout"] = "done"

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return check_id(value)


class FinishRequest(_Model):
    schema_version: Literal[1] = 1
    id: str = Field(pattern=f"^{ID_PATTERN.pattern}$")
    message: str = Field(min_length=1, max_length=10_000)
    branch: str | None = Field(default=None, max_length=250)


class CancelRequest(_Model):
    schema_version: Literal[1] = 1
    id: str = Field(pattern=f"^{ID_PATTERN.pattern}$")
    force: bool = False


@dataclass
class Job:
    id: str
    state: JobState
    argv: list[str]
    exit_code: int | None
    log: str
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    timed_out: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "argv": self.argv,
            "log": self.log,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


@dataclass
class Request:
    kind: Literal["finish", "cancel"]
    file: str
    body: FinishRequest | CancelRequest


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def check_id(value: str) -> str:
    if not ID_PATTERN.fullmatch(value):
        raise ValueError("must be 1-64 characters of A-Z a-z 0-9 _ -")
    return value


def new_id() -> str:
    return secrets.token_hex(6)


def shell_line(argv: list[str], cwd: str | None, env: dict[str, str]) -> str:
    parts = []
    if cwd:
        parts.append(f"cd {shlex.quote(cwd)} &&")
    parts.append("exec")
    if env:
        parts.append("env")
        parts.extend(shlex.quote(f"{k}={v}") for k, v in env.items())
    parts.extend(shlex.quote(arg) for arg in argv)
    return " ".join(parts)


class Channel:
    """One session's channel directory, read and written without following symlinks."""

    def __init__(self, path: Path, session: str):
        self.path = path
        self.session = session

    # -- descriptors -------------------------------------------------------------------------

    def create(self) -> None:
        from para.channel_dirs import create

        create(self.path)

    @contextlib.contextmanager
    def _dir(self, sub: str | None = None) -> Iterator[int]:
        """A descriptor of the channel directory (or a subdirectory), never via a symlink."""
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags)
        except OSError as exc:
            raise ChannelError(
                problem=f"channel {self.path} is not a directory: {exc.strerror}",
                hint=f"para clean, or recreate the session {self.session}",
            ) from exc
        try:
            for part in sub.split("/") if sub else []:
                try:
                    child = os.open(part, flags, dir_fd=fd)
                except FileNotFoundError:
                    os.mkdir(part, 0o777, dir_fd=fd)
                    child = os.open(part, flags, dir_fd=fd)
                except OSError as exc:
                    os.close(fd)
                    fd = -1
                    raise ChannelError(
                        problem=f"{self.path / (sub or '')} is not a plain directory (a symlink?)",
                        hint="the session wrote something unexpected into its channel",
                    ) from exc
                os.close(fd)
                fd = child
            yield fd
        finally:
            if fd >= 0:
                os.close(fd)

    def _names(self, sub: str) -> list[str]:
        with self._dir(sub) as fd:
            return sorted(os.listdir(fd))  # noqa: PTH208 - by descriptor: no symlink race

    def _read(self, sub: str | None, name: str) -> bytes:
        """A regular file of at most 64 KiB; raises ValueError saying why not."""
        with self._dir(sub) as dfd:
            try:
                fd = os.open(
                    name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dfd
                )
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise ValueError("is a symlink") from exc
                raise
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode):
                    raise ValueError("is not a regular file")
                if info.st_size > MAX_FILE:
                    raise ValueError(f"is {info.st_size} bytes, more than {MAX_FILE}")
                data = os.read(fd, MAX_FILE + 1)
                if len(data) > MAX_FILE:
                    raise ValueError(f"is more than {MAX_FILE} bytes")
                return data
            finally:
                os.close(fd)

    def _write(self, sub: str | None, name: str, data: bytes) -> None:
        """Temp file + fsync + rename, inside the channel (no symlink followed)."""
        with self._dir(sub) as dfd:
            tmp = f".{name}.{os.getpid()}.{secrets.token_hex(3)}.tmp"
            fd = os.open(
                tmp,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o666,
                dir_fd=dfd,
            )
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)

    def _json(self, sub: str | None, name: str, model: type[BaseModel]) -> Any:
        """Read and validate; a bad file goes to rejected/ and None is returned."""
        try:
            raw = self._read(sub, name)
        except FileNotFoundError:
            return None
        except ValueError as exc:
            self.reject(sub, name, f"{name} {exc}")
            return None
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            self.reject(sub, name, f"not valid JSON: {exc}")
            return None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            reasons = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
                for e in exc.errors()
            )
            self.reject(sub, name, f"does not match the schema: {reasons}")
            return None

    def reject(self, sub: str | None, name: str, reason: str) -> None:
        """Move a bad file (or symlink, never followed) to rejected/ with the reason."""
        target = f"{int(time.time() * 1000)}-{(sub or '').replace('/', '_')}-{name}"[:200]
        try:
            with self._dir(sub) as src, self._dir("rejected") as dst:
                os.rename(name, target, src_dir_fd=src, dst_dir_fd=dst)
        except (OSError, ChannelError):
            return
        with contextlib.suppress(OSError, ChannelError):
            self._write("rejected", f"{target}.reason", reason.encode() + b"\n")

    def rejected(self) -> list[tuple[str, str]]:
        out = []
        for name in self._names("rejected"):
            if name.endswith(".reason") or name.startswith("."):
                continue
            try:
                reason = self._read("rejected", f"{name}.reason").decode(errors="replace")
            except (OSError, ValueError):
                reason = "?"
            out.append((name, reason.strip()))
        return out

    # -- status ------------------------------------------------------------------------------

    def status(self) -> Status | None:
        if not self.path.is_dir():
            return None
        result: Status | None = self._json(None, "status.json", Status)
        return result

    def write_status(self, status: Status) -> None:
        self._write(None, "status.json", status.model_dump_json(indent=2).encode() + b"\n")
        # para-status's memory of the values, so that a later para-status call in the
        # session keeps what this report set (it reads shell assignments, not JSON).
        progress = status.progress or Progress()
        values = {
            "state": status.state,
            "task": status.task,
            "phase": status.phase,
            "tests": status.tests,
            "current": progress.current,
            "total": progress.total,
            "message": progress.message,
            "blocked": status.blocked_reason,
        }
        lines = " ".join(
            f"{key}={shlex.quote('' if value is None else str(value))}"
            for key, value in values.items()
        )
        self._write(None, ".status.vars", lines.encode() + b"\n")

    # -- queue -------------------------------------------------------------------------------

    def enqueue(
        self,
        argv: list[str],
        *,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> QueuedCommand:
        env = env or {}
        job_id = new_id()
        command = QueuedCommand(
            id=job_id,
            argv=argv,
            cwd=cwd,
            env=env,
            timeout=timeout,
            created_at=utcnow(),
            command_b64=base64.b64encode(shell_line(argv, cwd, env).encode()).decode(),
        )
        seq = f"{time.time_ns():020d}"
        self._write(
            "queue", f"{seq}-{job_id}.json", command.model_dump_json(indent=2).encode() + b"\n"
        )
        return command

    def _job_files(self, sub: str) -> dict[str, str]:
        """job id -> file name, for ``<seq>-<id>.json`` names (others are rejected)."""
        out: dict[str, str] = {}
        for name in self._names(sub):
            if name.startswith("."):
                continue
            stem = name.removesuffix(".json")
            job_id = stem.partition("-")[2]
            if not name.endswith(".json") or not ID_PATTERN.fullmatch(job_id):
                self.reject(sub, name, "not a <seq>-<id>.json job file")
                continue
            out[job_id] = name
        return out

    def jobs(self, *, runner_alive: bool = True) -> list[Job]:
        """Pending, running and finished commands, in queue order.

        The runner moves jobs queue -> running -> done while this looks. So the
        directories are listed in that order (a job that moves on is seen again further
        on, never missed), a file gone when read is looked for further on, and the
        results are read after the job files (the runner writes a result before it moves
        a job to done/, so a job found in done/ has its result).
        """
        seen: dict[str, tuple[str, str]] = {}
        for sub in _STAGES:
            for job_id, name in self._job_files(sub).items():
                seen[job_id] = (sub, name)
        commands: list[tuple[str, str, QueuedCommand]] = []  # (name, where, command)
        for job_id, (listed, name) in seen.items():
            found = self._job_command(listed, name)
            if found is None:
                continue
            sub, command = found
            if command.id != job_id:
                self.reject(sub, name, f"its id {command.id!r} does not match the name")
                continue
            commands.append((name, sub, command))
        results = self._results()
        jobs: list[tuple[str, Job]] = []
        for name, sub, command in commands:
            job_id = command.id
            result = results.get(job_id)
            state: JobState = "pending" if sub == "queue" else "running"
            if result is not None:
                state = "interrupted" if result.state == "interrupted" else "done"
            elif sub == "running" and not runner_alive:
                state = "interrupted"
            elif sub == "done":
                state = "interrupted"  # moved without a result: the runner was stopped
            jobs.append(
                (
                    name,
                    Job(
                        id=job_id,
                        state=state,
                        argv=command.argv,
                        exit_code=result.exit_code if result else None,
                        log=str(self.path / "logs" / f"{job_id}.log"),
                        created_at=command.created_at.isoformat(),
                        started_at=_iso(result.started_at) if result else None,
                        finished_at=_iso(result.finished_at) if result else None,
                        timed_out=result is not None and result.state == "timeout",
                    ),
                )
            )
        return [job for _name, job in sorted(jobs, key=lambda item: item[0])]

    def _job_command(self, listed: str, name: str) -> tuple[str, QueuedCommand] | None:
        """The job file ``name`` where it was listed, or further on if it moved since."""
        for sub in _STAGES[_STAGES.index(listed) :]:
            command: QueuedCommand | None = self._json(sub, name, QueuedCommand)
            if command is not None:
                return sub, command
        return None

    def _results(self) -> dict[str, JobResult]:
        out: dict[str, JobResult] = {}
        for name in self._names("results"):
            if name.startswith("."):
                continue
            job_id = name.removesuffix(".json")
            if not name.endswith(".json") or not ID_PATTERN.fullmatch(job_id):
                self.reject("results", name, "not an <id>.json result file")
                continue
            result: JobResult | None = self._json("results", name, JobResult)
            if result is None:
                continue
            if result.id != job_id:
                self.reject("results", name, f"its id {result.id!r} does not match the name")
                continue
            out[job_id] = result
        return out

    def job(self, job_id: str, *, runner_alive: bool = True) -> Job:
        if not ID_PATTERN.fullmatch(job_id):
            raise ChannelError(
                problem=f"invalid job id {job_id!r}",
                hint="job ids are what para docker exec --detach printed",
            )
        for job in self.jobs(runner_alive=runner_alive):
            if job.id == job_id:
                return job
        raise ChannelError(
            problem=f"no job {job_id} in session {self.session}",
            hint=f"see the jobs with: para docker jobs {self.session}",
        )

    def log_chunks(self, job_id: str, offset: int = 0) -> tuple[bytes, int]:
        """New log output of a job from ``offset`` (streamed, any size; never a symlink)."""
        check_id(job_id)
        try:
            with self._dir("logs") as dfd:
                fd = os.open(
                    f"{job_id}.log", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd
                )
        except (FileNotFoundError, ChannelError):
            return b"", offset
        except OSError:
            return b"", offset
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return b"", offset
            os.lseek(fd, offset, os.SEEK_SET)
            data = os.read(fd, 1 << 20)
            return data, offset + len(data)
        finally:
            os.close(fd)

    # -- requests ----------------------------------------------------------------------------

    def requests(self) -> list[Request]:
        """Pending requests, oldest first. Claims left by a watcher that died are
        returned to the queue first (finish and cancel are safe to run again)."""
        out: list[tuple[float, str, Request]] = []
        if not self.path.is_dir():
            return []
        self._return_stale_claims()
        with self._dir("requests") as dfd:
            names = sorted(os.listdir(dfd))  # noqa: PTH208 - by descriptor
            for name in names:
                if name == "claimed" or name.startswith((".", "outcome-")):
                    continue
                kind = name.partition("-")[0]
                model: type[BaseModel]
                if kind == "finish" and name.endswith(".json"):
                    model = FinishRequest
                elif kind == "cancel" and name.endswith(".json"):
                    model = CancelRequest
                else:
                    self.reject(
                        "requests", name, "not a finish-<id>.json or cancel-<id>.json request"
                    )
                    continue
                try:
                    made = os.stat(name, dir_fd=dfd, follow_symlinks=False).st_mtime
                except OSError:
                    continue
                body = self._json("requests", name, model)
                if body is not None:
                    out.append((made, name, Request(kind=kind, file=name, body=body)))  # type: ignore[arg-type]
        return [request for _made, _name, request in sorted(out, key=lambda x: x[:2])]

    def _return_stale_claims(self) -> None:
        with self._dir("requests/claimed") as src, self._dir("requests") as dst:
            for name in os.listdir(src):  # noqa: PTH208 - by descriptor
                pid_text, _, original = name.partition("-")
                if not pid_text.isdigit() or not original:
                    continue
                if pid_alive(int(pid_text)):
                    continue
                with contextlib.suppress(OSError):
                    os.rename(name, original, src_dir_fd=src, dst_dir_fd=dst)

    def claim(self, request: Request) -> bool:
        """Take a request for this process by renaming it; False if another took it."""
        try:
            with self._dir("requests") as src, self._dir("requests/claimed") as dst:
                os.rename(
                    request.file, f"{os.getpid()}-{request.file}", src_dir_fd=src, dst_dir_fd=dst
                )
        except FileNotFoundError:
            return False
        return True

    def release(self, request: Request, *, ok: bool, message: str) -> None:
        """Done with a claimed request; a failure is written back for the session to read
        (``requests/outcome-<id>.json``), since the session is still there."""
        with contextlib.suppress(OSError, ChannelError), self._dir("requests/claimed") as fd:
            os.unlink(f"{os.getpid()}-{request.file}", dir_fd=fd)
        if not ok and self.path.is_dir():
            outcome = {
                "schema_version": 1,
                "id": request.body.id,
                "kind": request.kind,
                "ok": False,
                "message": message,
                "at": utcnow().isoformat(),
            }
            with contextlib.suppress(OSError, ChannelError):
                self._write(
                    "requests",
                    f"outcome-{request.body.id}.json",
                    json.dumps(outcome, indent=2).encode() + b"\n",
                )
