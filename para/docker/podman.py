"""PodmanService: Podman through its Docker-compatible API, with Podman's differences.

- Ulimits are passed explicitly: without them Podman asks the runtime for limits above
  the host's hard limits (nofile 1048576, nproc above pid_max) and runc fails with
  "error setting rlimit". para passes its own hard limits, which the engine can grant.
- ``label=disable``: SELinux relabelling would change the labels of the user's worktree
  and git directory on the host; para's mounts are shared with the host on purpose.
- Rootless Podman maps the invoking user to root by default; ``keep-id`` keeps the host
  uid:gid so files written in the container belong to the user.
- ``host-gateway`` in extra hosts is not understood by Podman 4; para resolves it to the
  gateway of the container's network.
"""

from __future__ import annotations

import contextlib
import resource
from pathlib import Path
from typing import Any

from para.docker.engine import DockerEngineService
from para.docker.http import APIError, ConnectionFailed, quote_path
from para.docker.service import Backend, ContainerSpec

_PODMAN_DEFAULT_NETWORK = "podman"


def _limit(kind: int, cap: int | None = None) -> int:
    _soft, hard = resource.getrlimit(kind)
    value = 1_048_576 if hard == resource.RLIM_INFINITY else hard
    return min(value, cap) if cap else value


def _pid_max() -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(Path("/proc/sys/kernel/pid_max").read_text().strip())
    return None


class PodmanService(DockerEngineService):
    backend: Backend = "podman"

    def _gateway(self, network: str) -> str | None:
        name = _PODMAN_DEFAULT_NETWORK if network in ("bridge", "default") else network
        try:
            data = self._call("GET", f"/networks/{quote_path(name)}").json()
        except (APIError, ConnectionFailed):
            return None
        for config in (data.get("IPAM") or {}).get("Config") or []:
            if config.get("Gateway"):
                return str(config["Gateway"])
        return None

    def _create_body(self, spec: ContainerSpec) -> dict[str, Any]:
        body = super()._create_body(spec)
        if not Path("/run/systemd/system").exists():
            # Podman runs healthchecks from systemd timers: without systemd they never
            # run and the container would read "starting" forever.
            body.pop("Healthcheck", None)
        return body

    def _host_config(self, spec: ContainerSpec) -> dict[str, Any]:
        host = super()._host_config(spec)
        nofile = _limit(resource.RLIMIT_NOFILE)
        nproc = _limit(resource.RLIMIT_NPROC, _pid_max())
        host["Ulimits"] = [
            {"Name": "nofile", "Soft": nofile, "Hard": nofile},
            {"Name": "nproc", "Soft": nproc, "Hard": nproc},
        ]
        host["SecurityOpt"] = [*host.get("SecurityOpt", []), "label=disable"]
        if self.info.rootless:
            host["UsernsMode"] = "keep-id"
        extra = host.get("ExtraHosts") or []
        if any(entry.endswith(":host-gateway") for entry in extra):
            gateway = self._gateway(spec.network)
            host["ExtraHosts"] = [
                entry.replace("host-gateway", gateway) if gateway else entry
                for entry in extra
                if gateway or not entry.endswith(":host-gateway")
            ]
        return host
