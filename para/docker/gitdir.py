"""A container's own git repository: ``.para/state/git/NAME``, mounted at ``/para/git``.

The container commits into this repository; its object store borrows the host's objects
through ``objects/info/alternates`` (the host's object store is mounted read-only at the
same path, so the file means the same inside and out). Of the host's ``.git`` nothing
else is mounted: not its config, hooks, refs or worktree entries. ``/workspace/.git`` is
a read-only file mount saying ``gitdir: /para/git``.

The container can write anything here, so the host reads it like the channel: refs by
descriptor with O_NOFOLLOW and a size limit, never running git with this directory as
its repository (``sessions/sync.py`` copies objects through ``index-pack --strict``).
``objects`` and ``objects/info`` are mounts of their own, so the container can neither
rename them away nor change the alternates file the host's git also reads.

Standard library only at import: the ``docker exec`` fast path calls ``tip``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from para import safefs

# Annotations only; not importing typing keeps docker exec's fast path fast.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from para.docker.service import Mount
    from para.git import Git

MOUNT = "/para/git"
GITFILE_TEXT = f"gitdir: {MOUNT}\n"
MAX_REF = 4096
MAX_PACKED_REFS = 1 << 20
_HEX = frozenset("0123456789abcdef")


def is_sha(text: str) -> bool:
    return len(text) in (40, 64) and set(text) <= _HEX


class SessionGitDir:
    """Paths and safe access to one session's own repository."""

    def __init__(self, state_dir: Path, name: str):
        self.parent = state_dir / "git"
        self.root = self.parent / name
        self.gitfile = self.parent / ".gitfile"
        # the tip host and container last agreed on: beside the repository, not in it
        # (the container must not decide which side moved)
        self.agreed_file = self.parent / f".{name}.agreed"

    def exists(self) -> bool:
        return self.root.is_dir() and not self.root.is_symlink()

    # -- reading what the container wrote ----------------------------------------------------

    def tip(self, branch: str) -> str | None:
        """The commit of ``refs/heads/<branch>`` in the container's repository: the loose
        ref, else its line in packed-refs; None when it has neither. ValueError when what
        is there is not a plain file holding a commit id (a symlink, too large...)."""
        try:
            text = safefs.read_file(self.root, f"refs/heads/{branch}", MAX_REF).decode()
        except FileNotFoundError:
            return self._packed(f"refs/heads/{branch}")
        except UnicodeDecodeError as exc:
            raise ValueError("the ref is not text") from exc
        sha = text.strip()
        if not is_sha(sha):
            raise ValueError(f"refs/heads/{branch} does not hold a commit id")
        return sha

    def _packed(self, ref: str) -> str | None:
        try:
            data = safefs.read_file(self.root, "packed-refs", MAX_PACKED_REFS)
        except FileNotFoundError:
            return None
        for line in data.decode(errors="replace").splitlines():
            sha, _, name = line.partition(" ")
            if name == ref and is_sha(sha):
                return sha
        return None

    def agreed(self) -> str | None:
        """The branch tip host and container last agreed on."""
        try:
            text = self.agreed_file.read_text().strip()
        except OSError:
            return None
        return text if is_sha(text) else None

    # -- writing ------------------------------------------------------------------------------

    def agree(self, sha: str) -> None:
        from para.state import write_atomic

        write_atomic(self.agreed_file, f"{sha}\n".encode())

    def set_tip(self, branch: str, sha: str) -> None:
        """Point the container's branch at ``sha`` (a commit the host has), written
        through descriptors: a symlink the container planted is not followed."""
        if not is_sha(sha):
            raise ValueError(f"not a commit id: {sha!r}")
        sub, _, name = f"refs/heads/{branch}".rpartition("/")
        with safefs.open_dir(self.root, sub, create=True) as dfd:
            safefs.write_file(dfd, name, f"{sha}\n".encode(), mode=0o666)

    def create(self, git: Git, branch: str, base: str | None, admin: Path | None) -> None:
        """The repository a new container starts with (made before the container exists,
        so nothing races it): HEAD on ``branch`` at the host's tip, the host's tags and the
        base branch as packed refs, the host's excludes, and a copy of the host worktree's
        index so the first ``git status`` inside does not hash every file again."""
        tip = git.resolve(f"refs/heads/{branch}")
        refs = git.refs_for_session(base)
        root = self.root
        root.mkdir(parents=True, exist_ok=False)
        for sub in ("refs/heads", "refs/tags", "objects/info", "objects/pack", "info", "hooks"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        version, extension = (
            (1, "[extensions]\n\tobjectformat = sha256\n") if len(tip) == 64 else (0, "")
        )
        (root / "config").write_text(
            f"[core]\n\trepositoryformatversion = {version}\n\tfilemode = true\n"
            f"\tbare = false\n\tlogallrefupdates = true\n{extension}"
        )
        (root / "HEAD").write_text(f"ref: refs/heads/{branch}\n")
        (root / "description").write_text("the container's own repository of a para session\n")
        packed = "".join(
            f"{sha} {ref}\n" for ref, sha in sorted(refs.items()) if ref != f"refs/heads/{branch}"
        )
        (root / "packed-refs").write_text(
            "# pack-refs with: peeled fully-peeled sorted \n" + packed
        )
        self.set_tip(branch, tip)
        self.agree(tip)
        objects = git.common_dir.resolve() / "objects"
        (root / "objects" / "info" / "alternates").write_text(f"{objects}\n")
        exclude = git.common_dir / "info" / "exclude"
        if exclude.is_file():
            shutil.copyfile(exclude, root / "info" / "exclude")
        if admin is not None and (admin / "index").is_file():
            shutil.copyfile(admin / "index", root / "index")
        if not self.gitfile.is_file():
            tmp = self.gitfile.with_name(f".gitfile.{os.getpid()}")
            tmp.write_text(GITFILE_TEXT)
            tmp.replace(self.gitfile)
            self.gitfile.chmod(0o444)

    def remove(self) -> None:
        """Delete the repository (shutil.rmtree does not follow symlinks in it)."""
        if self.root.is_symlink():
            self.root.unlink()
        shutil.rmtree(self.root, ignore_errors=True)
        self.agreed_file.unlink(missing_ok=True)

    # -- the container's view ------------------------------------------------------------------

    def mounts(self, git: Git, workdir: str) -> list[Mount]:
        """The repository, its object store and alternates file as mounts of their own,
        the host's object stores read-only, and ``<workdir>/.git`` pointing here."""
        from para.docker.service import Mount

        objects = git.common_dir.resolve() / "objects"
        found = [
            Mount(str(self.root), MOUNT),
            Mount(str(self.root / "objects"), f"{MOUNT}/objects"),
            Mount(str(self.root / "objects" / "info"), f"{MOUNT}/objects/info", read_only=True),
            Mount(str(self.gitfile), f"{workdir.rstrip('/')}/.git", read_only=True),
        ]
        for store in [objects, *git.alternate_object_dirs()]:
            found.append(Mount(str(store), str(store), read_only=True))
        return found


def moved_inside(state_dir: Path, name: str, branch: str) -> bool:
    """Whether the container's branch moved since host and container last agreed: the
    cheap check after ``para docker exec`` (two small file reads)."""
    gitdir = SessionGitDir(state_dir, name)
    try:
        inside = gitdir.tip(branch)
    except (OSError, ValueError):
        return True  # let the full sync look at it, and say what is wrong
    return inside is not None and inside != gitdir.agreed()
