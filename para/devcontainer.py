"""devcontainer.json as a configuration layer: the keys para models, mapped onto its own.

Read from the main checkout only (``.devcontainer/devcontainer.json``, else
``.devcontainer.json``): a worktree's copy is the container's to write. The file is JSON
with comments and trailing commas. What it says becomes a ``docker`` section that sits
between ``.para/config.json`` and ``.para/docker.json`` (docs/config.md); keys para does not
model are named in one warning, never dropped silently.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from para.errors import ConfigError

CANDIDATES = (".devcontainer/devcontainer.json", ".devcontainer.json")
# Keys of editors and of the spec's own machinery: nothing for para to do, nothing lost.
QUIET = frozenset(
    {
        "$schema",
        "name",
        "customizations",
        "waitFor",
        "shutdownAction",
        "overrideCommand",
        "updateRemoteUserUID",
        "userEnvProbe",
        "portsAttributes",
        "otherPortsAttributes",
    }
)
LIFECYCLE = {
    "onCreateCommand": "on_create_command",
    "updateContentCommand": "update_content_command",
    "postCreateCommand": "post_create_command",
    "postStartCommand": "post_start_command",
}
HANDLED = frozenset(
    {
        "image",
        "build",
        "containerEnv",
        "remoteEnv",
        "containerUser",
        "remoteUser",
        "mounts",
        "forwardPorts",
        "appPort",
        "runArgs",
        "workspaceFolder",
        *LIFECYCLE,
    }
)


@dataclass
class Devcontainer:
    """What a devcontainer.json says, as a ``docker`` section of para's configuration."""

    path: Path
    docker: dict[str, Any]
    unsupported: list[str] = field(default_factory=list)
    # keys of the section that widen access (trust, as for .para/docker.json)
    gated: list[str] = field(default_factory=list)


def find(repo_root: Path) -> Path | None:
    for name in CANDIDATES:
        path = repo_root / name
        if path.is_file():
            return path
    return None


def strip_jsonc(text: str) -> str:
    """JSON with comments and trailing commas as plain JSON, each character of a comment
    or such a comma a space (newlines kept), so errors point at the original place."""
    out = list(text)
    i, n = 0, len(text)
    in_string = False
    last_comma = -1
    while i < n:
        ch = text[i]
        if in_string:
            if ch == "\\":
                i += 2
                continue
            if ch == '"':
                in_string = False
        elif ch == '"':
            in_string, last_comma = True, -1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out[i:end] = " " * (end - i)
            i = end
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out[i:end] = ["\n" if c == "\n" else " " for c in text[i:end]]
            i = end
            continue
        elif ch == ",":
            last_comma = i
        elif ch in "}]":
            if last_comma >= 0:
                out[last_comma] = " "
            last_comma = -1
        elif not ch.isspace():
            last_comma = -1
        i += 1
    return "".join(out)


def load(
    repo_root: Path, env: Mapping[str, str], workdir: str = "/workspace"
) -> Devcontainer | None:
    """The main checkout's devcontainer.json as para configuration, or None."""
    path = find(repo_root)
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(lines=f"  {path}: cannot read: {exc}") from exc
    try:
        data = json.loads(strip_jsonc(text))
    except json.JSONDecodeError as exc:
        raise ConfigError(
            lines=f"  {path}: line {exc.lineno}, column {exc.colno}: {exc.msg}",
            hint="fix the file (JSON with comments and trailing commas)",
        ) from exc
    except RecursionError:
        raise ConfigError(lines=f"  {path}: nested too deeply") from None
    if not isinstance(data, dict):
        raise ConfigError(lines=f"  {path}: (top level): must be a JSON object")
    return _convert(path, repo_root, data, env, workdir)


def _convert(
    path: Path, repo_root: Path, data: dict[str, Any], env: Mapping[str, str], workdir: str
) -> Devcontainer:
    out = Devcontainer(path=path, docker={})
    docker = out.docker
    workdir = str(data.get("workspaceFolder") or workdir)
    subst = _Substitution(repo_root, workdir, env)
    for key in data:
        if key not in HANDLED and key not in QUIET:
            out.unsupported.append(key)
    if "image" in data:
        docker["image"] = subst(str(data["image"]))
    if isinstance(data.get("build"), dict):
        docker["build"] = _build(path, repo_root, data["build"], subst, out)
    environment: dict[str, str] = {}
    for key in ("containerEnv", "remoteEnv"):
        for name, value in dict(data.get(key) or {}).items():
            if value is not None:
                environment[str(name)] = subst(str(value))
    if environment:
        docker["environment"] = environment
        if subst.used_local_env or "PATH" in environment:
            out.gated.append("environment")
    user = data.get("containerUser") or data.get("remoteUser")
    if user:
        docker["user"] = str(user)
        if str(user).partition(":")[0] in ("root", "0"):
            out.gated.append("user")
    if "workspaceFolder" in data:
        docker["workdir"] = workdir
    _mounts(data.get("mounts") or [], subst, out)
    ports = _ports(data, out)
    if ports:
        docker["ports"] = ports
    _run_args(data.get("runArgs") or [], subst, out)
    for key, ours in LIFECYCLE.items():
        if data.get(key) is not None:
            docker[ours] = _command(data[key], key, path)
    return out


def _build(
    path: Path, repo_root: Path, build: dict[str, Any], subst: _Substitution, out: Devcontainer
) -> dict[str, Any]:
    """``build.*``, its paths (relative to devcontainer.json) made relative to the
    repository root, as para's ``docker.build`` has them."""
    base = path.parent
    context = (base / subst(str(build.get("context") or "."))).resolve()
    dockerfile = (base / subst(str(build.get("dockerfile") or "Dockerfile"))).resolve()
    result: dict[str, Any] = {
        "context": os.path.relpath(context, repo_root),
        "dockerfile": os.path.relpath(dockerfile, repo_root),
        "name": "devcontainer",
    }
    if build.get("args"):
        result["args"] = {str(k): subst(str(v)) for k, v in dict(build["args"]).items()}
    if build.get("target"):
        result["target"] = str(build["target"])
    for key in build:
        if key not in ("context", "dockerfile", "args", "target"):
            out.unsupported.append(f"build.{key}")
    return result


def _mounts(mounts: list[Any], subst: _Substitution, out: Devcontainer) -> None:
    """Bind mounts become ``volumes`` (checked like any volume, and waiting for trust);
    named volumes become ``cache_volumes`` (one per repository)."""
    binds: list[str] = []
    named: dict[str, str] = {}
    for mount in mounts:
        fields = _mount_fields(mount)
        source, target = fields.get("source", ""), fields.get("target", "")
        if not target:
            out.unsupported.append(f"mounts ({mount!r}: no target)")
            continue
        kind = fields.get("type", "bind" if source.startswith("/") else "volume")
        if kind == "bind" and source:
            ro = ":ro" if fields.get("readonly") in ("", "true", "1") else ""
            binds.append(f"{subst(source)}:{subst(target)}{ro}")
        elif kind == "volume" and source:
            named[re.sub(r"[^A-Za-z0-9_.-]", "-", subst(source))] = subst(target)
        else:
            out.unsupported.append(f"mounts ({kind})")
    if binds:
        out.docker["volumes"] = binds
        out.gated.append("volumes")
    if named:
        out.docker["cache_volumes"] = named


def _mount_fields(mount: Any) -> dict[str, str]:
    if isinstance(mount, dict):
        return {
            str(k).lower(): str(v).lower() if k == "readonly" else str(v) for k, v in mount.items()
        }
    fields: dict[str, str] = {}
    for part in str(mount).split(","):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        key = {"src": "source", "dst": "target", "destination": "target"}.get(key, key)
        fields[key] = value.strip() if sep else ""
    return fields


def _ports(data: dict[str, Any], out: Devcontainer) -> list[str]:
    ports: list[str] = []
    entries = list(data.get("forwardPorts") or [])
    app = data.get("appPort")
    entries += app if isinstance(app, list) else ([app] if app is not None else [])
    for entry in entries:
        text = str(entry)
        if re.fullmatch(r"\d{1,5}(:\d{1,5})?", text):
            ports.append(text)
        else:
            out.unsupported.append(f"forwardPorts ({text})")
    return ports


def _run_args(args: list[Any], subst: _Substitution, out: Devcontainer) -> None:
    """The subset para models: --cpus, --memory, --env, --network; the rest named."""
    words = [subst(str(a)) for a in args]
    docker, env = out.docker, dict(out.docker.get("environment") or {})
    resources: dict[str, Any] = {}
    i = 0
    while i < len(words):
        word, value = words[i], None
        name, sep, inline = word.partition("=")
        if sep:
            word, value = name, inline
        elif i + 1 < len(words) and word in (
            "--cpus",
            "--memory",
            "-m",
            "--env",
            "-e",
            "--network",
            "--net",
        ):
            value, i = words[i + 1], i + 1
        i += 1
        if word == "--cpus" and value:
            resources["cpus"] = float(value)
        elif word in ("--memory", "-m") and value:
            resources["memory"] = value
        elif word in ("--env", "-e") and value and "=" in value:
            key, _, val = value.partition("=")
            env[key] = val
        elif word in ("--network", "--net") and value:
            docker["network"] = {"mode": value}
            if value == "host":
                out.gated.append("network")
        else:
            out.unsupported.append(f"runArgs {word}")
    if resources:
        docker["resources"] = resources
    if env:
        docker["environment"] = env


def _command(value: Any, key: str, path: Path) -> Any:
    """A lifecycle command: a string, an argv, or an object of named ones (in parallel)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(a, str) for a in value):
        return value
    if isinstance(value, dict) and all(
        isinstance(v, str) or (isinstance(v, list) and all(isinstance(a, str) for a in v))
        for v in value.values()
    ):
        return {str(k): v for k, v in value.items()}
    raise ConfigError(
        lines=f"  {path}: {key}: must be a string, an array of strings, or an object of them"
    )


class _Substitution:
    """The spec's ``${...}`` variables: ``localWorkspaceFolder`` (the repository),
    ``containerWorkspaceFolder``, their ``Basename``s, and ``localEnv:NAME[:default]``
    (a host variable: forwarding it needs trust, as ``forward_env`` does)."""

    def __init__(self, repo_root: Path, workdir: str, env: Mapping[str, str]):
        self.values = {
            "localWorkspaceFolder": str(repo_root),
            "localWorkspaceFolderBasename": repo_root.name,
            "containerWorkspaceFolder": workdir,
            "containerWorkspaceFolderBasename": Path(workdir).name,
        }
        self.env = env
        self.used_local_env = False

    def __call__(self, text: str) -> str:
        return re.sub(r"\$\{([^}]+)\}", self._one, text)

    def _one(self, match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("localEnv:"):
            self.used_local_env = True
            var, _, default = name.removeprefix("localEnv:").partition(":")
            return self.env.get(var, default)
        return self.values.get(name, match.group(0))


def command_words(command: Any) -> str:
    """A lifecycle command as one line, for messages."""
    if isinstance(command, str):
        return command
    if isinstance(command, list):
        return shlex.join(command)
    return "; ".join(f"{k}: {command_words(v)}" for k, v in dict(command).items())
