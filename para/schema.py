"""The configuration's schema: a pydantic model for every key, with its checks.

Loading and merging the layers is ``para.config``'s (which re-exports these names).
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

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


class Build(_Model):
    """An image built from the repository (paths relative to the repository root)."""

    context: str = "."
    dockerfile: str = "Dockerfile"
    args: dict[str, str] = Field(default_factory=dict)
    target: str | None = None
    name: str | None = Field(
        default=None, description="the image's name in its tag (default: from the context)"
    )


# A lifecycle command: a shell line (run by /bin/sh -c), an argv, or named ones of those
# run in parallel (devcontainer.json's object form).
Command = str | list[str] | dict[str, str | list[str]]


class DockerConfig(_Model):
    enabled: bool = False
    fallback: Literal["refuse", "host"] = "refuse"
    backend: Literal["auto", "docker", "podman"] = "auto"
    host: str | None = None
    image: str | None = None
    build: Build | None = None
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
    on_create_command: Command | None = None
    update_content_command: Command | None = None
    post_create_command: Command | None = None
    post_start_command: Command | None = None
    lifecycle_timeout: float = Field(default=1800.0, gt=0, allow_inf_nan=False)
    cache_volumes: dict[str, str] = Field(
        default_factory=dict, description="volume name -> container path, shared by sessions"
    )
    compose_file: str | None = Field(
        default=None, description="a compose file of the session's services (repository-relative)"
    )
    services: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="the services as compose keys, when no compose file"
    )
    services_timeout: float = Field(default=120.0, gt=0, allow_inf_nan=False)
    allow_privileged_services: bool = Field(
        default=False, description="services may be privileged (the user's own config only)"
    )

    @field_validator("cache_volumes")
    @classmethod
    def _cache_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name, target in value.items():
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", name):
                raise ValueError(f"{name!r}: a name of letters, digits, '_', '.', '-'")
            if not target.startswith("/"):
                raise ValueError(f"{name!r}: {target!r} must be an absolute container path")
        return value


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
