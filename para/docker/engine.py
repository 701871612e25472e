"""DockerEngineService: the Docker Engine API, for Docker and (subclassed) Podman.

Requests go through a transport: on a unix socket, para's small stdlib client (no SDK
import on the hot paths); on anything else (TCP with TLS, ssh, docker contexts with TLS),
the docker SDK's APIClient, built with ``docker.from_env()`` for DOCKER_HOST. Image pulls
always use the SDK for its streaming progress. Every engine failure leaves this module as
a ParaError (EngineUnavailable, ImageNotFound, ContainerError...).
"""

from __future__ import annotations

import contextlib
import json
import math
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, BinaryIO, Protocol

from para.docker.api import APIError, ConnectionFailed, Response, UnixAPI, quote_path
from para.docker.endpoint import Endpoint
from para.docker.service import (
    Backend,
    ContainerInfo,
    ContainerSpec,
    EngineInfo,
    ImageInfo,
    NetworkInfo,
    PullProgress,
)
from para.docker.stream import demultiplex, exec_config, pump_multiplexed, pump_tty
from para.errors import (
    ContainerError,
    EngineUnavailable,
    ImageNotFound,
    ParaError,
    PortInUse,
)

_NS = 1_000_000_000
# Engine events that mean someone stopped the container on purpose (Docker's stop also
# logs kill events for its signals).
_STOP_ACTIONS = frozenset({"kill", "stop"})


class Transport(Protocol):
    url: str

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        timeout: float | None = None,
    ) -> Response: ...

    def hijack(self, path: str, body: Any) -> tuple[socket.socket, bytes]: ...

    def stream(self, path: str, params: dict[str, Any] | None) -> Iterator[bytes]: ...


class SdkTransport:
    """The same requests through the docker SDK (TLS, ssh, contexts)."""

    def __init__(self, endpoint: Endpoint, env: Mapping[str, str]):
        self.url = endpoint.url
        self.endpoint = endpoint
        self.env = env
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = sdk_client(self.endpoint, self.env)
        return self._client

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        import requests

        try:
            return self.client.request(method, self.client._url(path), **kwargs)
        except requests.exceptions.ConnectionError as exc:
            raise ConnectionFailed(str(exc)) from exc

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        timeout: float | None = None,
    ) -> Response:
        res = self._send(method, path, params=params, json=body, timeout=timeout)
        response = Response(res.status_code, dict(res.headers), res.content)
        if res.status_code >= 400:
            try:
                message = str(res.json().get("message"))
            except ValueError:
                message = res.text
            raise APIError(res.status_code, message)
        return response

    def hijack(self, path: str, body: Any) -> tuple[socket.socket, bytes]:
        res = self._send(
            "POST",
            path,
            json=body,
            stream=True,
            headers={"Connection": "Upgrade", "Upgrade": "tcp"},
        )
        if res.status_code >= 400:
            raise APIError(res.status_code, res.text)
        sock = self.client._get_raw_response_socket(res)
        return getattr(sock, "_sock", sock), b""

    def stream(self, path: str, params: dict[str, Any] | None) -> Iterator[bytes]:
        res = self._send("GET", path, params=params, stream=True)
        if res.status_code >= 400:
            raise APIError(res.status_code, res.text)
        yield from res.iter_content(chunk_size=None)


def sdk_client(endpoint: Endpoint, env: Mapping[str, str]) -> Any:
    """A docker SDK APIClient for ``endpoint``; DOCKER_HOST goes through docker.from_env()."""
    import docker

    try:
        if endpoint.source in ("DOCKER_HOST", "docker.host"):
            # from_env also honours DOCKER_TLS_VERIFY and DOCKER_CERT_PATH
            return docker.from_env(
                version="auto", environment={**env, "DOCKER_HOST": endpoint.url}
            ).api
        if endpoint.context:
            from docker.context import ContextAPI

            ctx = ContextAPI.get_context(endpoint.context)
            return docker.APIClient(base_url=ctx.Host, tls=ctx.TLSConfig, version="auto")
        return docker.APIClient(base_url=endpoint.url, version="auto")
    except docker.errors.DockerException as exc:
        raise EngineUnavailable(backend="Docker", endpoint=endpoint.url, reason=str(exc)) from exc


def make_transport(endpoint: Endpoint, env: Mapping[str, str]) -> Transport:
    if endpoint.socket_path is not None:
        return UnixAPI(endpoint.socket_path)
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


def _port_key(port: int) -> str:
    return f"{port}/tcp"


def _health_from_status(status: str) -> str | None:
    for word in ("unhealthy", "healthy", "starting"):
        if f"({word})" in status or f"health: {word}" in status:
            return word
    return None


class DockerEngineService:
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
        import docker
        from docker.utils import parse_repository_tag

        repository, tag = parse_repository_tag(ref)
        try:
            client = sdk_client(self.endpoint, self.env)
            for event in client.pull(repository, tag=tag or "latest", stream=True, decode=True):
                if "error" in event:
                    raise ImageNotFound(image=ref, reason=str(event["error"]).strip())
                detail = event.get("progressDetail") or {}
                progress(
                    PullProgress(
                        layer=str(event.get("id") or ""),
                        status=str(event.get("status") or ""),
                        current=detail.get("current"),
                        total=detail.get("total"),
                    )
                )
        except docker.errors.APIError as exc:
            raise ImageNotFound(image=ref, reason=str(exc.explanation or exc)) from exc
        except docker.errors.DockerException as exc:
            raise self._unavailable(exc) from exc
        found = self.image(ref)
        if found is None:
            raise ImageNotFound(image=ref, reason="the pull finished but the image is missing")
        return found

    # -- containers -------------------------------------------------------------------------

    def _host_config(self, spec: ContainerSpec) -> dict[str, Any]:
        host: dict[str, Any] = {
            "Init": spec.init,
            "Mounts": [
                {"Type": "bind", "Source": m.source, "Target": m.target, "ReadOnly": m.read_only}
                for m in spec.mounts
            ],
            "NetworkMode": spec.network,
            # setuid programs in an image must not turn the user's uid into root
            "SecurityOpt": ["no-new-privileges"],
        }
        if spec.nano_cpus:
            host["NanoCpus"] = spec.nano_cpus
        if spec.memory:
            host["Memory"] = spec.memory
            host["MemorySwap"] = spec.memory
        if spec.pids_limit:
            host["PidsLimit"] = spec.pids_limit
        if spec.ports:
            host["PortBindings"] = {
                # loopback only: a session's dev server is not for the whole network
                _port_key(c): [{"HostIp": "127.0.0.1", "HostPort": str(h)}]
                for c, h in spec.ports.items()
            }
        if spec.extra_hosts:
            host["ExtraHosts"] = [f"{k}:{v}" for k, v in spec.extra_hosts.items()]
        return host

    def _create_body(self, spec: ContainerSpec) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Image": spec.image,
            "Cmd": spec.command,
            "Entrypoint": [],
            "Env": [f"{k}={v}" for k, v in spec.env.items()],
            "Labels": spec.labels,
            "WorkingDir": spec.workdir,
            "StopTimeout": spec.stop_timeout,
            "HostConfig": self._host_config(spec),
        }
        if spec.user:
            body["User"] = spec.user
        if spec.hostname:
            body["Hostname"] = spec.hostname
        if spec.ports:
            body["ExposedPorts"] = {_port_key(c): {} for c in spec.ports}
        if spec.healthcheck is not None:
            hc = spec.healthcheck
            body["Healthcheck"] = {
                "Test": ["CMD", *hc.command],
                "Interval": int(hc.interval * _NS),
                "Timeout": int(hc.timeout * _NS),
                "Retries": hc.retries,
            }
        return body

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
            if exc.status == 409:
                raise ContainerError(
                    problem=f"a container named {spec.name} already exists",
                    hint="remove it with: para docker cleanup (or docker rm -f NAME)",
                ) from exc
            raise ContainerError(problem=f"cannot create the container: {exc.message}") from exc
        return str(res.json()["Id"])

    def start(self, container_id: str) -> None:
        try:
            self._call("POST", f"/containers/{quote_path(container_id)}/start")
        except APIError as exc:
            raise self._start_error(exc) from exc

    def _start_error(self, exc: APIError) -> ParaError:
        text = exc.message
        lowered = text.lower()
        if "address already in use" in lowered or "port is already allocated" in lowered:
            port = _port_from_message(text)
            return PortInUse(
                port=port or "?",
                container_port="PORT",
                hint="pick another host port, or let para choose one",
            )
        if "no such file or directory" in lowered and "/bin/sh" in lowered:
            return ContainerError(
                problem="the image has no /bin/sh; para runs its keep-alive and helpers with "
                "a POSIX shell",
                hint="use an image with /bin/sh (busybox, alpine, debian...)",
            )
        if "catatonit" in lowered or "container-init" in lowered:
            return ContainerError(
                problem=f"the engine cannot run its init process: {text}",
                hint="install catatonit (Podman's init), or set docker.init to false",
            )
        return ContainerError(problem=f"the container did not start: {text}")

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
        state = data.get("State") or {}
        config = data.get("Config") or {}
        host = data.get("HostConfig") or {}
        network = data.get("NetworkSettings") or {}
        ports: dict[str, int] = {}
        for key, bindings in (network.get("Ports") or {}).items():
            for binding in bindings or []:
                if binding.get("HostPort"):
                    ports[key.split("/")[0]] = int(binding["HostPort"])
                    break
        return ContainerInfo(
            id=data["Id"],
            name=str(data.get("Name", "")).lstrip("/"),
            image=str(config.get("Image", "")),
            state=str(state.get("Status", "unknown")),
            labels=dict(config.get("Labels") or {}),
            # an engine keeps the last health of a stopped container (often "unhealthy",
            # from the stop itself): stale, so none
            health=(
                ((state.get("Health") or {}).get("Status") or None)
                if state.get("Status") == "running"
                else None
            ),
            exit_code=state.get("ExitCode"),
            oom_killed=bool(state.get("OOMKilled")),
            error=state.get("Error") or None,
            created=data.get("Created"),
            started_at=state.get("StartedAt"),
            finished_at=state.get("FinishedAt"),
            ports=ports,
            networks=sorted((network.get("Networks") or {}).keys()),
            memory=host.get("Memory") or None,
            nano_cpus=host.get("NanoCpus") or None,
            pids_limit=host.get("PidsLimit") or None,
        )

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
            item_labels = dict(item.get("Labels") or {})
            if any(item_labels.get(k) != v for k, v in labels.items()):
                continue  # an engine that ignored the filter must not make us act on others
            ports = {
                str(p["PrivatePort"]): int(p["PublicPort"])
                for p in item.get("Ports") or []
                if p.get("PublicPort")
            }
            names = item.get("Names") or [""]
            status = str(item.get("Status") or "")
            out.append(
                ContainerInfo(
                    id=item["Id"],
                    name=names[0].lstrip("/"),
                    image=str(item.get("Image", "")),
                    state=str(item.get("State") or "unknown").lower(),
                    labels=item_labels,
                    health=_health_from_status(status),
                    created=str(item.get("Created", "")),
                    ports=ports,
                )
            )
        return out

    # -- exec -------------------------------------------------------------------------------

    def exec(
        self,
        container_id: str,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        workdir: str | None = None,
        user: str | None = None,
        tty: bool = False,
        stdin: BinaryIO | None = None,
        stdout: BinaryIO,
        stderr: BinaryIO,
    ) -> int:
        config = exec_config(
            argv, stdin=stdin is not None, tty=tty, env=env, workdir=workdir, user=user
        )
        try:
            exec_id = self._call(
                "POST", f"/containers/{quote_path(container_id)}/exec", body=config
            ).json()["Id"]
            sock, rest = self.transport.hijack(
                f"/exec/{exec_id}/start", {"Detach": False, "Tty": tty}
            )
        except ConnectionFailed as exc:
            raise self._unavailable(exc) from exc
        except APIError as exc:
            if exc.status == 404:
                raise ContainerError(
                    problem=f"container {container_id[:12]} does not exist",
                    hint="recreate it with: para docker start",
                    state="missing",
                ) from exc
            # Docker answers 409; Podman 500 with "container state improper".
            if (
                exc.status == 409
                or "state improper" in exc.message
                or ("not running" in exc.message)
            ):
                raise ContainerError(
                    problem=f"container {container_id[:12]} is not running",
                    hint="start it with: para docker start",
                    state="stopped",
                ) from exc
            raise ContainerError(problem=f"exec failed: {exc.message}") from exc
        with contextlib.closing(sock):
            if tty:
                pump_tty(self.resize_exec, exec_id, sock, rest, stdin, stdout)
            else:
                pump_multiplexed(sock, rest, stdin, stdout, stderr)
        data = self._call("GET", f"/exec/{exec_id}/json").json()
        code = data.get("ExitCode")
        return int(code) if code is not None else 1

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

    def resize_exec(self, exec_id: str, rows: int, cols: int) -> None:
        with contextlib.suppress(APIError, ConnectionFailed):
            self.transport.request("POST", f"/exec/{exec_id}/resize", params={"h": rows, "w": cols})

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

    # -- networks ---------------------------------------------------------------------------

    def create_network(self, name: str, labels: dict[str, str]) -> None:
        try:
            self._call(
                "POST",
                "/networks/create",
                body={"Name": name, "Labels": labels, "CheckDuplicate": True},
            )
        except APIError as exc:
            if exc.status == 409 or "already exists" in exc.message:
                return
            raise ContainerError(problem=f"cannot create network {name}: {exc.message}") from exc

    def remove_network(self, name: str) -> None:
        try:
            self._call("DELETE", f"/networks/{quote_path(name)}")
        except APIError as exc:
            if exc.status == 404:
                return
            raise ContainerError(problem=f"cannot remove network {name}: {exc.message}") from exc

    def networks(self, labels: dict[str, str]) -> list[NetworkInfo]:
        filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
        try:
            data = self._call("GET", "/networks", params={"filters": json.dumps(filters)}).json()
        except APIError as exc:
            raise ContainerError(problem=f"cannot list networks: {exc.message}") from exc
        out = []
        for item in data or []:
            item_labels = dict(item.get("Labels") or {})
            if any(item_labels.get(k) != v for k, v in labels.items()):
                continue
            try:
                detail = self._call("GET", f"/networks/{quote_path(item['Name'])}").json()
            except APIError:
                continue
            out.append(
                NetworkInfo(
                    id=str(item.get("Id", "")),
                    name=item["Name"],
                    labels=item_labels,
                    containers=len(detail.get("Containers") or {}),
                )
            )
        return out


def _port_from_message(text: str) -> int | None:
    import re

    match = re.search(r":(\d{2,5})\b", text.rsplit("bind", maxsplit=1)[-1]) or re.search(
        r"(\d{2,5})", text
    )
    return int(match.group(1)) if match else None
