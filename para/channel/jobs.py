"""The command queue: the host enqueues, the runner in the session runs, both read jobs.

The runner moves a job ``queue/ -> running/ -> done/`` and writes ``results/<id>.json``
before the move to ``done/``; the host lists and follows jobs while that happens.
"""

from __future__ import annotations

import base64
import os
import shlex
import stat
import time
from collections.abc import Callable
from datetime import datetime

from para.channel.files import ChannelDir
from para.channel.models import (
    ID_PATTERN,
    Job,
    JobResult,
    JobState,
    QueuedCommand,
    check_id,
    new_id,
)
from para.errors import ChannelError
from para.state import utcnow

# Where a job file lives, in the order the runner moves it.
STAGES = ("queue", "running", "done")
POLL = 0.2


def shell_line(argv: list[str], cwd: str | None, env: dict[str, str]) -> str:
    """The command as one POSIX shell line for the sh runner."""
    parts = []
    if cwd:
        parts.append(f"cd {shlex.quote(cwd)} &&")
    parts.append("exec")
    if env:
        parts.append("env")
        parts.extend(shlex.quote(f"{k}={v}") for k, v in env.items())
    parts.extend(shlex.quote(arg) for arg in argv)
    return " ".join(parts)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


class JobQueue:
    """The queue of one session's channel."""

    def __init__(self, files: ChannelDir):
        self.files = files

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
        self.files.write(
            "queue", f"{seq}-{job_id}.json", command.model_dump_json(indent=2).encode() + b"\n"
        )
        return command

    def _job_files(self, sub: str) -> dict[str, str]:
        """job id -> file name, for ``<seq>-<id>.json`` names (others are rejected)."""
        out: dict[str, str] = {}
        for name in self.files.names(sub):
            if name.startswith("."):
                continue
            stem = name.removesuffix(".json")
            job_id = stem.partition("-")[2]
            if not name.endswith(".json") or not ID_PATTERN.fullmatch(job_id):
                self.files.reject(sub, name, "not a <seq>-<id>.json job file")
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
        for sub in STAGES:
            for job_id, name in self._job_files(sub).items():
                seen[job_id] = (sub, name)
        commands: list[tuple[str, str, QueuedCommand]] = []  # (name, where, command)
        for job_id, (listed, name) in seen.items():
            found = self._job_command(listed, name)
            if found is None:
                continue
            sub, command = found
            if command.id != job_id:
                self.files.reject(sub, name, f"its id {command.id!r} does not match the name")
                continue
            commands.append((name, sub, command))
        results = self._results()
        jobs: list[tuple[str, Job]] = []
        for name, sub, command in commands:
            result = results.get(command.id)
            jobs.append((name, self._job(command, sub, result, runner_alive)))
        return [job for _name, job in sorted(jobs, key=lambda item: item[0])]

    def _job(
        self, command: QueuedCommand, sub: str, result: JobResult | None, runner_alive: bool
    ) -> Job:
        state: JobState = "pending" if sub == "queue" else "running"
        if result is not None:
            state = "interrupted" if result.state == "interrupted" else "done"
        elif sub == "running" and not runner_alive:
            state = "interrupted"
        elif sub == "done":
            state = "interrupted"  # moved without a result: the runner was stopped
        return Job(
            id=command.id,
            state=state,
            argv=command.argv,
            exit_code=result.exit_code if result else None,
            log=str(self.files.path / "logs" / f"{command.id}.log"),
            created_at=command.created_at.isoformat(),
            started_at=_iso(result.started_at) if result else None,
            finished_at=_iso(result.finished_at) if result else None,
            timed_out=result is not None and result.state == "timeout",
        )

    def _job_command(self, listed: str, name: str) -> tuple[str, QueuedCommand] | None:
        """The job file ``name`` where it was listed, or further on if it moved since."""
        for sub in STAGES[STAGES.index(listed) :]:
            command: QueuedCommand | None = self.files.load(sub, name, QueuedCommand)
            if command is not None:
                return sub, command
        return None

    def _results(self) -> dict[str, JobResult]:
        out: dict[str, JobResult] = {}
        for name in self.files.names("results"):
            if name.startswith("."):
                continue
            job_id = name.removesuffix(".json")
            if not name.endswith(".json") or not ID_PATTERN.fullmatch(job_id):
                self.files.reject("results", name, "not an <id>.json result file")
                continue
            result: JobResult | None = self.files.load("results", name, JobResult)
            if result is None:
                continue
            if result.id != job_id:
                self.files.reject("results", name, f"its id {result.id!r} does not match the name")
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
            problem=f"no job {job_id} in session {self.files.session}",
            hint=f"see the jobs with: para docker jobs {self.files.session}",
        )

    def log_chunks(self, job_id: str, offset: int = 0) -> tuple[bytes, int]:
        """New log output of a job from ``offset`` (streamed, any size; never a symlink)."""
        check_id(job_id)
        try:
            with self.files.open_dir("logs") as dfd:
                fd = os.open(
                    f"{job_id}.log", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd
                )
        except (OSError, ChannelError):
            return b"", offset
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return b"", offset
            os.lseek(fd, offset, os.SEEK_SET)
            data = os.read(fd, 1 << 20)
            return data, offset + len(data)
        finally:
            os.close(fd)

    # -- waiting -------------------------------------------------------------------------------

    def wait_all(self, alive: Callable[[], bool]) -> list[Job]:
        """Wait until no job is pending or running; the jobs then. ``alive`` says whether
        the runner can still get to them (False: RunnerStopped)."""
        while any(not job.ended for job in self.jobs()):
            if not alive():
                raise self.runner_stopped()
            time.sleep(POLL)
        return self.jobs(runner_alive=alive())

    def follow(
        self,
        job_id: str,
        *,
        alive: Callable[[], bool],
        output: Callable[[bytes], None] | None,
        wait: bool,
    ) -> Job:
        """A job, its log passed to ``output`` as it grows; with ``wait``, until it ends."""
        offset = 0
        job = self.job(job_id, runner_alive=alive())
        while True:
            if output is not None:
                data, offset = self.log_chunks(job_id, offset)
                if data:
                    output(data)
            if not wait or job.ended:
                return job
            if not alive():
                raise self.runner_stopped()
            time.sleep(POLL)
            job = self.job(job_id, runner_alive=alive())

    def runner_stopped(self) -> ChannelError:
        name = self.files.session
        return ChannelError(
            problem=f"the container of session {name} is not running: queued jobs wait for it",
            hint=f"para docker start {name}",
        )
