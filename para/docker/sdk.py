"""The docker SDK: para's only module that imports it (~0.2 s), for what the stdlib client
does not do: engines on TCP with TLS, over ssh or from a docker context, and image pulls
with streamed progress. Errors leave as ParaError or the transport's own exceptions.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Mapping
from typing import Any, BinaryIO

import docker
import docker.errors
import requests
from docker.utils import parse_repository_tag

from para.docker.endpoint import Endpoint
from para.docker.http import APIError, ConnectionFailed, Response
from para.docker.service import PullProgress
from para.errors import EngineUnavailable, ImageNotFound, RegistryUnreachable


def client_for(endpoint: Endpoint, env: Mapping[str, str]) -> Any:
    """A docker SDK APIClient for ``endpoint``; DOCKER_HOST goes through docker.from_env()."""
    try:
        if endpoint.source in ("DOCKER_HOST", "docker.host"):
            # from_env also honours DOCKER_TLS_VERIFY and DOCKER_CERT_PATH
            return docker.from_env(
                version="auto", environment={**env, "DOCKER_HOST": endpoint.url}
            ).api
        if endpoint.context:
            from docker.context import ContextAPI

            ctx = ContextAPI.get_context(endpoint.context)
            return docker.APIClient(base_url=ctx.Host, tls=ctx.TLSConfig, version="auto")
        return docker.APIClient(base_url=endpoint.url, version="auto")
    except docker.errors.DockerException as exc:
        raise EngineUnavailable(backend="Docker", endpoint=endpoint.url, reason=str(exc)) from exc


class SdkTransport:
    """The requests of para's stdlib client, through the SDK's APIClient."""

    def __init__(self, endpoint: Endpoint, env: Mapping[str, str]):
        self.url = endpoint.url
        self.endpoint = endpoint
        self.env = env
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = client_for(self.endpoint, self.env)
        return self._client

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.client.base_url}/v{self.client.api_version}{path}"
        try:
            return self.client.request(method, url, **kwargs)
        except requests.exceptions.ConnectionError as exc:
            raise ConnectionFailed(str(exc)) from exc

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        timeout: float | None = None,
    ) -> Response:
        res = self._send(method, path, params=params, json=body, timeout=timeout)
        if res.status_code >= 400:
            try:
                message = str(res.json().get("message"))
            except ValueError:
                message = res.text
            raise APIError(res.status_code, message)
        return Response(res.status_code, dict(res.headers), res.content)

    def exec_start(self, exec_id: str, tty: bool) -> tuple[socket.socket, bytes]:
        try:
            sock = self.client.exec_start(exec_id, tty=tty, socket=True)
        except docker.errors.APIError as exc:
            raise APIError(exc.status_code or 500, str(exc.explanation or exc)) from exc
        except requests.exceptions.ConnectionError as exc:
            raise ConnectionFailed(str(exc)) from exc
        # over plain TCP the SDK hands back the stdlib's SocketIO: the socket is inside
        return getattr(sock, "_sock", sock), b""

    def stream(self, path: str, params: dict[str, Any] | None) -> Iterator[bytes]:
        res = self._send("GET", path, params=params, stream=True)
        if res.status_code >= 400:
            raise APIError(res.status_code, res.text)
        yield from res.iter_content(chunk_size=None)

    def upload(
        self, path: str, params: dict[str, Any], data: BinaryIO, size: int
    ) -> Iterator[bytes]:
        res = self._send(
            "POST",
            path,
            params=params,
            data=data,
            headers={"Content-Type": "application/x-tar", "Content-Length": str(size)},
            stream=True,
            timeout=None,
        )
        if res.status_code >= 400:
            raise APIError(res.status_code, res.text)
        chunks: Iterator[bytes] = res.iter_content(chunk_size=None)
        return chunks


def pull(
    endpoint: Endpoint,
    env: Mapping[str, str],
    ref: str,
    progress: Callable[[PullProgress], None],
    unavailable: Callable[[BaseException], EngineUnavailable],
) -> None:
    """Pull ``ref``, reporting each layer's progress; ImageNotFound when it fails."""
    repository, tag = parse_repository_tag(ref)
    try:
        client = client_for(endpoint, env)
        for event in client.pull(repository, tag=tag or "latest", stream=True, decode=True):
            if "error" in event:
                raise pull_failed(ref, str(event["error"]).strip())
            detail = event.get("progressDetail") or {}
            progress(
                PullProgress(
                    layer=str(event.get("id") or ""),
                    status=str(event.get("status") or ""),
                    current=detail.get("current"),
                    total=detail.get("total"),
                )
            )
    except docker.errors.APIError as exc:
        raise pull_failed(ref, str(exc.explanation or exc)) from exc
    except docker.errors.DockerException as exc:
        raise unavailable(exc) from exc


# What an engine says when it cannot reach a registry at all (offline, DNS, a proxy).
_UNREACHABLE = (
    "dial tcp",
    "lookup ",
    "no such host",
    "connection refused",
    "network is unreachable",
    "i/o timeout",
    "tls handshake timeout",
    "temporary failure in name resolution",
    "server misbehaving",
    "connection reset",
)


def pull_failed(ref: str, message: str) -> ImageNotFound:
    """A failed pull, saying whether the registry was out of reach rather than the name
    wrong."""
    if any(word in message.lower() for word in _UNREACHABLE):
        return RegistryUnreachable(image=ref, reason=message)
    return ImageNotFound(image=ref, reason=message)
