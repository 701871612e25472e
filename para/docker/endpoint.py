"""Which engine to talk to: endpoint candidates per backend, and the ping that decides.

Docker: ``docker.host`` > ``DOCKER_HOST`` > the current docker context (``DOCKER_CONTEXT``
or ``currentContext`` in the docker CLI config) > ``unix:///var/run/docker.sock``.
Podman: ``docker.host`` > ``CONTAINER_HOST`` > the rootless socket
``$XDG_RUNTIME_DIR/podman/podman.sock`` > the rootful ``/run/podman/podman.sock``.
``auto`` tries Docker's candidates, then Podman's. An endpoint that answers with Podman's
``Libpod-Api-Version`` header is Podman whatever the name of the variable that led there.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from para.errors import EngineUnavailable

DOCKER_DEFAULT = "unix:///var/run/docker.sock"
PODMAN_ROOTFUL = "unix:///run/podman/podman.sock"


@dataclass(frozen=True)
class Endpoint:
    url: str
    source: str
    backend_hint: str  # "docker" or "podman": which backend's candidate list it came from
    tls: bool = False
    context: str | None = None

    @property
    def socket_path(self) -> str | None:
        if self.url.startswith("unix://"):
            return self.url.removeprefix("unix://")
        if self.url.startswith("/"):
            return self.url
        return None


def _docker_config_dir(env: Mapping[str, str]) -> Path:
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"])
    return Path(env.get("HOME", str(Path.home()))) / ".docker"


def docker_context(env: Mapping[str, str]) -> Endpoint | None:
    """The docker CLI's current context, when it is not the default one."""
    config_dir = _docker_config_dir(env)
    name = env.get("DOCKER_CONTEXT")
    if not name:
        try:
            name = json.loads((config_dir / "config.json").read_text()).get("currentContext")
        except (OSError, ValueError, AttributeError):
            name = None
    if not name or name == "default":
        return None
    digest = hashlib.sha256(name.encode()).hexdigest()
    try:
        meta = json.loads((config_dir / "contexts" / "meta" / digest / "meta.json").read_text())
        host = meta["Endpoints"]["docker"]["Host"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    tls = (config_dir / "contexts" / "tls" / digest / "docker").is_dir()
    return Endpoint(
        url=host, source=f"docker context {name}", backend_hint="docker", tls=tls, context=name
    )


def docker_candidates(config_host: str | None, env: Mapping[str, str]) -> list[Endpoint]:
    if config_host:
        return [Endpoint(config_host, "docker.host", "docker")]
    if env.get("DOCKER_HOST"):
        tls = bool(env.get("DOCKER_TLS_VERIFY") or env.get("DOCKER_CERT_PATH"))
        return [Endpoint(env["DOCKER_HOST"], "DOCKER_HOST", "docker", tls=tls)]
    context = docker_context(env)
    if context is not None:
        return [context]
    return [Endpoint(DOCKER_DEFAULT, "default socket", "docker")]


def podman_candidates(config_host: str | None, env: Mapping[str, str]) -> list[Endpoint]:
    if config_host:
        return [Endpoint(config_host, "docker.host", "podman")]
    if env.get("CONTAINER_HOST"):
        return [Endpoint(env["CONTAINER_HOST"], "CONTAINER_HOST", "podman")]
    found = []
    if os.getuid() != 0:
        runtime = env.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
        found.append(Endpoint(f"unix://{runtime}/podman/podman.sock", "rootless socket", "podman"))
    found.append(Endpoint(PODMAN_ROOTFUL, "rootful socket", "podman"))
    return found


def candidates(backend: str, config_host: str | None, env: Mapping[str, str]) -> list[Endpoint]:
    if backend == "docker":
        return docker_candidates(config_host, env)
    if backend == "podman":
        return podman_candidates(config_host, env)
    if config_host:
        return [Endpoint(config_host, "docker.host", "docker")]
    seen: set[str] = set()
    out = []
    for endpoint in docker_candidates(None, env) + podman_candidates(None, env):
        if endpoint.url not in seen:
            seen.add(endpoint.url)
            out.append(endpoint)
    return out


def unavailable(backend: str, tried: list[tuple[Endpoint, str]]) -> EngineUnavailable:
    if len(tried) == 1:
        endpoint, reason = tried[0]
        return EngineUnavailable(
            backend=_label(backend),
            endpoint=endpoint.url,
            reason=f"{reason} (from {endpoint.source})",
        )
    where = ", ".join(f"{e.url} ({reason})" for e, reason in tried)
    return EngineUnavailable(
        backend=_label(backend), endpoint="any known endpoint", reason=f"tried {where}"
    )


def _label(backend: str) -> str:
    return {"docker": "Docker", "podman": "Podman"}.get(backend, "container")
