"""A build context: which files ``.dockerignore`` keeps, their content hash, and the tar.

The hash decides whether an image must be built, so it runs at every start that builds
and must stay cheap on a large repository: a file whose working copy matches git's index
counts as its blob id (one ``git ls-files``, nothing read), and only what ``git status``
reports as changed, untracked or ignored is read, each such file hashed once per size,
mtime and inode (a small cache in the state directory). Paths ``.dockerignore``
excludes are never read. The tar holds symlinks as symlinks: a link leading out of the
context sends the link, never what it points at.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, cast

from para.git import Git


class DockerIgnore:
    """``.dockerignore`` patterns as Docker applies them: paths relative to the context,
    ``*``, ``?``, ``[...]`` within a path component, ``**`` across them, ``!`` to
    re-include, the last matching pattern deciding; a pattern that matches a directory
    matches everything below it."""

    def __init__(self, text: str, always: tuple[str, ...] = ()):
        self._hits: dict[str, tuple[bool, ...]] = {}
        # paths left out whatever the patterns say (para's own directories)
        self.always = always
        self.rules: list[tuple[bool, re.Pattern[str]]] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            keep = line.startswith("!")
            pattern = os.path.normpath(line.removeprefix("!").strip().lstrip("/"))
            if pattern in (".", ""):
                continue
            self.rules.append((keep, re.compile(_regex(pattern))))

    @classmethod
    def of(cls, context: Path, always: tuple[str, ...] = ()) -> DockerIgnore:
        try:
            return cls((context / ".dockerignore").read_text(encoding="utf-8"), always)
        except (OSError, UnicodeDecodeError):
            return cls("", always)

    def forced(self, rel: str) -> bool:
        return any(rel == a or rel.startswith(a + "/") for a in self.always)

    def excluded(self, rel: str) -> bool:
        """Whether ``rel`` (relative to the context) stays out of the build."""
        if self.always and self.forced(rel):
            return True
        if not self.rules:
            return False
        parent, _, _ = rel.rpartition("/")
        above = self._dir_hits(parent) if parent else (False,) * len(self.rules)
        verdict = False
        for (keep, rule), hit in zip(self.rules, above, strict=True):
            if hit or rule.fullmatch(rel):
                verdict = not keep
        return verdict

    def _dir_hits(self, directory: str) -> tuple[bool, ...]:
        """Per rule, whether it matches ``directory`` or a directory above it (memoised:
        a context's files share few directories)."""
        hits = self._hits.get(directory)
        if hits is None:
            parent, _, _ = directory.rpartition("/")
            above = self._dir_hits(parent) if parent else (False,) * len(self.rules)
            hits = tuple(
                hit or bool(rule.fullmatch(directory))
                for (_keep, rule), hit in zip(self.rules, above, strict=True)
            )
            self._hits[directory] = hits
        return hits

    def below(self, directory: str) -> DockerIgnore:
        """The same rules seen from inside ``directory`` (for walking it)."""
        return _Below(self, directory)


class _Below(DockerIgnore):
    def __init__(self, outer: DockerIgnore, directory: str):
        super().__init__("")
        self.outer, self.directory = outer, directory
        self.rules = outer.rules

    def forced(self, rel: str) -> bool:
        return self.outer.forced(f"{self.directory}/{rel}")

    def excluded(self, rel: str) -> bool:
        return self.outer.excluded(f"{self.directory}/{rel}")


def _regex(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            if i < len(pattern) and pattern[i] == "/":
                out[-1] = "(?:.*/)?"
                i += 1
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                out.append(f"[{'^' + body[1:] if body.startswith('!') else body}]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def context_files(context: Path, ignore: DockerIgnore) -> Iterator[str]:
    """The paths (relative, POSIX) of what goes into the build: files, symlinks and
    directories, without following a link, pruning what ``.dockerignore`` excludes."""
    for top, dirs, files in os.walk(context):
        rel_top = os.path.relpath(top, context)
        prefix = "" if rel_top == "." else rel_top.replace(os.sep, "/") + "/"
        kept = []
        for name in sorted(dirs):
            rel = prefix + name
            if ignore.excluded(rel) and (ignore.forced(rel) or not _reincluded_below(ignore, rel)):
                continue
            yield rel  # a directory (empty ones too), or a link to one: sent as a link
            if not (Path(top) / name).is_symlink():
                kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            rel = prefix + name
            if not ignore.excluded(rel):
                yield rel


def _reincluded_below(ignore: DockerIgnore, rel: str) -> bool:
    """Whether a later ``!`` pattern may keep something under an excluded directory."""
    return any(keep and rule.pattern.startswith(re.escape(rel)) for keep, rule in ignore.rules)


class HashCache:
    """Content hashes of files git does not know, by (size, mtime, inode)."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.known: dict[str, list[object]] = json.loads(path.read_text())
        except (OSError, ValueError, RecursionError):
            self.known = {}
        self.used: dict[str, list[object]] = {}

    def digest(self, file: Path) -> str:
        info = file.lstat()
        key = str(file)
        stamp = [info.st_size, info.st_mtime_ns, info.st_ino]
        entry = self.known.get(key)
        if isinstance(entry, list) and entry[:3] == stamp and len(entry) == 4:
            self.used[key] = entry
            return str(entry[3])
        if stat.S_ISLNK(info.st_mode):
            value = "link:" + str(file.readlink())
        else:
            digest = hashlib.sha256()
            with file.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            value = ("x:" if info.st_mode & 0o111 else "") + digest.hexdigest()
        self.used[key] = [*stamp, value]
        return value

    def save(self) -> None:
        """Keep what this hash used (files gone since drop out); best effort."""
        if self.used == self.known:
            return
        from para.state import write_atomic

        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, json.dumps(self.used).encode())


def content_hash(
    git: Git, repo_root: Path, context: Path, cache: HashCache, always: tuple[str, ...] = ()
) -> str:
    """A hash of the files the context sends (see the module doc): the index's blob ids
    for what matches it, the working copy's bytes for the rest. ``always``: paths
    (relative to the context) left out whatever ``.dockerignore`` says."""
    ignore = DockerIgnore.of(context, always)
    rel = os.path.relpath(context, repo_root).replace(os.sep, "/")
    prefix = "" if rel == "." else rel + "/"
    digest = hashlib.sha256()
    for mode, blob, path in git.index_entries(rel):
        inner = path[len(prefix) :]
        if not ignore.excluded(inner):
            digest.update(f"{mode} {blob} {inner}\0".encode())
    for code, path in sorted(git.worktree_changes(rel), key=lambda change: change[1]):
        inner = path[len(prefix) :].rstrip("/")
        target = repo_root / path
        if ignore.excluded(inner):
            continue
        if code == "D" or not (target.exists() or target.is_symlink()):
            digest.update(f"deleted {inner}\0".encode())
        elif target.is_dir() and not target.is_symlink():
            for below in context_files(target, ignore.below(inner)):
                full = target / below
                if not full.is_dir() or full.is_symlink():
                    digest.update(f"file {inner}/{below} {cache.digest(full)}\0".encode())
        else:
            digest.update(f"file {inner} {cache.digest(target)}\0".encode())
    cache.save()
    return digest.hexdigest()


def tar_context(
    context: Path, dockerfile: Path, name_in_tar: str, always: tuple[str, ...] = ()
) -> tuple[BinaryIO, int]:
    """The context as a tar (in a spooled temporary file), and its size. The Dockerfile
    is in it as ``name_in_tar``, also when it lies outside the context or
    ``.dockerignore`` excludes it (Docker sends it either way)."""
    ignore = DockerIgnore.of(context, always)
    spool = tempfile.SpooledTemporaryFile(max_size=64 << 20)  # noqa: SIM115 - returned
    with tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in context_files(context, ignore):
            full = context / rel
            if rel != name_in_tar:
                tar.add(full, arcname=rel, recursive=False)
        tar.add(dockerfile, arcname=name_in_tar, recursive=False)
    size = spool.tell()
    spool.seek(0)
    return cast(BinaryIO, spool), size


def dockerfile_name(context: Path, dockerfile: Path, digest: str) -> str:
    """The Dockerfile's name in the tar: its own path inside the context, or a name of
    para's when it lies outside."""
    try:
        return dockerfile.relative_to(context).as_posix()
    except ValueError:
        return f".para-dockerfile-{digest[:12]}"
