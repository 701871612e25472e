"""Configuration: loading with precedence (the models are ``para.schema``'s).

Lowest first: built-in defaults < user file (``$PARA_CONFIG`` or
``$XDG_CONFIG_HOME/para/config.json``) < project ``.para/config.json`` < the main
checkout's devcontainer.json (as a ``docker`` section, ``para.devcontainer``) <
``.para/docker.json`` (the ``docker`` section only) < environment (``PARA_*``) < flags.
Each file is validated on its own first, so an error names the file it came from. Keys
of committed files that run code on the host or widen a container's access wait for
``para trust`` (``para.trust``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from para.errors import ConfigError, InvalidOption, validation_lines, validation_message
from para.schema import (
    MIN_MEMORY,
    Agent,
    Archive,
    Build,
    Command,
    Config,
    DockerConfig,
    Healthcheck,
    Ide,
    Network,
    Resources,
    parse_size,
)
from para.trust import untrusted_keys, user_only_keys, without

if TYPE_CHECKING:
    from para.devcontainer import Devcontainer

__all__ = [
    "MIN_MEMORY",
    "Agent",
    "Archive",
    "Build",
    "Command",
    "Config",
    "DockerConfig",
    "Healthcheck",
    "Ide",
    "LoadedConfig",
    "Network",
    "Resources",
    "load_config",
    "parse_size",
]

DEFAULT_SOURCE = "default"
ENV_SOURCE = "env"
FLAG_SOURCE = "flag"


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


@dataclass
class LoadedConfig:
    """The merged configuration and, for every leaf key, the layer it came from."""

    config: Config
    values: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    # repository-supplied files and the keys of theirs left out until trusted
    ignored: dict[Path, list[str]] = field(default_factory=dict)
    # repository-supplied files and the keys of theirs that only the user may set
    user_only: dict[Path, list[str]] = field(default_factory=dict)
    # the devcontainer.json read, and what of it para does not model
    devcontainer: Path | None = None
    unsupported: list[str] = field(default_factory=list)

    def unsupported_warning(self) -> str | None:
        if not self.unsupported:
            return None
        return (
            f"{self.devcontainer}: para does not use {', '.join(self.unsupported)} "
            "(docs/containers.md says what it reads)"
        )

    def user_only_warning(self) -> str | None:
        if not self.user_only:
            return None
        parts = "; ".join(f"{path}: {', '.join(keys)}" for path, keys in self.user_only.items())
        return (
            f"ignoring keys only your own configuration may set ({parts}): put them in your "
            "user config file, a PARA_* variable, or a file git does not track"
        )

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


# Values a layer replaces whole rather than key by key.
_WHOLE = frozenset(
    {
        "docker.build",
        "docker.on_create_command",
        "docker.update_content_command",
        "docker.post_create_command",
        "docker.post_start_command",
        "docker.services",
    }
)


def _merge(
    base: dict[str, Any],
    layer: Mapping[str, Any],
    source: str,
    sources: dict[str, str],
    prefix: str = "",
) -> None:
    for key, value in layer.items():
        path = f"{prefix}{key}"
        if (
            isinstance(value, dict)
            and value
            and isinstance(base.get(key), dict)
            and path not in _WHOLE
        ):
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
        shaped = {"docker": layer} if docker_only else layer
        docker = shaped.get("docker") or {}
        if docker.get("image") and docker.get("build"):
            problems.append(
                f"{source}: docker.image and docker.build: both given; keep one (an image "
                "to run, or a build that makes it)"
            )
            return
        _merge(values, shaped, source, sources)
        # One image source per layer, the highest layer's: its image drops a lower
        # layer's build and the other way round (imagesource.py).
        for key, other in (("image", "build"), ("build", "image")):
            if docker.get(key):
                values["docker"][other] = None
                sources[f"docker.{other}"] = source

    user_file = user_config_path(env)
    raw_user = _read_json(user_file)
    if raw_user is not None:
        files.append(user_file)
    apply(str(user_file), raw_user)
    ignored: dict[Path, list[str]] = {}
    refused: dict[Path, list[str]] = {}
    devcontainer: Devcontainer | None = None
    if repo_root is not None:
        # Only the main checkout's: a worktree's copy is writable by its container, which
        # must not choose the mounts and network of its next container.
        for name, docker_only in (
            ("config.json", False),
            ("devcontainer", True),
            ("docker.json", True),
        ):
            if name == "devcontainer":
                workdir = str(values["docker"]["workdir"])
                devcontainer = _devcontainer(repo_root, env, workdir)
                if devcontainer is None:
                    continue
                path, raw = devcontainer.path, devcontainer.docker
                gate = ["docker." + key for key in devcontainer.gated]
            else:
                path = repo_root / ".para" / name
                loaded = _read_json(path)
                if loaded is None:
                    continue
                raw, gate = loaded, None
            files.append(path)
            shaped = {"docker": raw} if docker_only else raw
            gated = untrusted_keys(repo_root, path, shaped, env, gate)
            mine = user_only_keys(repo_root, path, shaped)
            if mine:
                refused[path] = [k.removeprefix("docker.") if docker_only else k for k in mine]
            if gated or mine:
                # named as the file spells them (docker.json holds the docker section)
                if gated:
                    ignored[path] = [k.removeprefix("docker.") if docker_only else k for k in gated]
                shaped = without(shaped, [*gated, *mine])
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
    return LoadedConfig(
        config=config,
        values=values,
        sources=sources,
        files=files,
        ignored=ignored,
        user_only=refused,
        devcontainer=devcontainer.path if devcontainer else None,
        unsupported=devcontainer.unsupported if devcontainer else [],
    )


def _devcontainer(repo_root: Path, env: Mapping[str, str], workdir: str) -> Devcontainer | None:
    from para import devcontainer

    return devcontainer.load(repo_root, env, workdir)


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
