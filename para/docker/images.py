"""The image a new container runs: chosen (``para.imagesource``), then built or pulled
when the engine does not have it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from para.docker import build
from para.docker.service import DockerService, ImageInfo
from para.errors import ConfigError
from para.imagesource import ImageSource, image_source

if TYPE_CHECKING:
    from para.config import LoadedConfig
    from para.docker.manager import DockerManager


@dataclass(frozen=True)
class Resolved:
    ref: str
    source: ImageSource
    plan: build.BuildPlan | None = None


def resolve(manager: DockerManager, loaded: LoadedConfig, project: Path) -> Resolved:
    """The image for a container of a session whose files are in ``project``; for a
    build, its tag (the inputs hashed, nothing built)."""
    source = image_source(loaded, manager.repo.root, project)
    spec = loaded.config.docker.build
    if source.kind != "build" or spec is None:
        assert source.image is not None
        return Resolved(source.image, source)
    key = spec.model_dump_json()
    plan = manager.build_plans.get(key)
    if plan is None:
        plan = manager.build_plans[key] = build.plan(
            manager.repo, manager.git, spec, manager.worktrees_dir
        )
    return Resolved(plan.tag, source, plan)


def ensure(
    manager: DockerManager, service: DockerService, image: Resolved, *, no_cache: bool = False
) -> tuple[ImageInfo, bool]:
    """The engine's image, built or pulled if it was missing; whether it was built now."""
    built = False
    if image.plan is not None and (no_cache or service.image(image.ref) is None):
        built = build.ensure(
            service,
            image.plan,
            repo=manager.repo,
            reporter=manager.build_reporter or _quiet,
            no_cache=no_cache,
        )
    found = service.image(image.ref)
    if found is None:
        found = manager.pull(
            service, image.ref, None if image.source.named else image.source.origin
        )
    return found, built


@contextlib.contextmanager
def _quiet(_image: str) -> Iterator[build.BuildOutput]:
    yield lambda _line: None


def build_configured(manager: DockerManager, *, no_cache: bool) -> dict[str, Any]:
    """``para docker build``: the configured build's image, built if missing (or with
    ``no_cache``, built again from nothing)."""
    cfg = manager.session_config(None)
    image = resolve(manager, manager.session_loaded(None), manager.repo.root)
    if image.plan is None:
        raise ConfigError(
            lines=f"  nothing to build: the image is {image.source.describe()}",
            hint="set docker.build in .para/docker.json, or build in "
            ".devcontainer/devcontainer.json (docs/containers.md)",
        )
    service = manager.service(cfg.backend, cfg.host)
    info, built = ensure(manager, service, image, no_cache=no_cache)
    return {
        "image": image.ref,
        "id": info.id,
        "built": built,
        "source": image.source.origin,
        "log": str(build.log_path(manager.repo, image.plan)),
    }
