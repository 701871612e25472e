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
    validation_lines,
)
from para.locks import held
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
    image_source: str | None = None  # where the choice of image came from
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


class ServiceRef(_Record):
    """One service container of a session's stack."""

    id: str
    name: str
    image: str
    # container port -> published host port (on 127.0.0.1); kept so a restart or a
    # recreate gets the same ports back
    ports: dict[str, int] = Field(default_factory=dict)


class StackRef(_Record):
    """A session's services: their network, volumes and containers, on one engine."""

    backend: Literal["docker", "podman"]
    endpoint: str
    network: str
    volumes: list[str] = Field(default_factory=list)
    services: dict[str, ServiceRef] = Field(default_factory=dict)


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
    stack: StackRef | None = None
    previous_stack: StackRef | None = None  # an ended session's, for recover
    report: dict[str, Any] | None = None
    archive_branch: str | None = None
    wip_commit: str | None = None
    message: str | None = None
    finished_at: datetime | None = None
    last_request: dict[str, Any] | None = None
    pending: Literal["finish", "cancel"] | None = None
    pending_branch: str | None = None
    # "cleanup": the work is on its branch; what is left is removing (re-run: only that)
    pending_step: Literal["cleanup"] | None = None


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


def parse_record(path: Path, raw: bytes, *, name: str | None = None) -> SessionRecord:
    """A record from its file; ``name``, the session its file name says it is (a record
    that says otherwise would overwrite another session's on its next write)."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StateError(problem=f"{path}: not valid JSON ({exc})") from exc
    except RecursionError:
        raise StateError(problem=f"{path}: not valid JSON (nested too deeply)") from None
    if not isinstance(data, dict):
        raise StateError(problem=f"{path}: not a JSON object")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise StateError(problem=f"{path}: unknown schema_version {version!r}")
    try:
        record = SessionRecord.model_validate(data)
    except ValidationError as exc:
        raise StateError(problem=f"{path}: {'; '.join(validation_lines(exc.errors()))}") from exc
    if name is not None and record.name != name:
        raise StateError(problem=f"{path}: names session {record.name!r}, not {name!r}")
    return record


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
        with held(lock, self.lock_path, self.lock_timeout, "another para process"):
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
        with held(lock, Path(lock.lock_file), timeout, f"another para process on {name}"):
            yield

    @contextlib.contextmanager
    def reserve(self, name: str) -> Iterator[Callable[..., None]]:
        """Hold ``NAME.starting`` exclusively while a session is created; yields ``note``,
        which records in the marker what the start is about to make (branch, worktree,
        base commit), so that ``para clean`` can undo a start that was killed."""
        self._private()
        self.repo.sessions_dir.mkdir(parents=True, exist_ok=True)
        marker = self.repo.sessions_dir / f"{name}.starting"
        for _attempt in range(2):
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:
                left = marker_facts(marker)
                holder = left.get("pid")
                if isinstance(holder, int) and not pid_alive(holder):
                    if "branch" in left:
                        raise SessionExists(
                            name=name,
                            reason="a start of it was interrupted and left things behind",
                            hint="para clean finishes undoing it",
                        ) from None
                    with contextlib.suppress(FileNotFoundError):
                        marker.unlink()  # a start that died before making anything
                    continue
                who = f"process {holder}" if holder else "another process"
                raise SessionExists(name=name, reason=f"being started by {who}") from None
            break
        else:
            raise SessionExists(name=name, reason="being started by another process")
        facts: dict[str, Any] = {"pid": os.getpid()}
        try:
            os.write(fd, json.dumps(facts).encode())
        finally:
            os.close(fd)

        def note(**more: Any) -> None:
            facts.update(more)
            write_atomic(marker, json.dumps(facts).encode(), mode=0o600)

        try:
            yield note
        finally:
            with contextlib.suppress(FileNotFoundError):
                marker.unlink()

    def stale_markers(self) -> list[Path]:
        if not self.repo.sessions_dir.is_dir():
            return []
        stale = []
        for marker in self.repo.sessions_dir.glob("*.starting"):
            pid = marker_facts(marker).get("pid")
            if not isinstance(pid, int) or not pid_alive(pid):
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
        except IsADirectoryError:
            raise StateError(problem=f"{path}: a directory, not a record") from None
        return parse_record(path, raw, name=name)

    def load_all(self) -> tuple[list[SessionRecord], list[BadRecord]]:
        records: list[SessionRecord] = []
        bad: list[BadRecord] = []
        if not self.repo.sessions_dir.is_dir():
            return records, bad
        for path in sorted(self.repo.sessions_dir.glob("*.json")):
            if path.is_symlink() or not path.is_file():
                bad.append(BadRecord(path=path, reason=f"{path}: not a regular file"))
                continue
            try:
                records.append(parse_record(path, path.read_bytes(), name=path.stem))
            except StateError as exc:
                bad.append(BadRecord(path=path, reason=str(exc.message)))
            except FileNotFoundError:
                continue  # removed between glob and read
        return records, bad

    def write(self, record: SessionRecord, *, replacing: SessionRecord | None = None) -> None:
        """Write ``record``; ``replacing``, an ended session of the same name, goes to
        the archive in the same locked step."""
        with self.lock():
            if replacing is not None:
                self._archive_unlocked(replacing)
            self._write_unlocked(record)

    def _write_unlocked(self, record: SessionRecord) -> None:
        data = record.model_dump_json(indent=2).encode() + b"\n"
        self._private()
        write_atomic(self.path_of(record.name), data, mode=0o600)

    def _private(self) -> None:
        """Records hold the values of ``--env``: the state directory is the user's alone."""
        state = self.repo.state_dir
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        if state.stat().st_mode & 0o077:
            state.chmod(0o700)

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
        """Move a finished or cancelled record out of the way of a new session of its
        name (a new file each time: two archives of one name never share one)."""
        with self.lock():
            return self._archive_unlocked(record)

    def _archive_unlocked(self, record: SessionRecord) -> Path:
        stamp = (record.finished_at or utcnow()).strftime("%Y%m%dT%H%M%SZ")
        target = self.repo.archive_dir / f"{stamp}-{record.name}.json"
        n = 1
        while target.exists():
            n += 1
            target = self.repo.archive_dir / f"{stamp}.{n}-{record.name}.json"
        self._private()
        write_atomic(target, record.model_dump_json(indent=2).encode() + b"\n", mode=0o600)
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


def marker_facts(marker: Path) -> dict[str, Any]:
    """What a ``NAME.starting`` marker says: ``pid``, and once the start got that far,
    ``branch``, ``worktree`` and ``base_commit`` (an older marker holds the pid alone)."""
    try:
        text = marker.read_text().strip()
    except OSError:
        return {}
    if text.isdigit():
        return {"pid": int(text)}
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
