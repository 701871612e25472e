"""Configuration: pydantic models and loading with precedence.

Lowest first: built-in defaults < user file (``$PARA_CONFIG`` or
``$XDG_CONFIG_HOME/para/config.json``) < project ``.para/config.json`` < session
``.para/docker.json`` (the ``docker`` section only) < environment (``PARA_*``) < flags.
Each file is validated on its own first, so an error names the file it came from.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from para.errors import ConfigError, InvalidOption, validation_lines, validation_message
from para.trust import without

DEFAULT_SOURCE = "default"
ENV_SOURCE = "env"
FLAG_SOURCE = "flag"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class Resources(_Model):
    cpus: float | None = Field(
        default=2.0, gt=0, le=1024, allow_inf_nan=False, description="CPUs (NanoCpus)"
    )
    memory: str | None = Field(default="4g", description="memory limit, e.g. 512m, 4g")
    pids: int | None = Field(default=4096, gt=0, le=2**31 - 1, description="process limit")

    @field_validator("memory")
    @classmethod
    def _memory_parses(cls, value: str | None) -> str | None:
        if value is not None and parse_size(value) < MIN_MEMORY:
            raise ValueError(f"{value!r} is less than the 6m an engine can run a container in")
        return value


class Network(_Model):
    mode: Literal["bridge", "none", "host", "session"] = "bridge"


class Healthcheck(_Model):
    command: list[str] | None = Field(
        default=None, description="argv run in the container; None: the runner's own check"
    )
    interval: float = Field(default=30.0, gt=0)
    timeout: float = Field(default=5.0, gt=0)
    retries: int = Field(default=3, ge=1)


class DockerConfig(_Model):
    enabled: bool = False
    fallback: Literal["refuse", "host"] = "refuse"
    backend: Literal["auto", "docker", "podman"] = "auto"
    host: str | None = None
    image: str | None = None
    default_image: str = "buildpack-deps:bookworm-scm"
    image_mappings: dict[str, str] = Field(
        default_factory=lambda: {
            "rust": "rust:latest",
            "node": "node:lts",
            "python": "python:3.12",
            "go": "golang:latest",
        }
    )
    workdir: str = "/workspace"
    user: str | None = None
    forward_env: list[str] = Field(default_factory=list)
    volumes: list[str] = Field(default_factory=list)
    allow_volumes: list[str] = Field(
        default_factory=list,
        description="volumes allowed although they expose para's state, /proc, /sys or /dev",
    )
    ports: list[str] = Field(default_factory=list)
    environment: dict[str, str] = Field(default_factory=dict)
    resources: Resources = Field(default_factory=Resources)
    network: Network = Field(default_factory=Network)
    init: bool = True
    healthcheck: Healthcheck | None = Field(default_factory=Healthcheck)
    stop_timeout: int = Field(default=5, ge=0)
    retention_days: int = Field(default=7, ge=0)


class Archive(_Model):
    days: int = Field(default=30, ge=0)
    max: int = Field(default=50, ge=0)


class Agent(_Model):
    command: list[str] | None = None


class Ide(_Model):
    command: list[str] | None = None


class Config(_Model):
    worktrees_dir: str = ".para/worktrees"
    branch_prefix: str = "para"
    auto_stage: bool = True
    setup_command: str | None = None
    archive: Archive = Field(default_factory=Archive)
    agent: Agent = Field(default_factory=Agent)
    ide: Ide = Field(default_factory=Ide)
    docker: DockerConfig = Field(default_factory=DockerConfig)

    @field_validator("branch_prefix")
    @classmethod
    def _prefix_is_plain(cls, value: str) -> str:
        if not value or value.startswith(("/", "-")) or value.endswith("/") or ".." in value:
            raise ValueError("must be a plain branch path such as 'para' or 'team/para'")
        return value


# PARA_* variables and the key each sets. PARA_CONFIG names the user file instead.
ENV_KEYS: dict[str, str] = {
    "PARA_WORKTREES_DIR": "worktrees_dir",
    "PARA_BRANCH_PREFIX": "branch_prefix",
    "PARA_AUTO_STAGE": "auto_stage",
    "PARA_SETUP_COMMAND": "setup_command",
    "PARA_DOCKER": "docker.enabled",
    "PARA_DOCKER_FALLBACK": "docker.fallback",
    "PARA_BACKEND": "docker.backend",
    "PARA_DOCKER_HOST": "docker.host",
    "PARA_IMAGE": "docker.image",
    "PARA_NETWORK": "docker.network.mode",
}

MIN_MEMORY = 6 * 1024**2  # Docker's minimum; Podman fails to start below its usage
_MAX_SIZE = 1024**5  # a petabyte: more is a typo, and engines take int64
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(text: str) -> int:
    """``512m`` -> bytes. Units b, k, m, g, t (binary), optionally followed by ``b``."""
    raw = text.strip().lower()
    if raw.endswith("b") and len(raw) > 1 and raw[-2] in "kmgt":
        raw = raw[:-1]
    unit = raw[-1] if raw and raw[-1] in "bkmgt" else ""
    number = raw[: len(raw) - len(unit)]
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"{text!r} is not a size such as 512m or 4g") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{text!r} must be a positive number of bytes, such as 512m")
    size = int(value * _SIZE_UNITS[unit])
    if size >= _MAX_SIZE:
        raise ValueError(f"{text!r} is more than any machine has (at most 1p)")
    return size


@dataclass
class LoadedConfig:
    """The merged configuration and, for every leaf key, the layer it came from."""

    config: Config
    values: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    # repository-supplied files and the keys of theirs left out until trusted
    ignored: dict[Path, list[str]] = field(default_factory=dict)

    def ignored_warning(self) -> str | None:
        if not self.ignored:
            return None
        parts = "; ".join(f"{path}: {', '.join(keys)}" for path, keys in self.ignored.items())
        return (
            f"ignoring settings this repository's committed configuration makes until you "
            f"trust it ({parts}); see them with para trust --show, apply them with para trust"
        )


def user_config_path(env: Mapping[str, str]) -> Path:
    if env.get("PARA_CONFIG"):
        return Path(env["PARA_CONFIG"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "para" / "config.json"


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(lines=f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            lines=f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(lines=f"{path}: line {exc.lineno}: {exc.msg}") from exc
    except RecursionError:
        raise ConfigError(lines=f"{path}: nested too deeply to be a configuration") from None
    if not isinstance(data, dict):
        raise ConfigError(lines=f"{path}: (top level): must be a JSON object")
    return data


def _set_path(target: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def _merge(
    base: dict[str, Any],
    layer: Mapping[str, Any],
    source: str,
    sources: dict[str, str],
    prefix: str = "",
) -> None:
    for key, value in layer.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and isinstance(base.get(key), dict):
            _merge(base[key], value, source, sources, f"{path}.")
        else:
            base[key] = value
            for known in [k for k in sources if k.startswith(f"{path}.")]:
                del sources[known]
            sources[path] = source


def _leaf_sources(values: Mapping[str, Any], source: str, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(_leaf_sources(value, source, f"{path}."))
        else:
            out[path] = source
    return out


def _env_layer(env: Mapping[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for var, key in ENV_KEYS.items():
        if var in env and env[var] != "":
            _set_path(layer, key, env[var])
    return layer


def load_config(
    repo_root: Path | None,
    *,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> LoadedConfig:
    """Merge every layer; raise ConfigError listing each bad ``file: key: problem``."""
    env = os.environ if env is None else env
    defaults = Config().model_dump(mode="json")
    values: dict[str, Any] = json.loads(json.dumps(defaults))
    sources = _leaf_sources(defaults, DEFAULT_SOURCE)
    problems: list[str] = []
    bad_options: list[str] = []
    files: list[Path] = []

    def apply(source: str, raw: dict[str, Any] | None, *, docker_only: bool = False) -> None:
        if raw is None:
            return
        model: type[BaseModel] = DockerConfig if docker_only else Config
        try:
            checked = model.model_validate(raw)
        except ValidationError as exc:
            if source == FLAG_SOURCE:
                bad_options.extend(_option_lines(exc))
            else:
                problems.extend(validation_lines(exc.errors(), source))
            return
        # Keep only what the layer set, in JSON form (validated, e.g. "2" -> 2.0 for cpus).
        layer = checked.model_dump(mode="json", exclude_unset=True)
        _merge(values, {"docker": layer} if docker_only else layer, source, sources)

    user_file = user_config_path(env)
    raw_user = _read_json(user_file)
    if raw_user is not None:
        files.append(user_file)
    apply(str(user_file), raw_user)
    ignored: dict[Path, list[str]] = {}
    if repo_root is not None:
        # Only the main checkout's: a worktree's copy is writable by its container, which
        # must not choose the mounts and network of its next container.
        for name, docker_only in (("config.json", False), ("docker.json", True)):
            path = repo_root / ".para" / name
            raw = _read_json(path)
            if raw is None:
                continue
            files.append(path)
            shaped = {"docker": raw} if docker_only else raw
            gated = _untrusted(repo_root, path, shaped, env)
            if gated:
                # named as the file spells them (docker.json holds the docker section)
                ignored[path] = [k.removeprefix("docker.") if docker_only else k for k in gated]
                shaped = without(shaped, gated)
                raw = shaped.get("docker", {}) if docker_only else shaped
            apply(str(path), raw, docker_only=docker_only)
    apply(ENV_SOURCE, _env_layer(env) or None)
    if flags:
        flag_layer: dict[str, Any] = {}
        for key, value in flags.items():
            if value is not None:
                _set_path(flag_layer, key, value)
        apply(FLAG_SOURCE, flag_layer or None)
    if problems:
        raise ConfigError(lines="\n".join(f"  {line}" for line in problems))
    if bad_options:
        raise InvalidOption(lines="; ".join(bad_options))
    try:
        config = Config.model_validate(values)
    except ValidationError as exc:
        lines = validation_lines(exc.errors(), "merged")
        raise ConfigError(lines="\n".join(f"  {line}" for line in lines)) from exc
    return LoadedConfig(config=config, values=values, sources=sources, files=files, ignored=ignored)


# The command-line options that set configuration keys, for errors that name them.
OPTION_OF = {
    "docker.image": "--image",
    "docker.resources.cpus": "--cpus",
    "docker.resources.memory": "--memory",
    "docker.resources.pids": "--pids",
    "docker.network.mode": "--network",
    "docker.backend": "--backend",
}


def _option_lines(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"])
        out.append(f"{OPTION_OF.get(key, key)}: {validation_message(err)}")
    return out


def _untrusted(
    repo_root: Path, path: Path, layer: dict[str, Any], env: Mapping[str, str]
) -> list[str]:
    """The keys of a project file that wait for ``para trust``: none when the file is the
    user's own (git does not track it) or its content is trusted."""
    from para.trust import TrustStore, gated_keys

    gated = gated_keys(layer, repo_root)
    if not gated:
        return []
    from para.git import Git

    if not Git(repo_root).is_tracked(path):
        return []
    if TrustStore(env).trusted(repo_root, path, path.read_bytes()):
        return []
    return gated


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Leaf keys in dotted form, as ``config show`` prints them."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{path}."))
        else:
            out[path] = value
    return out
