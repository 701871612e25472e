"""DockerManager: a session's container from creation to removal.

It turns configuration and per-session options into a ContainerSpec (``spec.py``,
``mounts.py``), talks to the engine only through the DockerService Protocol, and
registers the undo of everything it creates on the caller's rollback stack so a failed
``start`` leaves nothing behind. Readiness and OOM are ``health.py``'s, cleanup and the
container list ``cleanup.py``'s, ``exec --all`` is ``fanout.py``'s.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from para.config import DockerConfig, LoadedConfig, load_config
from para.docker import cleanup, fanout, health, images, lifecycle, mounts, networks, spec, status
from para.docker import labels as L
from para.docker.build import BuildPlan, BuildReporter
from para.docker.connect import ServiceFactory, attach_known, default_connect
from para.docker.execio import ExecIO
from para.docker.service import ContainerInfo, DockerService, PullProgress
from para.errors import (
    ContainerAlreadyRunning,
    ContainerError,
    ContainerNotFound,
    ImageNotFound,
    ParaError,
)
from para.options import ContainerOptions, parse_env_pairs
from para.repo import Repo
from para.state import ContainerRef, SessionRecord, StackRef, StateStore

if TYPE_CHECKING:
    from para.docker.probe import HealthProbe
    from para.docker.stacks import Stacks
    from para.git import Git

PullReporter = Callable[[str], contextlib.AbstractContextManager[Callable[[PullProgress], None]]]


class DockerManager:
    """Containers of one repository's sessions."""

    def __init__(
        self,
        repo: Repo,
        store: StateStore,
        git: Git,
        *,
        config: DockerConfig,
        worktrees_dir: Path | None = None,
        env: Mapping[str, str],
        flags: Mapping[str, Any] | None = None,
        connect: ServiceFactory | None = None,
        pull_reporter: PullReporter | None = None,
        build_reporter: BuildReporter | None = None,
        warnings: list[str] | None = None,
    ):
        self.repo = repo
        self.store = store
        self.git = git
        self.config = config
        self.worktrees_dir = worktrees_dir or repo.para_dir / "worktrees"
        self.env = env
        self.flags = dict(flags or {})
        self._connect = connect or default_connect
        # An engine a record names is known already: no ping (list makes one call).
        self._attach = connect or attach_known
        self._services: dict[tuple[str, str | None], DockerService] = {}
        self.pull_reporter = pull_reporter
        self.build_reporter = build_reporter
        # where lifecycle commands' output goes (default: stderr)
        self.terminal: BinaryIO | None = None
        # builds planned in this process, by their configuration (hash once per command)
        self.build_plans: dict[str, BuildPlan] = {}
        self.warnings = warnings if warnings is not None else []

    # -- engines ----------------------------------------------------------------------------

    def service(self, backend: str | None = None, host: str | None = None) -> DockerService:
        """The engine for new containers (configuration), or the one a record names."""
        key = (backend or self.config.backend, host if host is not None else self.config.host)
        if key not in self._services:
            service = self._services[key] = self._connect(key[0], key[1], self.env)
            chosen = self.env.get("DOCKER_HOST")
            if chosen and key == ("auto", None) and service.info.endpoint != chosen:
                self.warnings.append(
                    f"DOCKER_HOST={chosen} did not answer; using {service.info.backend} at "
                    f"{service.info.endpoint} instead"
                )
        return self._services[key]

    def service_for(self, ref: ContainerRef | StackRef) -> DockerService:
        key = (ref.backend, ref.endpoint)
        if key not in self._services:
            self._services[key] = self._attach(ref.backend, ref.endpoint, self.env)
        return self._services[key]

    @cached_property
    def stacks(self) -> Stacks:
        """The services of this repository's sessions."""
        from para.docker.stacks import Stacks

        return Stacks(self)

    def session_loaded(self, options: ContainerOptions | None) -> LoadedConfig:
        """The configuration with a session's choices applied, and its sources."""
        flags = dict(self.flags)
        if options is not None:
            flags.update({k: v for k, v in options.flags().items() if v is not None})
        return load_config(self.repo.root, env=self.env, flags=flags)

    def session_config(self, options: ContainerOptions | None) -> DockerConfig:
        return self.session_loaded(options).config.docker

    def image_for(self, options: ContainerOptions | None, project: Path) -> images.Resolved:
        """The image a new container of these options gets (a build's tag: its inputs
        hashed, nothing built)."""
        return images.resolve(self, self.session_loaded(options), project)

    # -- creation ---------------------------------------------------------------------------

    def prepare(self, options: ContainerOptions | None) -> None:
        """Everything a new container needs that can fail without changing anything:
        engine, input, and the image (pulled now if missing)."""
        self.check_engine(options)
        cfg = self.session_config(options)
        service = self.service(cfg.backend, cfg.host)
        images.ensure(self, service, self.image_for(options, self.repo.root))

    def build(self, *, no_cache: bool) -> dict[str, Any]:
        """``para docker build``: the configured build's image, built if missing."""
        return images.build_configured(self, no_cache=no_cache)

    def check_engine(self, options: ContainerOptions | None) -> None:
        """Fail early (before any worktree exists) when no engine answers or input is bad."""
        cfg = self.session_config(options)
        self.service(cfg.backend, cfg.host).ping()
        mounts.user_volumes(self.repo, cfg, options, env=self.env, worktrees=self.worktrees_dir)
        parse_env_pairs(options.env if options else [])

    def create_for(
        self,
        record: SessionRecord,
        options: ContainerOptions | None,
        undo: contextlib.ExitStack,
    ) -> ContainerRef:
        """Create and start the session's container; its undo goes on ``undo``."""
        from para.docker.create import create_container

        return create_container(self, record, options, undo)

    def pull(self, service: DockerService, image: str, origin: str | None = None) -> Any:
        """Pull a missing image; ``origin`` says why para chose it, for the error."""
        try:
            if self.pull_reporter is None:
                return service.pull(image, lambda _p: None)
            with self.pull_reporter(image) as report:
                return service.pull(image, report)
        except ImageNotFound as exc:
            if origin is None:
                raise
            raise type(exc)(
                image=image,
                reason=f"{exc.facts.get('reason', exc.message)}; para chose it from {origin}",
                hint="name an image this engine has: --image IMAGE, or docker.image in "
                ".para/docker.json (or set that mapping)",
            ) from exc

    def _quiet_remove(self, service: DockerService, container_id: str) -> None:
        with contextlib.suppress(ParaError):
            service.remove(container_id)

    # -- lifecycle ----------------------------------------------------------------------------

    def remove_for(self, record: SessionRecord, *, keep_home: bool = False) -> None:
        """Stop and remove the session's container (and its empty session network)."""
        from para.errors import EngineUnavailable

        ref = record.container
        if ref is None:
            return
        try:
            service = self.service_for(ref)
            service.stop(ref.id, self.config.stop_timeout)
            service.remove(ref.id)
            for other in service.list_containers(
                {**L.repo_filter(self.repo.repo_id), L.SESSION: record.name}
            ):
                service.remove(other.id)  # e.g. one created by a start whose record was lost
            if ref.network:
                networks.drop_if_empty(service, self.repo, ref.network)
        except EngineUnavailable as exc:
            self.warnings.append(
                f"container {ref.name} was left behind ({exc.message}); "
                "para docker cleanup removes it once the engine is back"
            )
        if not keep_home:
            shutil.rmtree(self.repo.state_dir / "homes" / record.name, ignore_errors=True)

    def ensure_container(
        self, record: SessionRecord, options: ContainerOptions | None, *, recreate: bool = False
    ) -> SessionRecord:
        """Give an active session a running container: restart its stopped one, or create
        one (also when the old one is gone, or with ``recreate``). Updates the record."""
        from para.errors import SessionStateError

        if record.status != "active":
            raise SessionStateError(
                name=record.name, state=record.status, hint=f"para recover {record.name} first"
            )
        restarted = False
        if record.stack is not None:
            # the services first: the container joins their network
            record, restarted = self.stacks.start(record)
            if record.container is None and not recreate:
                return record  # a host session's services (--recreate gives it a container)
        ref = record.container
        if ref is not None and ref.git == "shared":
            recreate = True  # made with the host's .git mounted: it gets its own now
        if ref is not None and not recreate:
            service = self.service_for(ref)
            info = service.inspect(ref.id)
            if info is not None and info.running:
                if restarted:
                    return record
                raise ContainerAlreadyRunning(
                    name=record.name,
                    hint=f"para docker start {record.name} --recreate makes a new one",
                )
            if info is not None:
                channel = mounts.channel_dir(self.repo, record.name)
                health.clear_ready(channel)
                service.start(ref.id)
                health.wait_ready(service, ref.id, channel)
                lifecycle.restarted(self, service, record, options, channel)
                return record
        if ref is not None:
            # the choices given then, over the configuration as it is now
            options = (options or ContainerOptions()).over(ContainerOptions.given(ref))
            self.prepare(options)  # fail before the old container is gone
            self.remove_for(record, keep_home=True)
        with contextlib.ExitStack() as undo:
            new = self.create_for(record, options, undo)
            updated = self.store.update(
                record.name, lambda r: r.model_copy(update={"container": new})
            )
            undo.pop_all()
        return updated

    def remove_leftovers(self, name: str) -> int:
        """Remove this repository's containers of session ``name`` (one a killed start
        made before it could write the record); how many there were."""
        service = self.service()
        found = service.list_containers({**L.repo_filter(self.repo.repo_id), L.SESSION: name})
        for info in found:
            service.remove(info.id)
        return len(found)

    def stop(self, record: SessionRecord) -> None:
        """Stop the session's container, then its services."""
        if record.container is None and record.stack is not None:
            self.stacks.stop(record)
            return
        ref = self._ref(record)
        self.service_for(ref).stop(ref.id, self.config.stop_timeout)
        self.stacks.stop(record)

    def inspect(self, record: SessionRecord) -> ContainerInfo | None:
        ref = self._ref(record)
        return self.service_for(ref).inspect(ref.id)

    def _ref(self, record: SessionRecord) -> ContainerRef:
        if record.container is None:
            raise ContainerNotFound(name=record.name)
        return record.container

    # -- looking at containers ---------------------------------------------------------------

    def details(self, record: SessionRecord) -> dict[str, Any]:
        """Everything ``status`` shows about a session's container (one inspect call)."""
        return status.details(self, record)

    def states(
        self, records: list[SessionRecord], *, probe: bool = False
    ) -> dict[str, dict[str, Any]]:
        """Container state per session name: one labelled list call per engine (with
        ``probe``, para checks the services the engine gives no health: probe.py)."""
        return status.states(self, records, self._probe if probe else None)

    @cached_property
    def _probe(self) -> HealthProbe:
        from para.docker.probe import HealthProbe

        return HealthProbe(self)

    def logs(self, record: SessionRecord, *, follow: bool, tail: int | None) -> Iterator[bytes]:
        ref = self._ref(record)
        return self.service_for(ref).logs(ref.id, follow=follow, tail=tail)

    # -- running commands ---------------------------------------------------------------------

    def exec(
        self,
        record: SessionRecord,
        argv: list[str],
        io: ExecIO,
        *,
        env: dict[str, str] | None = None,
        workdir: str | None = None,
    ) -> int:
        ref = self._ref(record)
        try:
            code = self.service_for(ref).exec(ref.id, argv, io, env=env, workdir=workdir)
        except ContainerError as exc:
            state = exc.facts.get("state")
            if state not in ("stopped", "missing"):
                raise
            raise ContainerError(
                problem=f"the container of session {record.name!r} is "
                + ("not running" if state == "stopped" else "gone"),
                hint=f"{'start' if state == 'stopped' else 'recreate'} it with: "
                f"para docker start {record.name}",
            ) from exc
        if code == 137:
            warning = self.oom_warning(record)
            if warning:
                self.warnings.append(warning)
        return code

    def attach(self, record: SessionRecord, io: ExecIO) -> int:
        """An interactive shell in the session's container (bash when there is one)."""
        return self.exec(record, spec.ATTACH_SHELL, io)

    def exec_all(
        self,
        argv: list[str],
        *,
        env: dict[str, str] | None,
        workdir: str | None,
        out: Any,
        err: Any,
    ) -> int:
        return fanout.exec_all(self, argv, env=env, workdir=workdir, out=out, err=err)

    def oom_warning(self, record: SessionRecord) -> str | None:
        """What to tell the user after a command in the session died of SIGKILL, if it
        was the memory limit."""
        ref = record.container
        return health.oom_warning(self.service_for(ref), record) if ref else None

    # -- cleanup --------------------------------------------------------------------------------

    def containers(self) -> list[dict[str, Any]]:
        return cleanup.containers(self)

    def cleanup(
        self, *, dry_run: bool, all_repos: bool, now: datetime | None = None
    ) -> list[dict[str, Any]]:
        return cleanup.cleanup(self, dry_run=dry_run, all_repos=all_repos, now=now)
