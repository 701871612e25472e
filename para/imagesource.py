"""Which image a session's container runs, and where that choice came from.

First wins: ``--image``; ``PARA_IMAGE``; ``image`` or ``build`` in ``.para/docker.json``;
the main checkout's devcontainer.json; ``docker.image`` or ``docker.build`` in
``.para/config.json`` or the user's configuration; ``image_mappings`` by project type;
``default_image``. The configuration's layers already keep this order, and a layer that
names an image drops the build a lower layer named (and the other way round), so the
merged ``docker`` section holds at most one of them (config.py); this module says which
and names its layer. Building is ``para.docker.build``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from para.config import DEFAULT_SOURCE, ENV_SOURCE, FLAG_SOURCE, LoadedConfig

PROJECT_TYPES = (
    ("Cargo.toml", "rust"),
    ("package.json", "node"),
    ("pyproject.toml", "python"),
    ("requirements.txt", "python"),
    ("go.mod", "go"),
)
Kind = Literal["image", "build", "mapping", "default"]


@dataclass(frozen=True)
class ImageSource:
    kind: Kind
    image: str | None  # None for a build: its tag comes from hashing its inputs
    origin: str  # where the choice was made, for people

    def describe(self) -> str:
        if self.kind == "build":
            return f"built by the {self.origin}"
        return f"{self.image}, from {self.origin}"

    @property
    def named(self) -> bool:
        """Whether someone named this image (not para's mapping or default)."""
        return self.kind in ("image", "build")


def detect_project_type(directory: Path) -> str | None:
    for marker, kind in PROJECT_TYPES:
        if (directory / marker).exists():
            return kind
    return None


def layer_name(source: str, repo_root: Path | None) -> str:
    """A configuration layer as people know it: the option, the variable, the file."""
    if source == FLAG_SOURCE:
        return "--image"
    if source == ENV_SOURCE:
        return "PARA_IMAGE"
    if source == DEFAULT_SOURCE:
        return "the default"
    if repo_root is not None:
        try:
            return Path(source).relative_to(repo_root).as_posix()
        except ValueError:
            pass
    return source


def image_source(loaded: LoadedConfig, repo_root: Path | None, project: Path) -> ImageSource:
    """The image choice the configuration makes for a session whose files are in
    ``project`` (for the project type)."""
    cfg = loaded.config.docker
    if cfg.build is not None:
        origin = layer_name(loaded.sources.get("docker.build", ""), repo_root)
        return ImageSource("build", None, f"build in {origin}")
    if cfg.image:
        origin = layer_name(loaded.sources.get("docker.image", ""), repo_root)
        return ImageSource(
            "image",
            cfg.image,
            origin if origin.startswith("-") or origin == "PARA_IMAGE" else f"image in {origin}",
        )
    kind = detect_project_type(project)
    if kind and kind in cfg.image_mappings:
        return ImageSource(
            "mapping",
            cfg.image_mappings[kind],
            f"docker.image_mappings[{kind!r}], as this looks like a {kind} project",
        )
    return ImageSource("default", cfg.default_image, "docker.default_image")
