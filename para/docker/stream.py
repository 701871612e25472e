"""Moving bytes between a hijacked exec connection and local stdio.

Kept free of click, pydantic and the docker SDK: ``para docker exec``'s fast path uses
it directly.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
import threading

# Annotations only; not importing typing keeps docker exec's fast path fast.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import BinaryIO


def exec_config(
    argv: list[str],
    *,
    stdin: bool,
    tty: bool,
    env: dict[str, str] | None = None,
    workdir: str | None = None,
    user: str | None = None,
) -> dict[str, object]:
    """The body of ``POST /containers/{id}/exec`` (shared by the engine and the fast path)."""
    config: dict[str, object] = {
        "AttachStdin": stdin,
        "AttachStdout": True,
        "AttachStderr": True,
        "Tty": tty,
        "Cmd": argv,
    }
    if env:
        config["Env"] = [f"{k}={v}" for k, v in env.items()]
    if workdir:
        config["WorkingDir"] = workdir
    if user:
        config["User"] = user
    return config


def demultiplex(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Strip the 8-byte frame headers of a non-TTY stream; raw streams pass through."""
    buf = bytearray()
    framed: bool | None = None
    for chunk in chunks:
        buf.extend(chunk)
        if framed is None and len(buf) >= 8:
            framed = buf[0] in (0, 1, 2) and buf[1:4] == b"\x00\x00\x00"
        if framed is False:
            yield bytes(buf)
            buf.clear()
            continue
        while len(buf) >= 8:
            size = struct.unpack(">I", bytes(buf[4:8]))[0]
            if len(buf) < 8 + size:
                break
            yield bytes(buf[8 : 8 + size])
            del buf[: 8 + size]
    if buf:
        yield bytes(buf)


def _write(stream: BinaryIO, data: bytes) -> None:
    stream.write(data)
    stream.flush()


def _feed_stdin(sock: socket.socket, stdin: BinaryIO) -> None:
    """Copy stdin into the exec, then half-close so the command sees end of input."""
    try:
        fd = stdin.fileno()
    except (OSError, ValueError, AttributeError):
        fd = -1
    try:
        while True:
            data = os.read(fd, 65536) if fd >= 0 else stdin.read(65536)
            if not data:
                break
            sock.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)


def pump_multiplexed(
    sock: socket.socket, rest: bytes, stdin: BinaryIO | None, stdout: BinaryIO, stderr: BinaryIO
) -> None:
    if stdin is not None:
        threading.Thread(target=_feed_stdin, args=(sock, stdin), daemon=True).start()
    buf = bytearray(rest)
    while True:
        while len(buf) >= 8:
            kind = buf[0]
            size = struct.unpack(">I", bytes(buf[4:8]))[0]
            if len(buf) < 8 + size:
                break
            payload = bytes(buf[8 : 8 + size])
            del buf[: 8 + size]
            _write(stderr if kind == 2 else stdout, payload)
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf.extend(chunk)


def pump_tty(
    resize_exec: Callable[[str, int, int], None],
    exec_id: str,
    sock: socket.socket,
    rest: bytes,
    stdin: BinaryIO | None,
    stdout: BinaryIO,
) -> None:
    """Interactive session: local terminal in raw mode, resize forwarded."""
    if rest:
        _write(stdout, rest)
    in_fd = stdin.fileno() if stdin is not None else -1
    restore: Callable[[], None] = lambda: None  # noqa: E731
    if in_fd >= 0 and os.isatty(in_fd):
        import signal
        import termios
        import tty as ttymod

        saved = termios.tcgetattr(in_fd)
        ttymod.setraw(in_fd)

        def resize(*_args: object) -> None:
            size = os.get_terminal_size(in_fd)
            resize_exec(exec_id, size.lines, size.columns)

        resize()
        previous = signal.signal(signal.SIGWINCH, resize)

        def restore() -> None:
            termios.tcsetattr(in_fd, termios.TCSADRAIN, saved)
            signal.signal(signal.SIGWINCH, previous)

    try:
        watch = [sock] + ([in_fd] if in_fd >= 0 else [])
        while True:
            ready, _, _ = select.select(watch, [], [])
            if sock in ready:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                _write(stdout, chunk)
            if in_fd in ready:
                data = os.read(in_fd, 65536)
                if not data:
                    watch.remove(in_fd)
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_WR)
                else:
                    sock.sendall(data)
    finally:
        restore()
