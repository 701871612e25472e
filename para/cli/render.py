"""Rendering of results: JSON for scripts, rich tables and plain lines for people."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from para.text import printable

if TYPE_CHECKING:
    from typing import Protocol

    from para.sessions.context import SessionContext
    from para.sessions.views import SessionView
    from para.state import BadRecord

    class PullProgress(Protocol):
        """One layer's progress during a pull (the engine's PullProgress)."""

        layer: str
        status: str
        current: int | None
        total: int | None


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def session_json(ctx: SessionContext, name: str) -> None:
    """A session as ``list --json`` shows it."""
    from para.sessions.views import view

    echo_json(view(ctx, name).to_json())


def warn(text: str) -> None:
    click.echo(f"warning: {text}", err=True)


def warn_bad_records(bad: Iterable[BadRecord]) -> None:
    for item in bad:
        warn(f"skipping unreadable session record {item.path}: {item.reason}")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Columns padded to their widest cell; the header bold on a terminal.

    Plain formatting rather than rich's Table: for 100 sessions rich spends ~150 ms
    measuring and rendering, more than list spends on git.
    """
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    head = line(headers)
    click.echo(click.style(head, bold=True) if sys.stdout.isatty() else head)
    for row in rows:
        click.echo(line(row))


def age(when: str | datetime | None, now: datetime | None = None) -> str:
    if when is None:
        return "-"
    moment = datetime.fromisoformat(when) if isinstance(when, str) else when
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def container_cell(container: dict[str, Any] | None) -> str:
    if container is None:
        return "-"
    text = str(container.get("state") or "unknown")
    health = container.get("health")
    if health:
        text += f" ({health})"
    return text


def report_cell(report: dict[str, Any] | None) -> str:
    """A session's report in one line, without any control character it may hold."""
    if not report:
        return "-"
    parts = [str(report.get("state") or "")]
    if report.get("task"):
        parts.append(str(report["task"]))
    progress = report.get("progress") or {}
    if progress.get("total"):
        parts.append(f"{progress.get('current', 0)}/{progress['total']}")
    if report.get("tests") and report["tests"] != "unknown":
        parts.append(f"tests {report['tests']}")
    return printable(" ".join(p for p in parts if p) or "-")


def services_cell(services: dict[str, Any]) -> str:
    """Each service and its state, health when it has one: ``db healthy, web running``."""
    if not services:
        return "-"
    return ", ".join(
        f"{name} {svc.get('health') or svc.get('state') or 'unknown'}"
        for name, svc in services.items()
    )


def session_table(views: Sequence[SessionView]) -> None:
    rows = []
    datas = [view.to_json() for view in views]
    with_services = any(data["services"] for data in datas)
    for data in datas:
        status = data["status"] if not data["problems"] else f"{data['status']} (!)"
        row = [
            data["name"],
            status,
            data["branch"],
            f"+{data['ahead']}/-{data['behind']}",
            str(data["dirty"]),
            container_cell(data["container"]),
            report_cell(data["report"]),
            age(data["created_at"]),
        ]
        if with_services:
            row.insert(6, services_cell(data["services"]))
        rows.append(row)
    headers = ["NAME", "STATUS", "BRANCH", "AHEAD", "DIRTY", "CONTAINER", "REPORT", "AGE"]
    if with_services:
        headers.insert(6, "SERVICES")
    table(tuple(headers), rows)
    for view in views:
        for problem in view.problems:
            warn(printable(f"{view.name}: {problem}"))


def session_detail(view: SessionView) -> None:
    data = view.to_json()
    rows: list[tuple[str, Any]] = [
        ("session", data["name"]),
        ("status", data["status"]),
        ("branch", data["branch"]),
        ("base", f"{data['base']} ({data['base_commit'][:12]})"),
        ("worktree", data["worktree"] + ("" if data["worktree_exists"] else "  (missing)")),
        (
            "changes",
            f"{data['dirty']} uncommitted, {data['ahead']} ahead, {data['behind']} behind base",
        ),
        ("created", f"{data['created_at']} ({age(data['created_at'])} ago)"),
    ]
    for name, svc in data["services"].items():
        ports = ", ".join(f"{c} -> localhost:{h}" for c, h in svc["ports"].items())
        where = f"; {ports}" if ports else ""
        rows.append(("service", f"{name} ({svc['image']}, {container_cell(svc)}){where}"))
    container = data["container"]
    if container is not None:
        rows.append(
            (
                "container",
                f"{container['name']} ({container['backend']}, {container_cell(container)})",
            )
        )
        source = container.get("image_source")
        rows.append(("image", container["image"] + (f" (from {source})" if source else "")))
        if container.get("ports"):
            ports = ", ".join(f"{c} -> {h}" for c, h in container["ports"].items())
            rows.append(("ports", ports))
        if container.get("oom_killed"):
            rows.append(
                (
                    "warning",
                    "the container was killed for running out of memory "
                    "(raise --memory or docker.resources.memory)",
                )
            )
        if container.get("config_changed"):
            rows.append(
                (
                    "config",
                    "changed since the container was made; para docker start "
                    f"{data['name']} --recreate applies it",
                )
            )
    if data["report"]:
        rows.append(("report", report_cell(data["report"])))
        report = data["report"]
        if report.get("blocked_reason"):
            rows.append(("blocked", report["blocked_reason"]))
        if (report.get("progress") or {}).get("message"):
            rows.append(("message", report["progress"]["message"]))
    for problem in data["problems"]:
        rows.append(("problem", problem))
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        click.echo(f"{key:<{width}}  {printable(value)}")


def container_table(rows: Sequence[dict[str, Any]]) -> None:
    lines = []
    for row in rows:
        ports = ", ".join(f"{c}->{h}" for c, h in (row.get("ports") or {}).items()) or "-"
        lines.append(
            [
                row["session"],
                row["name"],
                container_cell(row),
                row["image"],
                ports,
                "orphan (para docker cleanup)" if row.get("orphan") else "",
            ]
        )
    table(("SESSION", "CONTAINER", "STATE", "IMAGE", "PORTS", "NOTE"), lines)


def container_detail(data: dict[str, Any], session: str) -> None:
    rows: list[tuple[str, Any]] = [
        ("container", f"{data['name']} ({data['id'][:12]})"),
        ("backend", data["backend"]),
        (
            "image",
            data["image"] + (f" (from {data['image_source']})" if data.get("image_source") else ""),
        ),
        ("state", container_cell(data)),
    ]
    if data.get("exit_code") not in (None, 0) and data.get("state") != "running":
        rows.append(("exit code", data["exit_code"]))
    if data.get("oom_killed"):
        rows.append(
            (
                "oom",
                "a process was killed for running out of memory since the container "
                "started (raise --memory)",
            )
        )
    limits = data.get("limits") or {}
    if limits:
        memory = limits.get("memory")
        rows.append(
            (
                "limits",
                f"cpus {limits.get('cpus') or '-'}, memory "
                f"{f'{memory // 2**20}m' if memory else '-'}, pids "
                f"{limits.get('pids') or '-'}",
            )
        )
    for container_port, host_port in (data.get("ports") or {}).items():
        rows.append(("port", f"{container_port} -> localhost:{host_port}"))
    if data.get("networks"):
        rows.append(("networks", ", ".join(data["networks"])))
    if data.get("error"):
        rows.append(("error", data["error"]))
    if data.get("config_changed"):
        rows.append(
            (
                "config",
                "changed since the container was made; para docker start "
                f"{session} --recreate applies it",
            )
        )
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        click.echo(f"{key:<{width}}  {printable(value)}")


@contextlib.contextmanager
def pull_progress(image: str) -> Iterator[Callable[[PullProgress], None]]:
    """A rich progress bar per layer on stderr while an image is pulled."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    tasks: dict[str, Any] = {}
    click.echo(f"pulling {image}", err=True)

    def report(event: PullProgress) -> None:
        if not event.layer:
            return
        if event.layer not in tasks:
            tasks[event.layer] = progress.add_task(f"{event.layer[:12]} {event.status}", total=None)
        task = tasks[event.layer]
        progress.update(
            task,
            description=f"{event.layer[:12]} {event.status}",
            completed=event.current or 0,
            total=event.total or None,
        )

    with progress:
        yield report


@contextlib.contextmanager
def build_progress(image: str) -> Iterator[Callable[[str], None]]:
    """A build on stderr: each step as it begins and, in a terminal, the step's latest
    line of output under a spinner (the whole output goes to the build's log)."""
    import re

    from rich.console import Console
    from rich.text import Text

    step = re.compile(r"^(Step \d+/\d+ :|STEP \d+/\d+:)")
    console = Console(stderr=True, highlight=False)
    click.echo(f"building {image}", err=True)
    if not console.is_terminal:

        def plain(line: str) -> None:
            if step.match(line):
                click.echo(f"  {printable(line)}", err=True)

        yield plain
        return
    with console.status("") as status:

        def live(line: str) -> None:
            text = printable(line)
            if step.match(text):
                console.print(Text(f"  {text}", style="bold"))
            else:
                status.update(Text(text[: max(console.width - 4, 10)], style="dim"))

        yield live
