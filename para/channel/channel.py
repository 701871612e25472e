"""``Channel``: one session's channel, its status report, queue and requests."""

from __future__ import annotations

import shlex
from functools import cached_property

from para.channel.files import ChannelDir
from para.channel.jobs import JobQueue
from para.channel.models import Progress, Status
from para.channel.requests import RequestBox


class Channel(ChannelDir):
    """The status report here; the command queue in ``queue``, requests in ``requests``."""

    @cached_property
    def queue(self) -> JobQueue:
        return JobQueue(self)

    @cached_property
    def requests(self) -> RequestBox:
        return RequestBox(self)

    def status(self) -> Status | None:
        if not self.path.is_dir():
            return None
        result: Status | None = self.load(None, "status.json", Status)
        return result

    def write_status(self, status: Status) -> None:
        self.write(None, "status.json", status.model_dump_json(indent=2).encode() + b"\n")
        # para-status's memory of the values, so that a later para-status call in the
        # session keeps what this report set (it reads shell assignments, not JSON).
        progress = status.progress or Progress()
        values = {
            "state": status.state,
            "task": status.task,
            "phase": status.phase,
            "tests": status.tests,
            "current": progress.current,
            "total": progress.total,
            "message": progress.message,
            "blocked": status.blocked_reason,
        }
        lines = " ".join(
            f"{key}={shlex.quote('' if value is None else str(value))}"
            for key, value in values.items()
        )
        self.write(None, ".status.vars", lines.encode() + b"\n")
