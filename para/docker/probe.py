"""Service health the engine does not keep.

Podman's compatible list carries no health, and Podman without systemd runs no
healthcheck once para's start is over. Where the engine says nothing of a running
service that has a healthcheck, ``status`` and the monitor run the check themselves (the
way the start does, through exec). A result is kept for the check's interval, so a
monitor refreshing every second runs each check at most once per interval. ``list``
never probes: it stays one engine call.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from para.docker import stack as engine_stack
from para.errors import ParaError

if TYPE_CHECKING:
    from para.compose import Stack
    from para.docker.manager import DockerManager
    from para.state import SessionRecord

_UNLOADED = object()


class HealthProbe:
    def __init__(self, manager: DockerManager) -> None:
        self.manager = manager
        self._stack: object = _UNLOADED
        self._seen: dict[str, tuple[float, str]] = {}  # container id: (when, health)

    def fill(self, record: SessionRecord, services: dict[str, dict[str, Any]]) -> None:
        """Put a health into each of ``services`` (a session's entries from ``states``)
        that is running, has a healthcheck, and got none from the engine."""
        ref = record.stack
        wanting = [
            name
            for name, entry in services.items()
            if entry.get("health") is None and entry.get("state") == "running"
        ]
        if ref is None or not wanting:
            return
        stack = self._load()
        if stack is None:
            return
        service = self.manager.service_for(ref)
        for name in wanting:
            svc = stack.services.get(name)
            known = ref.services.get(name)
            if svc is None or svc.healthcheck is None or known is None:
                continue
            now = time.monotonic()
            seen = self._seen.get(known.id)
            if seen is None or now - seen[0] >= svc.healthcheck.interval:
                passed = engine_stack.healthy(service, known.id, svc)
                seen = (now, "healthy" if passed else "unhealthy")
                self._seen[known.id] = seen
            services[name]["health"] = seen[1]

    def _load(self) -> Stack | None:
        """The configured services (their healthchecks), read once; None when there are
        none or the configuration does not load (the commands that use it say why)."""
        if self._stack is _UNLOADED:
            from para.stackconfig import load_stack

            manager = self.manager
            try:
                self._stack = load_stack(
                    manager.repo.root, manager.session_loaded(None), manager.env
                )
            except ParaError:
                self._stack = None
        return self._stack  # type: ignore[return-value]
