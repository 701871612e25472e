"""Session records under ``.para/state``: one JSON file per session, written atomically.

Writers take one FileLock for the store, re-read, change, and replace the file through a
temp file in the same directory (fsync, ``os.replace``), so a reader never sees half a
file. A record that does not parse is reported by name and skipped, never fatal for
``list``. A session being started holds an exclusive ``NAME.starting`` marker, so the
same name started twice at once has exactly one winner.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from para.errors import (
    SessionExists,
    SessionNotFound,
    StateError,
    StateLocked,
    validation_lines,
)
from para.repo import Repo

SCHEMA_VERSION: Literal[1] = 1
SessionStatus = Literal["active", "review", "cancelled"]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContainerRef(_Record):
    """What the record remembers of a session's container; the engine has the rest."""

    id: str
    name: str
    image: str
    backend: Literal["docker", "podman"]
    endpoint: str
    network: str | None = None
    network_mode: str = "bridge"
    ports: dict[str, int] = Field(default_factory=dict)
    workdir: str = "/workspace"
    user: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    # "own": the container has a repository of its own (.para/state/git/NAME);
    # "shared": made before that, with the host's .git mounted (status flags it)
    git: Literal["shared", "own"] = "shared"


class SessionRecord(_Record):
    schema_version: Literal[1] = SCHEMA_VERSION
    name: str
    branch: str
    base: str
    base_commit: str
    worktree: str
    git_admin: str | None = None
    created_at: datetime
    status: SessionStatus = "active"
    container: ContainerRef | None = None
    previous_container: ContainerRef | None = None
    report: dict[str, Any] | None = None
    archive_branch: str | None = None
    wip_commit: str | None = None
    message: str | None = None
    finished_at: datetime | None = None
    last_request: dict[str, Any] | None = None
    pending: Literal["finish", "cancel"] | None = None
    pending_branch: str | None = None


@dataclass(frozen=True)
class BadRecord:
    """A record file that could not be read, with the reason."""

    path: Path
    reason: str


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write through a temp file in the same directory, fsync, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def parse_record(path: Path, raw: bytes) -> SessionRecord:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StateError(problem=f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise StateError(problem=f"{path}: not a JSON object")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise StateError(problem=f"{path}: unknown schema_version {version!r}")
    try:
        return SessionRecord.model_validate(data)
    except ValidationError as exc:
        raise StateError(problem=f"{path}: {'; '.join(validation_lines(exc.errors()))}") from exc


class StateStore:
    """Records of one repository's sessions."""

    def __init__(self, repo: Repo, *, lock_timeout: float = 15.0):
        self.repo = repo
        self.lock_timeout = lock_timeout
        self._session_locks: dict[str, Any] = {}

    @property
    def lock_path(self) -> Path:
        return self.repo.state_dir / ".lock"

    def path_of(self, name: str) -> Path:
        return self.repo.sessions_dir / f"{name}.json"

    # -- locking ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """The store's lock, around every change of a record."""
        from filelock import FileLock

        self.repo.state_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.lock_path), thread_local=False)
        with _held(lock, self.lock_path, self.lock_timeout, "another para process"):
            yield

    @contextlib.contextmanager
    def session_lock(self, name: str, *, timeout: float = 120.0) -> Iterator[None]:
        """One session's lock: what changes the session as a whole (bringing in the
        container's commits, finish, cancel, recover) runs under it. Re-entrant within
        this process; ``timeout`` 0 fails at once (StateLocked) when another holds it."""
        from filelock import FileLock

        lock = self._session_locks.get(name)
        if lock is None:
            path = self.repo.state_dir / "locks" / f"{name}.lock"
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = self._session_locks[name] = FileLock(str(path), thread_local=False)
        with _held(lock, Path(lock.lock_file), timeout, f"another para process on {name}"):
            yield

    @contextlib.contextmanager
    def reserve(self, name: str) -> Iterator[None]:
        """Hold ``NAME.starting`` exclusively while a session is created."""
        self.repo.sessions_dir.mkdir(parents=True, exist_ok=True)
        marker = self.repo.sessions_dir / f"{name}.starting"
        for _attempt in range(2):
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = _marker_pid(marker)
                if holder is not None and not pid_alive(holder):
                    with contextlib.suppress(FileNotFoundError):
                        marker.unlink()  # left by a process that died mid-start
                    continue
                who = f"process {holder}" if holder else "another process"
                raise SessionExists(name=name, reason=f"being started by {who}") from None
            break
        else:
            raise SessionExists(name=name, reason="being started by another process")
        try:
            os.write(fd, str(os.getpid()).encode())
        finally:
            os.close(fd)
        try:
            yield
        finally:
            with contextlib.suppress(FileNotFoundError):
                marker.unlink()

    def stale_markers(self) -> list[Path]:
        if not self.repo.sessions_dir.is_dir():
            return []
        stale = []
        for marker in self.repo.sessions_dir.glob("*.starting"):
            pid = _marker_pid(marker)
            if pid is None or not pid_alive(pid):
                stale.append(marker)
        return stale

    # -- records ----------------------------------------------------------------------------

    def exists(self, name: str) -> bool:
        return self.path_of(name).exists()

    def read(self, name: str) -> SessionRecord:
        path = self.path_of(name)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise SessionNotFound(name=name) from None
        return parse_record(path, raw)

    def load_all(self) -> tuple[list[SessionRecord], list[BadRecord]]:
        records: list[SessionRecord] = []
        bad: list[BadRecord] = []
        if not self.repo.sessions_dir.is_dir():
            return records, bad
        for path in sorted(self.repo.sessions_dir.glob("*.json")):
            try:
                records.append(parse_record(path, path.read_bytes()))
            except StateError as exc:
                bad.append(BadRecord(path=path, reason=str(exc.message)))
            except FileNotFoundError:
                continue  # removed between glob and read
        return records, bad

    def write(self, record: SessionRecord) -> None:
        with self.lock():
            self._write_unlocked(record)

    def _write_unlocked(self, record: SessionRecord) -> None:
        data = record.model_dump_json(indent=2).encode() + b"\n"
        write_atomic(self.path_of(record.name), data)

    def update(self, name: str, change: Callable[[SessionRecord], SessionRecord]) -> SessionRecord:
        """Lock, re-read, apply ``change``, write; returns the new record."""
        with self.lock():
            record = change(self.read(name))
            self._write_unlocked(record)
            return record

    def delete(self, name: str) -> None:
        with self.lock(), contextlib.suppress(FileNotFoundError):
            self.path_of(name).unlink()

    def archive(self, record: SessionRecord) -> Path:
        """Move a finished or cancelled record out of the way of a new session of its name."""
        stamp = (record.finished_at or utcnow()).strftime("%Y%m%dT%H%M%SZ")
        target = self.repo.archive_dir / f"{stamp}-{record.name}.json"
        with self.lock():
            write_atomic(target, record.model_dump_json(indent=2).encode() + b"\n")
            with contextlib.suppress(FileNotFoundError):
                self.path_of(record.name).unlink()
        return target

    def load_archived(self) -> tuple[list[tuple[Path, SessionRecord]], list[BadRecord]]:
        records: list[tuple[Path, SessionRecord]] = []
        bad: list[BadRecord] = []
        if not self.repo.archive_dir.is_dir():
            return records, bad
        for path in sorted(self.repo.archive_dir.glob("*.json")):
            try:
                records.append((path, parse_record(path, path.read_bytes())))
            except StateError as exc:
                bad.append(BadRecord(path=path, reason=str(exc.message)))
        return records, bad

    def remove_archived(self, path: Path) -> None:
        with self.lock(), contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def _held(lock: Any, path: Path, timeout: float, who: str) -> Iterator[None]:
    """Hold a FileLock; say "waiting" only when actually blocked; StateLocked at timeout."""
    from filelock import Timeout

    try:
        lock.acquire(timeout=0)
    except Timeout:
        if timeout <= 0:
            raise StateLocked(path=str(path), seconds=0) from None
        print(f"waiting for {who} (lock {path})", file=sys.stderr)
        try:
            lock.acquire(timeout=timeout)
        except Timeout as exc:
            raise StateLocked(path=str(path), seconds=timeout) from exc
    try:
        yield
    finally:
        lock.release()


def _marker_pid(marker: Path) -> int | None:
    try:
        return int(marker.read_text().strip() or "0") or None
    except (OSError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
