"""Files in directories a container can write, reached without ever following a symlink.

Every path is opened component by component relative to a directory descriptor with
O_NOFOLLOW, so a symlink planted anywhere on the way (or as the file itself) fails the
open instead of leading the host elsewhere. Used for the session channel and the
session's own git directory.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class NotPlain(OSError):
    """A path component is a symlink or not what it should be."""


def dir_fd(root: Path, sub: str | None = None, *, create: bool = False) -> int:
    """A descriptor of ``root/sub`` (the caller closes it), never reached through a
    symlink; with ``create``, missing directories on the way are made."""
    fd = os.open(root, DIR_FLAGS)
    try:
        for part in sub.split("/") if sub else []:
            try:
                child = os.open(part, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                os.mkdir(part, 0o777, dir_fd=fd)
                child = os.open(part, DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    where = root / (sub or "")
                    raise NotPlain(exc.errno, f"{where}: not a plain directory") from exc
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def open_dir(root: Path, sub: str | None = None, *, create: bool = False) -> Iterator[int]:
    """``dir_fd`` as a context manager."""
    fd = dir_fd(root, sub, create=create)
    try:
        yield fd
    finally:
        os.close(fd)


def read_at(dfd: int, name: str, limit: int) -> bytes:
    """The regular file ``name`` in the directory ``dfd``, at most ``limit`` bytes;
    ValueError says why not (a symlink, not a regular file, too large)."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dfd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValueError("is a symlink") from exc
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("is not a regular file")
        if info.st_size > limit:
            raise ValueError(f"is {info.st_size} bytes, more than {limit}")
        data = os.read(fd, limit + 1)
        if len(data) > limit:
            raise ValueError(f"is more than {limit} bytes")
        return data
    finally:
        os.close(fd)


def read_file(root: Path, rel: str, limit: int) -> bytes:
    """``read_at`` for ``root/rel``; a symlink on the way is a ValueError too, a missing
    file or directory FileNotFoundError."""
    sub, _, name = rel.rpartition("/")
    try:
        with open_dir(root, sub or None) as dfd:
            return read_at(dfd, name, limit)
    except NotPlain as exc:
        raise ValueError(str(exc)) from exc


def write_file(dfd: int, name: str, data: bytes, *, mode: int = 0o666) -> None:
    """Replace ``name`` in the directory ``dfd`` through a temp file + fsync + rename."""
    tmp = f".{name}.{os.getpid()}.{secrets.token_hex(3)}.tmp"
    fd = os.open(
        tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dfd
    )
    try:
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dfd)
        raise


def chown_tree(top: Path, uid: int, gid: int) -> None:
    """Give ``top`` and the directories below it to ``uid:gid`` (files stay), by
    descriptor: a symlink planted below is neither followed nor changed. Without the
    right to chown, the directories are made writable for everyone instead."""

    def walk(fd: int) -> None:
        try:
            os.fchown(fd, uid, gid)
        except PermissionError:
            os.fchmod(fd, 0o777)
        for entry in os.scandir(fd):
            if entry.is_dir(follow_symlinks=False):
                try:
                    child = os.open(entry.name, DIR_FLAGS, dir_fd=fd)
                except OSError:
                    continue  # replaced by a symlink meanwhile: not followed
                try:
                    walk(child)
                finally:
                    os.close(child)

    with contextlib.suppress(FileNotFoundError), open_dir(top) as fd:
        walk(fd)
