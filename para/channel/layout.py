"""The channel's directories and the helpers mounted beside them, set up without importing
the channel's pydantic models (``start`` only needs the files; reading the channel is
``para.channel``'s job)."""

from __future__ import annotations

import contextlib
import os
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


def install_helpers(state_dir: Path) -> Path:
    """Copy para's POSIX sh helpers to ``<state>/bin`` (executable; refreshed on change)."""
    from para.state import write_atomic

    target = state_dir / "bin"
    target.mkdir(parents=True, exist_ok=True)
    # The package's own directory: the helpers are bind-mounted, so they must be files
    # on disk anyway (para is never run from a zip).
    for entry in (Path(__file__).parent.parent / "assets").iterdir():
        if entry.name.startswith(("_", ".")) or not entry.is_file():
            continue
        data = entry.read_bytes()
        dest = target / entry.name
        try:
            same = dest.read_bytes() == data and os.access(dest, os.X_OK)
        except FileNotFoundError:
            same = False
        if not same:
            write_atomic(dest, data, mode=0o755)
    return target
