"""The stdlib Engine API client (and the exec path on it), over ``socket.socketpair()``: bytes
arrive split at awkward places, headers overflow, a hijacked stream carries bytes read
together with its head, framed and raw streams."""

from __future__ import annotations

import io
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from para.docker.execio import ExecIO, ExecLost, exec_command
from para.docker.http import (
    APIError,
    ConnectionFailed,
    Response,
    UnixAPI,
    demultiplex,
    frames,
)
from tests.conftest import answering_socket


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxI", stream, len(data)) + data


def serve(
    sock: socket.socket, data: bytes, *, pieces: int = 1, close: bool = True
) -> threading.Thread:
    """Send ``data`` in ``pieces`` separate writes (a reader sees them split), then
    half-close; the test joins the returned thread before its sockets close."""

    def run() -> None:
        size = max(1, len(data) // pieces)
        for start in range(0, len(data), size):
            sock.sendall(data[start : start + size])
            time.sleep(0)  # let the reader take what is there
        if close:
            sock.shutdown(socket.SHUT_WR)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


class PairAPI(UnixAPI):
    """A UnixAPI whose connections are socketpairs answering ``answers`` in turn, each
    in 7-byte pieces."""

    def __init__(self, answers: list[bytes]):
        super().__init__("/nonexistent.sock")
        self.answers = answers
        self.sent: list[bytes] = []
        self.threads: list[threading.Thread] = []

    def connect(self, timeout: float | None) -> socket.socket:
        ours, theirs = socket.socketpair()
        answer = self.answers.pop(0)

        def run() -> None:
            with theirs:
                self.sent.append(theirs.recv(65536))
                for start in range(0, len(answer), 7):
                    theirs.sendall(answer[start : start + 7])

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads.append(thread)
        return ours

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=10)


def test_chunks_split_across_reads(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    body = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    body += b"5\r\nhello\r\n1;ext=1\r\n,\r\n6\r\n world\r\n0\r\n\r\n"
    writer = serve(theirs, body, pieces=len(body))  # one byte per write
    status, headers, rest = UnixAPI.read_head(ours)
    assert status == 200 and headers["transfer-encoding"] == "chunked"
    assert UnixAPI.read_body(ours, headers, rest) == b"hello, world"
    writer.join()


def test_length_body_and_body_until_close(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    writer = serve(theirs, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcdEXTRA", pieces=3)
    _status, headers, rest = UnixAPI.read_head(ours)
    assert UnixAPI.read_body(ours, headers, rest) == b"abcd"
    writer.join()
    a, b = socket.socketpair()
    with a, b:
        writer = serve(b, b"HTTP/1.0 200 OK\r\n\r\nuntil the end", pieces=4)
        _status, headers, rest = UnixAPI.read_head(a)
        assert UnixAPI.read_body(a, headers, rest) == b"until the end"
        writer.join()


def test_header_limit(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    writer = serve(theirs, b"HTTP/1.1 200 OK\r\nX-Big: " + b"x" * 70_000, close=False)
    with pytest.raises(ConnectionFailed, match="header too large"):
        UnixAPI.read_head(ours)
    writer.join()


def test_closed_before_answering(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    writer = serve(theirs, b"HTTP/1.1 200")
    with pytest.raises(ConnectionFailed, match="closed the connection"):
        UnixAPI.read_head(ours)
    writer.join()


def test_error_status_carries_the_engine_message() -> None:
    api = PairAPI(
        [b'HTTP/1.1 404 Not Found\r\nContent-Length: 27\r\n\r\n{"message":"no such thing"}']
    )
    with pytest.raises(APIError) as info:
        api.request("GET", "/containers/x/json")
    api.join()
    assert (info.value.status, info.value.message) == (404, "no such thing")
    assert api.sent[0].startswith(b"GET /containers/x/json HTTP/1.1\r\n")


def test_hijacked_stream_keeps_bytes_read_with_its_head() -> None:
    """The engine's first output often arrives in the same read as the 101 answer: the
    exec path must not lose it."""
    head = b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
    stream = frame(1, b"first ") + frame(2, b"oops\n") + frame(1, b"second\n")
    api = PairAPI(
        [
            b'HTTP/1.1 201 Created\r\nContent-Length: 11\r\n\r\n{"Id":"e1"}',
            head + stream,
            b'HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n{"ExitCode":3}',
        ]
    )
    out, err = io.BytesIO(), io.BytesIO()
    code = exec_command(api, "c1", ["sh", "-c", "x"], ExecIO(out, err), env={"A": "1"})
    api.join()
    assert code == 3
    assert (out.getvalue(), err.getvalue()) == (b"first second\n", b"oops\n")
    assert b'"Env": ["A=1", "PARA_EXEC=' in api.sent[0]
    assert api.sent[1].startswith(b"POST /exec/e1/start HTTP/1.1\r\n")


def test_exec_that_loses_the_engine_after_starting() -> None:
    head = b"HTTP/1.1 101 UPGRADED\r\n\r\n"
    api = PairAPI(
        [b'HTTP/1.1 201 Created\r\nContent-Length: 11\r\n\r\n{"Id":"e1"}', head + frame(1, b"x")]
    )
    # the third request (the exit code) finds no engine
    api.answers.append(b"")
    with pytest.raises(ExecLost):
        exec_command(api, "c1", ["true"], ExecIO(io.BytesIO(), io.BytesIO()))
    api.join()


def test_frames_split_anywhere_and_raw_streams() -> None:
    data = frame(1, b"abc") + frame(2, b"de") + frame(1, b"")
    for cut in range(len(data)):
        assert list(frames(iter([data[:cut], data[cut:]]))) == [
            (1, b"abc"),
            (2, b"de"),
            (1, b""),
        ]
    assert list(frames(iter([b"plain tty ", b"output"]))) == [
        (1, b"plain tty "),
        (1, b"output"),
    ]
    assert b"".join(demultiplex(iter([data[:5], data[5:]]))) == b"abcde"


def test_unix_socket_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n"
    )
    with answering_socket(path, chunked):
        assert UnixAPI(str(path)).request("GET", "/x").json() == [1, 2]


def test_response_json_of_empty_body() -> None:
    assert Response(204, {}, b"").json() is None
    body: Any = Response(200, {}, b'{"a": 1}').json()
    assert body == {"a": 1}
