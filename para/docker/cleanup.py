"""Finding this repository's para containers, and removing those whose session is gone.

Everything is found by label (``dev.para.*``), scoped to the repository; an unlabelled
container, or a running one of another repository, is never touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from para.docker import labels as L
from para.docker.service import ContainerInfo, DockerService
from para.errors import EngineUnavailable, ParaError
from para.state import SessionRecord

if TYPE_CHECKING:
    from para.docker.manager import DockerManager


def _endpoints(
    manager: DockerManager, records: list[SessionRecord]
) -> list[tuple[str, str | None]]:
    """The configured engine first, then any other engine a session's container is on."""
    found: list[tuple[str, str | None]] = [(manager.config.backend, manager.config.host)]
    for rec in records:
        for ref in (
            rec.container or rec.previous_container,
            rec.stack or rec.previous_stack,
        ):
            if ref is not None and (ref.backend, ref.endpoint) not in found:
                found.append((ref.backend, ref.endpoint))
    return found


def _reachable(
    manager: DockerManager,
    records: list[SessionRecord],
    repo_id: str | None,
    *,
    require_configured: bool,
) -> Iterator[tuple[DockerService, list[ContainerInfo]]]:
    """Each distinct reachable engine with its para containers (``repo_id`` None: of
    every repository). The configured engine must answer when ``require_configured``
    or when it is the only one; the others may be gone."""
    seen: set[str] = set()
    endpoints = _endpoints(manager, records)
    for index, (backend, host) in enumerate(endpoints):
        try:
            service = manager.service(backend, host)
            if service.info.endpoint in seen:
                continue
            seen.add(service.info.endpoint)
            yield service, service.list_containers(L.repo_filter(repo_id))
        except EngineUnavailable:
            if index == 0 and (require_configured or len(endpoints) == 1):
                raise
            continue


def containers(manager: DockerManager) -> list[dict[str, Any]]:
    """This repository's para containers on every engine its sessions use; ``orphan``
    when ``para docker cleanup`` would remove it."""
    now = datetime.now(UTC)
    all_records = manager.store.load_all()[0]
    records = {r.name: r for r in all_records}
    rows = []
    for service, listed in _reachable(
        manager, all_records, manager.repo.repo_id, require_configured=False
    ):
        for info in listed:
            current = orphan_reason(manager, service, info, records, now) is None
            rows.append(
                {
                    "id": info.id,
                    "name": info.name,
                    "session": info.labels.get(L.SESSION, ""),
                    "service": info.labels.get(L.SERVICE),
                    "image": info.image,
                    "state": info.state,
                    "health": info.health,
                    "ports": info.ports,
                    "backend": service.info.backend,
                    "orphan": not current,
                }
            )
    return rows


def cleanup(
    manager: DockerManager, *, dry_run: bool, all_repos: bool, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Remove para containers whose session is gone (never unlabelled ones)."""
    now = now or datetime.now(UTC)
    records, _bad = manager.store.load_all()
    by_name = {r.name: r for r in records}
    repo_id = manager.repo.repo_id
    scope = None if all_repos else repo_id
    actions: list[dict[str, Any]] = []
    seen: set[str] = set()
    for service, listed in _reachable(manager, records, scope, require_configured=True):
        for info in listed:
            if info.id in seen:
                continue
            seen.add(info.id)
            reason = orphan_reason(manager, service, info, by_name, now)
            if reason is None:
                continue
            if not dry_run:
                service.remove(info.id)
            actions.append(
                {
                    "kind": "container",
                    "name": info.name,
                    "id": info.id,
                    "session": info.labels.get(L.SESSION),
                    "reason": reason,
                    "done": not dry_run,
                }
            )
        for net in service.networks(L.repo_filter(scope)):
            mine = net.labels.get(L.REPO_ID) == repo_id
            gone = not Path(net.labels.get(L.REPO, "/nonexistent")).exists()
            if mine and L.SESSION in net.labels and _alive(by_name, net.labels[L.SESSION]):
                continue  # a session's services network (its services may be stopped)
            if net.containers == 0 and (mine or gone):
                if not dry_run:
                    service.remove_network(net.name)
                actions.append(
                    {
                        "kind": "network",
                        "name": net.name,
                        "id": net.id,
                        "session": None,
                        "reason": "no containers left",
                        "done": not dry_run,
                    }
                )
        actions += _stack_volumes(service, repo_id, by_name, dry_run=dry_run, all_repos=all_repos)
        if all_repos:
            actions += _gone_caches(service, dry_run=dry_run)
    return actions


def _alive(by_name: dict[str, SessionRecord], session: str) -> bool:
    rec = by_name.get(session)
    return rec is not None and rec.status == "active" and rec.stack is not None


def _stack_volumes(
    service: DockerService,
    repo_id: str,
    by_name: dict[str, SessionRecord],
    *,
    dry_run: bool,
    all_repos: bool,
) -> list[dict[str, Any]]:
    """Volumes of services whose session is gone or ended (another repository's only
    with ``all_repos``, when that repository no longer exists)."""
    actions = []
    for volume in service.volumes(L.repo_filter(repo_id if not all_repos else None)):
        labels = volume.labels
        if L.VOLUME not in labels:
            continue
        if labels.get(L.REPO_ID) == repo_id:
            session = labels.get(L.SESSION, "")
            rec = by_name.get(session)
            if _alive(by_name, session) and volume.name in rec.stack.volumes:  # type: ignore[union-attr]
                continue
            reason = f"session {session} is gone or ended"
        elif not Path(labels.get(L.REPO, "/nonexistent")).exists():
            reason = f"its repository {labels.get(L.REPO)} no longer exists"
        else:
            continue
        actions += _remove_volume(service, volume.name, labels.get(L.SESSION), reason, dry_run)
    return actions


def _remove_volume(
    service: DockerService, name: str, session: str | None, reason: str, dry_run: bool
) -> list[dict[str, Any]]:
    """The action of removing one volume; none when the engine refuses (still mounted
    by a container: the next cleanup)."""
    if not dry_run:
        try:
            service.remove_volume(name)
        except ParaError:
            return []
    return [
        {
            "kind": "volume",
            "name": name,
            "id": name,
            "session": session,
            "reason": reason,
            "done": not dry_run,
        }
    ]


def _gone_caches(service: DockerService, *, dry_run: bool) -> list[dict[str, Any]]:
    """The shared cache volumes of repositories that no longer exist (a repository's
    own outlive its sessions: that is what they are for)."""
    actions = []
    for volume in service.volumes(L.repo_filter(None)):
        repo = volume.labels.get(L.REPO)
        if L.CACHE not in volume.labels or not repo or Path(repo).exists():
            continue
        reason = f"cache of {repo}, which no longer exists"
        actions += _remove_volume(service, volume.name, None, reason, dry_run)
    return actions


def orphan_reason(
    manager: DockerManager,
    service: DockerService,
    info: ContainerInfo,
    by_name: dict[str, SessionRecord],
    now: datetime,
) -> str | None:
    """Why ``para docker cleanup`` would remove the container; None: it belongs."""
    if info.labels.get(L.REPO_ID) != manager.repo.repo_id:
        # Another repository's: only a stopped one whose repository is gone. A running
        # one may belong to a repository this process cannot see (another mount
        # namespace, another machine on the same engine).
        repo = info.labels.get(L.REPO)
        if repo and not Path(repo).exists() and info.state in ("exited", "dead", "created"):
            return f"its repository {repo} no longer exists and it is {info.state}"
        return None
    session = info.labels.get(L.SESSION, "")
    rec = by_name.get(session)
    if rec is None:
        return "no session record"
    if rec.status != "active":
        return f"session is {rec.status}"
    if L.SERVICE in info.labels:
        if rec.stack is None or all(s.id != info.id for s in rec.stack.services.values()):
            return "not one of the session's services"
        return None  # stopped with the session's container: it starts with it again
    if rec.container is None or rec.container.id != info.id:
        return "not the session's current container"
    if not (Path(rec.worktree) / ".git").exists():
        return "the session's worktree is gone"
    if info.state in ("exited", "dead", "created"):
        detail = service.inspect(info.id)
        finished = _parse_time(detail.finished_at if detail else None)
        retention = manager.config.retention_days
        if finished and now - finished > timedelta(days=retention):
            return f"stopped for more than {retention} days"
    return None


def _parse_time(text: str | None) -> datetime | None:
    if not text or text.startswith("0001-"):
        return None
    try:
        head = text.rstrip("Z").partition(".")[0]
        return datetime.fromisoformat(head).replace(tzinfo=UTC)
    except ValueError:
        return None
