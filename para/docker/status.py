"""What ``status``, ``list`` and the monitor show of containers: states from one labelled
list call per engine, details from one inspect, and whether the configuration drifted."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from para.docker import health, images, spec
from para.docker import labels as L
from para.docker.service import ContainerInfo
from para.errors import ParaError
from para.options import ContainerOptions
from para.state import ContainerRef, SessionRecord, StackRef

if TYPE_CHECKING:
    from para.docker.manager import DockerManager
    from para.docker.probe import HealthProbe


def details(manager: DockerManager, record: SessionRecord) -> dict[str, Any]:
    """Everything ``status`` shows about a session's container (one inspect call)."""
    ref = record.container
    if ref is None:
        return {}
    try:
        info = manager.service_for(ref).inspect(ref.id)
    except ParaError as exc:
        return {"state": "unreachable", "error": exc.message}
    if info is None:
        return {"state": "missing"}
    service = manager.service_for(ref)
    if info.running:
        oom = info.oom_killed or (health.oom_kills(service, ref.id) or 0) > 0
    else:
        oom = health.died_of_memory(service, info)
    return {
        "state": info.state,
        "health": info.health,
        "exit_code": info.exit_code,
        "oom_killed": oom,
        "config_changed": config_changed(manager, record, info),
        "ports": info.ports or dict(ref.ports),
        "limits": {
            "cpus": info.nano_cpus / 1e9 if info.nano_cpus else None,
            "memory": info.memory,
            "pids": info.pids_limit,
        },
        "networks": info.networks,
        "config_hash": info.labels.get(L.CONFIG_HASH),
    }


def config_changed(
    manager: DockerManager, record: SessionRecord, info: ContainerInfo
) -> bool | None:
    """Whether the configuration now differs from the container's (None: unknown)."""
    label = info.labels.get(L.CONFIG_HASH)
    ref = record.container
    if not label or ref is None:
        return None
    options = ContainerOptions.given(ref)  # what a recreate starts from
    try:
        loaded = manager.session_loaded(options)
        cfg = loaded.config.docker
        image = images.resolve(manager, loaded, Path(record.worktree)).ref
    except ParaError:
        return None  # a broken config file is reported by the commands that use it
    return spec.fingerprint(cfg, image, options) != label


def states(
    manager: DockerManager, records: list[SessionRecord], probe: HealthProbe | None = None
) -> dict[str, dict[str, Any]]:
    """Container state per session name, its services' under ``services``: one labelled
    list call per engine (the services are in the same list). ``probe`` puts a health
    into the services the engine gives none."""
    out = _states(manager, records)
    if probe is not None:
        for rec in records:
            services = out.get(rec.name, {}).get("services")
            if services:
                probe.fill(rec, services)
    return out


def _states(manager: DockerManager, records: list[SessionRecord]) -> dict[str, dict[str, Any]]:
    by_endpoint: dict[tuple[str, str], list[SessionRecord]] = {}
    for rec in records:
        for ref in (rec.container, rec.stack):
            if ref is not None:
                group = by_endpoint.setdefault((ref.backend, ref.endpoint), [])
                if rec not in group:
                    group.append(rec)
    out: dict[str, dict[str, Any]] = {}
    for (backend, endpoint), recs in by_endpoint.items():
        try:
            engine = manager.service_for(_ref_on(recs[0], backend, endpoint))
            listed = engine.list_containers(L.repo_filter(manager.repo.repo_id))
        except ParaError as exc:
            for rec in recs:
                entry = out.setdefault(rec.name, {})
                if _on(rec.container, backend, endpoint):
                    entry.update({"state": "unreachable", "health": None, "error": exc.message})
                if _on(rec.stack, backend, endpoint):
                    entry["services"] = {
                        name: {"state": "unreachable", "health": None}
                        for name in rec.stack.services  # type: ignore[union-attr]
                    }
            continue
        by_id = {c.id: c for c in listed}
        for rec in recs:
            entry = out.setdefault(rec.name, {})
            if rec.container is not None and _on(rec.container, backend, endpoint):
                info = by_id.get(rec.container.id)
                if info is None:
                    entry.update({"state": "missing", "health": None})
                else:
                    entry.update(
                        {
                            "state": info.state,
                            "health": info.health,
                            "ports": info.ports or dict(rec.container.ports),
                        }
                    )
            if rec.stack is not None and _on(rec.stack, backend, endpoint):
                services = {}
                for name, svc in rec.stack.services.items():
                    found = by_id.get(svc.id)
                    services[name] = (
                        {"state": "missing", "health": None}
                        if found is None
                        else {
                            "state": found.state,
                            "health": found.health,
                            "ports": found.ports or dict(svc.ports),
                        }
                    )
                entry["services"] = services
    return out


def _on(ref: ContainerRef | StackRef | None, backend: str, endpoint: str) -> bool:
    return ref is not None and (ref.backend, ref.endpoint) == (backend, endpoint)


def _ref_on(rec: SessionRecord, backend: str, endpoint: str) -> ContainerRef | StackRef:
    ref = rec.container if _on(rec.container, backend, endpoint) else rec.stack
    assert ref is not None
    return ref
