"""Making a session's container: everything it needs, created, started and ready.

Each thing made is undone on the caller's stack if a later step fails, so a failed
``start`` leaves nothing behind.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from para.channel.layout import install_helpers
from para.docker import health, mounts, networks, spec
from para.errors import ContainerError
from para.options import ContainerOptions
from para.state import ContainerRef, SessionRecord

if TYPE_CHECKING:
    from para.docker.manager import DockerManager


def create_container(
    manager: DockerManager,
    record: SessionRecord,
    options: ContainerOptions | None,
    undo: contextlib.ExitStack,
) -> ContainerRef:
    """Create and start the session's container; its undo goes on ``undo``."""
    worktree = Path(record.worktree)
    cfg = manager.session_config(options)
    service = manager.service(cfg.backend, cfg.host)
    info = service.ping()
    channel, home, gitdir = mounts.session_dirs(manager.repo, manager.git, record, undo)
    image = spec.resolve_image(cfg, worktree)
    made_mounts = mounts.session_mounts(
        manager.repo,
        record,
        cfg,
        options,
        channel=channel,
        helpers=install_helpers(manager.repo.state_dir),
        home=home,
        gitdir=gitdir,
        git=manager.git,
        env=manager.env,
        worktrees=manager.worktrees_dir,
    )
    requested = [*cfg.ports, *(options.ports if options else [])]
    if requested and cfg.network.mode in ("host", "none"):
        raise ContainerError(
            problem=f"ports cannot be published with --network {cfg.network.mode}",
            hint="with host the container uses the host's ports directly; with none it "
            "has no network: drop --port, or use bridge/session",
        )
    ports = spec.parse_ports(requested)
    network = networks.for_container(service, manager.repo, cfg.network.mode, undo)
    image_info = service.image(image) or manager.pull(
        service, image, spec.image_origin(cfg, worktree)
    )
    env, missing = spec.environment(
        record,
        cfg,
        options,
        image_env=image_info.env,
        ports=ports,
        identity=spec.git_identity(manager.git, manager.env),
        host_env=manager.env,
    )
    if missing:
        manager.warnings.append(
            f"docker.forward_env names variables not set here: {', '.join(missing)}"
        )
    made = spec.build(
        repo=manager.repo,
        record=record,
        cfg=cfg,
        image=image,
        env=env,
        mounts=made_mounts,
        network=network,
        ports=ports,
        config_hash=spec.fingerprint(cfg, image, options),
    )
    mounts.grant(made.user, [channel, home, gitdir.root])
    health.clear_ready(channel)
    container_id = service.create(made)
    undo.callback(manager._quiet_remove, service, container_id)
    service.start(container_id)
    health.wait_ready(service, container_id, channel)
    return ContainerRef(
        id=container_id,
        name=made.name,
        image=image,
        backend=info.backend,
        endpoint=info.endpoint,
        network=network if cfg.network.mode == "session" else None,
        network_mode=cfg.network.mode,
        ports={str(c): h for c, h in ports.items()},
        workdir=cfg.workdir,
        user=made.user,
        options=(options or ContainerOptions()).to_dict(),
        git="own",
    )
