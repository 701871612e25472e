"""Reading and writing a channel directory without ever following a symlink.

Every path is opened relative to a directory descriptor with O_NOFOLLOW, files larger than
64 KiB are not read, content is validated with pydantic, and a bad file is moved to
``rejected/`` with a ``.reason`` file next to it instead of failing the command.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from para import safefs
from para.errors import ChannelError, validation_lines

MAX_FILE = 64 * 1024


class ChannelDir:
    """One session's channel directory, read and written without following symlinks."""

    def __init__(self, path: Path, session: str):
        self.path = path
        self.session = session

    def create(self) -> None:
        """Make the channel directory with its subdirectories (see ``layout``)."""
        from para.channel.layout import create

        create(self.path)

    @contextlib.contextmanager
    def open_dir(self, sub: str | None = None) -> Iterator[int]:
        """A descriptor of the channel directory (or a subdirectory, created when
        missing), never reached through a symlink."""
        try:
            fd = safefs.dir_fd(self.path, sub, create=True)
        except safefs.NotPlain as exc:
            raise ChannelError(
                problem=f"{self.path / (sub or '')} is not a plain directory (a symlink?)",
                hint="the session wrote something unexpected into its channel",
            ) from exc
        except OSError as exc:
            raise ChannelError(
                problem=f"channel {self.path} is not a directory: {exc.strerror}",
                hint=f"para clean, or recreate the session {self.session}",
            ) from exc
        try:
            yield fd
        finally:
            os.close(fd)

    def names(self, sub: str) -> list[str]:
        with self.open_dir(sub) as fd:
            return sorted(os.listdir(fd))  # noqa: PTH208 - by descriptor: no symlink race

    def read(self, sub: str | None, name: str) -> bytes:
        """A regular file of at most 64 KiB; raises ValueError saying why not."""
        with self.open_dir(sub) as dfd:
            return safefs.read_at(dfd, name, MAX_FILE)

    def write(self, sub: str | None, name: str, data: bytes) -> None:
        """Temp file + fsync + rename, inside the channel (no symlink followed)."""
        with self.open_dir(sub) as dfd:
            safefs.write_file(dfd, name, data)

    def load(self, sub: str | None, name: str, model: type[BaseModel]) -> Any:
        """Read and validate; a bad file goes to rejected/ and None is returned."""
        try:
            raw = self.read(sub, name)
        except FileNotFoundError:
            return None
        except ValueError as exc:
            self.reject(sub, name, f"{name} {exc}")
            return None
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            self.reject(sub, name, f"not valid JSON: {exc}")
            return None
        except RecursionError:
            self.reject(sub, name, "not valid JSON: nested too deeply")
            return None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            reasons = "; ".join(validation_lines(exc.errors()))
            self.reject(sub, name, f"does not match the schema: {reasons}")
            return None

    def reject(self, sub: str | None, name: str, reason: str) -> None:
        """Move a bad file (or symlink, never followed) to rejected/ with the reason."""
        target = f"{int(time.time() * 1000)}-{(sub or '').replace('/', '_')}-{name}"[:200]
        try:
            with self.open_dir(sub) as src, self.open_dir("rejected") as dst:
                os.rename(name, target, src_dir_fd=src, dst_dir_fd=dst)
        except (OSError, ChannelError):
            return
        with contextlib.suppress(OSError, ChannelError):
            self.write("rejected", f"{target}.reason", reason.encode() + b"\n")

    def rejected(self) -> list[tuple[str, str]]:
        out = []
        for name in self.names("rejected"):
            if name.endswith(".reason") or name.startswith("."):
                continue
            try:
                reason = self.read("rejected", f"{name}.reason").decode(errors="replace")
            except (OSError, ValueError):
                reason = "?"
            out.append((name, reason.strip()))
        return out
