"""Making a session's container: everything it needs, created, started and ready.

Each thing made is undone on the caller's stack if a later step fails, so a failed
``start`` leaves nothing behind.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from para.channel.layout import install_helpers
from para.docker import health, images, lifecycle, mounts, networks, spec, stack
from para.docker import labels as L
from para.docker.execio import ExecIO
from para.docker.service import DockerService, Mount
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
    loaded = manager.session_loaded(options)
    cfg = loaded.config.docker
    service = manager.service(cfg.backend, cfg.host)
    info = service.ping()
    chosen = images.resolve(manager, loaded, worktree)
    image = chosen.ref
    channel, home, gitdir = mounts.session_dirs(manager.repo, manager.git, record, undo)
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
    if record.stack is not None:
        stack.check_network(cfg.network.mode)
    network = networks.for_container(service, manager.repo, cfg.network.mode, undo)
    joins = None
    if record.stack is not None and cfg.network.mode == "bridge":
        network = record.stack.network  # a bridge network of the session's own
    elif record.stack is not None and cfg.network.mode == "session":
        joins = record.stack.network  # the repository's network, and the session's
    image_info, _built = images.ensure(manager, service, chosen)
    caches = _cache_volumes(manager, service, made_mounts)
    env, missing = spec.environment(
        record,
        cfg,
        options,
        image_env=image_info.env,
        ports=ports,
        identity=spec.git_identity(manager.git, manager.env),
        host_env=manager.env,
    )
    if record.stack is not None:
        # on the host's network the services are where the host finds them
        inside = cfg.network.mode != "host"
        env = {**manager.stacks.variables(record, inside=inside), **env}
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
    if joins:
        service.connect_network(joins, container_id)
    service.start(container_id)
    health.wait_ready(service, container_id, channel)
    if caches and made.user:
        _own(service, container_id, made.user, caches)
    lifecycle.Run(
        service, container_id, cfg, channel=channel, session=record.name, terminal=manager.terminal
    ).created()
    return ContainerRef(
        id=container_id,
        name=made.name,
        image=image,
        image_source=chosen.source.origin,
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


def _cache_volumes(manager: DockerManager, service: DockerService, made: list[Mount]) -> list[str]:
    """Create the shared cache volumes the engine does not have yet; the targets of all
    (a new volume belongs to root until ``_own`` gives it to the container's user). They
    outlive the session: ``docker cleanup --all-repos`` removes them with the repository."""
    repo = manager.repo
    targets = []
    for mount in made:
        if not mount.volume:
            continue
        cache = mount.source.removeprefix(L.cache_volume_name(repo.repo_id, ""))
        labels = {**L.repo_filter(repo.repo_id), L.REPO: str(repo.root), L.CACHE: cache}
        L.ensure_volume(service, mount.source, labels)
        targets.append(mount.target)
    return targets


def _own(service: DockerService, container_id: str, user: str, targets: list[str]) -> None:
    """Give the cache volumes to the container's user (their top directory only: what
    is in them belongs to whoever wrote it, the same user in every session)."""
    import io

    sink = io.BytesIO()
    code = service.exec(container_id, ["chown", user, *targets], ExecIO(sink, sink), user="0")
    if code != 0:
        raise ContainerError(
            problem=f"cannot give the cache volumes at {', '.join(targets)} to {user}: "
            + sink.getvalue().decode(errors="replace").strip(),
        )
