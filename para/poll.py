"""The one polling helper: wait for a condition with a deadline, never a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.02,
    max_interval: float = 0.5,
    transient: tuple[type[BaseException], ...] = (),
) -> T | None:
    """Call ``probe`` until it returns something truthy or ``timeout`` seconds pass.

    Returns the value, or None on timeout. Exceptions listed in ``transient`` count as
    "not yet"; the interval grows from ``interval`` to ``max_interval``.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
        except transient:
            value = None
        if value:
            return value
        now = time.monotonic()
        if now >= deadline:
            return None
        time.sleep(min(interval, deadline - now))
        interval = min(interval * 1.5, max_interval)
