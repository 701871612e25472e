"""DockerManager: a session's container from creation to removal, and cleanup by label.

It turns configuration and per-session options into a ContainerSpec (image, mounts,
user, limits, network, ports, environment), talks to the engine only through the
DockerService Protocol, and registers the undo of everything it creates on the caller's
rollback stack so a failed ``start`` leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import socket
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from para import __version__
from para.config import DockerConfig, load_config, parse_size
from para.docker import labels as L
from para.docker.options import ContainerOptions
from para.docker.service import (
    Backend,
    ContainerInfo,
    ContainerSpec,
    DockerService,
    HealthSpec,
    Mount,
    PullProgress,
)
from para.errors import (
    ContainerAlreadyRunning,
    ContainerError,
    ContainerNotFound,
    EngineUnavailable,
    ParaError,
    PortInUse,
    UnsafeMount,
)
from para.poll import wait_for
from para.repo import Repo
from para.state import ContainerRef, SessionRecord, StateStore

if TYPE_CHECKING:
    from para.docker.endpoint import Endpoint

WORKSPACE = "/workspace"
CHANNEL_MOUNT = "/para/channel"
BIN_MOUNT = "/para/bin"
HOME_MOUNT = "/para/home"
RUNNER = ["/bin/sh", f"{BIN_MOUNT}/para-runner"]
READY_FILE = "runner.json"
PROJECT_TYPES = (
    ("Cargo.toml", "rust"),
    ("package.json", "node"),
    ("pyproject.toml", "python"),
    ("requirements.txt", "python"),
    ("go.mod", "go"),
)

PullReporter = Callable[[str], contextlib.AbstractContextManager[Callable[[PullProgress], None]]]
ServiceFactory = Callable[[str, str | None, Mapping[str, str]], DockerService]


def detect_project_type(directory: Path) -> str | None:
    for marker, kind in PROJECT_TYPES:
        if (directory / marker).exists():
            return kind
    return None


def resolve_image(cfg: DockerConfig, worktree: Path) -> str:
    """--image / docker.json / PARA_IMAGE > image_mappings[project type] > default_image."""
    if cfg.image:
        return cfg.image
    kind = detect_project_type(worktree)
    if kind and kind in cfg.image_mappings:
        return cfg.image_mappings[kind]
    return cfg.default_image


def parse_env_pairs(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key or not key.replace("_", "a").isalnum():
            raise ContainerError(
                problem=f"bad environment entry {pair!r}", hint="use KEY=VALUE, e.g. --env DEBUG=1"
            )
        out[key] = value
    return out


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_port_free(port: int, container_port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise PortInUse(port=port, container_port=container_port) from exc
            raise


def parse_ports(entries: list[str]) -> dict[int, int]:
    """``[HOST:]CONTAINER`` -> {container: host}; a free host port is chosen when omitted."""
    out: dict[int, int] = {}
    for entry in entries:
        host_text, _, container_text = entry.rpartition(":")
        try:
            container = int(container_text.removesuffix("/tcp"))
            host = int(host_text) if host_text else 0
        except ValueError:
            raise ContainerError(
                problem=f"bad port {entry!r}",
                hint="use [HOST:]CONTAINER, e.g. --port 8000 or --port 18000:8000",
            ) from None
        if not (0 < container < 65536 and 0 <= host < 65536):
            raise ContainerError(
                problem=f"port out of range in {entry!r}", hint="ports are 1-65535"
            )
        if host:
            check_port_free(host, container)
        out[container] = host or free_port()
    return out


class DockerManager:
    """Containers of one repository's sessions."""

    def __init__(
        self,
        repo: Repo,
        store: StateStore,
        *,
        config: DockerConfig,
        worktrees_dir: Path,
        env: Mapping[str, str],
        flags: Mapping[str, Any] | None = None,
        connect: ServiceFactory | None = None,
        pull_reporter: PullReporter | None = None,
    ):
        self.repo = repo
        self.store = store
        self.config = config
        self.worktrees_dir = worktrees_dir
        self.env = env
        self.flags = dict(flags or {})
        self._connect = connect or default_connect
        # An engine a record names is known already: no ping (list makes one call).
        self._attach = connect or attach_known
        self._services: dict[tuple[str, str | None], DockerService] = {}
        self.pull_reporter = pull_reporter
        self.warnings: list[str] = []

    # -- engines ----------------------------------------------------------------------------

    def service(self, backend: str | None = None, host: str | None = None) -> DockerService:
        """The engine for new containers (configuration), or the one a record names."""
        key = (backend or self.config.backend, host if host is not None else self.config.host)
        if key not in self._services:
            self._services[key] = self._connect(key[0], key[1], self.env)
        return self._services[key]

    def service_for(self, ref: ContainerRef) -> DockerService:
        return self._attached(ref.backend, ref.endpoint)

    def _attached(self, backend: str, endpoint: str) -> DockerService:
        key = (backend, endpoint)
        if key not in self._services:
            self._services[key] = self._attach(backend, endpoint, self.env)
        return self._services[key]

    def session_config(self, options: ContainerOptions | None) -> DockerConfig:
        flags = dict(self.flags)
        if options is not None:
            flags.update({k: v for k, v in options.flags().items() if v is not None})
        return load_config(self.repo.root, env=self.env, flags=flags).config.docker

    # -- creation ---------------------------------------------------------------------------

    def prepare(self, options: ContainerOptions | None) -> None:
        """Everything a new container needs that can fail without changing anything:
        engine, input, and the image (pulled now if missing)."""
        self.check_engine(options)
        cfg = self.session_config(options)
        service = self.service(cfg.backend, cfg.host)
        image = resolve_image(cfg, self.repo.root)
        if service.image(image) is None:
            self._pull(service, image)

    def check_engine(self, options: ContainerOptions | None) -> None:
        """Fail early (before any worktree exists) when no engine answers or input is bad."""
        cfg = self.session_config(options)
        self.service(cfg.backend, cfg.host).ping()
        extra = options.volumes if options else []
        for volume in [*cfg.volumes, *extra]:
            self._parse_volume(volume, cfg.workdir)
        parse_env_pairs(options.env if options else [])

    def create_for(
        self,
        record: SessionRecord,
        options: ContainerOptions | None,
        undo: contextlib.ExitStack,
    ) -> ContainerRef:
        """Create and start the session's container; its undo goes on ``undo``."""
        worktree = Path(record.worktree)
        cfg = self.session_config(options)
        service = self.service(cfg.backend, cfg.host)
        info = service.ping()
        image = resolve_image(cfg, worktree)
        home = self.repo.state_dir / "homes" / record.name
        if not home.exists():
            undo.callback(shutil.rmtree, home, True)
        mounts = self._mounts(record, cfg, options)
        requested = [*cfg.ports, *(options.ports if options else [])]
        if requested and cfg.network.mode in ("host", "none"):
            raise ContainerError(
                problem=f"ports cannot be published with --network {cfg.network.mode}",
                hint="with host the container uses the host's ports directly; with none it "
                "has no network: drop --port, or use bridge/session",
            )
        ports = parse_ports(requested)
        network = self._network(service, cfg.network.mode, undo)
        image_info = service.image(image) or self._pull(service, image)
        env = self._environment(record, cfg, options, image_info.env, ports)
        spec = ContainerSpec(
            name=L.container_name(self.repo.repo_id, record.name),
            image=image,
            command=RUNNER,
            labels={},
            env=env,
            mounts=mounts,
            workdir=cfg.workdir,
            user=cfg.user or f"{os.getuid()}:{os.getgid()}",
            init=cfg.init,
            nano_cpus=int(cfg.resources.cpus * 1e9) if cfg.resources.cpus else None,
            memory=parse_size(cfg.resources.memory) if cfg.resources.memory else None,
            pids_limit=cfg.resources.pids,
            network=network,
            ports=ports,
            extra_hosts={}
            if network in ("none", "host")
            else {"host.docker.internal": "host-gateway"},
            healthcheck=self._healthcheck(cfg),
            stop_timeout=cfg.stop_timeout,
        )
        spec.labels = self._labels(record, self.fingerprint(cfg, image, options))
        self._grant(spec.user, [self.channel_dir(record.name), self.home_dir(record.name)])
        self._clear_ready(record.name)
        container_id = service.create(spec)
        undo.callback(self._quiet_remove, service, container_id)
        service.start(container_id)
        self._wait_ready(service, container_id, record.name)
        return ContainerRef(
            id=container_id,
            name=spec.name,
            image=image,
            backend=info.backend,
            endpoint=info.endpoint,
            network=network if cfg.network.mode == "session" else None,
            network_mode=cfg.network.mode,
            ports={str(c): h for c, h in ports.items()},
            workdir=cfg.workdir,
            user=spec.user,
            options=(options or ContainerOptions()).to_dict(),
        )

    def _pull(self, service: DockerService, image: str) -> Any:
        if self.pull_reporter is None:
            return service.pull(image, lambda _p: None)
        with self.pull_reporter(image) as report:
            return service.pull(image, report)

    def _labels(self, record: SessionRecord, config_hash: str) -> dict[str, str]:
        return {
            L.MANAGED: "true",
            L.REPO: str(self.repo.root),
            L.REPO_ID: self.repo.repo_id,
            L.SESSION: record.name,
            L.VERSION: __version__,
            L.CONFIG_HASH: config_hash,
            L.WORKTREE: record.worktree,
        }

    @staticmethod
    def fingerprint(cfg: DockerConfig, image: str, options: ContainerOptions | None) -> str:
        """A short hash of the container a session gets from ``cfg`` (the configuration
        with the session's choices applied) and its resolved ``image``: the effective
        values only, so a recreate's restated choices hash alike, and not the engine, the
        host ports picked at start or secret values. When it changes, ``para docker start
        NAME --recreate`` would make a different container."""
        options = options or ContainerOptions()
        ports = {p.rpartition(":")[2] for p in [*cfg.ports, *options.ports]}
        material = {
            "image": image,
            "config": cfg.model_dump(mode="json", include=_SHAPING),
            "env": options.env,
            "volumes": options.volumes,
            "ports": sorted(ports),
        }
        text = json.dumps(material, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def _healthcheck(self, cfg: DockerConfig) -> HealthSpec | None:
        hc = cfg.healthcheck
        if hc is None:
            return None
        command = hc.command or [f"{BIN_MOUNT}/para-health"]
        return HealthSpec(
            command=command, interval=hc.interval, timeout=hc.timeout, retries=hc.retries
        )

    def _parse_volume(self, text: str, workdir: str = WORKSPACE) -> Mount:
        parts = text.split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
            raise UnsafeMount(
                volume=text,
                reason="expected SRC:DST or SRC:DST:ro",
                hint="e.g. --volume ~/.cache/pip:/para/home/.cache/pip",
            )
        mode = parts[2] if len(parts) == 3 else "rw"
        if mode not in ("ro", "rw"):
            raise UnsafeMount(volume=text, reason=f"unknown mode {mode!r} (ro or rw)")
        source = Path(parts[0]).expanduser()
        if not source.is_absolute():
            source = self.repo.root / source
        source = source.resolve()
        target = parts[1]
        if not source.exists():
            raise UnsafeMount(
                volume=text,
                reason=f"the source {source} does not exist",
                hint="create it first, or fix the path",
            )
        if not target.startswith("/"):
            raise UnsafeMount(volume=text, reason="the target must be an absolute path")
        target_norm = os.path.normpath(target)
        common = str(self.repo.common_dir.resolve())
        protected = {
            "/": "a mount over / would replace the container's whole filesystem",
            workdir: "it would hide the session's worktree",
            CHANNEL_MOUNT: "it would replace the session channel",
            BIN_MOUNT: "it would replace para's helpers",
            common: "it would replace the repository's git directory",
        }
        for path, why in protected.items():
            if (
                target_norm == path
                or (path != "/" and target_norm.startswith(path + "/"))
                or (path.startswith(target_norm.rstrip("/") + "/"))
            ):
                raise UnsafeMount(volume=text, reason=why)
        src = str(source)
        for sock in _engine_sockets(self.env):
            if sock == src or sock.startswith(src.rstrip("/") + "/"):
                raise UnsafeMount(
                    volume=text,
                    reason=f"it exposes the engine socket {sock}: the container could run "
                    "anything on the host (read-only does not prevent connecting)",
                )
        if (
            src == common
            or src.startswith(common + "/")
            or (mode == "rw" and common.startswith(src.rstrip("/") + "/"))
        ):
            raise UnsafeMount(
                volume=text,
                reason="a writable git directory would let the container change hooks and "
                "config that run on the host",
                hint="mount it read-only (:ro), or a directory that does not contain .git",
            )
        return Mount(source=src, target=target_norm, read_only=mode == "ro")

    def _mounts(
        self, record: SessionRecord, cfg: DockerConfig, options: ContainerOptions | None
    ) -> list[Mount]:
        """The worktree, the git directory with everything the host executes read-only,
        the channel, the helpers, HOME, and the user's volumes."""
        worktree = Path(record.worktree)
        common = self.repo.common_dir.resolve()
        hooks = common / "hooks"
        hooks.mkdir(exist_ok=True)  # git's standard directory; the ro mount needs it
        admin = Path(record.git_admin) if record.git_admin else None
        if admin is None or not admin.is_dir():
            raise ContainerError(
                problem=f"git has no admin directory for {worktree}",
                hint="para clean, then para recover the session",
            )
        mounts = [
            Mount(str(worktree), cfg.workdir),
            Mount(str(common), str(common)),
            # What git on the host reads and may execute must not be writable here:
            # config (core.fsmonitor, hooksPath, filters), hooks, the admin entries of
            # all worktrees (their commondir/gitdir decide which config applies), and
            # submodule git dirs (their own config and hooks).
            Mount(str(common / "config"), str(common / "config"), read_only=True),
            Mount(str(hooks), str(hooks), read_only=True),
            Mount(str(common / "worktrees"), str(common / "worktrees"), read_only=True),
            Mount(str(admin), str(admin)),
            Mount(str(self.channel_dir(record.name)), CHANNEL_MOUNT),
            Mount(str(self.install_helpers()), BIN_MOUNT, read_only=True),
            Mount(str(self.home_dir(record.name)), HOME_MOUNT),
        ]
        if (common / "modules").is_dir():
            mounts.append(Mount(str(common / "modules"), str(common / "modules"), read_only=True))
        for name in ("commondir", "gitdir", "config.worktree", "config"):
            if (admin / name).exists():
                mounts.append(Mount(str(admin / name), str(admin / name), read_only=True))
        extra = [*cfg.volumes, *(options.volumes if options else [])]
        mounts.extend(self._parse_volume(v, cfg.workdir) for v in extra)
        return mounts

    def _environment(
        self,
        record: SessionRecord,
        cfg: DockerConfig,
        options: ContainerOptions | None,
        image_env: list[str],
        ports: dict[int, int],
    ) -> dict[str, str]:
        image_path = next(
            (e.partition("=")[2] for e in image_env if e.startswith("PATH=")),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        env: dict[str, str] = {
            "PATH": f"{image_path}:{BIN_MOUNT}",
            "HOME": HOME_MOUNT,
            "PARA_SESSION": record.name,
            "PARA_BRANCH": record.branch,
            "PARA_CHANNEL": CHANNEL_MOUNT,
            "PARA_WORKTREE": cfg.workdir,
            # git refuses a repository owned by another uid; trust it without writing files
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "safe.directory",
            "GIT_CONFIG_VALUE_0": "*",
        }
        env.update(self._git_identity(Path(record.worktree)))
        for container_port, host_port in ports.items():
            env[f"PARA_PORT_{container_port}"] = str(host_port)
        env.update(cfg.environment)
        env.update(parse_env_pairs(options.env if options else []))
        missing = []
        for name in cfg.forward_env:
            if name in self.env:
                env[name] = self.env[name]
            else:
                missing.append(name)
        if missing:
            self.warnings.append(
                f"docker.forward_env names variables not set here: {', '.join(missing)}"
            )
        return env

    def _git_identity(self, worktree: Path) -> dict[str, str]:
        from para.git import run_git

        out: dict[str, str] = {}
        for key, names in (
            ("user.name", ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME")),
            ("user.email", ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL")),
        ):
            value = (
                self.env.get(names[0])
                or run_git(["config", "--get", key], worktree, check=False).strip()
            )
            if value:
                out.update(dict.fromkeys(names, value))
        return out

    def _network(self, service: DockerService, mode: str, undo: contextlib.ExitStack) -> str:
        if mode != "session":
            return mode
        name = L.network_name(self.repo.repo_id)
        existing = service.networks(L.repo_filter(self.repo.repo_id))
        if not any(n.name == name for n in existing):
            service.create_network(
                name, {**L.repo_filter(self.repo.repo_id), L.REPO: str(self.repo.root)}
            )
            undo.callback(self._drop_network_if_empty, service, name)
        return name

    def _drop_network_if_empty(self, service: DockerService, name: str) -> None:
        with contextlib.suppress(ParaError):
            for net in service.networks(L.repo_filter(self.repo.repo_id)):
                if net.name == name and net.containers == 0:
                    service.remove_network(name)

    # -- files shared with the container ------------------------------------------------------

    def channel_dir(self, name: str) -> Path:
        path = self.repo.channels_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def home_dir(self, name: str) -> Path:
        path = self.repo.state_dir / "homes" / name
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def install_helpers(self) -> Path:
        from para.channel_dirs import install_helpers

        return install_helpers(self.repo.state_dir)

    def _grant(self, user: str | None, paths: list[Path]) -> None:
        """Let a configured container user other than ours write the session's own dirs."""
        uid_text, _, gid_text = (user or "").partition(":")
        if not uid_text.isdigit() or int(uid_text) == os.getuid():
            return
        uid = int(uid_text)
        gid = int(gid_text) if gid_text.isdigit() else -1
        for top in paths:
            for path in [top, *(p for p in top.rglob("*") if p.is_dir())]:
                try:
                    os.chown(path, uid, gid)
                except PermissionError:
                    path.chmod(0o777)  # not root: the only way to let that uid write

    def _clear_ready(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.channel_dir(name) / READY_FILE).unlink()

    def _wait_ready(
        self, service: DockerService, container_id: str, name: str, timeout: float = 60.0
    ) -> None:
        ready = self.channel_dir(name) / READY_FILE
        failure: list[ContainerInfo] = []

        def probe() -> bool:
            if ready.exists():
                return True
            info = service.inspect(container_id)
            if info is None or info.state in ("exited", "dead"):
                if info is not None:
                    failure.append(info)
                return True
            return False

        done = wait_for(probe, timeout=timeout, interval=0.01, max_interval=0.2)
        if done and not failure:
            return
        if failure:
            info = failure[0]
            detail = info.error or f"exit code {info.exit_code}"
            if service.path_exists(container_id, "/bin/sh") is False:
                raise ContainerError(
                    problem=f"the container stopped at once: the image has no /bin/sh ({detail})",
                    hint="para needs a POSIX shell in the image (busybox, alpine, debian...)",
                )
            # The engine may not have the last output yet: give it a moment.
            tail = wait_for(lambda: self._log_tail(service, container_id), timeout=1.0) or ""
            raise ContainerError(
                problem=f"the container stopped at once ({detail})"
                + (f"; its last output:\n{tail}" if tail else ""),
                hint="check the image and the command it can run",
            )
        tail = self._log_tail(service, container_id)
        raise ContainerError(
            problem=f"the container's runner did not report ready within {timeout:.0f} s"
            + (f"; last output:\n{tail}" if tail else ""),
            hint="the image needs /bin/sh; see: para docker logs",
        )

    def _log_tail(self, service: DockerService, container_id: str, lines: int = 10) -> str:
        try:
            data = b"".join(service.logs(container_id, follow=False, tail=lines))
        except ParaError:
            return ""
        return data.decode(errors="replace").strip()

    def _quiet_remove(self, service: DockerService, container_id: str) -> None:
        with contextlib.suppress(ParaError):
            service.remove(container_id)

    # -- lifecycle ----------------------------------------------------------------------------

    def remove_for(self, record: SessionRecord, *, keep_home: bool = False) -> None:
        """Stop and remove the session's container (and its empty session network)."""
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
                self._drop_network_if_empty(service, ref.network)
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
        if record.status != "active":
            raise ContainerError(
                problem=f"session {record.name!r} is {record.status}",
                hint=f"para recover {record.name} first",
            )
        ref = record.container
        if ref is not None and not recreate:
            service = self.service_for(ref)
            info = service.inspect(ref.id)
            if info is not None and info.running:
                raise ContainerAlreadyRunning(
                    name=record.name,
                    hint=f"para docker start {record.name} --recreate makes a new one",
                )
            if info is not None:
                self._clear_ready(record.name)
                service.start(ref.id)
                self._wait_ready(service, ref.id, record.name)
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

    def details(self, record: SessionRecord) -> dict[str, Any]:
        """Everything ``status`` shows about a session's container (one inspect call)."""
        ref = record.container
        if ref is None:
            return {}
        try:
            info = self.service_for(ref).inspect(ref.id)
        except ParaError as exc:
            return {"state": "unreachable", "error": exc.message}
        if info is None:
            return {"state": "missing"}
        service = self.service_for(ref)
        if info.running:
            oom = info.oom_killed or (self.oom_kills(service, ref.id) or 0) > 0
        else:
            oom = self.died_of_memory(service, info)
        return {
            "state": info.state,
            "health": info.health,
            "exit_code": info.exit_code,
            "oom_killed": oom,
            "config_changed": self._config_changed(record, info),
            "ports": info.ports or dict(ref.ports),
            "limits": {
                "cpus": info.nano_cpus / 1e9 if info.nano_cpus else None,
                "memory": info.memory,
                "pids": info.pids_limit,
            },
            "networks": info.networks,
            "config_hash": info.labels.get(L.CONFIG_HASH),
        }

    def _config_changed(self, record: SessionRecord, info: ContainerInfo) -> bool | None:
        """Whether the configuration now differs from the container's (None: unknown)."""
        label = info.labels.get(L.CONFIG_HASH)
        ref = record.container
        if not label or ref is None:
            return None
        options = ContainerOptions.given(ref)  # what a recreate starts from
        try:
            cfg = self.session_config(options)
            image = resolve_image(cfg, Path(record.worktree))
        except ParaError:
            return None  # a broken config file is reported by the commands that use it
        return self.fingerprint(cfg, image, options) != label

    def stop(self, record: SessionRecord) -> None:
        ref = record.container
        if ref is None:
            raise ContainerNotFound(name=record.name)
        self.service_for(ref).stop(ref.id, self.config.stop_timeout)

    def inspect(self, record: SessionRecord) -> ContainerInfo | None:
        ref = record.container
        if ref is None:
            raise ContainerNotFound(name=record.name)
        return self.service_for(ref).inspect(ref.id)

    def exec(
        self,
        record: SessionRecord,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        workdir: str | None = None,
        tty: bool = False,
        interactive: bool = False,
        stdin: Any = None,
        stdout: Any,
        stderr: Any,
    ) -> int:
        ref = record.container
        if ref is None:
            raise ContainerNotFound(name=record.name)
        service = self.service_for(ref)
        try:
            code = service.exec(
                ref.id,
                argv,
                env=env,
                workdir=workdir,
                tty=tty,
                stdin=stdin if interactive else None,
                stdout=stdout,
                stderr=stderr,
            )
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

    def oom_warning(self, record: SessionRecord) -> str | None:
        """What to tell the user after a command in the session died of SIGKILL, if it
        was the memory limit."""
        ref = record.container
        if ref is None:
            return None
        info = self._oom_after_exec(self.service_for(ref), ref.id)
        if info is None:
            return None
        gone = "" if info.running else " (and the container with it)"
        return (
            f"the command in session {record.name!r} was killed: out of memory (limit "
            f"{_human(info.memory)}){gone}; raise it with para docker start "
            f"{record.name} --recreate --memory SIZE, or docker.resources.memory"
        )

    def _oom_after_exec(
        self, service: DockerService, container_id: str, timeout: float = 10.0
    ) -> ContainerInfo | None:
        """The container, if an exec that died of SIGKILL was an out-of-memory kill.

        Two signs, polled because neither is immediate: the kernel may have picked the
        container's init, and the engine marks the container exited with OOMKilled a
        moment after the exec's stream ends; or the container lives on and its memory
        cgroup counted the kill (``oom_kills``).
        """
        verdict: list[ContainerInfo | None] = []

        def probe() -> bool:
            info = service.inspect(container_id)
            if info is None or info.oom_killed:
                verdict.append(info)
                return True
            if info.running:
                kills = self.oom_kills(service, container_id, timeout=0.5)
                if kills is not None:
                    verdict.append(info if kills > 0 else None)
                    return True
            elif info.state in ("exited", "dead"):
                verdict.append(info if self.died_of_memory(service, info) else None)
                return True
            return False

        wait_for(probe, timeout=timeout, interval=0.05, transient=(ParaError,))
        return verdict[0] if verdict else None

    def died_of_memory(self, service: DockerService, info: ContainerInfo) -> bool:
        """Whether a container that is no longer running was killed for memory.

        The engine's OOMKilled is the first sign, but Podman misses it when the kernel,
        having killed the command that used the memory, kills the container's keep-alive
        in a second OOM a moment later. So a memory-limited container that died of SIGKILL
        (137) without anyone asking the engine to kill or stop it counts as killed for
        memory too: the only other sender of that SIGKILL would be a root process on the
        host.
        """
        if info.oom_killed:
            return True
        if info.running or info.exit_code != 137 or not info.memory:
            return False
        try:
            started = datetime.fromisoformat(info.started_at or "")
        except ValueError:
            return False
        return service.stopped_on_request(info.id, started.timestamp()) is False

    def oom_kills(
        self, service: DockerService, container_id: str, timeout: float = 10.0
    ) -> int | None:
        """OOM kills in the container's memory cgroup so far (None: could not tell).

        Engines set State.OOMKilled only when the main process dies; a command run with
        exec that is killed leaves it false, so para reads the cgroup's own counter.
        """
        import io

        script = (
            "for f in /sys/fs/cgroup/memory/memory.oom_control "
            "/sys/fs/cgroup/memory.events; do [ -r $f ] && while read k v; do "
            '[ "$k" = oom_kill ] && echo "$v"; done < $f; done; true'
        )

        def probe() -> list[int] | None:
            out, err = io.BytesIO(), io.BytesIO()
            code = service.exec(container_id, ["/bin/sh", "-c", script], stdout=out, stderr=err)
            counts = [int(x) for x in out.getvalue().split() if x.isdigit()]
            # Right after a kill the cgroup can still be at its limit and this small exec
            # fail too: try again until it answers. No counter file at all: 0, final.
            if code == 0:
                return counts or [0]
            return None

        counts = wait_for(probe, timeout=timeout, interval=0.05, transient=(ParaError,))
        return max(counts) if counts else None

    def exec_all(
        self,
        argv: list[str],
        *,
        env: dict[str, str] | None,
        workdir: str | None,
        out: Any,
        err: Any,
    ) -> int:
        """Run ``argv`` in every active session's running container at once; output lines
        are prefixed with the session name; returns the worst exit code."""
        import threading
        from concurrent.futures import ThreadPoolExecutor

        records = [
            r for r in self.store.load_all()[0] if r.status == "active" and r.container is not None
        ]
        states = self.states(records)
        targets = [r for r in records if states.get(r.name, {}).get("state") == "running"]
        if not targets:
            raise ContainerNotFound(
                "no session has a running container", hint="start one: para start NAME --docker"
            )
        lock = threading.Lock()
        width = max(len(r.name) for r in targets)

        def one(rec: SessionRecord) -> int:
            prefix = f"[{rec.name:<{width}}] ".encode()
            o, e = _PrefixedWriter(out, prefix, lock), _PrefixedWriter(err, prefix, lock)
            try:
                return self.exec(rec, argv, env=env, workdir=workdir, stdout=o, stderr=e)
            except ParaError as exc:
                e.write(f"error: {exc.message}\n".encode())
                return 1
            finally:
                o.close()
                e.close()

        with ThreadPoolExecutor(max_workers=len(targets)) as pool:
            codes = list(pool.map(one, targets))
        return max(codes)

    def _endpoints(self, records: list[SessionRecord]) -> list[tuple[str, str | None]]:
        """The configured engine first, then any other engine a session's container is on."""
        found: list[tuple[str, str | None]] = [(self.config.backend, self.config.host)]
        for rec in records:
            ref = rec.container or rec.previous_container
            if ref is not None and (ref.backend, ref.endpoint) not in found:
                found.append((ref.backend, ref.endpoint))
        return found

    def _reachable(
        self, records: list[SessionRecord]
    ) -> Iterator[tuple[DockerService, list[ContainerInfo]]]:
        """Each distinct reachable engine with its para containers (of this repository)."""
        seen: set[str] = set()
        for index, (backend, host) in enumerate(self._endpoints(records)):
            try:
                service = self.service(backend, host)
                if service.info.endpoint in seen:
                    continue
                seen.add(service.info.endpoint)
                yield service, service.list_containers(L.repo_filter(self.repo.repo_id))
            except EngineUnavailable:
                if index == 0 and len(self._endpoints(records)) == 1:
                    raise
                continue

    def containers(self) -> list[dict[str, Any]]:
        """This repository's para containers on every engine its sessions use; ``orphan``
        when ``para docker cleanup`` would remove it."""
        now = datetime.now(UTC)
        all_records = self.store.load_all()[0]
        records = {r.name: r for r in all_records}
        rows = []
        for service, listed in self._reachable(all_records):
            for info in listed:
                session = info.labels.get(L.SESSION, "")
                current = self._orphan_reason(service, info, records, now) is None
                rows.append(
                    {
                        "id": info.id,
                        "name": info.name,
                        "session": session,
                        "image": info.image,
                        "state": info.state,
                        "health": info.health,
                        "ports": info.ports,
                        "backend": service.info.backend,
                        "orphan": not current,
                    }
                )
        return rows

    def logs(self, record: SessionRecord, *, follow: bool, tail: int | None) -> Iterator[bytes]:
        ref = record.container
        if ref is None:
            raise ContainerNotFound(name=record.name)
        return self.service_for(ref).logs(ref.id, follow=follow, tail=tail)

    def states(self, records: list[SessionRecord]) -> dict[str, dict[str, Any]]:
        """Container state per session name: one labelled list call per engine."""
        by_endpoint: dict[tuple[str, str], list[SessionRecord]] = {}
        for rec in records:
            if rec.container is not None:
                key = (rec.container.backend, rec.container.endpoint)
                by_endpoint.setdefault(key, []).append(rec)
        out: dict[str, dict[str, Any]] = {}
        for (backend, endpoint), recs in by_endpoint.items():
            try:
                listed = self._attached(backend, endpoint).list_containers(
                    L.repo_filter(self.repo.repo_id)
                )
            except ParaError as exc:
                for rec in recs:
                    out[rec.name] = {"state": "unreachable", "health": None, "error": exc.message}
                continue
            by_id = {c.id: c for c in listed}
            for rec in recs:
                assert rec.container is not None
                info = by_id.get(rec.container.id)
                if info is None:
                    out[rec.name] = {"state": "missing", "health": None}
                else:
                    out[rec.name] = {
                        "state": info.state,
                        "health": info.health,
                        "ports": info.ports or dict(rec.container.ports),
                    }
        return out

    # -- cleanup -------------------------------------------------------------------------------

    def cleanup(
        self, *, dry_run: bool, all_repos: bool, now: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Remove para containers whose session is gone (never unlabelled ones)."""
        now = now or datetime.now(UTC)
        records, _bad = self.store.load_all()
        by_name = {r.name: r for r in records}
        endpoints = {(self.config.backend, self.config.host)}
        endpoints |= {
            (r.container.backend, r.container.endpoint) for r in records if r.container is not None
        }
        actions: list[dict[str, Any]] = []
        seen: set[str] = set()
        for backend, host in sorted(endpoints, key=str):
            try:
                service = self.service(backend, host)
                listed = service.list_containers(
                    L.repo_filter(None if all_repos else self.repo.repo_id)
                )
            except EngineUnavailable:
                if (backend, host) == (self.config.backend, self.config.host):
                    raise
                continue
            for info in listed:
                if info.id in seen:
                    continue
                seen.add(info.id)
                reason = self._orphan_reason(service, info, by_name, now)
                if reason is None:
                    continue
                done = False
                if not dry_run:
                    service.remove(info.id)
                    done = True
                actions.append(
                    {
                        "kind": "container",
                        "name": info.name,
                        "id": info.id,
                        "session": info.labels.get(L.SESSION),
                        "reason": reason,
                        "done": done,
                    }
                )
            for net in service.networks(L.repo_filter(None if all_repos else self.repo.repo_id)):
                mine = net.labels.get(L.REPO_ID) == self.repo.repo_id
                gone = not Path(net.labels.get(L.REPO, "/nonexistent")).exists()
                if net.containers == 0 and (mine or gone):
                    done = False
                    if not dry_run:
                        service.remove_network(net.name)
                        done = True
                    actions.append(
                        {
                            "kind": "network",
                            "name": net.name,
                            "id": net.id,
                            "session": None,
                            "reason": "no containers left",
                            "done": done,
                        }
                    )
        return actions

    def _orphan_reason(
        self,
        service: DockerService,
        info: ContainerInfo,
        by_name: dict[str, SessionRecord],
        now: datetime,
    ) -> str | None:
        if info.labels.get(L.REPO_ID) != self.repo.repo_id:
            repo = info.labels.get(L.REPO)
            if repo and not Path(repo).exists():
                return f"its repository {repo} no longer exists"
            return None
        session = info.labels.get(L.SESSION, "")
        rec = by_name.get(session)
        if rec is None:
            return "no session record"
        if rec.status != "active":
            return f"session is {rec.status}"
        if rec.container is None or rec.container.id != info.id:
            return "not the session's current container"
        if not (Path(rec.worktree) / ".git").exists():
            return "the session's worktree is gone"
        if info.state in ("exited", "dead", "created"):
            detail = service.inspect(info.id)
            finished = _parse_time(detail.finished_at if detail else None)
            if finished and now - finished > timedelta(days=self.config.retention_days):
                return f"stopped for more than {self.config.retention_days} days"
        return None


class _PrefixedWriter:
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


# The parts of the docker configuration that shape a container (see fingerprint; ports
# are hashed as container ports, together with the session's own).
_SHAPING = {
    "workdir",
    "user",
    "forward_env",
    "volumes",
    "environment",
    "resources",
    "network",
    "init",
    "healthcheck",
    "stop_timeout",
}


def _parse_time(text: str | None) -> datetime | None:
    if not text or text.startswith("0001-"):
        return None
    try:
        head = text.rstrip("Z").partition(".")[0]
        return datetime.fromisoformat(head).replace(tzinfo=UTC)
    except ValueError:
        return None


def _human(size: int | None) -> str:
    if not size:
        return "none"
    for unit, factor in (("g", 1024**3), ("m", 1024**2), ("k", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size} bytes"


def _engine_sockets(env: Mapping[str, str]) -> set[str]:
    """Engine API sockets a volume must not expose (any of them is root on the host)."""
    found = {
        "/var/run/docker.sock",
        "/run/docker.sock",
        "/run/podman/podman.sock",
        f"/run/user/{os.getuid()}/podman/podman.sock",
    }
    for var in ("DOCKER_HOST", "CONTAINER_HOST", "PARA_DOCKER_HOST"):
        value = env.get(var, "")
        if value.startswith("unix://"):
            found.add(value.removeprefix("unix://"))
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime:
        found.add(f"{runtime}/podman/podman.sock")
        found.add(f"{runtime}/docker.sock")
    out = set()
    for path in found:
        out.add(path)
        with contextlib.suppress(OSError):
            out.add(str(Path(path).resolve()))
    return out


def default_connect(backend: str, host: str | None, env: Mapping[str, str]) -> DockerService:
    """Find a reachable engine for ``backend`` (auto|docker|podman) and wrap it."""
    from para.docker.api import APIError, ConnectionFailed
    from para.docker.endpoint import candidates, unavailable
    from para.docker.engine import ping

    tried = []
    for endpoint in candidates(backend, host, env):
        try:
            info = ping(endpoint, env)
        except (ConnectionFailed, APIError, EngineUnavailable) as exc:
            tried.append((endpoint, _reason(exc)))
            continue
        return _wrap(endpoint, info.backend, info.version, env)
    raise unavailable(backend, tried)


def attach_known(backend: str, url: str, env: Mapping[str, str]) -> DockerService:
    """The engine a session record names, without asking it anything first."""
    from para.docker.endpoint import Endpoint

    endpoint = Endpoint(url=url, source="session record", backend_hint=backend)
    return _wrap(endpoint, "podman" if backend == "podman" else "docker", "?", env)


def _wrap(
    endpoint: Endpoint, backend: Backend, version: str, env: Mapping[str, str]
) -> DockerService:
    from para.docker.engine import DockerEngineService
    from para.docker.podman import PodmanService
    from para.docker.service import EngineInfo

    if backend == "podman":
        rootless = _socket_owner(endpoint.socket_path) not in (None, 0)
        info = EngineInfo(
            backend="podman", endpoint=endpoint.url, version=version, rootless=rootless
        )
        return PodmanService(endpoint, info, env)
    return DockerEngineService(
        endpoint, EngineInfo(backend="docker", endpoint=endpoint.url, version=version), env
    )


def _socket_owner(path: str | None) -> int | None:
    if path is None:
        return None
    try:
        return Path(path).stat().st_uid
    except OSError:
        return None


def _reason(exc: BaseException) -> str:
    text = str(exc)
    lowered = text.lower()
    if "no such file" in lowered:
        return "no socket there"
    if "permission denied" in lowered:
        return "permission denied (add yourself to the docker group, or use rootless Podman)"
    if "connection refused" in lowered:
        return "connection refused (is the daemon running?)"
    return text
