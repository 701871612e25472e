"""The Engine API's JSON and para's values: create bodies from a ContainerSpec,
ContainerInfo from inspect and list answers, and the engine's error texts as ParaErrors.
"""

from __future__ import annotations

import re
from typing import Any

from para.docker.http import APIError
from para.docker.service import ContainerInfo, ContainerSpec
from para.errors import ContainerError, ParaError, PortInUse, ResourceLimitExceeded

_NS = 1_000_000_000


def port_key(port: int) -> str:
    return f"{port}/tcp"


def health_from_status(status: str) -> str | None:
    for word in ("unhealthy", "healthy", "starting"):
        if f"({word})" in status or f"health: {word}" in status:
            return word
    return None


def host_config(spec: ContainerSpec) -> dict[str, Any]:
    host: dict[str, Any] = {
        "Init": spec.init,
        "Mounts": [
            {
                "Type": "volume" if m.volume else "bind",
                "Source": m.source,
                "Target": m.target,
                "ReadOnly": m.read_only,
            }
            for m in spec.mounts
        ],
        "NetworkMode": spec.network,
        # setuid programs in an image must not turn the user's uid into root
        "SecurityOpt": ["no-new-privileges"],
    }
    if spec.nano_cpus:
        host["NanoCpus"] = spec.nano_cpus
    if spec.memory:
        host["Memory"] = spec.memory
        host["MemorySwap"] = spec.memory
    if spec.pids_limit:
        host["PidsLimit"] = spec.pids_limit
    if spec.ports:
        host["PortBindings"] = {
            # loopback only: a session's dev server is not for the whole network
            port_key(c): [{"HostIp": "127.0.0.1", "HostPort": str(h)}]
            for c, h in spec.ports.items()
        }
    if spec.extra_hosts:
        host["ExtraHosts"] = [f"{k}:{v}" for k, v in spec.extra_hosts.items()]
    if spec.tmpfs:
        host["Tmpfs"] = dict.fromkeys(spec.tmpfs, "")
    if spec.privileged:
        host["Privileged"] = True
    if spec.cap_add:
        host["CapAdd"] = list(spec.cap_add)
    if spec.pid_mode:
        host["PidMode"] = spec.pid_mode
    if spec.devices:
        host["Devices"] = [_device(d) for d in spec.devices]
    return host


def _device(text: str) -> dict[str, str]:
    """``/dev/x[:/dev/y[:rwm]]`` as the API's device mapping."""
    parts = text.split(":")
    inside = parts[1] if len(parts) > 1 and parts[1] else parts[0]
    return {
        "PathOnHost": parts[0],
        "PathInContainer": inside,
        "CgroupPermissions": parts[2] if len(parts) > 2 else "rwm",
    }


def create_body(spec: ContainerSpec, host: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Image": spec.image,
        "Env": [f"{k}={v}" for k, v in spec.env.items()],
        "Labels": spec.labels,
        "StopTimeout": spec.stop_timeout,
        "HostConfig": host,
    }
    if spec.command is not None:
        body["Cmd"] = spec.command
    if spec.entrypoint is not None:
        body["Entrypoint"] = spec.entrypoint
    if spec.workdir:
        body["WorkingDir"] = spec.workdir
    if spec.aliases:
        body["NetworkingConfig"] = {
            "EndpointsConfig": {spec.network: {"Aliases": list(spec.aliases)}}
        }
    if spec.user:
        body["User"] = spec.user
    if spec.hostname:
        body["Hostname"] = spec.hostname
    if spec.ports:
        body["ExposedPorts"] = {port_key(c): {} for c in spec.ports}
    if spec.healthcheck is not None:
        hc = spec.healthcheck
        body["Healthcheck"] = {
            "Test": ["CMD", *hc.command],
            "Interval": int(hc.interval * _NS),
            "Timeout": int(hc.timeout * _NS),
            "Retries": hc.retries,
        }
    return body


def container_from_inspect(data: dict[str, Any]) -> ContainerInfo:
    state = data.get("State") or {}
    config = data.get("Config") or {}
    host = data.get("HostConfig") or {}
    network = data.get("NetworkSettings") or {}
    ports: dict[str, int] = {}
    for key, bindings in (network.get("Ports") or {}).items():
        for binding in bindings or []:
            if binding.get("HostPort"):
                ports[key.split("/")[0]] = int(binding["HostPort"])
                break
    return ContainerInfo(
        id=data["Id"],
        name=str(data.get("Name", "")).lstrip("/"),
        image=str(config.get("Image", "")),
        state=str(state.get("Status", "unknown")),
        labels=dict(config.get("Labels") or {}),
        # an engine keeps the last health of a stopped container (often "unhealthy",
        # from the stop itself): stale, so none
        health=(
            ((state.get("Health") or {}).get("Status") or None)
            if state.get("Status") == "running"
            else None
        ),
        exit_code=state.get("ExitCode"),
        oom_killed=bool(state.get("OOMKilled")),
        error=state.get("Error") or None,
        created=data.get("Created"),
        started_at=state.get("StartedAt"),
        finished_at=state.get("FinishedAt"),
        ports=ports,
        networks=sorted((network.get("Networks") or {}).keys()),
        memory=host.get("Memory") or None,
        nano_cpus=host.get("NanoCpus") or None,
        pids_limit=host.get("PidsLimit") or None,
    )


def container_from_list(item: dict[str, Any]) -> ContainerInfo:
    ports = {
        str(p["PrivatePort"]): int(p["PublicPort"])
        for p in item.get("Ports") or []
        if p.get("PublicPort")
    }
    names = item.get("Names") or [""]
    return ContainerInfo(
        id=item["Id"],
        name=names[0].lstrip("/"),
        image=str(item.get("Image", "")),
        state=str(item.get("State") or "unknown").lower(),
        labels=dict(item.get("Labels") or {}),
        health=health_from_status(str(item.get("Status") or "")),
        created=str(item.get("Created", "")),
        ports=ports,
    )


def start_error(exc: APIError) -> ParaError:
    text = exc.message
    lowered = text.lower()
    limit = limit_at_start(text)
    if limit is not None:
        return limit
    if "address already in use" in lowered or "port is already allocated" in lowered:
        port = port_from_message(text)
        return PortInUse(
            port=port or "?",
            container_port="PORT",
            hint="pick another host port, or let para choose one",
        )
    if "no such file or directory" in lowered and "/bin/sh" in lowered:
        return ContainerError(
            problem="the image has no /bin/sh; para runs its keep-alive and helpers with "
            "a POSIX shell",
            hint="use an image with /bin/sh (busybox, alpine, debian...)",
        )
    if "catatonit" in lowered or "container-init" in lowered:
        return ContainerError(
            problem=f"the engine cannot run its init process: {text}",
            hint="install catatonit (Podman's init), or set docker.init to false",
        )
    return ContainerError(problem=f"the container did not start: {text}")


def port_from_message(text: str) -> int | None:
    match = re.search(r":(\d{2,5})\b", text.rsplit("bind", maxsplit=1)[-1]) or re.search(
        r"(\d{2,5})", text
    )
    return int(match.group(1)) if match else None


def limit_refused(spec: ContainerSpec, message: str) -> ResourceLimitExceeded | None:
    """The engine's refusal of a resource limit as para's error, naming the flag."""
    lowered = message.lower()
    if "cpu" in lowered and spec.nano_cpus:
        return ResourceLimitExceeded(limit=f"--cpus {spec.nano_cpus / 1e9:g}", reason=message)
    if "memory" in lowered and spec.memory:
        return ResourceLimitExceeded(limit=f"--memory {spec.memory} bytes", reason=message)
    if "pids" in lowered and spec.pids_limit:
        return ResourceLimitExceeded(limit=f"--pids {spec.pids_limit}", reason=message)
    return None


def limit_at_start(message: str) -> ResourceLimitExceeded | None:
    """The runtime's refusal of a limit when the container starts (no spec at hand)."""
    lowered = message.lower()
    for words, limit in (
        (("memory limit", "memory.limit"), "--memory"),
        (("cpu.cfs", "cfs_quota", "cpu quota", "cpu shares"), "--cpus"),
        (("pids.max", "pids limit"), "--pids"),
    ):
        if any(word in lowered for word in words):
            return ResourceLimitExceeded(limit=limit, reason=message)
    return None
