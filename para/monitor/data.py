"""What the monitor shows, gathered off the UI thread: one row per session.

``collect`` makes one labelled engine list call per engine for all containers, one read of
each channel's status file, and a few git processes per session run in parallel.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from para.errors import ParaError

if TYPE_CHECKING:
    from para.sessions.context import SessionContext
    from para.sessions.views import SessionView
    from para.state import SessionRecord

IDLE_AFTER = timedelta(minutes=5)
STALE_AFTER = timedelta(hours=24)


@dataclass
class Row:
    name: str
    state: str  # active | idle | stale | blocked | review
    container: str  # "-" for host sessions, else state (health); then its services
    task: str
    tests: str
    progress: tuple[int, int] | None
    ahead: int
    behind: int
    dirty: int
    last_activity: datetime | None
    branch: str
    worktree: str
    ports: dict[str, int] = field(default_factory=dict)
    has_container: bool = False
    # "name state-or-health" per service, and each one's published ports
    services: dict[str, str] = field(default_factory=dict)
    service_ports: dict[str, dict[str, int]] = field(default_factory=dict)
    blocked_reason: str | None = None
    problems: list[str] = field(default_factory=list)


def _parse(moment: Any) -> datetime | None:
    if not moment:
        return None
    try:
        value = datetime.fromisoformat(str(moment).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _last_activity(ctx: SessionContext, view: SessionView) -> datetime | None:
    """Latest of: the last report, the last commit on the branch, the worktree's index."""
    rec = view.record
    moments: list[datetime] = [rec.created_at]
    report = view.report or rec.report or {}
    if (stamp := _parse(report.get("timestamp"))) is not None:
        moments.append(stamp)
    with contextlib.suppress(OSError, ParaError, ValueError):
        if (commit := _parse(ctx.git.last_commit_time(rec.branch))) is not None:
            moments.append(commit)
    if rec.git_admin:  # git's admin dir, not the worktree's (container-writable) .git file
        with contextlib.suppress(OSError):
            index = Path(rec.git_admin) / "index"
            moments.append(datetime.fromtimestamp(index.stat().st_mtime, UTC))
    return max(moments)


def _state(view: SessionView, last: datetime | None, now: datetime) -> str:
    rec = view.record
    if rec.status != "active":
        return rec.status
    report = view.report or {}
    if report.get("state") == "blocked":
        return "blocked"
    if last is not None and now - last > STALE_AFTER:
        return "stale"
    if last is not None and now - last > IDLE_AFTER:
        return "idle"
    return "active"


def row_of(ctx: SessionContext, view: SessionView, now: datetime) -> Row:
    rec = view.record
    report = view.report or rec.report or {}
    progress = report.get("progress") or None
    container = "-"
    ports: dict[str, int] = {}
    if rec.container is not None:
        state = (view.container_state or {}).get("state", "unknown")
        health = (view.container_state or {}).get("health")
        container = f"{state} ({health})" if health else str(state)
        ports = dict((view.container_state or {}).get("ports") or rec.container.ports)
    services: dict[str, str] = {}
    service_ports: dict[str, dict[str, int]] = {}
    for name, svc in view.to_json()["services"].items():
        services[name] = str(svc.get("health") or svc.get("state") or "unknown")
        service_ports[name] = dict(svc.get("ports") or {})
    if services:
        summary = ", ".join(f"{n} {s}" for n, s in services.items())
        container = summary if container == "-" else f"{container}; {summary}"
    last = _last_activity(ctx, view)
    return Row(
        name=rec.name,
        state=_state(view, last, now),
        container=container,
        task=str(report.get("task") or ""),
        tests=str(report.get("tests") or "unknown"),
        progress=(int(progress["current"]), int(progress["total"]))
        if progress and progress.get("total") is not None and progress.get("current") is not None
        else None,
        ahead=view.ahead,
        behind=view.behind,
        dirty=view.dirty,
        last_activity=last,
        branch=rec.branch,
        worktree=rec.worktree,
        ports=ports,
        has_container=rec.container is not None,
        services=services,
        service_ports=service_ports,
        blocked_reason=report.get("blocked_reason"),
        problems=list(view.problems),
    )


def collect(ctx: SessionContext, now: datetime | None = None) -> list[Row]:
    """Rows for active and review sessions (cancelled ones are not shown)."""
    from para.sessions.views import records, views

    now = now or datetime.now(UTC)
    found, _bad = records(ctx)
    shown = views(ctx, found, probe=True)
    if not shown:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(shown))) as pool:
        rows = list(pool.map(lambda v: row_of(ctx, v, now), shown))
    order = {"blocked": 0, "active": 1, "idle": 2, "stale": 3, "review": 4}
    return sorted(rows, key=lambda r: (order.get(r.state, 5), r.name))


def log_tail(ctx: SessionContext, record: SessionRecord, lines: int = 20) -> str:
    """The last lines of the newest job log, else of the container's log."""
    queue = ctx.channel(record.name).queue
    with contextlib.suppress(ParaError, OSError):
        jobs = queue.jobs()
        if jobs:
            data, _ = queue.log_chunks(jobs[-1].id)
            text = data.decode(errors="replace").splitlines()[-lines:]
            return f"job {jobs[-1].id} ({jobs[-1].state}):\n" + "\n".join(text)
    if record.container is not None:
        with contextlib.suppress(ParaError):
            chunks = ctx.containers.logs(record, follow=False, tail=lines)
            return "container log:\n" + b"".join(chunks).decode(errors="replace")
    return "(no log yet)"
