"""The Docker Engine API over a unix socket, on the standard library, and the one exec path.

The docker SDK costs ~0.2 s to import, longer than ``docker exec`` itself takes. The calls
para makes on a unix socket (ping, list by label, inspect, create, exec...) are small HTTP
requests, so they go through this client, which Docker and Podman listen on by default;
other transports (TCP with TLS, ssh) go through the SDK (``sdk.py``). Podman's
Docker-compatible API speaks the same protocol.

``exec_command`` is the one way para runs a command in a container: the engine adapter
and the ``docker exec`` fast path both call it. It moves bytes between the hijacked
connection and local stdio: the 8-byte framed stream of a non-TTY exec, or a raw TTY with
the local terminal in raw mode and its size forwarded.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import struct
import threading

# Annotations only; not importing typing keeps docker exec's fast path fast.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any, BinaryIO, Protocol

    class ExecAPI(Protocol):
        """What the exec path needs of a transport (UnixAPI, or the SDK's)."""

        def request(
            self,
            method: str,
            path: str,
            *,
            params: dict[str, Any] | None = None,
            body: Any = None,
            timeout: float | None = None,
        ) -> Response: ...

        def exec_start(self, exec_id: str, tty: bool) -> tuple[socket.socket, bytes]: ...


_MAX_HEADER = 64 * 1024


class APIError(Exception):
    """The engine answered with an error status."""

    def __init__(self, status: int, message: str):
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class ConnectionFailed(Exception):
    """The socket could not be reached."""


class Response:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def quote_path(value: str) -> str:
    """Percent-encode everything but unreserved characters (urllib.parse, hand-rolled:
    importing it costs ~3 ms of ``docker exec``'s fast path)."""
    return "".join(c if c in _SAFE else "".join(f"%{b:02X}" for b in c.encode()) for c in value)


def urlencode(params: dict[str, Any]) -> str:
    return "&".join(f"{quote_path(str(k))}={quote_path(str(v))}" for k, v in params.items())


class UnixAPI:
    """HTTP/1.1 over a unix socket; one connection per request."""

    def __init__(self, socket_path: str, *, timeout: float = 60.0):
        self.socket_path = socket_path
        self.url = f"unix://{socket_path}"
        self.timeout = timeout

    def connect(self, timeout: float | None) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout if timeout is None else timeout)
        try:
            sock.connect(self.socket_path)
        except OSError as exc:
            sock.close()
            raise ConnectionFailed(f"{self.socket_path}: {exc.strerror or exc}") from exc
        return sock

    @staticmethod
    def request_bytes(
        method: str, path: str, params: dict[str, Any] | None, body: Any, extra: str = ""
    ) -> bytes:
        target = path
        if params:
            target += "?" + urlencode(params)
        payload = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {target} HTTP/1.1\r\nHost: docker\r\nUser-Agent: para\r\n"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        head += f"Content-Length: {len(payload)}\r\n{extra}\r\n"
        return head.encode() + payload

    @staticmethod
    def read_head(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionFailed("the engine closed the connection before answering")
            buf += chunk
            if len(buf) > _MAX_HEADER:
                raise ConnectionFailed("response header too large")
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        status = int(parts[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        return status, headers, rest

    @staticmethod
    def read_body(sock: socket.socket, headers: dict[str, str], rest: bytes) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return b"".join(_chunks(sock, rest))
        length = headers.get("content-length")
        if length is None:
            return b"".join(_received(sock, rest))
        want = int(length)
        data = bytearray(rest)
        while len(data) < want and (chunk := sock.recv(min(65536, want - len(data)))):
            data += chunk
        return bytes(data[:want])

    def _open(
        self, method: str, path: str, params: dict[str, Any] | None, body: Any, extra: str
    ) -> tuple[socket.socket, dict[str, str], bytes]:
        """Send a request; the connection with the answer's headers (an error status
        raises APIError with the engine's message)."""
        sock = self.connect(None)
        try:
            sock.sendall(self.request_bytes(method, path, params, body, extra))
            status, headers, rest = self.read_head(sock)
            if status >= 400:
                data = self.read_body(sock, headers, rest)
                raise APIError(status, _error_message(Response(status, headers, data)))
        except BaseException:
            sock.close()
            raise
        sock.settimeout(None)
        return sock, headers, rest

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        timeout: float | None = None,
    ) -> Response:
        sock = self.connect(timeout)
        try:
            sock.sendall(self.request_bytes(method, path, params, body, "Connection: close\r\n"))
            status, headers, rest = self.read_head(sock)
            # a HEAD answer announces a length but carries no body
            data = b"" if method == "HEAD" else self.read_body(sock, headers, rest)
        except TimeoutError as exc:
            raise ConnectionFailed(f"{self.socket_path}: no answer in time") from exc
        except OSError as exc:
            raise ConnectionFailed(f"{self.socket_path}: {exc.strerror or exc}") from exc
        finally:
            sock.close()
        response = Response(status, headers, data)
        if status >= 400:
            raise APIError(status, _error_message(response))
        return response

    def exec_start(self, exec_id: str, tty: bool) -> tuple[socket.socket, bytes]:
        """Start an exec and take over the connection as a raw stream."""
        sock, _headers, rest = self._open(
            "POST",
            f"/exec/{quote_path(exec_id)}/start",
            None,
            {"Detach": False, "Tty": tty},
            "Connection: Upgrade\r\nUpgrade: tcp\r\n",
        )
        return sock, rest

    def stream(self, path: str, params: dict[str, Any] | None) -> Iterator[bytes]:
        """GET ``path`` and yield the body as it arrives (logs -f): chunked or until close."""
        sock, headers, rest = self._open("GET", path, params, None, "Connection: close\r\n")
        with contextlib.closing(sock):
            if "chunked" in headers.get("transfer-encoding", "").lower():
                yield from _chunks(sock, rest)
            else:
                yield from _received(sock, rest)


def _error_message(response: Response) -> str:
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])
    return response.body.decode(errors="replace").strip() or f"HTTP {response.status}"


def _chunks(sock: socket.socket, rest: bytes) -> Iterator[bytes]:
    """The payloads of a chunked body as they arrive (ends at the last chunk or close)."""
    buf = bytearray(rest)
    while True:
        while b"\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                return
            buf.extend(chunk)
        line, _, remainder = bytes(buf).partition(b"\r\n")
        buf = bytearray(remainder)
        size = int(line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return
        while len(buf) < size + 2:
            chunk = sock.recv(65536)
            if not chunk:
                if buf:
                    yield bytes(buf)
                return
            buf.extend(chunk)
        yield bytes(buf[:size])
        del buf[: size + 2]


# -- exec -----------------------------------------------------------------------------------


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


def frames(chunks: Iterator[bytes]) -> Iterator[tuple[int, bytes]]:
    """(stream, payload) of an attached stream: 8-byte headers (1 stdout, 2 stderr) when
    the container has no TTY; a raw TTY stream passes through as stdout."""
    buf = bytearray()
    framed: bool | None = None
    for chunk in chunks:
        buf.extend(chunk)
        if framed is None and len(buf) >= 8:
            framed = buf[0] in (0, 1, 2) and buf[1:4] == b"\x00\x00\x00"
        if framed is False:
            yield 1, bytes(buf)
            buf.clear()
            continue
        while len(buf) >= 8:
            size = struct.unpack(">I", bytes(buf[4:8]))[0]
            if len(buf) < 8 + size:
                break
            yield buf[0], bytes(buf[8 : 8 + size])
            del buf[: 8 + size]
    if buf:
        yield 1, bytes(buf)


def demultiplex(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The payloads of an attached stream, frame headers stripped (logs)."""
    return (payload for _stream, payload in frames(chunks))


def _received(sock: socket.socket, rest: bytes) -> Iterator[bytes]:
    if rest:
        yield rest
    while chunk := sock.recv(65536):
        yield chunk


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
    for stream, payload in frames(_received(sock, rest)):
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


def exec_command(
    api: ExecAPI,
    container_id: str,
    argv: list[str],
    io: ExecIO,
    *,
    env: dict[str, str] | None = None,
    workdir: str | None = None,
    user: str | None = None,
) -> int:
    """Run ``argv`` in the container with ``io``; the command's exit code.

    Before the command has started, failures are the transport's (APIError,
    ConnectionFailed: nothing ran); after, ExecLost.
    """
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
                pump_multiplexed(sock, rest, io.stdin, io.stdout, io.stderr)
        code = api.request("GET", f"/exec/{exec_id}/json").json().get("ExitCode")
    except (APIError, ConnectionFailed, OSError, ValueError) as exc:
        raise ExecLost(str(exc)) from exc
    return int(code) if code is not None else 1
