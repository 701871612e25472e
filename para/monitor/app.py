"""``para monitor``: every session at a glance, with actions (textual).

The table refreshes in a worker thread (git and the engine never block the UI); each
refresh also carries out pending finish/cancel requests from the sessions, like
``para watch``. Actions call the same services as the CLI; a failure is shown in the app.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Footer, Header, Input, Label, Static

from para.errors import ParaError
from para.monitor.data import Row, collect, log_tail
from para.text import printable

if TYPE_CHECKING:
    from para.sessions.context import SessionContext

COLUMNS = ("SESSION", "STATE", "CONTAINER", "TASK", "TESTS", "PROGRESS", "CHANGES", "ACTIVE")


def progress_bar(progress: tuple[int, int] | None, width: int = 10) -> str:
    if not progress or progress[1] <= 0:
        return "-"
    current, total = progress
    filled = max(0, min(width, round(width * current / total)))
    return f"{'█' * filled}{'░' * (width - filled)} {current}/{total}"


def ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    seconds = int((now - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{max(seconds, 0)}s ago"


def cells(row: Row, now: datetime) -> tuple[Text, ...]:
    """A row's cells as plain Text: what a session reported is shown, never interpreted
    (no control sequences, no rich markup)."""
    values = (
        row.name,
        row.state,
        row.container,
        row.task or "-",
        row.tests,
        progress_bar(row.progress),
        f"+{row.ahead}/-{row.behind}, {row.dirty} dirty",
        ago(row.last_activity, now),
    )
    return tuple(Text(printable(value)) for value in values)


class AskMessage(ModalScreen[str | None]):
    """Asks the finish commit message."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "cancel", "Cancel")
    ]

    def __init__(self, session: str):
        super().__init__()
        self.session = session

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Finish session {self.session}: commit message")
            yield Input(placeholder="what this session did", id="message")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class Confirm(ModalScreen[bool]):
    """Yes/no question."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str):
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.question)
            yield Button("Yes (y)", id="yes", variant="error")
            yield Button("No (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class MonitorApp(App[None]):
    """The monitor. ``sessions`` is the same session context the CLI uses."""

    TITLE = "para monitor"
    CSS = """
    #detail { height: 12; border-top: solid $accent; padding: 0 1; }
    #error { color: $error; height: auto; padding: 0 1; }
    #dialog { width: 70; height: auto; border: thick $accent; background: $surface;
              padding: 1 2; align: center middle; }
    AskMessage, Confirm { align: center middle; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("a", "attach", "Attach"),
        Binding("l", "logs", "Logs"),
        Binding("f", "finish", "Finish"),
        Binding("c", "cancel_session", "Cancel"),
        Binding("r", "refresh", "Refresh"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self, sessions: SessionContext, *, interval: float = 2.0, watch_requests: bool = True
    ):
        super().__init__()
        self.sessions = sessions
        self.interval = interval
        self.watch_requests = watch_requests
        self.rows: list[Row] = []
        self.refreshes = 0
        self.last_error: str | None = None
        self.shown_log: tuple[str, str] | None = None  # (session, text) from the l key

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
        yield Static("", id="error")
        yield Static("select a session", id="detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#sessions", DataTable)
        table.add_columns(*COLUMNS)
        self.action_refresh()
        if self.interval > 0:
            self.set_interval(self.interval, self.action_refresh)

    # -- refresh ---------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self._gather()

    @work(thread=True, exclusive=True, group="refresh")
    def _gather(self) -> None:
        notes: list[str] = []
        try:
            if self.watch_requests:
                from para.sessions.watch import Watcher

                for outcome in Watcher(self.sessions).run_once():
                    mark = "done" if outcome.ok else "failed"
                    notes.append(f"{outcome.session}: {outcome.kind} {mark}: {outcome.message}")
            rows = collect(self.sessions)
        except ParaError as exc:
            self.call_from_thread(self.show_error, exc.message)
            return
        self.call_from_thread(self._show, rows, notes)

    def _show(self, rows: list[Row], notes: list[str]) -> None:
        try:
            table = self.query_one("#sessions", DataTable)
        except NoMatches:
            return  # the app is closing and its widgets are gone; nothing to show
        selected = self.selected_name()
        now = datetime.now(UTC)
        table.clear()
        for row in rows:
            table.add_row(*cells(row, now), key=row.name)
        self.rows = rows
        if selected is not None:
            for index, row in enumerate(rows):
                if row.name == selected:
                    table.move_cursor(row=index)
        for note in notes:
            self.notify(printable(note), timeout=8, markup=False)
        self.refreshes += 1
        self._update_detail()

    def show_error(self, message: str) -> None:
        self.last_error = message
        self.query_one("#error", Static).update(Text(printable(f"error: {message}")))
        self.notify(printable(message), severity="error", timeout=10, markup=False)

    def clear_error(self) -> None:
        self.last_error = None
        self.query_one("#error", Static).update("")

    # -- selection -------------------------------------------------------------------------

    def selected_name(self) -> str | None:
        table = self.query_one("#sessions", DataTable)
        if not self.rows or table.cursor_row is None or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row].name

    def selected_row(self) -> Row | None:
        name = self.selected_name()
        return next((r for r in self.rows if r.name == name), None)

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._update_detail()

    def _show_log(self, name: str, text: str) -> None:
        self.shown_log = (name, text)
        self._update_detail()

    def _update_detail(self) -> None:
        # also reached from messages still queued while the app closes (a row highlighted
        # by the last refresh): by then the widgets are gone, and there is nothing to do
        try:
            row = self.selected_row()
            detail = self.query_one("#detail", Static)
        except NoMatches:
            return
        if row is None:
            detail.update(
                "no sessions: start one with para start NAME"
                if not self.rows
                else "select a session"
            )
            return
        lines = [f"{row.name}  branch {row.branch}  {row.state}", f"worktree {row.worktree}"]
        if row.has_container:
            ports = ", ".join(f"{c} -> localhost:{h}" for c, h in row.ports.items()) or "none"
            lines.append(f"container {row.container.split('; ')[0]}  ports {ports}")
        for service, state in row.services.items():
            published = row.service_ports.get(service) or {}
            ports = ", ".join(f"{c} -> localhost:{h}" for c, h in published.items()) or "none"
            lines.append(f"service {service} {state}  ports {ports}")
        if row.blocked_reason:
            lines.append(f"blocked: {row.blocked_reason}")
        lines.extend(f"problem: {p}" for p in row.problems)
        if self.shown_log is not None and self.shown_log[0] == row.name:
            lines.append(self.shown_log[1])
        detail.update(Text(printable("\n".join(lines), one_line=False)))

    # -- actions ---------------------------------------------------------------------------

    def _record(self, row: Row) -> Any:
        return self.sessions.store.read(row.name)

    def action_logs(self) -> None:
        row = self.selected_row()
        if row is not None:
            self._load_logs(row)

    @work(thread=True, exclusive=True, group="logs")
    def _load_logs(self, row: Row) -> None:
        try:
            text = log_tail(self.sessions, self._record(row))
        except ParaError as exc:
            self.call_from_thread(self.show_error, exc.message)
            return
        self.call_from_thread(self._show_log, row.name, text)

    def action_attach(self) -> None:
        row = self.selected_row()
        if row is None or row.state == "review":
            return
        try:
            record = self._record(row)
            with self.suspend():
                from para.sessions.host import open_shell

                open_shell(self.sessions, record)
        except ParaError as exc:
            self.show_error(exc.message)
        self.action_refresh()

    def action_finish(self) -> None:
        row = self.selected_row()
        if row is None or row.state == "review":
            return

        def done(message: str | None) -> None:
            if message:
                self._run_action(row.name, "finish", message)

        self.push_screen(AskMessage(row.name), done)

    def action_cancel_session(self) -> None:
        row = self.selected_row()
        if row is None or row.state == "review":
            return

        def done(yes: bool | None) -> None:
            if yes:
                self._run_action(row.name, "cancel", None)

        extra = (
            f" ({row.dirty} uncommitted change(s) go to the archive branch)" if row.dirty else ""
        )
        self.push_screen(Confirm(f"Cancel session {row.name}?{extra}"), done)

    @work(thread=True, group="actions")
    def _run_action(self, name: str, kind: str, message: str | None) -> None:
        try:
            if kind == "finish":
                from para.sessions.finish import finish_session

                assert message is not None
                record = finish_session(self.sessions, name, message)
                note = f"{name}: finished, branch {record.branch} ready for review"
            else:
                from para.sessions.archive import cancel_session

                record = cancel_session(self.sessions, name, force=True)
                note = f"{name}: cancelled, archived on {record.archive_branch}"
        except ParaError as exc:
            self.call_from_thread(self.show_error, f"{kind} {name}: {exc.message}")
            return
        self.call_from_thread(self.clear_error)
        self.call_from_thread(self.notify, printable(note), markup=False)
        self.call_from_thread(self.action_refresh)
