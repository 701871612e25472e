"""FakeDockerService: the DockerService Protocol in memory, for fast manager tests."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path

from para.docker.execio import ExecIO
from para.docker.service import (
    Backend,
    ContainerInfo,
    ContainerSpec,
    EngineInfo,
    ImageInfo,
    NetworkInfo,
    PullProgress,
)
from para.errors import ContainerError, ImageNotFound


class FakeDockerService:
    """Records calls; containers "run" by writing the runner's ready file to the channel."""

    def __init__(self, backend: Backend = "docker", images: tuple[str, ...] = ("img:1",)):
        self.info = EngineInfo(backend=backend, endpoint=f"fake://{backend}", version="1.41")
        self.images = {
            ref: ImageInfo(id=f"sha256:{ref}", env=["PATH=/usr/bin:/bin"]) for ref in images
        }
        self.pullable: set[str] = set()
        self.containers: dict[str, ContainerInfo] = {}
        self.specs: dict[str, ContainerSpec] = {}
        self.nets: dict[str, dict[str, str]] = {}
        self.calls: list[str] = []
        self.fail_start: str | None = None
        self.stopped: set[str] = set()  # containers stopped or killed through the engine
        self._ids = itertools.count(1)

    def ping(self) -> EngineInfo:
        self.calls.append("ping")
        return self.info

    def image(self, ref: str) -> ImageInfo | None:
        self.calls.append(f"image {ref}")
        return self.images.get(ref)

    def pull(self, ref: str, progress: Callable[[PullProgress], None]) -> ImageInfo:
        self.calls.append(f"pull {ref}")
        if ref not in self.pullable:
            raise ImageNotFound(image=ref, reason="not in the fake registry")
        progress(PullProgress(layer="abc", status="Downloading", current=1, total=2))
        self.images[ref] = ImageInfo(id=f"sha256:{ref}", env=[])
        return self.images[ref]

    def create(self, spec: ContainerSpec) -> str:
        self.calls.append(f"create {spec.name}")
        if any(c.name == spec.name for c in self.containers.values()):
            raise ContainerError(problem=f"a container named {spec.name} already exists")
        cid = f"c{next(self._ids):063d}"
        self.specs[cid] = spec
        self.containers[cid] = ContainerInfo(
            id=cid,
            name=spec.name,
            image=spec.image,
            state="created",
            labels=dict(spec.labels),
            memory=spec.memory,
            nano_cpus=spec.nano_cpus,
            pids_limit=spec.pids_limit,
            ports={str(c): h for c, h in spec.ports.items()},
        )
        return cid

    def start(self, container_id: str) -> None:
        self.calls.append(f"start {container_id}")
        if self.fail_start:
            raise ContainerError(problem=self.fail_start)
        self.containers[container_id].state = "running"
        spec = self.specs[container_id]
        channel = next(m.source for m in spec.mounts if m.target == "/para/channel")
        (Path(channel) / "runner.json").write_text(json.dumps({"pid": 1}))

    def stop(self, container_id: str, timeout: int) -> None:
        self.calls.append(f"stop {container_id}")
        self.stopped.add(container_id)
        if container_id in self.containers:
            self.containers[container_id].state = "exited"

    def remove(self, container_id: str) -> None:
        self.calls.append(f"remove {container_id}")
        self.containers.pop(container_id, None)

    def inspect(self, container_id: str) -> ContainerInfo | None:
        return self.containers.get(container_id)

    def list_containers(self, labels: dict[str, str], *, all: bool = True) -> list[ContainerInfo]:
        self.calls.append("list")
        return [
            c
            for c in self.containers.values()
            if all_match(c.labels, labels) and (all or c.state == "running")
        ]

    def exec(
        self,
        container_id: str,
        argv: list[str],
        io: ExecIO,
        *,
        env: dict[str, str] | None = None,
        workdir: str | None = None,
        user: str | None = None,
    ) -> int:
        self.calls.append(f"exec {container_id} {' '.join(argv)}")
        if self.containers[container_id].state != "running":
            raise ContainerError(problem="not running")
        io.stdout.write(" ".join(argv).encode() + b"\n")
        return 0

    def logs(self, container_id: str, *, follow: bool, tail: int | None) -> Iterator[bytes]:
        yield b"log line\n"

    def stopped_on_request(self, container_id: str, since: float) -> bool | None:
        return container_id in self.stopped

    def path_exists(self, container_id: str, path: str) -> bool | None:
        return path == "/bin/sh"

    def create_network(self, name: str, labels: dict[str, str]) -> None:
        self.calls.append(f"network create {name}")
        self.nets[name] = labels

    def remove_network(self, name: str) -> None:
        self.calls.append(f"network remove {name}")
        self.nets.pop(name, None)

    def networks(self, labels: dict[str, str]) -> list[NetworkInfo]:
        out = []
        for name, net_labels in self.nets.items():
            if all_match(net_labels, labels):
                used = sum(
                    1
                    for s in self.specs.values()
                    if s.network == name and any(c.name == s.name for c in self.containers.values())
                )
                out.append(NetworkInfo(id=name, name=name, labels=net_labels, containers=used))
        return out


def all_match(have: dict[str, str], want: dict[str, str]) -> bool:
    return all(have.get(k) == v for k, v in want.items())
