"""What a container's own repository needs of the host's: its starting refs, the object
stores to mount, and bringing the container's commits in (see ``docker/gitdir.py``)."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
from collections.abc import Sequence
from pathlib import Path

from para.errors import GitError
from para.git.base import GitBase
from para.git.env import scrubbed_env


class Objects(GitBase):
    def alternate_object_dirs(self) -> list[Path]:
        """Object stores this repository borrows from (``objects/info/alternates``)."""
        try:
            text = (self.common_dir / "objects" / "info" / "alternates").read_text()
        except OSError:
            return []
        base = self.common_dir / "objects"
        found = []
        for raw in text.splitlines():
            line = raw.strip()
            if line and not line.startswith("#"):
                path = Path(line) if Path(line).is_absolute() else (base / line)
                found.append(path.resolve())
        return found

    def import_objects(
        self, objects: Path, tip: str, have: Sequence[str], timeout: float = 300
    ) -> None:
        """Copy what ``tip`` needs from the object store ``objects`` (a container's) into
        this repository. Git reads that store only as an alternate, with this
        repository's own configuration, and the objects arrive through
        ``index-pack --strict``, which checks each of them (no ``.git`` paths in trees,
        well-formed commits) as for a fetch from an untrusted server."""
        import tempfile

        _plain_store(objects)
        revs = "".join([f"{tip}\n", *(f"^{sha}\n" for sha in have)]).encode()
        with tempfile.TemporaryFile() as pack_err:
            packer = subprocess.Popen(
                ["git", "pack-objects", "--revs", "--stdout", "-q"],
                cwd=self.root,
                env=scrubbed_env() | {"GIT_ALTERNATE_OBJECT_DIRECTORIES": str(objects)},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=pack_err,
            )
            assert packer.stdin is not None
            assert packer.stdout is not None
            indexer = subprocess.Popen(
                ["git", "index-pack", "--stdin", "--strict", "--fix-thin"],
                cwd=self.root,
                env=scrubbed_env(),
                stdin=packer.stdout,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            packer.stdout.close()  # the indexer holds it now
            try:
                with contextlib.suppress(BrokenPipeError):
                    packer.stdin.write(revs)
                    packer.stdin.close()
                _, index_err = indexer.communicate(timeout=timeout)
                packer.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                packer.kill()
                indexer.kill()
                packer.wait()
                indexer.wait()
                raise GitError(
                    command="pack-objects | index-pack", stderr=f"no end after {timeout:.0f} s"
                ) from None
            if packer.returncode or indexer.returncode:
                pack_err.seek(0)
                text = (pack_err.read() + index_err).decode(errors="replace").strip()
                raise GitError(command="pack-objects | index-pack", stderr=text or "failed")


def _plain_store(objects: Path) -> None:
    """Refuse an object store holding anything but directories and regular files: a
    symlink would make git read a file elsewhere on the host, a FIFO hang it."""
    if objects.is_symlink() or not objects.is_dir():
        raise GitError(command="pack-objects", stderr=f"{objects} is not a plain directory")
    for top, dirs, files in os.walk(objects):
        for name in [*dirs, *files]:
            path = Path(top) / name
            mode = path.lstat().st_mode
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                raise GitError(
                    command="pack-objects",
                    stderr=f"{path} is not a regular file or directory; not reading it",
                )
