"""The DockerService Protocol and the values it takes and returns.

DockerManager talks to an engine only through this Protocol: DockerEngineService (Docker),
PodmanService (Podman's Docker-compatible API) and the tests' FakeDockerService implement
it. Values are plain dataclasses so nothing above the adapters sees an SDK object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Literal, Protocol

from para.docker.execio import ExecIO  # defined with the exec path (stdlib only)

Backend = Literal["docker", "podman"]


@dataclass(frozen=True)
class EngineInfo:
    backend: Backend
    endpoint: str
    version: str
    rootless: bool = False


@dataclass(frozen=True)
class Mount:
    source: str  # a host path, or a volume's name when ``volume``
    target: str
    read_only: bool = False
    volume: bool = False


@dataclass(frozen=True)
class VolumeInfo:
    name: str
    labels: dict[str, str]


@dataclass(frozen=True)
class BuildRequest:
    """One image build from a context tar (the engine's ``POST /build``)."""

    tag: str
    dockerfile: str  # its name in the tar
    args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    no_cache: bool = False


@dataclass(frozen=True)
class HealthSpec:
    command: list[str]
    interval: float
    timeout: float
    retries: int


@dataclass
class ContainerSpec:
    """Everything needed to create a session's container, or one of its services."""

    name: str
    image: str
    command: list[str] | None  # None: the image's
    labels: dict[str, str]
    env: dict[str, str]
    mounts: list[Mount]
    workdir: str | None  # None: the image's
    user: str | None = None
    hostname: str | None = None
    init: bool = True
    nano_cpus: int | None = None
    memory: int | None = None
    pids_limit: int | None = None
    network: str = "bridge"
    ports: dict[int, int] = field(default_factory=dict)  # container port -> host port
    extra_hosts: dict[str, str] = field(default_factory=dict)
    healthcheck: HealthSpec | None = None
    stop_timeout: int = 5
    entrypoint: list[str] | None = field(default_factory=list)  # None: the image's
    aliases: list[str] = field(default_factory=list)  # its names on ``network``
    tmpfs: list[str] = field(default_factory=list)
    # what only docker.allow_privileged_services lets a service have
    privileged: bool = False
    cap_add: list[str] = field(default_factory=list)
    pid_mode: str | None = None
    devices: list[str] = field(default_factory=list)


@dataclass
class ContainerInfo:
    """What the engine says about a container right now."""

    id: str
    name: str
    image: str
    state: str  # created | running | paused | restarting | exited | dead | removing
    labels: dict[str, str] = field(default_factory=dict)
    health: str | None = None
    exit_code: int | None = None
    oom_killed: bool = False
    error: str | None = None
    created: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    ports: dict[str, int] = field(default_factory=dict)  # "8000" -> host port
    networks: list[str] = field(default_factory=list)
    memory: int | None = None
    nano_cpus: int | None = None
    pids_limit: int | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class NetworkInfo:
    id: str
    name: str
    labels: dict[str, str]
    containers: int


@dataclass(frozen=True)
class ImageInfo:
    id: str
    env: list[str]


@dataclass
class PullProgress:
    """One layer's progress during a pull."""

    layer: str
    status: str
    current: int | None = None
    total: int | None = None


class DockerService(Protocol):
    """One container engine. Every method raises ParaError subclasses only."""

    info: EngineInfo

    def ping(self) -> EngineInfo: ...

    def image(self, ref: str) -> ImageInfo | None: ...

    def pull(self, ref: str, progress: Callable[[PullProgress], None]) -> ImageInfo: ...

    def build(
        self, context: BinaryIO, size: int, request: BuildRequest, output: Callable[[str], None]
    ) -> str:
        """Build and tag an image from a context tar, each line of the build's output
        to ``output``; the image id. BuildFailed (``reason``: the engine's error)."""
        ...

    def create(self, spec: ContainerSpec) -> str: ...

    def start(self, container_id: str) -> None: ...

    def stop(self, container_id: str, timeout: int) -> None: ...

    def remove(self, container_id: str) -> None: ...

    def inspect(self, container_id: str) -> ContainerInfo | None: ...

    def list_containers(
        self, labels: dict[str, str], *, all: bool = True
    ) -> list[ContainerInfo]: ...

    def exec(
        self,
        container_id: str,
        argv: list[str],
        io: ExecIO,
        *,
        env: dict[str, str] | None = None,
        workdir: str | None = None,
        user: str | None = None,
        timeout: float | None = None,
    ) -> int:
        """Run ``argv``; its exit code. ``timeout``: seconds until it is killed and
        ExecTimedOut raised."""
        ...

    def logs(self, container_id: str, *, follow: bool, tail: int | None) -> Iterator[bytes]: ...

    def stopped_on_request(self, container_id: str, since: float) -> bool | None:
        """Whether the container's first death after ``since`` (unix time) followed a kill
        or stop request to the engine (its event log); None when the engine cannot tell."""
        ...

    def path_exists(self, container_id: str, path: str) -> bool | None:
        """Whether ``path`` exists in the container's filesystem (also when it is stopped);
        None when the engine cannot tell."""
        ...

    def create_network(self, name: str, labels: dict[str, str]) -> None: ...

    def remove_network(self, name: str) -> None: ...

    def networks(self, labels: dict[str, str]) -> list[NetworkInfo]: ...

    def connect_network(self, name: str, container_id: str) -> None:
        """Join a (created, not yet started) container to one more network."""
        ...

    def volume(self, name: str) -> VolumeInfo | None: ...

    def create_volume(self, name: str, labels: dict[str, str]) -> None: ...

    def volumes(self, labels: dict[str, str]) -> list[VolumeInfo]: ...

    def remove_volume(self, name: str) -> None: ...
