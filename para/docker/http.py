"""The Docker Engine API over a unix socket, on the standard library.

The docker SDK costs ~0.2 s to import, longer than ``docker exec`` takes, so requests on a
unix socket (Docker's and Podman's default) go through this client; other transports go
through the SDK (``sdk.py``), behind the same ``Transport`` interface. It also reads the
engine's attached streams: chunked bodies, and the 8-byte frames of a non-TTY stream.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct

# Annotations only; not importing typing keeps docker exec's fast path fast.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, BinaryIO, Protocol

    class Transport(Protocol):
        """How the engine adapter talks to an engine: UnixAPI, or the SDK's."""

        url: str

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

        def stream(self, path: str, params: dict[str, Any] | None) -> Iterator[bytes]: ...

        def upload(
            self, path: str, params: dict[str, Any], data: BinaryIO, size: int
        ) -> Iterator[bytes]: ...


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
            return b"".join(received(sock, rest))
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
        yield from self._answer(sock, headers, rest)

    def upload(
        self, path: str, params: dict[str, Any], data: BinaryIO, size: int
    ) -> Iterator[bytes]:
        """POST a tar of ``size`` bytes from ``data`` (a build context) and yield the
        answer as it arrives; no time limit once the body is sent (a build step may be
        silent for long)."""
        sock = self.connect(None)
        try:
            head = (
                f"POST {path}?{urlencode(params)} HTTP/1.1\r\nHost: docker\r\n"
                "User-Agent: para\r\nContent-Type: application/x-tar\r\n"
                f"Content-Length: {size}\r\nConnection: close\r\n\r\n"
            )
            # A broken pipe is the engine answering early (an error): read what it said.
            with contextlib.suppress(BrokenPipeError):
                sock.sendall(head.encode())
                while block := data.read(1 << 20):
                    sock.sendall(block)
            sock.settimeout(None)
            status, headers, rest = self.read_head(sock)
            if status >= 400:
                body = self.read_body(sock, headers, rest)
                raise APIError(status, _error_message(Response(status, headers, body)))
        except OSError as exc:
            sock.close()
            raise ConnectionFailed(f"{self.socket_path}: {exc.strerror or exc}") from exc
        except BaseException:
            sock.close()
            raise
        return self._answer(sock, headers, rest)

    @staticmethod
    def _answer(sock: socket.socket, headers: dict[str, str], rest: bytes) -> Iterator[bytes]:
        with contextlib.closing(sock):
            if "chunked" in headers.get("transfer-encoding", "").lower():
                yield from _chunks(sock, rest)
            else:
                yield from received(sock, rest)


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


# -- attached streams ---------------------------------------------------------------------


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


def received(sock: socket.socket, rest: bytes) -> Iterator[bytes]:
    if rest:
        yield rest
    while chunk := sock.recv(65536):
        yield chunk
