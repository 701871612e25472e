"""What a session's container is made of: image, environment, ports, limits, labels.

Pure functions of the configuration (with the session's choices applied), the session
record and what the engine said about the image; ``mounts.py`` adds the mounts.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING

from para import __version__
from para.config import DockerConfig, parse_size
from para.docker import labels as L
from para.docker.service import ContainerSpec, HealthSpec, Mount
from para.errors import ContainerError, PortInUse
from para.options import ContainerOptions, parse_env_pairs
from para.repo import Repo
from para.state import SessionRecord

if TYPE_CHECKING:
    from para.git import Git

WORKSPACE = "/workspace"
CHANNEL_MOUNT = "/para/channel"
BIN_MOUNT = "/para/bin"
HOME_MOUNT = "/para/home"
RUNNER = ["/bin/sh", f"{BIN_MOUNT}/para-runner"]
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The interactive shell of `para docker attach` and the monitor's attach key: bash when
# the image has it. Not a login shell: /etc/profile would reset PATH and lose /para/bin.
ATTACH_SHELL = [
    "/bin/sh",
    "-c",
    "if command -v bash >/dev/null; then exec bash; else exec sh; fi",
]
# The parts of the docker configuration that shape a container (see fingerprint; ports
# are hashed as container ports, together with the session's own).
_SHAPING = {
    "workdir",
    "user",
    "forward_env",
    "volumes",
    "environment",
    "resources",
    "network",
    "init",
    "healthcheck",
    "stop_timeout",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_port_free(port: int, container_port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise PortInUse(port=port, container_port=container_port) from exc
            raise


def parse_ports(entries: list[str]) -> dict[int, int]:
    """``[HOST:]CONTAINER`` -> {container: host}; a free host port is chosen when omitted."""
    out: dict[int, int] = {}
    for entry in entries:
        host_text, _, container_text = entry.rpartition(":")
        try:
            container = int(container_text.removesuffix("/tcp"))
            host = int(host_text) if host_text else 0
        except ValueError:
            raise ContainerError(
                problem=f"bad port {entry!r}",
                hint="use [HOST:]CONTAINER, e.g. --port 8000 or --port 18000:8000",
            ) from None
        if not (0 < container < 65536 and 0 <= host < 65536):
            raise ContainerError(
                problem=f"port out of range in {entry!r}", hint="ports are 1-65535"
            )
        if host:
            check_port_free(host, container)
        out[container] = host or free_port()
    return out


_PROVISION = {
    "on_create_command",
    "update_content_command",
    "post_create_command",
    "cache_volumes",
}


def fingerprint(cfg: DockerConfig, image: str, options: ContainerOptions | None) -> str:
    """A short hash of the container a session gets from ``cfg`` (the configuration
    with the session's choices applied) and its resolved ``image``: the effective
    values only, so a recreate's restated choices hash alike, and not the engine, the
    host ports picked at start or secret values. When it changes, ``para docker start
    NAME --recreate`` would make a different container."""
    options = options or ContainerOptions()
    ports = {p.rpartition(":")[2] for p in [*cfg.ports, *options.ports]}
    material: dict[str, object] = {
        "image": image,
        "config": cfg.model_dump(mode="json", include=_SHAPING),
        "env": options.env,
        "volumes": options.volumes,
        "ports": sorted(ports),
    }
    # what provisions a new container (post_start runs at every start anyway); only when
    # set, so containers made before these keys existed keep their hash
    provision = cfg.model_dump(mode="json", include=_PROVISION, exclude_defaults=True)
    if provision:
        material["provision"] = provision
    text = json.dumps(material, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def healthcheck(cfg: DockerConfig) -> HealthSpec | None:
    hc = cfg.healthcheck
    if hc is None:
        return None
    command = hc.command or [f"{BIN_MOUNT}/para-health"]
    return HealthSpec(command=command, interval=hc.interval, timeout=hc.timeout, retries=hc.retries)


def labels(repo: Repo, record: SessionRecord, config_hash: str) -> dict[str, str]:
    return {
        L.MANAGED: "true",
        L.REPO: str(repo.root),
        L.REPO_ID: repo.repo_id,
        L.SESSION: record.name,
        L.VERSION: __version__,
        L.CONFIG_HASH: config_hash,
        L.WORKTREE: record.worktree,
    }


def git_identity(git: Git, env: Mapping[str, str]) -> dict[str, str]:
    """The user's git identity as GIT_AUTHOR_*/GIT_COMMITTER_* (the container has no
    access to the host's git config). Asked in the main checkout: git in a worktree would
    first read the worktree's ``.git`` file, which the container can write."""
    out: dict[str, str] = {}
    for key, names in (
        ("user.name", ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME")),
        ("user.email", ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL")),
    ):
        value = env.get(names[0]) or git.config_value(key)
        if value:
            out.update(dict.fromkeys(names, value))
    return out


def environment(
    record: SessionRecord,
    cfg: DockerConfig,
    options: ContainerOptions | None,
    *,
    image_env: list[str],
    ports: dict[int, int],
    identity: Mapping[str, str],
    host_env: Mapping[str, str],
) -> tuple[dict[str, str], list[str]]:
    """The container's variables, and the names in ``forward_env`` not set on the host."""
    image_path = next(
        (e.partition("=")[2] for e in image_env if e.startswith("PATH=")), DEFAULT_PATH
    )
    env: dict[str, str] = {
        "PATH": f"{image_path}:{BIN_MOUNT}",
        "HOME": HOME_MOUNT,
        "PARA_SESSION": record.name,
        "PARA_BRANCH": record.branch,
        "PARA_CHANNEL": CHANNEL_MOUNT,
        "PARA_WORKTREE": cfg.workdir,
        # git refuses a repository owned by another uid; trust it without writing files
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "safe.directory",
        "GIT_CONFIG_VALUE_0": "*",
    }
    env.update(identity)
    for container_port, host_port in ports.items():
        env[f"PARA_PORT_{container_port}"] = str(host_port)
    env.update(cfg.environment)
    env.update(parse_env_pairs(options.env if options else []))
    missing = []
    for name in cfg.forward_env:
        if name in host_env:
            env[name] = host_env[name]
        else:
            missing.append(name)
    return env, missing


def build(
    *,
    repo: Repo,
    record: SessionRecord,
    cfg: DockerConfig,
    image: str,
    env: dict[str, str],
    mounts: list[Mount],
    network: str,
    ports: dict[int, int],
    config_hash: str,
) -> ContainerSpec:
    """The ContainerSpec of a session's container."""
    return ContainerSpec(
        name=L.container_name(repo.repo_id, record.name),
        image=image,
        command=RUNNER,
        labels=labels(repo, record, config_hash),
        env=env,
        mounts=mounts,
        workdir=cfg.workdir,
        user=cfg.user or f"{os.getuid()}:{os.getgid()}",
        init=cfg.init,
        nano_cpus=int(cfg.resources.cpus * 1e9) if cfg.resources.cpus else None,
        memory=parse_size(cfg.resources.memory) if cfg.resources.memory else None,
        pids_limit=cfg.resources.pids,
        network=network,
        ports=ports,
        extra_hosts={} if network in ("none", "host") else {"host.docker.internal": "host-gateway"},
        healthcheck=healthcheck(cfg),
        stop_timeout=cfg.stop_timeout,
    )
