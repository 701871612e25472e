"""Stacks: the services of a repository's sessions, as the session use cases see them.

The configuration is read once per command (``para.stackconfig``); the engine work is
``stack.py``'s. Besides the containers, a session's stack is a dotenv file of the
variables the host side gets (``.para/state/services/<session>.env``: 127.0.0.1 and the
published ports), for tools that read one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from para.compose import Stack, dotenv, variables
from para.docker import labels as L
from para.docker import stack as engine_stack
from para.docker.execio import ExecIO
from para.docker.service import DockerService
from para.errors import ContainerError, EngineUnavailable, ParaError
from para.state import SessionRecord, StackRef

if TYPE_CHECKING:
    from para.docker.manager import DockerManager

_UNSET = object()


class Stacks:
    def __init__(self, manager: DockerManager):
        self.manager = manager
        self._stack: object = _UNSET

    def configured(self) -> bool:
        cfg = self.manager.config
        return bool(cfg.compose_file or cfg.services)

    def load(self) -> Stack | None:
        """The services a new session gets (None: none configured); what of them para
        leaves out is said once, as a warning."""
        if self._stack is _UNSET:
            from para.stackconfig import load_stack

            manager = self.manager
            loaded = manager.session_loaded(None)
            stack = load_stack(manager.repo.root, loaded, manager.env)
            if stack is not None:
                for warning in (
                    stack.unsupported_warning(),
                    stack.ignored_warning(),
                    stack.refused_warning(),
                ):
                    if warning:
                        manager.warnings.append(warning)
            self._stack = stack
        return self._stack  # type: ignore[return-value]

    def check(self) -> None:
        """Fail before anything exists when services are configured but cannot be had:
        a configuration that does not load, or no engine."""
        if self.load() is not None:
            cfg = self.manager.config
            self.manager.service(cfg.backend, cfg.host).ping()

    def env_file(self, name: str) -> Path:
        return self.manager.repo.state_dir / "services" / f"{name}.env"

    def up(
        self,
        record: SessionRecord,
        undo: contextlib.ExitStack,
        *,
        previous: StackRef | None = None,
    ) -> StackRef | None:
        """The session's services, made and ready (None: none configured)."""
        stack = self.load()
        if stack is None:
            return None
        ref = engine_stack.up(self.manager, record, stack, undo, previous=previous)
        self._write_env(record.name, stack, ref)
        undo.callback(self._drop_env, record.name)
        return ref

    def start(self, record: SessionRecord) -> tuple[SessionRecord, bool]:
        """Start a session's stopped services again (one removed by hand is made again,
        on its ports); the record as updated, and whether anything was not running."""
        stack = self.load()
        if record.stack is None or stack is None:
            return record, False
        ref, changed = engine_stack.restart(self.manager, record, stack)
        self._write_env(record.name, stack, ref)
        if ref != record.stack:
            record = self.manager.store.update(
                record.name, lambda r: r.model_copy(update={"stack": ref})
            )
        return record, changed

    def stop(self, record: SessionRecord) -> None:
        if record.stack is not None:
            service = self.service_for(record.stack)
            engine_stack.stop(service, record.stack, self.manager.config.stop_timeout)

    def down(self, record: SessionRecord) -> None:
        """Remove a session's services, volumes and network; an engine that does not
        answer leaves them to ``para docker cleanup`` (a warning says so)."""
        self._drop_env(record.name)
        ref = record.stack
        if ref is None:
            return
        try:
            service = self.service_for(ref)
            engine_stack.down(service, ref)
            for left in service.list_containers(
                {**L.repo_filter(self.manager.repo.repo_id), L.SESSION: record.name}
            ):
                if L.SERVICE in left.labels:
                    service.remove(left.id)  # made by a start whose record was lost
        except EngineUnavailable as exc:
            self.manager.warnings.append(
                f"the services of session {record.name} were left behind ({exc.message}); "
                "para docker cleanup removes them once the engine is back"
            )
        except ParaError as exc:
            self.manager.warnings.append(
                f"could not remove all services of session {record.name}: {exc.message}"
            )

    def service_for(self, ref: StackRef) -> DockerService:
        return self.manager.service_for(ref)

    def container_of(self, record: SessionRecord, service: str) -> tuple[DockerService, str]:
        ref = record.stack
        if ref is None or service not in ref.services:
            known = ", ".join(ref.services) if ref else ""
            raise ContainerError(
                problem=f"session {record.name!r} has no service {service!r}",
                hint=f"its services: {known}" if known else "it has no services",
            )
        return self.service_for(ref), ref.services[service].id

    def logs(
        self, record: SessionRecord, service: str, *, follow: bool, tail: int | None
    ) -> Iterator[bytes]:
        engine, container_id = self.container_of(record, service)
        return engine.logs(container_id, follow=follow, tail=tail)

    def exec(
        self,
        record: SessionRecord,
        service: str,
        argv: list[str],
        io: ExecIO,
        *,
        env: dict[str, str] | None = None,
        workdir: str | None = None,
    ) -> int:
        engine, container_id = self.container_of(record, service)
        return engine.exec(container_id, argv, io, env=env, workdir=workdir)

    def variables(self, record: SessionRecord, *, inside: bool) -> dict[str, str]:
        """PARA_SERVICE_* as the session's container sees them (``inside``: service names
        and container ports) or as the host does (127.0.0.1, the published ports)."""
        stack = self.load()
        if stack is None or record.stack is None:
            return {}
        if not inside:
            from para.stackconfig import host_variables

            return host_variables(record.stack)
        return variables(stack, inside=True, host_ports=_published(record.stack))

    def _write_env(self, name: str, stack: Stack, ref: StackRef) -> None:
        from para.stackconfig import host_variables
        from para.state import write_atomic

        write_atomic(self.env_file(name), dotenv(host_variables(ref)).encode(), mode=0o600)

    def _drop_env(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.env_file(name).unlink()


def _published(ref: StackRef) -> dict[str, dict[int, int]]:
    return {name: {int(c): h for c, h in svc.ports.items()} for name, svc in ref.services.items()}
