"""Finish and cancel requests a session makes (``para-finish``, ``para-cancel``).

A request is claimed by renaming it into ``requests/claimed/<pid>-<file>``, so two
watchers at once carry it out once; a claim left by a watcher that died is returned.
"""

from __future__ import annotations

import contextlib
import json
import os

from pydantic import BaseModel

from para.channel.files import ChannelDir
from para.channel.models import CancelRequest, FinishRequest, Request
from para.errors import ChannelError
from para.state import pid_alive, utcnow


class RequestBox:
    """The requests of one session's channel."""

    def __init__(self, files: ChannelDir):
        self.files = files

    def pending(self) -> list[Request]:
        """Pending requests, oldest first. Claims left by a watcher that died are
        returned to the queue first (finish and cancel are safe to run again)."""
        out: list[tuple[float, str, Request]] = []
        if not self.files.path.is_dir():
            return []
        self._return_stale_claims()
        with self.files.open_dir("requests") as dfd:
            names = sorted(os.listdir(dfd))  # noqa: PTH208 - by descriptor
            for name in names:
                if name == "claimed" or name.startswith((".", "outcome-")):
                    continue
                kind = name.partition("-")[0]
                model: type[BaseModel]
                if kind == "finish" and name.endswith(".json"):
                    model = FinishRequest
                elif kind == "cancel" and name.endswith(".json"):
                    model = CancelRequest
                else:
                    self.files.reject(
                        "requests", name, "not a finish-<id>.json or cancel-<id>.json request"
                    )
                    continue
                try:
                    made = os.stat(name, dir_fd=dfd, follow_symlinks=False).st_mtime
                except OSError:
                    continue
                body = self.files.load("requests", name, model)
                if body is not None:
                    out.append((made, name, Request(kind=kind, file=name, body=body)))  # type: ignore[arg-type]
        return [request for _made, _name, request in sorted(out, key=lambda x: x[:2])]

    def _return_stale_claims(self) -> None:
        with self.files.open_dir("requests/claimed") as src, self.files.open_dir("requests") as dst:
            for name in os.listdir(src):  # noqa: PTH208 - by descriptor
                pid_text, _, original = name.partition("-")
                if not pid_text.isdigit() or not original:
                    continue
                if pid_alive(int(pid_text)):
                    continue
                with contextlib.suppress(OSError):
                    os.rename(name, original, src_dir_fd=src, dst_dir_fd=dst)

    def claim(self, request: Request) -> bool:
        """Take a request for this process by renaming it; False if another took it."""
        try:
            with (
                self.files.open_dir("requests") as src,
                self.files.open_dir("requests/claimed") as dst,
            ):
                os.rename(
                    request.file, f"{os.getpid()}-{request.file}", src_dir_fd=src, dst_dir_fd=dst
                )
        except FileNotFoundError:
            return False
        return True

    def release(self, request: Request, *, ok: bool, message: str) -> None:
        """Done with a claimed request; a failure is written back for the session to read
        (``requests/outcome-<id>.json``), since the session is still there."""
        with (
            contextlib.suppress(OSError, ChannelError),
            self.files.open_dir("requests/claimed") as fd,
        ):
            os.unlink(f"{os.getpid()}-{request.file}", dir_fd=fd)
        if not ok and self.files.path.is_dir():
            outcome = {
                "schema_version": 1,
                "id": request.body.id,
                "kind": request.kind,
                "ok": False,
                "message": message,
                "at": utcnow().isoformat(),
            }
            with contextlib.suppress(OSError, ChannelError):
                self.files.write(
                    "requests",
                    f"outcome-{request.body.id}.json",
                    json.dumps(outcome, indent=2).encode() + b"\n",
                )
