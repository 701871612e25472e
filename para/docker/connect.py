"""Which engine: find a reachable one for new containers, or attach to the one a record names."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from para.docker.service import Backend, DockerService
from para.errors import EngineUnavailable

if TYPE_CHECKING:
    from para.docker.endpoint import Endpoint

ServiceFactory = Callable[[str, str | None, Mapping[str, str]], DockerService]


def default_connect(backend: str, host: str | None, env: Mapping[str, str]) -> DockerService:
    """Find a reachable engine for ``backend`` (auto|docker|podman) and wrap it."""
    from para.docker.endpoint import candidates, unavailable
    from para.docker.engine import ping
    from para.docker.http import APIError, ConnectionFailed

    tried = []
    for endpoint in candidates(backend, host, env):
        try:
            info = ping(endpoint, env)
        except (ConnectionFailed, APIError, EngineUnavailable) as exc:
            tried.append((endpoint, _reason(exc)))
            continue
        return _wrap(endpoint, info.backend, info.version, env)
    raise unavailable(backend, tried)


def attach_known(backend: str, url: str | None, env: Mapping[str, str]) -> DockerService:
    """The engine a session record names, without asking it anything first."""
    from para.docker.endpoint import Endpoint

    endpoint = Endpoint(url=url or "", source="session record", backend_hint=backend)
    return _wrap(endpoint, "podman" if backend == "podman" else "docker", "?", env)


def _wrap(
    endpoint: Endpoint, backend: Backend, version: str, env: Mapping[str, str]
) -> DockerService:
    from para.docker.engine import DockerEngineService
    from para.docker.podman import PodmanService
    from para.docker.service import EngineInfo

    if backend == "podman":
        rootless = _socket_owner(endpoint.socket_path) not in (None, 0)
        info = EngineInfo(
            backend="podman", endpoint=endpoint.url, version=version, rootless=rootless
        )
        return PodmanService(endpoint, info, env)
    return DockerEngineService(
        endpoint, EngineInfo(backend="docker", endpoint=endpoint.url, version=version), env
    )


def _socket_owner(path: str | None) -> int | None:
    if path is None:
        return None
    try:
        return Path(path).stat().st_uid
    except OSError:
        return None


def _reason(exc: BaseException) -> str:
    text = str(exc)
    lowered = text.lower()
    if "no such file" in lowered:
        return "no socket there"
    if "permission denied" in lowered:
        return "permission denied (add yourself to the docker group, or use rootless Podman)"
    if "connection refused" in lowered:
        return "connection refused (is the daemon running?)"
    return text
