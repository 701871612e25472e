"""Lifecycle commands: what makes a new container ready to work.

``on_create_command``, ``update_content_command`` and ``post_create_command`` run once,
in that order, when a container is made; ``post_start_command`` at every start (the first
included). Each is a shell line (``/bin/sh -c``), an argv, or named ones of those run in
parallel (devcontainer.json's object form). They run in the container as its user, in the
workspace, with the session's variables and HOME; their output goes to the terminal
(stderr) and to the session channel's ``logs/lifecycle.log``. One that fails or outlives
``docker.lifecycle_timeout`` fails the start (the caller undoes it): CommandFailed or
CommandTimedOut with the command and the last lines of its output.
"""

from __future__ import annotations

import contextlib
import shlex
import sys
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from para.docker.execio import ExecIO
from para.errors import ChannelError, CommandFailed, CommandTimedOut, ParaError
from para.text import printable

if TYPE_CHECKING:
    from para.config import Command, DockerConfig
    from para.docker.manager import DockerManager
    from para.docker.service import DockerService
    from para.options import ContainerOptions
    from para.state import SessionRecord

ON_CREATE = ("on_create_command", "update_content_command", "post_create_command")
ON_START = "post_start_command"
LOG = "lifecycle.log"
_TAIL_LINES = 20
_LOG_LIMIT = 1 << 20  # what the channel log keeps of a container's lifecycle output


def argv_of(command: str | list[str]) -> list[str]:
    return ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)


def words(command: str | list[str]) -> str:
    return command if isinstance(command, str) else shlex.join(command)


class Run:
    """The lifecycle commands of one container, and where their output goes."""

    def __init__(
        self,
        service: DockerService,
        container_id: str,
        cfg: DockerConfig,
        *,
        channel: Path,
        session: str,
        terminal: BinaryIO | None = None,
    ):
        self.service = service
        self.container_id = container_id
        self.cfg = cfg
        self.channel = channel
        self.session = session
        self.terminal = terminal if terminal is not None else _stderr()
        self.log = bytearray()
        self.lock = threading.Lock()

    def created(self) -> None:
        """The commands of a new container: the create ones, then the start one."""
        for key in ON_CREATE:
            self.stage(key, getattr(self.cfg, key))
        self.started()

    def started(self) -> None:
        self.stage(ON_START, self.cfg.post_start_command)

    def stage(self, key: str, command: Command | None) -> None:
        if not command:
            return
        named = command if isinstance(command, dict) else {"": command}
        failures: list[ParaError] = []
        threads = [
            threading.Thread(target=self._one, args=(key, name, one, failures), daemon=True)
            for name, one in named.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self._save()
        if failures:
            raise failures[0]

    def _one(self, key: str, name: str, command: str | list[str], failures: list[Any]) -> None:
        label = f"{key}{f' {name}' if name else ''}"
        tail: deque[str] = deque(maxlen=_TAIL_LINES)
        out = _Lines(self._emit, f"[{name}] " if name else "", tail)
        self._emit(f"para: {label}: {words(command)}\n".encode())
        try:
            code = self.service.exec(
                self.container_id,
                argv_of(command),
                ExecIO(out, out),  # type: ignore[arg-type]
                workdir=self.cfg.workdir,
                timeout=self.cfg.lifecycle_timeout,
            )
        except CommandTimedOut:
            out.end()
            failures.append(
                CommandTimedOut(
                    what=label,
                    command=words(command),
                    seconds=self.cfg.lifecycle_timeout,
                    output="\n".join(tail),
                    hint="make it finish sooner, or raise docker.lifecycle_timeout",
                )
            )
            return
        except ParaError as exc:
            failures.append(exc)
            return
        out.end()
        if code != 0:
            failures.append(
                CommandFailed(
                    what=label,
                    command=words(command),
                    code=code,
                    output="\n".join(tail),
                    hint="fix the command (docs/containers.md, Lifecycle commands); the "
                    "container was not kept",
                )
            )

    def _emit(self, data: bytes) -> None:
        with self.lock:
            self.terminal.write(data)
            self.terminal.flush()
            self.log += data
            if len(self.log) > _LOG_LIMIT:
                del self.log[: len(self.log) - _LOG_LIMIT]

    def _save(self) -> None:
        """The output so far into the channel (written without following links)."""
        from para.channel.files import ChannelDir

        # the terminal had it all: a channel the container broke loses only the copy
        with contextlib.suppress(OSError, ChannelError):
            ChannelDir(self.channel, self.session).write("logs", LOG, bytes(self.log))


class _Lines:
    """A stream for an exec's output: whole lines, each with ``prefix``, to ``emit``;
    the last lines kept in ``tail`` for an error."""

    def __init__(self, emit: Callable[[bytes], None], prefix: str, tail: deque[str]):
        self.emit = emit
        self.prefix = prefix.encode()
        self.tail = tail
        self.pending = b""

    def write(self, data: bytes) -> int:
        *lines, self.pending = (self.pending + data).split(b"\n")
        for line in lines:
            self._line(line)
        return len(data)

    def flush(self) -> None:
        """Called after every write: whole lines only go out (see ``end``)."""

    def end(self) -> None:
        if self.pending:
            self._line(self.pending)
            self.pending = b""

    def _line(self, line: bytes) -> None:
        # the repository's command, not one the user typed: no control characters reach
        # the terminal (a progress bar's \r included)
        text = printable(line.decode(errors="replace").rstrip("\r").rsplit("\r", 1)[-1])
        self.emit(self.prefix + text.encode() + b"\n")
        self.tail.append(f"  {text}")


def _stderr() -> BinaryIO:
    return cast(BinaryIO, getattr(sys.stderr, "buffer", sys.stderr))


def restarted(
    manager: DockerManager,
    service: DockerService,
    record: SessionRecord,
    options: ContainerOptions | None,
    channel: Path,
) -> None:
    """``post_start_command`` in a container started again; when it fails, the
    container is stopped again (the start did not happen)."""
    from para.options import ContainerOptions

    ref = record.container
    assert ref is not None
    cfg = manager.session_config((options or ContainerOptions()).over(ContainerOptions.given(ref)))
    try:
        Run(
            service, ref.id, cfg, channel=channel, session=record.name, terminal=manager.terminal
        ).started()
    except ParaError:
        with contextlib.suppress(ParaError):
            service.stop(ref.id, cfg.stop_timeout)
        raise
