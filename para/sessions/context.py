"""``SessionContext``: what every session use case works with, built by ``para.app``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from para.config import Config
from para.errors import ContainerError, WorktreeError
from para.git import Git, Worktree
from para.repo import Repo
from para.state import ContainerRef, SessionRecord, StackRef, StateStore

if TYPE_CHECKING:
    from para.channel.channel import Channel
    from para.docker.execio import ExecIO
    from para.options import ContainerOptions


class StackHooks(Protocol):
    """What sessions need of their services (implemented by ``para.docker.stacks``)."""

    def check(self) -> None: ...

    def up(
        self,
        record: SessionRecord,
        undo: contextlib.ExitStack,
        *,
        previous: StackRef | None = None,
    ) -> StackRef | None: ...

    def stop(self, record: SessionRecord) -> None: ...

    def down(self, record: SessionRecord) -> None: ...

    def env_file(self, name: str) -> Path: ...

    def logs(
        self, record: SessionRecord, service: str, *, follow: bool, tail: int | None
    ) -> Iterator[bytes]: ...

    def exec(
        self,
        record: SessionRecord,
        service: str,
        argv: list[str],
        io: ExecIO,
        *,
        env: dict[str, str] | None = None,
        workdir: str | None = None,
    ) -> int: ...


class ContainerHooks(Protocol):
    """What sessions need from the container layer (implemented by DockerManager)."""

    @property
    def stacks(self) -> StackHooks: ...

    def check_engine(self, options: ContainerOptions | None) -> None: ...

    def create_for(
        self, record: SessionRecord, options: ContainerOptions | None, undo: contextlib.ExitStack
    ) -> ContainerRef: ...

    def remove_for(self, record: SessionRecord) -> None: ...

    def stop(self, record: SessionRecord) -> None: ...

    def remove_leftovers(self, name: str) -> int: ...

    def states(
        self, records: list[SessionRecord], *, probe: bool = False
    ) -> dict[str, dict[str, Any]]: ...

    def details(self, record: SessionRecord) -> dict[str, Any]: ...

    def logs(self, record: SessionRecord, *, follow: bool, tail: int | None) -> Iterator[bytes]: ...

    def exec(
        self,
        record: SessionRecord,
        argv: list[str],
        io: ExecIO,
        *,
        env: dict[str, str] | None = None,
        workdir: str | None = None,
    ) -> int: ...

    def attach(self, record: SessionRecord, io: ExecIO) -> int: ...

    def exec_all(
        self,
        argv: list[str],
        *,
        env: dict[str, str] | None,
        workdir: str | None,
        out: Any,
        err: Any,
    ) -> int: ...


@dataclass
class SessionContext:
    """One repository's sessions: its paths, configuration, records, git and, when
    asked for, its containers. ``warnings`` collects what a use case noticed but did
    not fail on; the CLI prints them."""

    repo: Repo
    config: Config
    store: StateStore
    git: Git
    env: dict[str, str]
    containers_factory: Callable[[], ContainerHooks] | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def worktrees_dir(self) -> Path:
        path = Path(self.config.worktrees_dir).expanduser()
        return path if path.is_absolute() else self.repo.root / path

    @property
    def containers(self) -> ContainerHooks:
        if self.containers_factory is None:
            raise ContainerError(problem="containers are not available in this setup")
        return self.containers_factory()

    def branch_for(self, name: str) -> str:
        return f"{self.config.branch_prefix}/{name}"

    def worktree_for(self, name: str) -> Path:
        return self.worktrees_dir / name

    def worktree_ref(self, rec: SessionRecord) -> Worktree:
        """The worktree with the admin dir para recorded (git's, not the worktree's word)."""
        path = Path(rec.worktree)
        admin = Path(rec.git_admin) if rec.git_admin else self.git.admin_dir(path)
        if admin is None:
            raise WorktreeError(
                problem=f"git has no worktree entry for {path}",
                hint="para clean repairs a worktree deleted by hand",
            )
        return Worktree(path, admin)

    def channel(self, name: str) -> Channel:
        from para.channel.channel import Channel

        return Channel(self.repo.channels_dir / name, name)
