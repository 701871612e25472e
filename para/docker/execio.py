"""The one exec path: how para runs a command in a container and moves its bytes between
the hijacked connection and local stdio. The engine adapter and the ``docker exec`` fast
path both call ``exec_command``; like ``http.py`` it needs only the standard library.

A non-TTY exec's output comes as the 8-byte framed stream of stdout and stderr; with a
TTY the local terminal goes into raw mode and its size is forwarded.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading

from para.docker.http import APIError, ConnectionFailed, frames, quote_path, received

# Annotations only; not importing typing keeps docker exec's fast path fast.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import BinaryIO

    from para.docker.http import Transport


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


def _write_flush(stream: BinaryIO, data: bytes) -> None:
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
    for stream, payload in frames(received(sock, rest)):
        _write_flush(stderr if stream == 2 else stdout, payload)


def pump_tty(
    resize_exec: Callable[[int, int], None],
    sock: socket.socket,
    rest: bytes,
    stdin: BinaryIO | None,
    stdout: BinaryIO,
) -> None:
    """Interactive session: local terminal in raw mode, resize forwarded."""
    if rest:
        _write_flush(stdout, rest)
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
            resize_exec(size.lines, size.columns)

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
                _write_flush(stdout, chunk)
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


class ExecIO:
    """Where an exec's streams go; ``stdin`` None: no input. (Not a dataclass: that
    import costs the fast path ~10 ms.)"""

    __slots__ = ("stderr", "stdin", "stdout", "tty")

    def __init__(
        self,
        stdout: BinaryIO,
        stderr: BinaryIO,
        stdin: BinaryIO | None = None,
        *,
        tty: bool = False,
    ):
        self.stdout = stdout
        self.stderr = stderr
        self.stdin = stdin
        self.tty = tty


class ExecLost(Exception):
    """The engine connection broke after the command had started."""


class ExecTimedOut(Exception):
    """The command ran past its time limit; it was killed."""


def exec_command(
    api: Transport,
    container_id: str,
    argv: list[str],
    io: ExecIO,
    *,
    env: dict[str, str] | None = None,
    workdir: str | None = None,
    user: str | None = None,
    timeout: float | None = None,
) -> int:
    """Run ``argv`` in the container with ``io``; the command's exit code, or 130 when
    Ctrl-C stopped it. Past ``timeout`` seconds (no TTY) it is killed: ExecTimedOut.

    Before the command has started, failures are the transport's (APIError,
    ConnectionFailed: nothing ran); after, ExecLost. Without a TTY, Ctrl-C does not
    reach the command through the stream: para signals it (and what it started) inside
    the container, by the ``PARA_EXEC`` tag in its environment, SIGINT first and SIGKILL
    after a grace period or a second Ctrl-C.
    """
    tag = os.urandom(8).hex()
    env = {**(env or {}), "PARA_EXEC": tag}
    config = exec_config(
        argv, stdin=io.stdin is not None, tty=io.tty, env=env, workdir=workdir, user=user
    )
    exec_id = api.request(
        "POST", f"/containers/{quote_path(container_id)}/exec", body=config
    ).json()["Id"]
    sock, rest = api.exec_start(exec_id, io.tty)

    def resize(rows: int, cols: int) -> None:
        with contextlib.suppress(APIError, ConnectionFailed):
            api.request("POST", f"/exec/{exec_id}/resize", params={"h": rows, "w": cols})

    try:
        with contextlib.closing(sock):
            if io.tty:
                pump_tty(resize, sock, rest, io.stdin, io.stdout)
            else:
                ended = _pump_until_done(
                    sock, rest, io, lambda sig: _signal(api, container_id, tag, sig), timeout
                )
                if ended == "interrupted":
                    return 130
                if ended == "timeout":
                    raise ExecTimedOut(f"still running after {timeout:g}s")
        state = api.request("GET", f"/exec/{exec_id}/json").json()
    except (APIError, ConnectionFailed, OSError, ValueError) as exc:
        raise ExecLost(str(exc)) from exc
    if state.get("Running"):  # the stream ended, the command did not: the link broke
        raise ExecLost("the output stopped while the command still runs")
    code = state.get("ExitCode")
    return int(code) if code is not None else 1


GRACE = 10.0
# Signals every process whose environment holds the tag ($0) with the signal ($1).
_SIGNAL_SCRIPT = (
    "for p in /proc/[0-9]*; do "
    'if tr "\\000" "\\n" < "$p/environ" 2>/dev/null | grep -qx "$0"; then '
    'kill -"$1" "${p#/proc/}" 2>/dev/null; fi; done; true'
)


def _pump_until_done(
    sock: socket.socket,
    rest: bytes,
    io: ExecIO,
    send: Callable[[str], None],
    timeout: float | None = None,
) -> str:
    """Move the stream in a thread while this one waits for Ctrl-C or the time limit:
    ``done``, ``interrupted`` (the command got SIGINT, and SIGKILL if it lingered) or
    ``timeout`` (it got SIGKILL)."""
    import time

    failed: list[BaseException] = []
    deadline = None if timeout is None else time.monotonic() + timeout

    def pump() -> None:
        try:
            pump_multiplexed(sock, rest, io.stdin, io.stdout, io.stderr)
        except BaseException as exc:
            failed.append(exc)

    mover = threading.Thread(target=pump, daemon=True)
    mover.start()
    try:
        while mover.is_alive():
            mover.join(0.2)
            if deadline is not None and time.monotonic() > deadline and mover.is_alive():
                send("KILL")
                mover.join(5.0)
                return "timeout"
    except KeyboardInterrupt:
        send("INT")
        with contextlib.suppress(KeyboardInterrupt):
            mover.join(GRACE)
        if mover.is_alive():
            send("KILL")
            mover.join(2.0)
        return "interrupted"
    if failed:
        raise failed[0]
    return "done"


def _signal(api: Transport, container_id: str, tag: str, signal_name: str) -> None:
    """Send ``signal_name`` to the processes of an exec, by its tag (best effort)."""
    argv = ["/bin/sh", "-c", _SIGNAL_SCRIPT, f"PARA_EXEC={tag}", signal_name]
    config = exec_config(argv, stdin=False, tty=False)
    with contextlib.suppress(APIError, ConnectionFailed, OSError, ValueError, KeyError):
        exec_id = api.request(
            "POST", f"/containers/{quote_path(container_id)}/exec", body=config
        ).json()["Id"]
        sock, rest = api.exec_start(exec_id, False)
        with contextlib.closing(sock):
            for _chunk in received(sock, rest):
                pass
