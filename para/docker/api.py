"""A minimal client for the Docker Engine API over a unix socket, on the standard library.

The docker SDK costs ~0.2 s to import, longer than ``docker exec`` itself takes. The calls
para makes on its hot paths (ping, list by label, inspect, exec) are a few small HTTP
requests, so they go through this client when the engine listens on a unix socket, which
Docker and Podman do by default. Everything else, and other transports (TCP with TLS,
ssh), go through the SDK. Podman's Docker-compatible API speaks the same protocol.
"""

from __future__ import annotations

import json
import socket

# Annotations only; not importing typing keeps docker exec's fast path fast.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

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
        if length is not None:
            want = int(length)
            data = bytearray(rest)
            while len(data) < want:
                chunk = sock.recv(min(65536, want - len(data)))
                if not chunk:
                    break
                data += chunk
            return bytes(data[:want])
        data = bytearray(rest)
        while chunk := sock.recv(65536):
            data += chunk
        return bytes(data)

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

    def hijack(self, path: str, body: Any) -> tuple[socket.socket, bytes]:
        """POST and take over the connection as a raw stream (exec start, attach)."""
        sock = self.connect(None)
        try:
            sock.sendall(
                self.request_bytes(
                    "POST", path, None, body, "Connection: Upgrade\r\nUpgrade: tcp\r\n"
                )
            )
            status, headers, rest = self.read_head(sock)
            if status >= 400:
                data = self.read_body(sock, headers, rest)
                raise APIError(status, _error_message(Response(status, headers, data)))
        except BaseException:
            sock.close()
            raise
        sock.settimeout(None)
        return sock, rest

    def stream(self, path: str, params: dict[str, Any] | None) -> Iterator[bytes]:
        """GET ``path`` and yield the body as it arrives (logs -f): chunked or until close."""
        sock = self.connect(None)
        try:
            sock.sendall(self.request_bytes("GET", path, params, None, "Connection: close\r\n"))
            status, headers, rest = self.read_head(sock)
            if status >= 400:
                data = self.read_body(sock, headers, rest)
                raise APIError(status, _error_message(Response(status, headers, data)))
            sock.settimeout(None)
            if "chunked" not in headers.get("transfer-encoding", "").lower():
                if rest:
                    yield rest
                while chunk := sock.recv(65536):
                    yield chunk
                return
            yield from _chunks(sock, rest)
        finally:
            sock.close()


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
