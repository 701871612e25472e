"""A session's services from the command line: a command in one
(``para docker exec NAME --service S``) and their output (``para docker logs NAME
--service S`` or ``--all``, interleaved and prefixed)."""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Iterator

from para.errors import ContainerError, ContainerNotFound, ParaError
from para.sessions.context import SessionContext
from para.sessions.run import process_io
from para.state import SessionRecord


def run_in_service(
    ctx: SessionContext,
    record: SessionRecord,
    service: str,
    argv: list[str],
    *,
    env: dict[str, str],
    workdir: str | None,
) -> int:
    """``argv`` in one of the session's services with this process's stdio."""
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    return ctx.containers.stacks.exec(
        record, service, argv, process_io(tty=tty), env=env, workdir=workdir
    )


def logs(
    ctx: SessionContext,
    record: SessionRecord,
    *,
    service: str | None,
    every: bool,
    follow: bool,
    tail: int | None,
) -> Iterator[bytes]:
    """One service's output, or (``every``) the container's and every service's,
    line by line as they come, each line prefixed with its source."""
    if service is not None:
        return ctx.containers.stacks.logs(record, service, follow=follow, tail=tail)
    if not every:
        if record.container is None:
            raise ContainerNotFound(
                name=record.name,
                hint="its services' output: para docker logs NAME --service S (or --all)",
            )
        return ctx.containers.logs(record, follow=follow, tail=tail)
    sources: dict[str, Iterator[bytes]] = {}
    if record.container is not None:
        sources[record.name] = ctx.containers.logs(record, follow=follow, tail=tail)
    for name in record.stack.services if record.stack else {}:
        sources[name] = ctx.containers.stacks.logs(record, name, follow=follow, tail=tail)
    if not sources:
        raise ContainerError(
            problem=f"session {record.name!r} has neither a container nor services",
            hint=f"give it a container: para docker start {record.name}",
        )
    return _interleaved(sources)


def _interleaved(sources: dict[str, Iterator[bytes]]) -> Iterator[bytes]:
    """Whole lines from every source in the order they arrive, ``[name] `` first."""
    width = max(len(name) for name in sources)
    lines: queue.Queue[bytes | None] = queue.Queue()

    def pump(name: str, chunks: Iterator[bytes]) -> None:
        prefix = f"[{name}]".ljust(width + 2).encode() + b" "
        pending = b""
        try:
            for chunk in chunks:
                *whole, pending = (pending + chunk).split(b"\n")
                for line in whole:
                    lines.put(prefix + line + b"\n")
        except ParaError as exc:
            lines.put(prefix + f"(output ended: {exc.message})\n".encode())
        finally:
            if pending:
                lines.put(prefix + pending + b"\n")
            lines.put(None)

    for name, chunks in sources.items():
        threading.Thread(target=pump, args=(name, chunks), daemon=True).start()
    running = len(sources)
    while running:
        item = lines.get()
        if item is None:
            running -= 1
        else:
            yield item
