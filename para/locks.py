"""Waiting for a lock another para process holds, the same way everywhere: a message at
once when blocked, StateLocked naming the lock file after the timeout."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from para.errors import StateLocked


@contextlib.contextmanager
def held(lock: Any, path: Path, timeout: float, who: str) -> Iterator[None]:
    """Hold a FileLock; say "waiting" only when actually blocked; StateLocked at timeout.
    (A lock is a kernel lock on the file: it ends with the process that holds it.)"""
    from filelock import Timeout

    try:
        lock.acquire(timeout=0)
    except Timeout:
        if timeout <= 0:
            raise StateLocked(path=str(path), seconds=0) from None
        print(f"waiting for {who} (lock {path})", file=sys.stderr)
        try:
            lock.acquire(timeout=timeout)
        except Timeout as exc:
            raise StateLocked(path=str(path), seconds=timeout) from exc
    try:
        yield
    finally:
        lock.release()
