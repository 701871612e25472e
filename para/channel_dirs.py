"""The channel's directories, creatable without importing the channel's pydantic models
(``start`` only needs the directories; reading them is ``para.channel``'s job)."""

from __future__ import annotations

import contextlib
from pathlib import Path

SUBDIRS = (
    "queue",
    "running",
    "done",
    "logs",
    "results",
    "requests",
    "requests/claimed",
    "rejected",
)


def create(path: Path) -> None:
    """A fresh channel directory with its subdirectories, private to the user (a
    container with another uid is granted access by DockerManager, not by mode 0777)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    for sub in SUBDIRS:
        (path / sub).mkdir(exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):
        path.chmod(0o700)
