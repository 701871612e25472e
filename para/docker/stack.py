"""A session's services: a network, volumes and containers of its own, on one engine.

``up`` makes them in ``depends_on`` order, waiting before each service for the
conditions it names, then for every service to be ready: healthy when it has a
healthcheck (para runs the check itself through exec: Podman without systemd runs none),
running otherwise, exited with 0 when another service waits for it to complete. A service
that exits or is not ready within ``docker.services_timeout`` fails the start with its
last output; everything made is undone through the caller's stack. Ports are published
on 127.0.0.1 at host ports para picks (the ones a previous stack had, when free), and
kept in the record so a restart or a recreate gets them back.
"""

from __future__ import annotations

import contextlib
import io
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from para.compose import Service, Stack
from para.config import Build
from para.docker import labels as L
from para.docker import svcspec
from para.docker.execio import ExecIO
from para.docker.service import DockerService
from para.docker.spec import free_port
from para.errors import ContainerError, ParaError, PortInUse, ServiceFailed
from para.state import ServiceRef, SessionRecord, StackRef
from para.text import printable

if TYPE_CHECKING:
    from para.docker.manager import DockerManager

_TAIL = 20
_PORT_TRIES = 3
# How long a service without a healthcheck must stay up to count as started
SETTLE = 0.5


def up(
    manager: DockerManager,
    record: SessionRecord,
    stack: Stack,
    undo: contextlib.ExitStack,
    *,
    previous: StackRef | None = None,
) -> StackRef:
    """Make and start the session's services; their undo goes on ``undo``."""
    cfg = manager.session_config(None)
    service = manager.service(cfg.backend, cfg.host)
    info = service.ping()
    repo, session = manager.repo, record.name
    labels = svcspec.stack_labels(repo, session)
    network = L.stack_network_name(repo.repo_id, session)
    service.create_network(network, labels)
    undo.callback(_quietly, service.remove_network, network)
    volumes = []
    for short in stack.volumes:
        name = L.stack_volume_name(repo.repo_id, session, short)
        if L.ensure_volume(service, name, {**labels, L.VOLUME: short}):
            undo.callback(_quietly, service.remove_volume, name)
        volumes.append(name)
    deadline = time.monotonic() + cfg.services_timeout
    refs: dict[str, ServiceRef] = {}
    for name, svc in stack.services.items():
        for dependency, condition in svc.depends_on.items():
            _wait(service, stack, refs, session, [dependency], deadline, condition=condition)
        image = _image(manager, service, svc)
        old = previous.services.get(name) if previous else None
        refs[name] = _create(
            manager, service, record, svc, image, network, undo, old.ports if old else {}
        )
    _wait(service, stack, refs, session, list(refs), deadline)
    return StackRef(
        backend=info.backend,
        endpoint=info.endpoint,
        network=network,
        volumes=volumes,
        services=refs,
    )


def _create(
    manager: DockerManager,
    service: DockerService,
    record: SessionRecord,
    svc: Service,
    image: str,
    network: str,
    undo: contextlib.ExitStack,
    wanted: Mapping[str, int],
) -> ServiceRef:
    """Create and start one service, its ports published; a port taken meanwhile (by
    another session starting at the same moment) is picked again."""
    cfg = manager.session_config(None)
    for attempt in range(_PORT_TRIES):
        ports = {
            port: (wanted.get(str(port)) if attempt == 0 and _free(wanted.get(str(port))) else None)
            or free_port()
            for port in svc.ports
        }
        spec = svcspec.container_spec(
            manager.repo,
            record.name,
            Path(record.worktree),
            svc,
            image=image,
            network=network,
            ports=ports,
            cfg=cfg,
            env=manager.env,
            worktrees=manager.worktrees_dir,
        )
        container_id = service.create(spec)
        undo.callback(_quietly, service.remove, container_id)
        try:
            service.start(container_id)
        except PortInUse:
            _quietly(service.remove, container_id)
            if attempt == _PORT_TRIES - 1:
                raise
            continue
        return ServiceRef(
            id=container_id,
            name=spec.name,
            image=image,
            ports={str(c): h for c, h in ports.items()},
        )
    raise AssertionError("unreachable")  # the loop returns or raises


def _free(port: int | None) -> bool:
    if not port:
        return False
    try:
        from para.docker.spec import check_port_free

        check_port_free(port, port)
    except (PortInUse, OSError):
        return False
    return True


def _image(manager: DockerManager, service: DockerService, svc: Service) -> str:
    """The service's image: built from the repository (``build``), else pulled when
    the engine does not have it."""
    if svc.build is not None:
        from para.docker import build, images
        from para.imagesource import ImageSource

        plan = build.plan(
            manager.repo,
            manager.git,
            Build.model_validate({**svc.build, "name": svc.build.get("name") or svc.name}),
            manager.worktrees_dir,
        )
        chosen = images.Resolved(plan.tag, ImageSource("build", None, f"service {svc.name}"), plan)
        images.ensure(manager, service, chosen)
        return plan.tag
    assert svc.image is not None
    if service.image(svc.image) is None:
        manager.pull(service, svc.image)
    return svc.image


def one_shots(stack: Stack) -> set[str]:
    """Services another waits on to complete (a migration): they may exit, with 0."""
    return {
        dep
        for svc in stack.services.values()
        for dep, condition in svc.depends_on.items()
        if condition == "service_completed_successfully"
    }


def _wait(
    service: DockerService,
    stack: Stack,
    refs: Mapping[str, ServiceRef],
    session: str,
    names: list[str],
    deadline: float,
    *,
    condition: str | None = None,
) -> None:
    """Until every service of ``names`` meets ``condition`` (None: its readiness: a
    service without a healthcheck must also stay up for ``SETTLE`` seconds, so one that
    crashes at start is caught)."""
    waiting = set(names)
    interval = 0.05
    once = one_shots(stack)
    seen_up: dict[str, float] = {}
    while True:
        for name in sorted(waiting):
            wanted = condition or (
                "service_completed_successfully"
                if name in once
                else "service_healthy"
                if stack.services[name].healthcheck
                else "settled"
            )
            failure = _check(service, stack.services[name], refs[name], wanted, seen_up, name)
            if failure is True:
                waiting.discard(name)
            elif failure:
                raise _failed(service, session, name, refs[name], failure)
        if not waiting:
            return
        if time.monotonic() > deadline:
            name = sorted(waiting)[0]
            raise _failed(
                service,
                session,
                name,
                refs[name],
                "did not get ready in time (docker.services_timeout)",
            )
        time.sleep(interval)
        interval = min(interval * 1.5, 1.0)


def _check(
    service: DockerService,
    svc: Service,
    ref: ServiceRef,
    condition: str,
    seen_up: dict[str, float],
    name: str,
) -> bool | str:
    """True when ``condition`` holds, False while it may still, else why it never will."""
    info = service.inspect(ref.id)
    if info is None:
        return "was removed"
    if info.state in ("exited", "dead"):
        if condition == "service_completed_successfully" and info.exit_code == 0:
            return True
        why = "killed: out of memory" if info.oom_killed else f"code {info.exit_code}"
        return f"exited ({why})"
    if condition == "service_completed_successfully" or info.state != "running":
        return False
    if condition == "settled":
        first = seen_up.setdefault(name, time.monotonic())
        return time.monotonic() - first >= SETTLE or _up_for(info.started_at) >= SETTLE
    if condition == "service_started" or svc.healthcheck is None:
        return True
    return healthy(service, ref.id, svc)


def _up_for(started_at: str | None) -> float:
    """Seconds since the engine says the container started (0 when it cannot say)."""
    match = re.match(
        r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?", started_at or ""
    )
    if not match:
        return 0.0
    fraction = float(match.group(2) or 0)
    zone = match.group(3) or "Z"
    moment = datetime.fromisoformat(match.group(1) + ("+00:00" if zone == "Z" else zone))
    return max((datetime.now(UTC) - moment).total_seconds() - fraction, 0.0)


def healthy(service: DockerService, container_id: str, svc: Service) -> bool:
    """One run of the service's healthcheck, the way the engine would run it."""
    hc = svc.healthcheck
    if hc is None:
        return True
    sink = io.BytesIO()
    try:
        return service.exec(container_id, hc.test, ExecIO(sink, sink), timeout=hc.timeout) == 0
    except ParaError:
        return False


def _failed(
    service: DockerService, session: str, name: str, ref: ServiceRef, reason: str
) -> ServiceFailed:
    return ServiceFailed(service=name, session=session, reason=reason, output=tail(service, ref.id))


def tail(service: DockerService, container_id: str, lines: int = _TAIL) -> str:
    """The container's last lines of output, safe to print."""
    try:
        data = b"".join(service.logs(container_id, follow=False, tail=lines))
    except ParaError:
        return ""
    text = data.decode(errors="replace").splitlines()[-lines:]
    return "\n".join(f"  {printable(line)}" for line in text)


def down(service: DockerService, ref: StackRef) -> None:
    """Remove the services' containers, volumes and network (what is already gone is
    fine); ParaError from the engine is the caller's to report."""
    for svc in reversed(list(ref.services.values())):
        service.remove(svc.id)
    for volume in ref.volumes:
        service.remove_volume(volume)
    service.remove_network(ref.network)


def stop(service: DockerService, ref: StackRef, timeout: int) -> None:
    for svc in reversed(list(ref.services.values())):
        service.stop(svc.id, timeout)


def restart(
    manager: DockerManager,
    record: SessionRecord,
    stack: Stack,
) -> tuple[StackRef, bool]:
    """Start the session's stopped services again, in order, and wait for them; one that
    is gone (removed by hand) is made again on its recorded ports. Whether anything was
    not running."""
    ref = record.stack
    assert ref is not None
    service = manager.service_for(ref)
    cfg = manager.session_config(None)
    deadline = time.monotonic() + cfg.services_timeout
    refs = dict(ref.services)
    changed = False
    labels = svcspec.stack_labels(manager.repo, record.name)
    service.create_network(ref.network, labels)  # a no-op unless removed by hand
    for volume in ref.volumes:
        short = volume.removeprefix(L.stack_volume_name(manager.repo.repo_id, record.name, ""))
        L.ensure_volume(service, volume, {**labels, L.VOLUME: short})
    with contextlib.ExitStack() as undo:
        for name, svc in stack.services.items():
            for dependency, condition in svc.depends_on.items():
                _wait(
                    service, stack, refs, record.name, [dependency], deadline, condition=condition
                )
            known = refs.get(name)
            info = service.inspect(known.id) if known else None
            if info is None:
                changed = True
                old = known.ports if known else {}
                refs[name] = _create(
                    manager,
                    service,
                    record,
                    svc,
                    _image(manager, service, svc),
                    ref.network,
                    undo,
                    old,
                )
            elif not info.running and not (name in one_shots(stack) and info.exit_code == 0):
                changed = True
                service.start(info.id)
        _wait(service, stack, refs, record.name, list(refs), deadline)
        undo.pop_all()
    return ref.model_copy(update={"services": refs}), changed


def _quietly(action: Callable[[str], None], name: str) -> None:
    with contextlib.suppress(ParaError):
        action(name)


def check_network(mode: str) -> None:
    if mode == "none":
        raise ContainerError(
            problem="the session's container has no network (docker.network.mode none), so "
            "it cannot reach the session's services",
            hint="use another network mode, or start without them: --no-services",
        )
