"""The keys of a compose service read into para's values (``para.compose``'s parts).

Each reader takes whatever YAML or JSON gave, of any type, and returns a checked value or
raises ConfigError naming file, service and key: a repository's file gets a message,
never a traceback. What reaches into the host goes through ``Reader.host`` and
``Reader.gate``, the one place trust and docker.allow_privileged_services are decided.
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal, NoReturn, cast, get_args

from para.errors import ConfigError

Condition = Literal["service_started", "service_healthy", "service_completed_successfully"]
CONDITIONS: tuple[Condition, ...] = get_args(Condition)

_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BRACED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?", re.DOTALL)
_VOLUME_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_PORT = re.compile(r"(\d{1,5})(?:-(\d{1,5}))?")
# An alias can make a small file a huge tree (YAML's "billion laughs"): past these a
# service is refused rather than walked.
_MAX_NODES = 100_000
_MAX_DEPTH = 50
_MAX_PORT_RANGE = 1024
_PRIVATE = ((".git",), (".para",))
# Volume options with no effect on Linux (Docker Desktop's file sharing modes).
_QUIET_MODES = frozenset({"cached", "delegated", "consistent"})
_LONG_VOLUME_KEYS = frozenset({"type", "source", "target", "read_only", "consistency", "tmpfs"})


@dataclass(frozen=True)
class VolumeMount:
    kind: Literal["volume", "bind"]
    source: str  # a volume's short name, or a bind's absolute, resolved host path
    target: str
    read_only: bool = False


@dataclass
class Reader:
    """What reading one source of services needs, and the notes gathered on the way."""

    where: str  # the compose file, or "docker.services": the first word of each message
    base: Path  # relative paths start here (resolved)
    root: Path  # the repository root (resolved)
    env: Mapping[str, str]
    trusted: bool
    allow_privileged: bool
    unsupported: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def fail(self, service: str, problem: str) -> NoReturn:
        raise ConfigError(lines=f"  {self.where}: {service}: {problem}")

    @staticmethod
    def note(notes: list[str], text: str) -> None:
        if text not in notes:
            notes.append(text)

    def unknown(self, keys: Any, known: Any, prefix: str) -> None:
        """Name the keys para does not read (``x-`` extensions are compose's comments)."""
        for key in keys:
            if key not in known and not str(key).startswith("x-"):
                self.note(self.unsupported, f"{prefix}{key}")

    def host(self, service: str, name: str, what: str) -> str | None:
        """A host variable, None when unset. An untrusted file sees every variable as
        unset: it must not carry the host's secrets into a container of its choosing."""
        if name not in self.env:
            return None
        if self.trusted:
            return self.env[name]
        self.note(self.ignored, f"{service}: {what}")
        return None

    def gate(self, service: str, what: str, *, privileged: bool) -> bool:
        """Whether a setting that widens a container's access applies: trust first (the
        repository asks), then, for privileged ones, the user's own switch."""
        if not self.trusted:
            self.note(self.ignored, f"{service}: {what}")
            return False
        if privileged and not self.allow_privileged:
            self.note(self.refused, f"{service}: {what}")
            return False
        return True

    def path(self, service: str, raw: str, key: str) -> Path:
        if raw == "~" or raw.startswith("~/"):
            raw = (self.env.get("HOME") or str(Path.home())) + raw[1:]
        try:
            return (self.base / Path(raw).expanduser()).resolve()
        except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a bad name
            self.fail(service, f"{key}: {raw}: {exc}")


def kind(value: Any) -> str:
    """What a wrong value is, for a message."""
    shapes = ((Mapping, "a mapping"), (list, "a list"), (type(None), "null"))
    return next((name for t, name in shapes if isinstance(value, t)), f"{value!r}")


def text(r: Reader, service: str, key: str, value: Any) -> str:
    """A scalar as a string, as compose stringifies environment values and the like."""
    if not isinstance(value, str | int | float | date):
        r.fail(service, f"{key}: must be a string, not {kind(value)}")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def boolean(r: Reader, service: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        r.fail(service, f"{key}: must be true or false, not {kind(value)}")
    return value


def strings(r: Reader, service: str, key: str, value: Any) -> list[str]:
    """A string or a list of them."""
    if not isinstance(value, str | list):
        r.fail(service, f"{key}: must be a string or a list of strings, not {kind(value)}")
    return [text(r, service, key, item) for item in ([value] if isinstance(value, str) else value)]


def argv(r: Reader, service: str, key: str, value: Any) -> list[str]:
    """A command: an argv, or a line split as a shell would."""
    try:
        return shlex.split(value) if isinstance(value, str) else strings(r, service, key, value)
    except ValueError as exc:  # an unclosed quote
        r.fail(service, f"{key}: {value!r}: {exc}")


def container_path(r: Reader, service: str, key: str, value: Any) -> str:
    path = text(r, service, key, value)
    if not path.startswith("/"):
        r.fail(service, f"{key}: {path!r} must be an absolute container path")
    return posixpath.normpath(path)


def pairs(r: Reader, service: str, key: str, value: Any) -> dict[str, str | None]:
    """A mapping or a ``["K=V", "K"]`` list; None stands for a bare ``K`` (null -> "")."""
    out: dict[str, str | None] = {}
    if isinstance(value, Mapping):
        for name, item in value.items():
            out[str(name)] = "" if item is None else text(r, service, f"{key}.{name}", item)
    elif isinstance(value, list):
        for item in value:
            name, sep, rest = text(r, service, key, item).partition("=")
            out[name] = rest if sep else None
    else:
        r.fail(service, f"{key}: must be a mapping or a list of K=V, not {kind(value)}")
    for name in out:
        if not name or "=" in name:
            r.fail(service, f"{key}: {name!r} is not a variable name")
    return out


def interpolate(r: Reader, service: str, value: Any) -> Any:
    """Every string of a service with compose's ``$`` substitutions done."""
    budget = [_MAX_NODES]

    def walk(node: Any, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0 or depth > _MAX_DEPTH:
            r.fail(service, "too large or nested too deeply (an alias that repeats?)")
        if isinstance(node, str):
            return substitute(r, service, node)
        if isinstance(node, Mapping):
            return {key: walk(item, depth + 1) for key, item in node.items()}
        if isinstance(node, list):
            return [walk(item, depth + 1) for item in node]
        return node

    return walk(value, 0)


def substitute(r: Reader, service: str, line: str) -> str:
    if "\0" in line:
        r.fail(service, f"{line!r}: a NUL character")
    out: list[str] = []
    i = 0
    while (j := line.find("$", i)) >= 0:
        out.append(line[i:j])
        after = line[j + 1 : j + 2]
        name = _VARIABLE.match(line, j + 1)
        if after == "$":
            out.append("$")
            i = j + 2
        elif after == "{":
            end = _closing(line, j + 2)
            if end < 0:
                r.fail(service, f"{line!r}: a ${{ without its }} (write $$ for a literal $)")
            out.append(_braced(r, service, line[j + 2 : end], line[j : end + 1]))
            i = end + 1
        elif name:
            out.append(r.host(service, name.group(), f"${{{name.group()}}}") or "")
            i = name.end()
        else:  # compose leaves a $ that starts no variable as it is
            out.append("$")
            i = j + 1
    out.append(line[i:])
    return "".join(out)


def _closing(line: str, start: int) -> int:
    depth, k = 1, start
    while k < len(line):
        if line.startswith(("$$", "${"), k):
            if line[k + 1] == "{":
                depth += 1
            k += 2
            continue
        if line[k] == "}":
            depth -= 1
            if depth == 0:
                return k
        k += 1
    return -1


def _braced(r: Reader, service: str, inner: str, whole: str) -> str:
    match = _BRACED.fullmatch(inner)
    if not match:
        r.fail(service, f"{whole}: not a variable (write $$ for a literal $)")
    name, op, rest = match.group(1), match.group(2) or "", match.group(3) or ""
    value = r.host(service, name, f"${{{name}}}")
    is_set = bool(value) if op.startswith(":") else value is not None
    if op.endswith("-"):
        return value if is_set and value is not None else substitute(r, service, rest)
    if op.endswith("+"):
        return substitute(r, service, rest) if is_set else ""
    if op.endswith("?") and not is_set:
        waits = name in r.env and not r.trusted
        later = "; the host's value applies once you trust the file (para trust)" if waits else ""
        r.fail(service, f"${{{name}}}: {substitute(r, service, rest) or 'must be set'}{later}")
    return value or ""


def ports(r: Reader, service: str, key: str, value: Any) -> list[int]:
    """The container ports of ``ports`` or ``expose`` (the host's side is para's to pick)."""
    if not isinstance(value, list):
        r.fail(service, f"{key}: must be a list, not {kind(value)}")
    return list(dict.fromkeys(port for entry in value for port in _port(r, service, key, entry)))


def _port(r: Reader, service: str, key: str, entry: Any) -> list[int]:
    if isinstance(entry, Mapping) and key == "ports":
        spec = text(r, service, f"{key}.target", entry.get("target"))
        protocol = text(r, service, f"{key}.protocol", entry.get("protocol") or "tcp")
        shown = f"{spec}/{protocol}"
    elif isinstance(entry, str | int) and not isinstance(entry, bool):
        shown = str(entry).strip()
        spec, _, protocol = shown.partition("/")
        spec = spec.rpartition(":")[2]  # [[ip:]host:]container: the container's is last
    else:
        r.fail(service, f"{key}: {entry!r} is not a port such as 80 or 8080:80")
    if protocol.lower() not in ("", "tcp"):
        r.note(r.unsupported, f"{service}: {key} {shown}")
        return []
    match = _PORT.fullmatch(spec)
    low, high = (int(match.group(1)), int(match.group(2) or match.group(1))) if match else (0, 0)
    if not 1 <= low <= high <= 65535 or high - low >= _MAX_PORT_RANGE:
        r.fail(service, f"{key}: {shown!r} is not a port such as 80, 8080:80 or 8000-8002")
    return list(range(low, high + 1))


def volumes(r: Reader, service: str, key: str, value: Any) -> tuple[list[VolumeMount], list[str]]:
    """The mounts, and the tmpfs mounts the long form may name among them."""
    if not isinstance(value, list):
        r.fail(service, f"volumes: must be a list, not {kind(value)}")
    mounts: list[VolumeMount] = []
    tmpfs: list[str] = []
    anonymous = 0
    for entry in value:
        if isinstance(entry, Mapping):
            r.unknown(entry, _LONG_VOLUME_KEYS, f"{service}: volumes ")  # propagation...
        elif isinstance(entry, str):
            entry = _short_volume(r, service, entry)  # noqa: PLW2901 - as the long form
        else:
            r.fail(service, f"volumes: {entry!r} is neither SOURCE:TARGET nor a mapping")
        raw = entry.get("source")
        source = "" if raw is None else text(r, service, "volumes.source", raw)
        guess = "bind" if source.startswith(("/", ".", "~")) else "volume"
        found = text(r, service, "volumes.type", entry.get("type") or guess)
        target = container_path(r, service, "volumes.target", entry.get("target"))
        read_only = boolean(r, service, "volumes.read_only", entry.get("read_only", False))
        if found == "tmpfs":
            size = entry["tmpfs"].get("size") if isinstance(entry.get("tmpfs"), Mapping) else None
            tmpfs.append(target if size is None else f"{target}:size={size}")
        elif found == "volume":
            if not source:
                anonymous += 1
                source = f"{service}-anon-{anonymous}"
            elif not _VOLUME_NAME.fullmatch(source):
                r.fail(service, f"volumes: {source!r} is not a volume name")
            mounts.append(VolumeMount("volume", source, target, read_only))
        elif found != "bind":
            r.note(r.unsupported, f"{service}: volumes type {found}")
        elif not source:
            r.fail(service, f"volumes: the bind mount at {target} has no source")
        else:
            path = r.path(service, source, "volumes")
            shown = f"volumes {source}:{target}"
            if path.is_relative_to(r.root) or r.gate(service, shown, privileged=False):
                mounts.append(VolumeMount("bind", str(path), target, read_only))
    return mounts, tmpfs


def _short_volume(r: Reader, service: str, entry: str) -> dict[str, Any]:
    """``[SOURCE:]TARGET[:MODE]`` as the long form has it."""
    parts = entry.split(":")
    if len(parts) > 3 or not parts[0]:
        r.fail(service, f"volumes: {entry!r} is not SOURCE:TARGET[:ro]")
    read_only = False
    for option in parts[2].split(",") if len(parts) == 3 else []:
        if option in ("ro", "rw"):
            read_only = option == "ro"
        elif option in ("z", "Z", "nocopy"):
            r.note(r.unsupported, f"{service}: volumes :{option}")
        elif option not in _QUIET_MODES:
            r.fail(service, f"volumes: {entry!r}: unknown mode {option!r} (ro or rw)")
    if len(parts) == 1:  # anonymous
        return {"target": entry}
    return {"source": parts[0], "target": parts[1], "read_only": read_only}


def tmpfs(r: Reader, service: str, key: str, value: Any) -> list[str]:
    entries = strings(r, service, key, value)
    for entry in entries:
        container_path(r, service, key, entry.partition(":")[0])
    return entries


def labels(r: Reader, service: str, key: str, value: Any) -> dict[str, str]:
    return {name: item or "" for name, item in pairs(r, service, key, value).items()}


def environment(r: Reader, service: str, key: str, value: Any) -> dict[str, str]:
    """``environment`` or ``build.args``."""
    return resolve(r, service, key, pairs(r, service, key, value))


def resolve(r: Reader, service: str, key: str, found: Mapping[str, str | None]) -> dict[str, str]:
    """Variables with the bare ones (None) given the host's values, when trusted."""
    out: dict[str, str] = {}
    for name, item in found.items():
        value = r.host(service, name, f"{key} {name}") if item is None else item
        if value is not None:
            out[name] = value
    return out


def env_files(r: Reader, service: str, key: str, value: Any) -> dict[str, str]:
    out: dict[str, str | None] = {}
    for entry in value if isinstance(value, list) else [value]:
        long = isinstance(entry, Mapping)
        required = boolean(r, service, key, entry.get("required", True)) if long else True
        raw = text(r, service, key, entry.get("path") if long else entry)
        path = r.path(service, raw, key)
        # nor from .git or .para: git's config may hold a token, para's state the channels
        if not path.is_relative_to(r.root) or path.relative_to(r.root).parts[:1] in _PRIVATE:
            r.fail(service, f"env_file: {raw} is not the repository's ({path})")
        try:
            content = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            if required:
                r.fail(service, f"env_file: {raw} does not exist ({path})")
            continue
        except (OSError, UnicodeDecodeError) as exc:
            r.fail(service, f"env_file: {raw}: cannot read: {exc}")
        for number, line in enumerate(content.splitlines(), 1):
            name, sep, item = line.strip().removeprefix("export ").partition("=")
            name, item = name.strip(), item.strip()
            if not name or name.startswith("#"):
                continue
            if any(c.isspace() for c in name):
                r.fail(service, f"env_file {raw}: line {number}: not KEY=VALUE")
            if len(item) >= 2 and item[0] == item[-1] and item[0] in "'\"":
                item = item[1:-1]
            elif " #" in item:
                item = item.split(" #", 1)[0].rstrip()
            out[name] = item if sep else None
    return resolve(r, service, key, out)


def depends_on(r: Reader, service: str, key: str, value: Any) -> dict[str, Condition]:
    if isinstance(value, list):
        return {text(r, service, "depends_on", name): "service_started" for name in value}
    if not isinstance(value, Mapping):
        r.fail(service, f"depends_on: must be a list or a mapping, not {kind(value)}")
    out: dict[str, Condition] = {}
    for name, options in value.items():
        options = {} if options is None else options  # noqa: PLW2901 - null: the defaults
        if not isinstance(options, Mapping):
            r.fail(service, f"depends_on {name}: must be a mapping such as {{condition: ...}}")
        condition = options.get("condition", "service_started")
        if condition not in CONDITIONS:
            r.fail(service, f"depends_on {name}: {condition!r}: use {', '.join(CONDITIONS)}")
        known = ("condition", "required") if options.get("required", True) is True else ()
        r.unknown(options, known, f"{service}: depends_on {name}.")
        out[str(name)] = cast(Condition, condition)
    return out


def build(r: Reader, service: str, key: str, value: Any) -> dict[str, Any]:
    """``build``, its paths made relative to the repository root as para.schema.Build
    takes them (compose's dockerfile is relative to the context)."""
    spec = {"context": value} if isinstance(value, str) else value
    if not isinstance(spec, Mapping):
        r.fail(service, f"build: must be a path or a mapping, not {kind(value)}")
    r.unknown(spec, ("context", "dockerfile", "args", "target"), f"{service}: build.")
    raw = text(r, service, "build.context", spec.get("context") or ".")
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://|git@", raw):
        r.fail(service, f"build.context: {raw} is a URL; para builds from the repository only")
    context = r.path(service, raw, "build.context")
    name = text(r, service, "build.dockerfile", spec.get("dockerfile") or "Dockerfile")
    dockerfile = r.path(service, str(context / name), "build.dockerfile")
    for what, path in (("context", context), ("dockerfile", dockerfile)):
        if not path.is_relative_to(r.root):
            r.fail(service, f"build.{what}: {path} is outside the repository")
    out: dict[str, Any] = {
        "context": os.path.relpath(context, r.root),
        "dockerfile": os.path.relpath(dockerfile, r.root),
        "name": service,
    }
    if spec.get("args") is not None:
        out["args"] = environment(r, service, "build.args", spec["args"])
    if spec.get("target") is not None:
        out["target"] = text(r, service, "build.target", spec["target"])
    return out
