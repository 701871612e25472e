"""A session's stack of services, read from a compose file or ``docker.services`` into
checked values that the container layer turns into containers (pure parsing: no engine).

Compose is what projects already have, so para reads it rather than a format of its own;
but the file is the repository's. What carries the host into a container (its variables,
files outside the repository, network, privileges) applies only once the file is trusted,
privileges only when the user's own configuration allows them. Nothing is dropped
silently: what is left out is named in ``unsupported``, ``ignored`` or ``refused``.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from para import compose_keys as keys
from para.compose_keys import Condition, Reader, VolumeMount
from para.errors import ConfigError

__all__ = [
    "Condition",
    "Healthcheck",
    "Service",
    "Stack",
    "VolumeMount",
    "dotenv",
    "env_name",
    "load",
    "variables",
]

JSON_SOURCE = "docker.services"
# What para reads of a service, by what it is for.
_RUN = ("image", "build", "command", "entrypoint", "working_dir", "user", "labels", "healthcheck")
_WIRING = ("environment", "env_file", "ports", "expose", "depends_on", "volumes", "tmpfs")
PRIVILEGED = ("privileged", "cap_add", "pid", "devices", "network_mode")
SUPPORTED = frozenset((*_RUN, *_WIRING, *PRIVILEGED))
# para starts and stops services with their session: a restart policy has nothing to add.
QUIET = frozenset({"restart"})
TOP_LEVEL_QUIET = frozenset({"name", "version"})
# Volume options that choose where the data lives: para makes plain local volumes.
VOLUME_OPTIONS = ("driver", "driver_opts", "external")
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|ns)")
_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_SERVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
_PLAIN = re.compile(r"[A-Za-z0-9_./:@%+,=-]*")


@dataclass(frozen=True)
class Healthcheck:
    test: list[str]  # an argv to exec in the container
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = 3
    start_period: float = 0.0


@dataclass(frozen=True)
class Service:
    name: str
    image: str | None = None
    build: dict[str, Any] | None = None  # para.schema.Build's keys; the caller builds if set
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    ports: list[int] = field(default_factory=list)  # container ports
    expose: list[int] = field(default_factory=list)
    volumes: list[VolumeMount] = field(default_factory=list)
    tmpfs: list[str] = field(default_factory=list)
    healthcheck: Healthcheck | None = None
    depends_on: dict[str, Condition] = field(default_factory=dict)
    working_dir: str | None = None
    user: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    # set only when trusted and allowed (docker.allow_privileged_services)
    privileged: bool = False
    cap_add: list[str] = field(default_factory=list)
    pid: str | None = None
    devices: list[str] = field(default_factory=list)
    network_mode: str | None = None


@dataclass
class Stack:
    """The services in start order (each after what it depends on), and what was left out."""

    services: dict[str, Service]
    source: Path | None  # the compose file, None for docker.services
    volumes: list[str]  # the named volumes the services use, anonymous ones named too
    unsupported: list[str]
    ignored: list[str]  # waiting for para trust
    refused: list[str]  # waiting for docker.allow_privileged_services

    @property
    def where(self) -> str:
        return str(self.source) if self.source else JSON_SOURCE

    def unsupported_warning(self) -> str | None:
        said = f"{self.where}: para does not use {{}} (docs/containers.md says what it reads)"
        return said.format(", ".join(self.unsupported)) if self.unsupported else None

    def ignored_warning(self) -> str | None:
        said = f"ignoring what {self.where} asks of the host until you trust it ({{}}); see it "
        said += "with para trust --show, apply it with para trust"
        return said.format(", ".join(self.ignored)) if self.ignored else None

    def refused_warning(self) -> str | None:
        said = f"refusing the privileged settings of {self.where} ({{}}); "
        said += "docker.allow_privileged_services: true in your own configuration allows them"
        return said.format(", ".join(self.refused)) if self.refused else None


class _Loader(yaml.SafeLoader):
    """SafeLoader reading scalars as compose's YAML 1.2 does: an unquoted ``22:22`` is a
    port mapping, not YAML 1.1's base-60 number 1342, and ``on`` or ``yes`` is text."""

    def as_compose(self, node: yaml.ScalarNode) -> Any:
        text = self.construct_scalar(node)
        if ":" in text or (node.tag.endswith(":bool") and text.lower() not in ("true", "false")):
            return text
        return yaml.SafeLoader.yaml_constructors[node.tag](self, node)


for _tag in ("int", "float", "bool"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _Loader.as_compose)


def load(
    repo_root: Path,
    *,
    compose_file: str | None,
    services: Mapping[str, Any] | None,
    env: Mapping[str, str],
    trusted: bool,
    allow_privileged: bool,
) -> Stack | None:
    """The session's stack from docker.compose_file or docker.services, None without
    either; ConfigError naming ``file: service: problem`` for what cannot be used."""
    if compose_file and services:
        raise ConfigError(
            lines="  docker.compose_file and docker.services: both given; keep one "
            "(a compose file, or its services written out)"
        )
    root = repo_root.resolve()
    source: Path | None = None
    if compose_file:
        source = _compose_path(root, compose_file)
        base, where = source.parent, str(source)
    elif services:
        base, where = root, JSON_SOURCE
    else:
        return None
    reader = Reader(where, base, root, env, trusted=trusted, allow_privileged=allow_privileged)
    raw = _top_level(reader, _read(source)) if source else services
    if not isinstance(raw, Mapping):
        raise ConfigError(lines=f"  {where}: services: must be a mapping of names to services")
    try:
        found = {_name(reader, name): _service(reader, name, spec) for name, spec in raw.items()}
    except RecursionError:
        raise ConfigError(lines=f"  {where}: nested too deeply") from None
    ordered = _order(reader, found)
    _distinct_variables(reader, ordered)
    named = {v.source for s in ordered.values() for v in s.volumes if v.kind == "volume"}
    return Stack(ordered, source, sorted(named), reader.unsupported, reader.ignored, reader.refused)


def _compose_path(root: Path, compose_file: str) -> Path:
    path = root / compose_file
    try:
        path = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # missing, or a symlink loop
        problem = "no such file" if isinstance(exc, FileNotFoundError) else str(exc)
    else:
        problem = "" if path.is_file() else "not a file"
        problem = problem if path.is_relative_to(root) else "outside the repository"
    if problem:
        raise ConfigError(
            lines=f"  docker.compose_file: {compose_file}: {problem} ({path})",
            hint="name a compose file in the repository, relative to its root (compose.yaml)",
        )
    return path


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(lines=f"  {path}: cannot read: {exc}") from exc
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(
            lines=f"  {path}: {at}{exc.problem or exc.context}",
            hint="fix the file's YAML (a compose file)",
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(lines=f"  {path}: {exc}") from exc
    except RecursionError:
        raise ConfigError(lines=f"  {path}: nested too deeply") from None


def _top_level(r: Reader, data: Any) -> Any:
    if not isinstance(data, dict):
        r.fail("(top level)", f"must be a mapping with services, not {keys.kind(data)}")
    r.unknown(data, ("services", "volumes", *TOP_LEVEL_QUIET), "")
    _declared_volumes(r, data.get("volumes"))
    services = data.get("services")
    if not isinstance(services, dict) or not services:
        r.fail("services", "must be a mapping of service names to their settings")
    return services


def _declared_volumes(r: Reader, value: Any) -> None:
    if not isinstance(value, dict | None):
        r.fail("volumes", f"must be a mapping of volume names, not {keys.kind(value)}")
    for name, options in (value or {}).items():
        for option in options if isinstance(options, dict) else ():
            if option in VOLUME_OPTIONS:
                r.note(r.unsupported, f"volumes {name}: {option}")


def _name(r: Reader, name: Any) -> str:
    if not isinstance(name, str) or not _SERVICE_NAME.fullmatch(name):
        raise ConfigError(
            lines=f"  {r.where}: services: {name!r} is not a service name: 1-40 of A-Z a-z "
            "0-9 _ . -, starting with a letter or digit"
        )
    return name


def _duration(r: Reader, service: str, key: str, value: Any) -> float:
    """Seconds of a compose duration (``1m30s``, ``500ms``); a bare number is seconds."""
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        spec, pos, seconds = value.strip(), 0, 0.0
        while pos < len(spec) and (match := _DURATION.match(spec, pos)):
            seconds += float(match.group(1)) * _SECONDS[match.group(2)]
            pos = match.end()
        if pos < len(spec) and spec != "0":
            seconds = None
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        r.fail(service, f"{key}: {value!r} is not a duration such as 10s, 1m30s or 500ms")
    return seconds


def _healthcheck(r: Reader, service: str, key: str, value: Any) -> Healthcheck | None:
    if not isinstance(value, Mapping):
        r.fail(service, f"healthcheck: must be a mapping, not {keys.kind(value)}")
    timings = ("interval", "timeout", "start_period")
    r.unknown(value, ("test", "retries", "disable", *timings), f"{service}: healthcheck.")
    if keys.boolean(r, service, "healthcheck.disable", value.get("disable", False)):
        return None
    if value.get("test") is None:  # timings for the image's own check: not para's to run
        r.note(r.unsupported, f"{service}: healthcheck without test")
        return None
    found: dict[str, Any] = {
        name: _duration(r, service, f"healthcheck.{name}", value[name])
        for name in timings
        if value.get(name) is not None
    }
    if found.get("interval") == 0 or found.get("timeout") == 0:
        r.fail(service, "healthcheck: an interval or timeout of 0")
    retries = found["retries"] = value.get("retries", 3)
    if type(retries) is not int or retries < 0:
        r.fail(service, f"healthcheck.retries: {retries!r} is not a number of retries")
    test = _health_test(r, service, value["test"])
    return None if test is None else Healthcheck(test=test, **found)


def _health_test(r: Reader, service: str, test: Any) -> list[str] | None:
    if isinstance(test, str) and test.strip():
        return ["/bin/sh", "-c", test]
    items = test if isinstance(test, list) else []
    words = [keys.text(r, service, "healthcheck.test", word) for word in items]
    if words == ["NONE"]:
        return None
    if len(words) < 2 or words[0] not in ("CMD", "CMD-SHELL"):
        r.fail(service, f"healthcheck.test: {test!r}: use a line, [CMD, ...] or [CMD-SHELL, ...]")
    return words[1:] if words[0] == "CMD" else ["/bin/sh", "-c", " ".join(words[1:])]


# The keys read alike: each reader takes (reader, service, key, value).
_READERS: dict[str, Callable[[Reader, str, str, Any], Any]] = {
    "image": keys.text,
    "build": keys.build,
    "command": keys.argv,
    "entrypoint": keys.argv,
    "ports": keys.ports,
    "expose": keys.ports,
    "healthcheck": _healthcheck,
    "depends_on": keys.depends_on,
    "working_dir": keys.container_path,
    "user": keys.text,
    "labels": keys.labels,
}


def _service(r: Reader, name: str, spec: Any) -> Service:
    if not isinstance(spec, Mapping):
        r.fail(name, f"must be a mapping of keys such as image and ports, not {keys.kind(spec)}")
    data: dict[str, Any] = keys.interpolate(r, name, dict(spec))
    r.unknown(data, SUPPORTED | QUIET, f"{name}: ")
    if data.get("image") is None and data.get("build") is None:
        r.fail(name, "needs image or build")
    found: dict[str, Any] = {}
    for key, read in _READERS.items():
        if data.get(key) is not None:
            found[key] = read(r, name, key, data[key])
    environment = {}
    if data.get("env_file") is not None:
        environment = keys.env_files(r, name, "env_file", data["env_file"])
    if data.get("environment") is not None:
        environment.update(keys.environment(r, name, "environment", data["environment"]))
    tmpfs = [] if data.get("tmpfs") is None else keys.tmpfs(r, name, "tmpfs", data["tmpfs"])
    if data.get("volumes") is not None:
        found["volumes"], more = keys.volumes(r, name, "volumes", data["volumes"])
        tmpfs += more
    return Service(
        name=name, environment=environment, tmpfs=tmpfs, **found, **_privileged(r, name, data)
    )


def _privileged(r: Reader, name: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that reach past a container's walls: each applies when the file is
    trusted and the user allows privileged services, else it is named as left out."""
    out: dict[str, Any] = {}
    if data.get("privileged") is not None and keys.boolean(
        r, name, "privileged", data["privileged"]
    ):
        out["privileged"] = r.gate(name, "privileged", privileged=True)
    for key in ("cap_add", "devices"):
        values = [] if data.get(key) is None else keys.strings(r, name, key, data[key])
        if values and r.gate(name, key, privileged=True):
            out[key] = values
    for key in ("pid", "network_mode"):
        if data.get(key) is None:
            continue
        value = keys.text(r, name, key, data[key])
        if value != "host":
            r.note(r.unsupported, f"{name}: {key} {value}")
        elif r.gate(name, f"{key} host", privileged=True):
            out[key] = "host"
    return out


def _order(r: Reader, services: dict[str, Service]) -> dict[str, Service]:
    """Each service after what it depends on; otherwise in the file's order."""
    names = list(services)
    index = {name: i for i, name in enumerate(names)}
    waiting = {name: len(services[name].depends_on) for name in names}
    dependents: dict[str, list[str]] = {name: [] for name in names}
    for service in services.values():
        for dependency in service.depends_on:
            if dependency not in services:
                r.fail(service.name, f"depends_on names {dependency}, which is not a service")
            dependents[dependency].append(service.name)
    ready = [index[name] for name in names if not waiting[name]]
    heapq.heapify(ready)
    out: dict[str, Service] = {}
    while ready:
        name = names[heapq.heappop(ready)]
        out[name] = services[name]
        for dependent in dependents[name]:
            waiting[dependent] -= 1
            if not waiting[dependent]:
                heapq.heappush(ready, index[dependent])
    if len(out) < len(names):
        # each service left waits for another one left: follow them until one repeats
        path: list[str] = []
        name = next(n for n in names if n not in out)
        while name not in path:
            path.append(name)
            name = next(d for d in services[name].depends_on if d not in out)
        cycle = [*path[path.index(name) :], name]
        r.fail("depends_on", f"a cycle: {' -> '.join(cycle)}")
    return out


def _distinct_variables(r: Reader, services: Mapping[str, Service]) -> None:
    seen: dict[str, str] = {}
    for name in services:
        if (other := seen.setdefault(env_name(name), name)) != name:
            r.fail(f"{other} and {name}", f"both are PARA_SERVICE_{env_name(name)}_*; rename one")


def env_name(service: str) -> str:
    """A service's part of its variables' names: ``redis-cache`` -> ``REDIS_CACHE``."""
    return re.sub(r"[^A-Za-z0-9]", "_", service).upper()


def variables(
    stack: Stack, *, inside: bool, host_ports: Mapping[str, Mapping[int, int]]
) -> dict[str, str]:
    """Where each service answers: from the session's container (``inside``: by name,
    on container ports) or from the host (127.0.0.1, on the published ports only)."""
    out: dict[str, str] = {}
    for name, service in stack.services.items():
        prefix = f"PARA_SERVICE_{env_name(name)}"
        container_ports = list(dict.fromkeys([*service.ports, *service.expose]))
        if inside:
            out[f"{prefix}_HOST"] = name
            reachable = [(port, port) for port in container_ports]
        else:
            out[f"{prefix}_HOST"] = "127.0.0.1"
            published = host_ports.get(name, {})
            reachable = [(port, published[port]) for port in container_ports if port in published]
        if reachable:
            out[f"{prefix}_PORT"] = str(reachable[0][1])
        for port, answer in reachable:
            out[f"{prefix}_PORT_{port}"] = str(answer)
    return out


def dotenv(values: Mapping[str, str]) -> str:
    """``K=V`` lines, sorted; a value with anything beyond plain characters is quoted
    (single quotes: literal for compose, python-dotenv and sh alike)."""
    lines = []
    for key in sorted(values):
        value = values[key]
        if not _PLAIN.fullmatch(value):
            if "'" in value or "\n" in value:
                escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
                value = '"' + escaped.replace("\n", "\\n") + '"'
            else:
                value = f"'{value}'"
        lines.append(f"{key}={value}\n")
    return "".join(lines)
