"""``para docker exec --all``: one command in every running session container at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from para.docker.execio import ExecIO
from para.errors import ContainerNotFound, ParaError
from para.state import SessionRecord

if TYPE_CHECKING:
    from para.docker.manager import DockerManager


def exec_all(
    manager: DockerManager,
    argv: list[str],
    *,
    env: dict[str, str] | None,
    workdir: str | None,
    out: Any,
    err: Any,
) -> int:
    """Run ``argv`` in every active session's running container in parallel; output
    lines are prefixed with the session name; returns the worst exit code."""
    records = [
        r for r in manager.store.load_all()[0] if r.status == "active" and r.container is not None
    ]
    states = manager.states(records)
    targets = [r for r in records if states.get(r.name, {}).get("state") == "running"]
    skipped = [
        f"{r.name} ({states.get(r.name, {}).get('state', 'unknown')})"
        for r in records
        if r not in targets
    ]
    if not targets:
        raise ContainerNotFound(
            "no session has a running container"
            + (f" (skipped: {', '.join(skipped)})" if skipped else ""),
            hint="start one: para docker start NAME, or para start NAME --docker",
        )
    if skipped:
        err.write(f"para: skipped, container not running: {', '.join(skipped)}\n".encode())
        err.flush()
    lock = threading.Lock()
    width = max(len(r.name) for r in targets)

    def one(rec: SessionRecord) -> int:
        prefix = f"[{rec.name:<{width}}] ".encode()
        o, e = PrefixedWriter(out, prefix, lock), PrefixedWriter(err, prefix, lock)
        try:
            return manager.exec(rec, argv, ExecIO(o, e), env=env, workdir=workdir)  # type: ignore[arg-type]
        except ParaError as exc:
            e.write(f"error: {exc.message}\n".encode())
            return 1
        finally:
            o.close()
            e.close()

    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        codes = list(pool.map(one, targets))
    return max(codes)


class PrefixedWriter:
    """Writes complete lines to ``target`` with a prefix, under a shared lock."""

    def __init__(self, target: Any, prefix: bytes, lock: Any):
        self.target = target
        self.prefix = prefix
        self.lock = lock
        self.buf = b""

    def write(self, data: bytes) -> int:
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        if lines:
            with self.lock:
                for line in lines:
                    self.target.write(self.prefix + line + b"\n")
                self.target.flush()
        return len(data)

    def flush(self) -> None:
        """Lines are flushed as they complete."""

    def close(self) -> None:
        if self.buf:
            with self.lock:
                self.target.write(self.prefix + self.buf + b"\n")
                self.target.flush()
            self.buf = b""
