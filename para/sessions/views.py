"""``para list`` and ``para status``: each record with what only git, the channel and the
engine know right now.

``list`` runs one ``git status`` per active session in a thread pool, gets ahead/behind
from one ``for-each-ref`` plus a cache keyed by the two tips, and asks each engine once
for all containers.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from para.errors import ParaError
from para.sessions.context import SessionContext
from para.state import BadRecord, SessionRecord


@dataclass
class SessionView:
    """A record plus what only the repository and engine know right now."""

    record: SessionRecord
    dirty: int = 0
    ahead: int = 0
    behind: int = 0
    worktree_exists: bool = True
    container_state: dict[str, Any] | None = None
    services_state: dict[str, dict[str, Any]] | None = None
    report: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.record.name

    def to_json(self) -> dict[str, Any]:
        rec = self.record
        container: dict[str, Any] | None = None
        if rec.container is not None:
            container = {
                "id": rec.container.id,
                "name": rec.container.name,
                "image": rec.container.image,
                "image_source": rec.container.image_source,
                "backend": rec.container.backend,
                "state": "unknown",
                "health": None,
                "ports": dict(rec.container.ports),
            }
            if self.container_state is not None:
                container.update(self.container_state)
        services: dict[str, Any] = {}
        for service, ref in (rec.stack.services if rec.stack else {}).items():
            services[service] = {
                "id": ref.id,
                "image": ref.image,
                "state": "unknown",
                "health": None,
                "ports": dict(ref.ports),
                **(self.services_state or {}).get(service, {}),
            }
        return {
            "name": rec.name,
            "branch": rec.archive_branch if rec.status == "cancelled" else rec.branch,
            "base": rec.base,
            "base_commit": rec.base_commit,
            "worktree": rec.worktree,
            "worktree_exists": self.worktree_exists,
            "status": rec.status,
            "created_at": rec.created_at.isoformat(),
            "finished_at": rec.finished_at.isoformat() if rec.finished_at else None,
            "dirty": self.dirty,
            "ahead": self.ahead,
            "behind": self.behind,
            "container": container,
            "services": services,
            "report": self.report if self.report is not None else rec.report,
            "last_request": rec.last_request,
            "problems": list(self.problems),
        }


def records(
    ctx: SessionContext, *, archived: bool = False
) -> tuple[list[SessionRecord], list[BadRecord]]:
    """The sessions ``list`` shows (with ``archived``, cancelled and archived ones too)."""
    found, bad = ctx.store.load_all()
    if not archived:
        return [r for r in found if r.status != "cancelled"], bad
    old, old_bad = ctx.store.load_archived()
    return found + [rec for _path, rec in old], bad + old_bad


def views(
    ctx: SessionContext, recs: Sequence[SessionRecord], *, probe: bool = False
) -> list[SessionView]:
    """Git facts for each record, gathered in parallel (each is one git process), after
    bringing in what containers committed (a file read each when nothing moved). With
    ``probe``, services the engine gives no health get para's own check (the monitor)."""
    if not recs:
        return []
    tips = ctx.git.branch_tips()
    problems = _sync_all(ctx, recs, tips)
    if problems.pop("", None) is not None:
        tips = ctx.git.branch_tips()  # a branch moved
    cache = AheadBehindCache(ctx.repo.state_dir / "cache" / "ahead-behind.json")
    with ThreadPoolExecutor(max_workers=min(8, len(recs))) as pool:
        found = list(pool.map(lambda r: _view(ctx, r, tips, cache), recs))
    cache.save()
    for view in found:
        view.problems.extend(problems.get(view.name, []))
    with_containers = [r for r in recs if r.container is not None or r.stack is not None]
    if with_containers and ctx.containers_factory is not None:
        states = ctx.containers.states(with_containers, probe=probe)
        for view in found:
            if view.name in states:
                _take_states(view, states[view.name])
    return found


def _take_states(view: SessionView, state: dict[str, Any]) -> None:
    services = state.pop("services", None)
    if services is not None:
        view.services_state = services
    if view.record.container is not None:
        view.container_state = state


def view(ctx: SessionContext, name: str, *, detailed: bool = False) -> SessionView:
    """One session; ``detailed`` adds the container's inspect data (limits, OOM...)."""
    record = ctx.store.read(name)
    problems = _sync_all(ctx, [record], ctx.git.branch_tips())
    problems.pop("", None)
    found = _view(ctx, ctx.store.read(name), ctx.git.branch_tips(), None)
    found.problems.extend(problems.get(name, []))
    has_any = record.container is not None or record.stack is not None
    if has_any and ctx.containers_factory is not None:
        states = ctx.containers.states([record], probe=detailed)
        _take_states(found, states.get(record.name, {}))
        if detailed and record.container is not None:
            found.container_state = ctx.containers.details(record)
    return found


def _sync_all(
    ctx: SessionContext, recs: Sequence[SessionRecord], tips: dict[str, str]
) -> dict[str, list[str]]:
    """Sync each active session that has a container of its own repository; what to
    say about each (key "": some branch moved)."""
    from para.sessions.sync import has_own_repository, sync_quietly

    said: dict[str, list[str]] = {}
    for rec in recs:
        if rec.status != "active" or rec.container is None:
            continue
        if not has_own_repository(rec):
            said.setdefault(rec.name, []).append(
                "its container was made by an older para, with the repository's .git "
                f"mounted into it: para docker start {rec.name} gives it a repository of "
                "its own"
            )
            continue
        result = sync_quietly(ctx, rec, host_tip=tips.get(rec.branch))
        if result.outcome in ("from-container", "from-host"):
            said[""] = []
        if result.problem:
            said.setdefault(rec.name, []).append(result.problem)
    return said


def _view(
    ctx: SessionContext,
    rec: SessionRecord,
    tips: dict[str, str],
    cache: AheadBehindCache | None,
) -> SessionView:
    found = SessionView(record=rec)
    worktree = Path(rec.worktree)
    branch = rec.archive_branch if rec.status == "cancelled" and rec.archive_branch else rec.branch
    if rec.status == "active":
        if not (worktree / ".git").exists():
            found.worktree_exists = False
            found.problems.append(
                "worktree missing (para clean archives it; para recover brings it back)"
            )
        else:
            try:
                found.dirty = ctx.git.dirty_count(ctx.worktree_ref(rec))
            except ParaError as exc:
                found.problems.append(f"git status failed: {exc.message}")
        status_file = ctx.repo.channels_dir / rec.name / "status.json"
        # lexists: the channel module (and its models) is imported only when there is
        # something to read; a symlink is read (and rejected) by the channel itself.
        if found.worktree_exists and os.path.lexists(status_file):
            status = ctx.channel(rec.name).status()
            if status is not None:
                found.report = status.model_dump(mode="json")
    else:
        found.worktree_exists = worktree.exists()
        if rec.status == "review" and branch not in tips:
            found.problems.append(
                f"its branch {branch} is gone (merged and deleted?): para clean forgets it"
            )
    # Against the base branch as it is now (behind = what it gained since), or the
    # commit the session started from when the base was not a branch.
    tip = tips.get(branch)
    base = tips.get(rec.base, rec.base_commit)
    if tip is None:
        return found
    key = f"{tip}...{base}"
    counts = cache.get(key) if cache is not None else None
    if counts is None:
        counts = ctx.git.ahead_behind(tip, base)
        if cache is not None:
            cache.put(key, counts)
    found.ahead, found.behind = counts
    return found


class AheadBehindCache:
    """Ahead/behind counts by (branch tip, base tip): they only change when a tip moves,
    so a steady ``list`` runs no rev-list at all. Advisory: lost or stale is harmless."""

    def __init__(self, path: Path):
        self.path = path
        self.used: dict[str, tuple[int, int]] = {}
        self.changed = False
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            self.known = {k: (int(v[0]), int(v[1])) for k, v in raw.items()}
        except (OSError, ValueError, TypeError, IndexError, AttributeError, RecursionError):
            self.known = {}

    def get(self, key: str) -> tuple[int, int] | None:
        value = self.known.get(key)
        if value is not None:
            self.used[key] = value
        return value

    def put(self, key: str, value: tuple[int, int]) -> None:
        self.used[key] = value
        self.changed = True

    def save(self) -> None:
        if not self.changed and len(self.used) == len(self.known):
            return
        with contextlib.suppress(OSError):
            from para.state import write_atomic

            write_atomic(self.path, json.dumps(self.used).encode())
