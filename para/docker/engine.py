"""DockerEngineService: the Docker Engine API, for Docker and (subclassed) Podman.

Requests go through a transport: on a unix socket, para's small stdlib client (no SDK
import on the hot paths); on anything else (TCP with TLS, ssh, docker contexts with TLS),
the docker SDK's APIClient (``sdk.py``). Image pulls always use the SDK for its streamed
progress. Every engine failure leaves this module as a ParaError (EngineUnavailable,
ImageNotFound, ContainerError...).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

from para.docker import labels as L
from para.docker import wire
from para.docker.endpoint import Endpoint
from para.docker.execio import ExecIO, ExecLost, ExecTimedOut, exec_command
from para.docker.http import (
    APIError,
    ConnectionFailed,
    Response,
    UnixAPI,
    demultiplex,
    quote_path,
)
from para.docker.objects import NetworksAndVolumes
from para.docker.service import (
    Backend,
    BuildRequest,
    ContainerInfo,
    ContainerSpec,
    EngineInfo,
    ImageInfo,
    PullProgress,
)
from para.errors import (
    BuildFailed,
    CommandTimedOut,
    ContainerError,
    EngineUnavailable,
    ImageNotFound,
)

if TYPE_CHECKING:
    from para.docker.http import Transport

_NS = 1_000_000_000
# Engine events that mean someone stopped the container on purpose (Docker's stop also
# logs kill events for its signals).
_STOP_ACTIONS = frozenset({"kill", "stop"})


def make_transport(endpoint: Endpoint, env: Mapping[str, str]) -> Transport:
    if endpoint.socket_path is not None:
        return UnixAPI(endpoint.socket_path)
    from para.docker.sdk import SdkTransport

    return SdkTransport(endpoint, env)


def ping(endpoint: Endpoint, env: Mapping[str, str], timeout: float = 5.0) -> EngineInfo:
    """Ask the endpoint what it is; ConnectionFailed/APIError when it does not answer."""
    transport = make_transport(endpoint, env)
    res = transport.request("GET", "/_ping", timeout=timeout)
    backend: Backend = (
        "podman" if "libpod-api-version" in {k.lower() for k in res.headers} else "docker"
    )
    version = res.headers.get("api-version") or res.headers.get("Api-Version") or "?"
    return EngineInfo(backend=backend, endpoint=endpoint.url, version=version)


class DockerEngineService(NetworksAndVolumes):
    """DockerService over the Docker Engine API (Docker, or Podman's compatible API)."""

    backend: Backend = "docker"

    def __init__(self, endpoint: Endpoint, info: EngineInfo, env: Mapping[str, str]):
        self.endpoint = endpoint
        self.info = info
        self.env = env
        self.transport = make_transport(endpoint, env)

    # -- errors -----------------------------------------------------------------------------

    def _unavailable(self, exc: BaseException) -> EngineUnavailable:
        return EngineUnavailable(
            backend=self.backend.capitalize(), endpoint=self.endpoint.url, reason=str(exc)
        )

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        timeout: float | None = None,
    ) -> Response:
        try:
            return self.transport.request(method, path, params=params, body=body, timeout=timeout)
        except ConnectionFailed as exc:
            raise self._unavailable(exc) from exc

    # -- engine -----------------------------------------------------------------------------

    def ping(self) -> EngineInfo:
        try:
            self._call("GET", "/_ping", timeout=5)
        except APIError as exc:
            raise self._unavailable(exc) from exc
        return self.info

    # -- images -----------------------------------------------------------------------------

    def image(self, ref: str) -> ImageInfo | None:
        try:
            data = self._call("GET", f"/images/{quote_path(ref)}/json").json()
        except APIError as exc:
            if exc.status == 404:
                return None
            raise ImageNotFound(image=ref, reason=exc.message) from exc
        return ImageInfo(id=data["Id"], env=list((data.get("Config") or {}).get("Env") or []))

    def pull(self, ref: str, progress: Callable[[PullProgress], None]) -> ImageInfo:
        from para.docker import sdk

        sdk.pull(self.endpoint, self.env, ref, progress, self._unavailable)
        found = self.image(ref)
        if found is None:
            raise ImageNotFound(image=ref, reason="the pull finished but the image is missing")
        return found

    def build(
        self, context: BinaryIO, size: int, request: BuildRequest, output: Callable[[str], None]
    ) -> str:
        params: dict[str, Any] = {
            "t": request.tag,
            "dockerfile": request.dockerfile,
            "rm": "1",
            "forcerm": "1",
            "nocache": "1" if request.no_cache else "0",
        }
        if request.args:
            params["buildargs"] = json.dumps(request.args)
        if request.target:
            params["target"] = request.target
        if request.labels:
            params["labels"] = json.dumps(request.labels)
        params.update(self._build_params())
        image_id = ""
        try:
            pending = b""
            for chunk in self.transport.upload("/build", params, context, size):
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    image_id = _build_event(line, output) or image_id
            if pending.strip():
                image_id = _build_event(pending, output) or image_id
        except ConnectionFailed as exc:
            raise self._unavailable(exc) from exc
        except APIError as exc:
            raise BuildFailed(image=request.tag, reason=exc.message, log="") from exc
        found = self.image(request.tag)
        if found is None:
            raise BuildFailed(image=request.tag, reason="the build ended without an image", log="")
        return found.id or image_id

    def _build_params(self) -> dict[str, Any]:
        return {}

    # -- containers -------------------------------------------------------------------------

    def _host_config(self, spec: ContainerSpec) -> dict[str, Any]:
        return wire.host_config(spec)

    def _create_body(self, spec: ContainerSpec) -> dict[str, Any]:
        return wire.create_body(spec, self._host_config(spec))

    def create(self, spec: ContainerSpec) -> str:
        try:
            res = self._call(
                "POST",
                "/containers/create",
                params={"name": spec.name},
                body=self._create_body(spec),
            )
        except APIError as exc:
            if exc.status == 404 and "image" in exc.message.lower():
                raise ImageNotFound(image=spec.image, reason=exc.message) from exc
            # Docker answers 409; Podman 500 with "that name is already in use".
            if exc.status == 409 or "name is already in use" in exc.message:
                raise self._name_taken(spec) from exc
            limit = wire.limit_refused(spec, exc.message)
            if limit is not None:
                raise limit from exc
            raise ContainerError(problem=f"cannot create the container: {exc.message}") from exc
        return str(res.json()["Id"])

    def _name_taken(self, spec: ContainerSpec) -> ContainerError:
        """The error for a create refused because the name is taken, saying by whom."""
        found = self.inspect(spec.name)
        if found is not None and L.foreign(found.labels, spec.labels):
            para = found.labels.get(L.MANAGED) == "true"
            return ContainerError(
                problem=f"container name {spec.name} is taken by {L.owner(found.labels)}",
                hint=L.NAMES_MEET_HINT
                if para
                else f"remove or rename that container (docker rm -f {spec.name})",
            )
        return ContainerError(
            problem=f"a container named {spec.name} already exists",
            hint=f"remove it with: para docker cleanup (or docker rm -f {spec.name})",
        )

    def start(self, container_id: str) -> None:
        try:
            self._call("POST", f"/containers/{quote_path(container_id)}/start")
        except APIError as exc:
            raise wire.start_error(exc) from exc

    def stop(self, container_id: str, timeout: int) -> None:
        try:
            self._call(
                "POST",
                f"/containers/{quote_path(container_id)}/stop",
                params={"t": timeout},
                timeout=timeout + 30,
            )
        except APIError as exc:
            if exc.status in (304, 404):
                return
            raise ContainerError(problem=f"cannot stop container: {exc.message}") from exc

    def remove(self, container_id: str) -> None:
        try:
            self._call(
                "DELETE",
                f"/containers/{quote_path(container_id)}",
                params={"force": "1", "v": "1"},
                timeout=60,
            )
        except APIError as exc:
            if exc.status == 404:
                return
            if exc.status == 409 and "in progress" in exc.message:
                return
            raise ContainerError(problem=f"cannot remove container: {exc.message}") from exc

    def inspect(self, container_id: str) -> ContainerInfo | None:
        try:
            data = self._call("GET", f"/containers/{quote_path(container_id)}/json").json()
        except APIError as exc:
            if exc.status == 404:
                return None
            raise ContainerError(problem=f"cannot inspect container: {exc.message}") from exc
        return wire.container_from_inspect(data)

    def list_containers(self, labels: dict[str, str], *, all: bool = True) -> list[ContainerInfo]:
        filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
        try:
            data = self._call(
                "GET",
                "/containers/json",
                params={"all": "1" if all else "0", "filters": json.dumps(filters)},
            ).json()
        except APIError as exc:
            raise ContainerError(problem=f"cannot list containers: {exc.message}") from exc
        out = []
        for item in data or []:
            info = wire.container_from_list(item)
            if any(info.labels.get(k) != v for k, v in labels.items()):
                continue  # an engine that ignored the filter must not make us act on others
            out.append(info)
        return out

    # -- exec -------------------------------------------------------------------------------

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
        try:
            return exec_command(
                self.transport,
                container_id,
                argv,
                io,
                env=env,
                workdir=workdir,
                user=user,
                timeout=timeout,
            )
        except ConnectionFailed as exc:
            raise self._unavailable(exc) from exc
        except ExecTimedOut as exc:
            raise CommandTimedOut(what="command", command=" ".join(argv), seconds=timeout) from exc
        except ExecLost as exc:
            raise ContainerError(
                problem=f"lost the connection to the {self.backend} engine while the command "
                f"ran in container {container_id[:12]} ({exc}); it may still be running there",
                hint="check the engine (docker info / podman info), then para docker status",
            ) from exc
        except APIError as exc:
            if exc.status == 404:
                raise ContainerError(
                    problem=f"container {container_id[:12]} does not exist",
                    hint="recreate it with: para docker start",
                    state="missing",
                ) from exc
            # Docker answers 409; Podman 500 with "container state improper".
            if exc.status == 409 or "state improper" in exc.message or "not running" in exc.message:
                raise ContainerError(
                    problem=f"container {container_id[:12]} is not running",
                    hint="start it with: para docker start",
                    state="stopped",
                ) from exc
            raise ContainerError(problem=f"exec failed: {exc.message}") from exc

    def stopped_on_request(self, container_id: str, since: float) -> bool | None:
        # Past events arrive at once; "until" only bounds the wait should no "die" come.
        # (It must lie ahead: Podman 4 answers a past "until" with no events at all.)
        params = {
            "since": str(math.floor(since)),
            "until": str(math.ceil(time.time()) + 2),
            "filters": json.dumps({"type": ["container"], "container": [container_id]}),
        }
        pending = b""
        events = self.transport.stream("/events", params)
        try:
            for chunk in events:
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    try:
                        event = json.loads(line)
                        action, at = event.get("Action"), int(event.get("timeNano", 0)) / _NS
                    except (ValueError, TypeError, AttributeError):
                        continue
                    if at < since - 0.001:
                        continue  # an earlier run of the container in the same second
                    if action in _STOP_ACTIONS:
                        return True
                    if action == "die":
                        return False
        except (APIError, ConnectionFailed, OSError):
            return None
        finally:
            if hasattr(events, "close"):
                events.close()
        return None

    def path_exists(self, container_id: str, path: str) -> bool | None:
        try:
            self._call(
                "HEAD", f"/containers/{quote_path(container_id)}/archive", params={"path": path}
            )
        except APIError as exc:
            return False if exc.status == 404 else None
        return True

    def logs(self, container_id: str, *, follow: bool, tail: int | None) -> Iterator[bytes]:
        params = {
            "stdout": "1",
            "stderr": "1",
            "follow": "1" if follow else "0",
            "tail": str(tail) if tail is not None else "all",
        }
        try:
            chunks = self.transport.stream(f"/containers/{quote_path(container_id)}/logs", params)
            yield from demultiplex(chunks)
        except ConnectionFailed as exc:
            raise self._unavailable(exc) from exc
        except APIError as exc:
            raise ContainerError(problem=f"cannot read logs: {exc.message}") from exc


def _build_event(line: bytes, output: Callable[[str], None]) -> str | None:
    """One JSON line of a build's answer: output passed on, an error raised, the
    image id returned."""
    try:
        event = json.loads(line)
    except ValueError:
        text = line.decode(errors="replace").strip()
        if text:
            output(text)
        return None
    if not isinstance(event, dict):
        return None
    if event.get("error") or event.get("errorDetail"):
        detail = event.get("errorDetail") or {}
        message = str(event.get("error") or detail.get("message") or "").strip()
        raise BuildFailed(image="", reason=message, log="")
    shown = event.get("stream") or event.get("status")
    if shown:
        for part in str(shown).splitlines():
            if part.strip():
                output(part.rstrip())
    aux = event.get("aux")
    if isinstance(aux, dict) and aux.get("ID"):
        return str(aux["ID"])
    return None
