"""Carrying out what sessions ask for: finish and cancel requests from their channels.

``para watch`` and the monitor call ``Watcher.run_once``. A request is claimed by an
atomic rename before anything is done, so two watchers at once carry it out once; its
outcome goes into the session record (``last_request``) and
``.para/state/logs/requests.jsonl``.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from para.errors import ParaError
from para.state import utcnow

if TYPE_CHECKING:
    from para.channel.models import Request
    from para.sessions.context import SessionContext
    from para.state import SessionRecord


@dataclass
class Outcome:
    session: str
    kind: str
    request_id: str
    ok: bool
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "session": self.session,
            "kind": self.kind,
            "id": self.request_id,
            "ok": self.ok,
            "message": self.message,
            "at": utcnow().isoformat(),
        }


class Watcher:
    def __init__(self, ctx: SessionContext):
        self.ctx = ctx

    def run_once(self) -> list[Outcome]:
        """Carry out what every active session asks for now. A session that ends or
        vanishes meanwhile (another watcher finished it) is passed over, never fatal."""
        records, _bad = self.ctx.store.load_all()
        outcomes: list[Outcome] = []
        for record in records:
            if record.status != "active":
                continue
            try:
                outcomes.extend(self._serve(record))
            except (ParaError, OSError):
                continue
        return outcomes

    def _serve(self, record: SessionRecord) -> list[Outcome]:
        from para.sessions.sync import sync_quietly

        sync_quietly(self.ctx, record)
        box = self.ctx.channel(record.name).requests
        outcomes = []
        for request in box.pending():
            if not box.claim(request):
                continue  # another watcher has it
            outcome = self._carry_out(record.name, request)
            box.release(request, ok=outcome.ok, message=outcome.message)
            self._record(outcome)
            outcomes.append(outcome)
            if outcome.ok:
                break  # the session is finished or cancelled: nothing more to do
        return outcomes

    def _carry_out(self, name: str, request: Request) -> Outcome:
        from para.channel.models import CancelRequest, FinishRequest
        from para.sessions.archive import cancel_session
        from para.sessions.finish import finish_session

        body = request.body
        try:
            if isinstance(body, FinishRequest):
                record = finish_session(self.ctx, name, body.message, branch=body.branch)
                return Outcome(
                    name,
                    "finish",
                    body.id,
                    True,
                    f"finished: branch {record.branch} is ready for review",
                )
            assert isinstance(body, CancelRequest)
            record = cancel_session(self.ctx, name, force=body.force, confirm=None)
            return Outcome(
                name, "cancel", body.id, True, f"cancelled: archived on {record.archive_branch}"
            )
        except ParaError as exc:
            return Outcome(name, request.kind, body.id, False, exc.message)
        except OSError as exc:  # the session changed under it (another watcher?)
            return Outcome(name, request.kind, body.id, False, f"{exc.strerror}: {exc.filename}")

    def _record(self, outcome: Outcome) -> None:
        data = outcome.to_json()
        store = self.ctx.store
        with contextlib.suppress(ParaError):
            store.update(outcome.session, lambda r: r.model_copy(update={"last_request": data}))
        log = self.ctx.repo.logs_dir / "requests.jsonl"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(data) + "\n")
