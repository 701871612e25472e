"""FakeDockerService: the DockerService Protocol in memory, for fast manager tests."""

from __future__ import annotations

import itertools
import json
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from para.docker.execio import ExecIO
from para.docker.service import (
    Backend,
    BuildRequest,
    ContainerInfo,
    ContainerSpec,
    EngineInfo,
    ImageInfo,
    NetworkInfo,
    PullProgress,
    VolumeInfo,
)
from para.errors import BuildFailed, ContainerError, ImageNotFound


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
        self.fail_build: str | None = None
        self.builds: list[tuple[BuildRequest, dict[str, bytes | str]]] = []
        self.vols: dict[str, dict[str, str]] = {}
        self.connected: dict[str, list[str]] = {}
        # argv (joined) -> exit code for exec; what is not listed exits 0
        self.exec_codes: dict[str, int] = {}
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

    def build(
        self, context: BinaryIO, size: int, request: BuildRequest, output: Callable[[str], None]
    ) -> str:
        """Reads the tar (files as bytes, links as "-> target"); tags the image."""
        self.calls.append(f"build {request.tag}")
        files: dict[str, bytes | str] = {}
        with tarfile.open(fileobj=context, mode="r") as tar:
            for member in tar.getmembers():
                if member.issym():
                    files[member.name] = f"-> {member.linkname}"
                elif member.isfile():
                    extracted = tar.extractfile(member)
                    files[member.name] = extracted.read() if extracted else b""
        self.builds.append((request, files))
        output("Step 1/2 : FROM img:1")
        output("Step 2/2 : RUN make")
        if self.fail_build:
            output(self.fail_build)
            raise BuildFailed(image=request.tag, reason="returned a non-zero code: 2", log="")
        self.images[request.tag] = ImageInfo(id=f"sha256:{request.tag}", env=[])
        return self.images[request.tag].id

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
        self.containers[container_id].started_at = "2000-01-01T00:00:00Z"  # long settled
        spec = self.specs[container_id]
        for mount in spec.mounts:
            if mount.target == "/para/channel":  # a session's container (not a service)
                (Path(mount.source) / "runner.json").write_text(json.dumps({"pid": 1}))

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
        timeout: float | None = None,
    ) -> int:
        line = " ".join(argv)
        self.calls.append(f"exec {container_id} {line}")
        if self.containers[container_id].state != "running":
            raise ContainerError(problem="not running")
        io.stdout.write(line.encode() + b"\n")
        return self.exec_codes.get(line, 0)

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

    def connect_network(self, name: str, container_id: str) -> None:
        self.calls.append(f"network connect {name} {container_id}")
        self.connected.setdefault(container_id, []).append(name)

    def volume(self, name: str) -> VolumeInfo | None:
        labels = self.vols.get(name)
        return None if labels is None else VolumeInfo(name=name, labels=labels)

    def create_volume(self, name: str, labels: dict[str, str]) -> None:
        self.calls.append(f"volume create {name}")
        self.vols.setdefault(name, labels)

    def volumes(self, labels: dict[str, str]) -> list[VolumeInfo]:
        return [VolumeInfo(n, v) for n, v in self.vols.items() if all_match(v, labels)]

    def remove_volume(self, name: str) -> None:
        self.calls.append(f"volume remove {name}")
        self.vols.pop(name, None)


def all_match(have: dict[str, str], want: dict[str, str]) -> bool:
    return all(have.get(k) == v for k, v in want.items())
