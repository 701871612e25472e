"""What one service container of a session's stack is made of: name, labels, mounts,
ports, network and the rest of its compose keys.

A bind mount whose source lies in the repository is the session's worktree at that
path, not the main checkout: each session's service sees that session's code (``.:/app``
serves the session's branch), and a service never writes the main checkout. The
worktree's ``.git`` file is laid over read-only wherever it would be visible, as in the
session's own container. Binds from elsewhere (only from a trusted or the user's own
compose file) go through the same volume policy as ``--volume``: no engine socket, no
writable git directory, not para's state.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from para import __version__
from para.compose import Service, VolumeMount
from para.config import DockerConfig
from para.docker import labels as L
from para.docker.mounts import parse_volume
from para.docker.service import ContainerSpec, HealthSpec, Mount
from para.errors import UnsafeMount
from para.repo import Repo


def stack_labels(repo: Repo, session: str) -> dict[str, str]:
    """The labels of everything of a session's stack (network, volumes, containers)."""
    return {
        **L.repo_filter(repo.repo_id),
        L.REPO: str(repo.root),
        L.SESSION: session,
        L.VERSION: __version__,
    }


def container_spec(
    repo: Repo,
    session: str,
    worktree: Path,
    service: Service,
    *,
    image: str,
    network: str,
    ports: Mapping[int, int],
    cfg: DockerConfig,
    env: Mapping[str, str],
    worktrees: Path,
) -> ContainerSpec:
    host_network = service.network_mode == "host"
    hc = service.healthcheck
    return ContainerSpec(
        name=L.service_container_name(repo.repo_id, session, service.name),
        image=image,
        command=service.command,
        entrypoint=service.entrypoint,
        labels={**stack_labels(repo, session), **service.labels, L.SERVICE: service.name},
        env=dict(service.environment),
        mounts=mounts(repo, session, worktree, service, cfg=cfg, env=env, worktrees=worktrees),
        workdir=service.working_dir,
        user=service.user,
        hostname=None if host_network else service.name,
        init=False,
        network="host" if host_network else network,
        aliases=[] if host_network else [service.name],
        ports={} if host_network else dict(ports),
        healthcheck=(
            HealthSpec(
                command=hc.test, interval=hc.interval, timeout=hc.timeout, retries=hc.retries
            )
            if hc is not None
            else None
        ),
        stop_timeout=cfg.stop_timeout,
        tmpfs=list(service.tmpfs),
        privileged=service.privileged,
        cap_add=list(service.cap_add),
        pid_mode=service.pid,
        devices=list(service.devices),
    )


def mounts(
    repo: Repo,
    session: str,
    worktree: Path,
    service: Service,
    *,
    cfg: DockerConfig,
    env: Mapping[str, str],
    worktrees: Path,
) -> list[Mount]:
    out: list[Mount] = []
    for volume in service.volumes:
        if volume.kind == "volume":
            name = L.stack_volume_name(repo.repo_id, session, volume.source)
            out.append(Mount(name, volume.target, read_only=volume.read_only, volume=True))
        else:
            out += _bind(repo, worktree, volume, cfg=cfg, env=env, worktrees=worktrees)
    return out


def _bind(
    repo: Repo,
    worktree: Path,
    volume: VolumeMount,
    *,
    cfg: DockerConfig,
    env: Mapping[str, str],
    worktrees: Path,
) -> list[Mount]:
    text = f"{volume.source}:{volume.target}{':ro' if volume.read_only else ''}"
    root = repo.root.resolve()
    source = Path(os.path.normpath(volume.source))
    try:
        rel = source.relative_to(root)
    except ValueError:
        # outside the repository: the policy of any extra volume
        return [parse_volume(text, repo, env, None, worktrees=worktrees, allowed=cfg.allow_volumes)]
    if rel.parts and rel.parts[0] in (".git", ".para"):
        raise UnsafeMount(
            volume=text,
            reason="it is the repository's git directory or para's state, which a service "
            "never gets",
            hint="mount a directory of the project instead",
        )
    inside = worktree.resolve()
    mapped = (inside / rel).resolve()
    try:
        mapped.relative_to(inside)
    except ValueError:
        raise UnsafeMount(
            volume=text,
            reason=f"in the session's worktree, {rel} is a symlink leading out of it",
        ) from None
    found = [Mount(str(mapped), volume.target, read_only=volume.read_only)]
    gitfile = inside / ".git"
    if mapped == inside and gitfile.exists():
        # the worktree's .git file names the git directory host git uses there: never
        # writable by a service
        found.append(Mount(str(gitfile), f"{volume.target.rstrip('/')}/.git", read_only=True))
    return found
