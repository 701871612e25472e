"""The monitor, driven headless through textual's pilot, on real repositories."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from para.app import App
from para.channel.layout import install_helpers
from para.monitor.app import MonitorApp, progress_bar
from para.monitor.data import collect
from tests.conftest import Para, git
from tests.docker.fake import FakeDockerService


def run_monitor(
    repo: Path,
    script: Callable[[MonitorApp, Pilot[None]], Awaitable[None]],
    *,
    watch_requests: bool = True,
) -> MonitorApp:
    sessions = App(cwd=repo, env=dict(os.environ)).sessions
    app = MonitorApp(sessions, interval=0, watch_requests=watch_requests)

    async def main() -> None:
        async with app.run_test(size=(180, 40)) as pilot:
            await until(pilot, lambda: app.refreshes >= 1)
            await script(app, pilot)

    asyncio.run(main())
    return app


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 20) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await pilot.pause(0.05)


def table_rows(app: MonitorApp) -> dict[str, list[str]]:
    table = app.query_one("#sessions", DataTable)
    return {
        str(row[0]): [str(c) for c in row]
        for row in (table.get_row_at(i) for i in range(table.row_count))
    }


async def refreshed(app: MonitorApp, pilot: Pilot[None]) -> None:
    before = app.refreshes
    await pilot.press("r")
    await until(pilot, lambda: app.refreshes > before)


def test_rows_with_reported_status_and_refresh(repo: Path, para: Para) -> None:
    para("start", "alpha")
    para("start", "beta")
    para("report", "alpha", "--task", "parse input", "--tests", "failed", "--progress", "3/6")
    beta = repo / ".para" / "worktrees" / "beta"
    (beta / "README.md").write_text("one\ntwo\n")
    (beta / "new.txt").write_text("x\n")
    git(beta, "add", "new.txt")
    git(beta, "commit", "-qm", "new")

    async def script(app: MonitorApp, pilot: Pilot[None]) -> None:
        rows = table_rows(app)
        assert set(rows) == {"alpha", "beta"}
        assert rows["alpha"][1] == "active"
        assert rows["alpha"][2] == "-"
        assert rows["alpha"][3] == "parse input"
        assert rows["alpha"][4] == "failed"
        assert rows["alpha"][5] == progress_bar((3, 6))
        # as in para list: commits ahead/behind the base, files not committed
        assert rows["beta"][6] == "+1/-0, 1 dirty"
        para("report", "alpha", "--blocked", "which API?")
        await refreshed(app, pilot)
        rows = table_rows(app)
        assert rows["alpha"][1] == "blocked"
        assert next(iter(rows)) == "alpha"  # blocked sessions first
        await pilot.press("l")
        detail = app.query_one("#detail", Static)
        await until(pilot, lambda: "blocked: which API?" in str(detail.render()))

    run_monitor(repo, script)


def test_finish_and_cancel_through_keys(repo: Path, para: Para) -> None:
    para("start", "done-one")
    para("start", "drop-one")
    (repo / ".para" / "worktrees" / "done-one" / "feature.txt").write_text("feature\n")
    (repo / ".para" / "worktrees" / "drop-one" / "scratch.txt").write_text("scratch\n")

    async def script(app: MonitorApp, pilot: Pilot[None]) -> None:
        names = list(table_rows(app))
        app.query_one("#sessions", DataTable).move_cursor(row=names.index("done-one"))
        await pilot.press("f")
        await pilot.pause()
        await pilot.press(*"Add feature")
        await pilot.press("enter")
        await until(pilot, lambda: table_rows(app).get("done-one", ["", ""])[1] == "review")
        names = list(table_rows(app))
        app.query_one("#sessions", DataTable).move_cursor(row=names.index("drop-one"))
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("y")
        await until(pilot, lambda: "drop-one" not in table_rows(app))

    run_monitor(repo, script)
    assert git(repo, "log", "-1", "--format=%s", "para/done-one") == "Add feature"
    assert git(repo, "show", "para/done-one:feature.txt") == "feature"
    archived = git(repo, "branch", "--list", "para/archived/*/drop-one").strip()
    assert git(repo, "show", f"{archived}:scratch.txt") == "scratch"
    assert not (repo / ".para" / "worktrees" / "drop-one").exists()


def test_cancel_needs_confirmation(repo: Path, para: Para) -> None:
    para("start", "keep")

    async def script(app: MonitorApp, pilot: Pilot[None]) -> None:
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("n")
        await refreshed(app, pilot)
        assert table_rows(app)["keep"][1] == "active"

    run_monitor(repo, script)
    assert para.json("status", "keep", "--json")["status"] == "active"


def test_failing_action_shows_its_error(repo: Path, para: Para) -> None:
    para("start", "hooked")
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\necho 'lint failed: missing tests' >&2\nexit 1\n")
    hook.chmod(0o755)
    (repo / ".para" / "worktrees" / "hooked" / "x.txt").write_text("x\n")

    async def script(app: MonitorApp, pilot: Pilot[None]) -> None:
        await pilot.press("f")
        await pilot.pause()
        await pilot.press(*"try it", "enter")
        await until(pilot, lambda: app.last_error is not None)
        assert "lint failed: missing tests" in str(app.last_error)
        error = app.query_one("#error", Static)
        assert "finish hooked" in str(error.render())
        assert table_rows(app)["hooked"][1] == "active"

    run_monitor(repo, script)


def test_monitor_carries_out_requests(repo: Path, para: Para) -> None:
    para("start", "asks")
    (repo / ".para" / "worktrees" / "asks" / "asked.txt").write_text("asked\n")
    helpers = install_helpers(repo / ".para" / "state")
    env = {**os.environ, "PARA_CHANNEL": str(repo / ".para" / "state" / "channels" / "asks")}
    subprocess.run(
        ["sh", str(helpers / "para-finish"), "asked to finish"],
        env=env,
        check=True,
        capture_output=True,
    )

    async def script(app: MonitorApp, pilot: Pilot[None]) -> None:
        await until(pilot, lambda: table_rows(app).get("asks", ["", ""])[1] == "review")

    run_monitor(repo, script)
    assert git(repo, "log", "-1", "--format=%s", "para/asks") == "asked to finish"


def test_container_rows_show_state(repo: Path, para: Para, fake: FakeDockerService) -> None:
    para("start", "boxed", "--docker", "--image", "img:1", "--port", "8000")
    para("start", "plain")

    async def script(app: MonitorApp, pilot: Pilot[None]) -> None:
        rows = table_rows(app)
        assert rows["boxed"][2] == "running"
        assert rows["plain"][2] == "-"
        names = list(rows)
        app.query_one("#sessions", DataTable).move_cursor(row=names.index("boxed"))
        await pilot.pause()
        detail = str(app.query_one("#detail", Static).render())
        assert "8000 -> localhost:" in detail
        fake.calls.clear()
        await refreshed(app, pilot)
        assert fake.calls.count("list") == 1  # one engine list call per refresh

    run_monitor(repo, script, watch_requests=False)


def with_compose(repo: Path, text: str) -> None:
    """Services for the sessions from here on (the main checkout's file, untracked)."""
    (repo / "compose.yaml").write_text(text)
    (repo / ".para").mkdir(exist_ok=True)
    (repo / ".para" / "docker.json").write_text('{"compose_file": "compose.yaml"}')


def test_rows_show_each_session_s_services(repo: Path, para: Para, fake: FakeDockerService) -> None:
    with_compose(
        repo,
        "services:\n  db:\n    image: img:1\n    ports: ['5432']\n  cache:\n    image: img:1\n",
    )
    para("start", "stacked")
    para("start", "bare", "--no-services")

    async def script(app: MonitorApp, pilot: Pilot[None]) -> None:
        rows = table_rows(app)
        assert rows["stacked"][2] == "db running, cache running"
        assert rows["bare"][2] == "-"
        names = list(rows)
        app.query_one("#sessions", DataTable).move_cursor(row=names.index("stacked"))
        await pilot.pause()
        detail = str(app.query_one("#detail", Static).render())
        assert "service db running  ports 5432 -> localhost:" in detail
        assert "service cache running  ports none" in detail
        fake.calls.clear()
        await refreshed(app, pilot)
        assert fake.calls.count("list") == 1

    run_monitor(repo, script, watch_requests=False)


def test_the_monitor_runs_the_checks_an_engine_does_not(
    repo: Path, para: Para, fake: FakeDockerService
) -> None:
    """The engine lists no health (Podman): the monitor runs the service's healthcheck
    itself, once per interval, not once per refresh."""
    with_compose(
        repo,
        "services:\n  db:\n    image: img:1\n"
        "    healthcheck: {test: [CMD, db-ready], interval: 1m}\n  cache:\n    image: img:1\n",
    )
    para("start", "checked")
    fake.exec_codes["db-ready"] = 1  # it passed at start, fails now
    fake.calls.clear()

    async def script(app: MonitorApp, pilot: Pilot[None]) -> None:
        assert table_rows(app)["checked"][2] == "db unhealthy, cache running"
        assert len([c for c in fake.calls if c.startswith("exec ") and "db-ready" in c]) == 1
        fake.calls.clear()
        await refreshed(app, pilot)
        assert fake.calls.count("list") == 1
        assert not [c for c in fake.calls if "db-ready" in c]  # kept for its interval
        assert table_rows(app)["checked"][2] == "db unhealthy, cache running"

    run_monitor(repo, script, watch_requests=False)
    assert para.json("list", "--json")[0]["services"]["db"]["health"] is None  # list: no probe
    assert para.json("status", "checked", "--json")["services"]["db"]["health"] == "unhealthy"


def test_idle_and_stale(repo: Path, para: Para) -> None:
    para("start", "old")
    app = App(cwd=repo, env=dict(os.environ))
    later = datetime.now(UTC) + timedelta(minutes=10)
    assert [r.state for r in collect(app.sessions, now=later)] == ["idle"]
    much_later = datetime.now(UTC) + timedelta(days=2)
    assert [r.state for r in collect(app.sessions, now=much_later)] == ["stale"]


def test_logs_key_shows_the_last_job_log_and_keeps_it(repo: Path, para: Para) -> None:
    from para.channel.channel import Channel

    para("start", "logged")
    channel = Channel(repo / ".para" / "state" / "channels" / "logged", "logged")
    job = channel.queue.enqueue(["echo", "hello from the job"])
    runner = install_helpers(repo / ".para" / "state") / "para-runner"
    subprocess.run(
        ["sh", str(runner), "--drain"],
        env={**os.environ, "PARA_CHANNEL": str(channel.path)},
        check=True,
        timeout=60,
    )

    async def script(app: MonitorApp, pilot: Pilot[None]) -> None:
        await pilot.press("l")
        detail = app.query_one("#detail", Static)
        await until(pilot, lambda: "hello from the job" in str(detail.render()))
        assert f"job {job.id} (done)" in str(detail.render())
        await refreshed(app, pilot)
        assert "hello from the job" in str(detail.render())  # a refresh keeps it

    run_monitor(repo, script)


def test_messages_that_arrive_while_closing_are_ignored(repo: Path, para: Para) -> None:
    """A refresh or a row highlight can still be queued when the app quits; by then its
    widgets are gone, and handling it must not end the monitor with a traceback."""
    para("start", "late")

    async def script(app: MonitorApp, pilot: Pilot[None]) -> None:
        assert table_rows(app)["late"][0] == "late"

    app = run_monitor(repo, script)
    app._update_detail()  # what a RowHighlighted queued by the last refresh does
    app._show(app.rows, [])  # what a refresh finishing after the quit does
    assert app.refreshes == 1
