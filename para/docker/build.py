"""Images built from the repository: ``docker.build`` or devcontainer.json's ``build``.

An image is tagged ``localhost/para-<repo-id>/<name>:<hash>``, the hash covering the
Dockerfile, its name in the context, the build args, the target and the files the
context sends (``context.py``): the same inputs find the image and build nothing (the
context is not even packed), changed inputs build once. Under ``localhost/`` the name is
never one a registry could answer for: a missing image is built, not pulled from
somebody's account of that name. Two processes that need the same image at once build
it once: the second waits on a lock named by the hash, then finds the image.

Every path comes from the main checkout and must stay inside the repository (symlinks
resolved): a build reads nothing else of the host. The build itself runs in the engine
and needs no trust (docs/security.md).
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from para.config import Build
from para.docker import labels as L
from para.docker.context import HashCache, content_hash, dockerfile_name, tar_context
from para.docker.service import BuildRequest, DockerService
from para.errors import BuildFailed, BuildInputError, StorageError

if TYPE_CHECKING:
    from para.git import Git
    from para.repo import Repo

BuildOutput = Callable[[str], None]
# Shows a build as it goes: given the tag, yields what takes each line of its output.
BuildReporter = Callable[[str], contextlib.AbstractContextManager[BuildOutput]]
# How long a start waits for another process's build of the same image.
BUILD_LOCK_TIMEOUT = 3600.0
_TAIL = 20
_STEP = re.compile(r"^(Step \d+/\d+ :|STEP \d+/\d+:)")


@dataclass(frozen=True)
class BuildPlan:
    """A build with its inputs checked and hashed; ``tag`` names its image."""

    context: Path
    dockerfile: Path
    name: str
    tag: str
    digest: str
    args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    # paths of the context never sent: the repository's .git, para's own directories
    left_out: tuple[str, ...] = ()

    @property
    def dockerfile_in_context(self) -> str:
        return dockerfile_name(self.context, self.dockerfile, self.digest)


def plan(repo: Repo, git: Git, build: Build, worktrees: Path | None = None) -> BuildPlan:
    """Check a build's paths and hash its inputs (nothing is built or sent). The
    repository's ``.git``, ``.para`` and ``worktrees`` directories are never part of the
    context: the image does not depend on the history, nor on sessions and their state."""
    root = repo.root.resolve()
    name = _tag_part(build.name or root.name)
    tag_base = f"localhost/para-{repo.repo_id}/{name}"
    context = _inside(root, build.context, tag_base, "the build context")
    dockerfile = _inside(root, build.dockerfile, tag_base, "the Dockerfile")
    if not context.is_dir():
        raise BuildInputError(
            image=tag_base, problem=f"the build context {build.context!r} is not a directory"
        )
    if not dockerfile.is_file():
        raise BuildInputError(
            image=tag_base, problem=f"the Dockerfile {build.dockerfile!r} is not a file"
        )
    left_out = _left_out(context, [root / ".git", repo.para_dir, worktrees])
    try:
        recipe = dockerfile.read_bytes()
        cache = HashCache(repo.state_dir / "cache" / "build-files.json")
        files = content_hash(git, root, context, cache, left_out)
    except OSError as exc:
        raise BuildInputError(
            image=tag_base, problem=f"cannot read {exc.filename}: {exc.strerror}"
        ) from exc
    material = {
        "dockerfile": hashlib.sha256(recipe).hexdigest(),
        "dockerfile_path": dockerfile.relative_to(root).as_posix(),
        "context": context.relative_to(root).as_posix(),
        "args": build.args,
        "target": build.target,
        "files": files,
    }
    digest = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()
    return BuildPlan(
        context=context,
        dockerfile=dockerfile,
        name=name,
        tag=f"{tag_base}:{digest[:16]}",
        digest=digest,
        args=dict(build.args),
        target=build.target,
        left_out=left_out,
    )


def _left_out(context: Path, paths: list[Path | None]) -> tuple[str, ...]:
    out = []
    for path in paths:
        if path is None:
            continue
        try:
            rel = path.resolve().relative_to(context)
        except (ValueError, OSError):
            continue
        if rel.parts:
            out.append(rel.as_posix())
    return tuple(out)


def _tag_part(text: str) -> str:
    """A name as an image repository component: lower case, [a-z0-9._-]."""
    part = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("._-")
    return part[:64] or "image"


def _inside(root: Path, rel: str, image: str, what: str) -> Path:
    path = (root / rel).resolve()
    if not path.exists():
        raise BuildInputError(image=image, problem=f"{what} {rel!r} does not exist")
    try:
        path.relative_to(root)
    except ValueError:
        raise BuildInputError(
            image=image, problem=f"{what} {rel!r} leads outside the repository (to {path})"
        ) from None
    return path


def ensure(
    service: DockerService,
    build: BuildPlan,
    *,
    repo: Repo,
    reporter: BuildReporter,
    no_cache: bool = False,
) -> bool:
    """Make sure the engine has ``build.tag``; whether it was built now (shown through
    ``reporter`` only then)."""
    if not no_cache and service.image(build.tag) is not None:
        return False
    from filelock import FileLock

    from para.locks import held

    lock_path = repo.state_dir / "locks" / f"build-{build.digest[:16]}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path), thread_local=False)
    with held(lock, lock_path, BUILD_LOCK_TIMEOUT, f"another para process building {build.tag}"):
        if not no_cache and service.image(build.tag) is not None:
            return False  # built while this one waited
        with reporter(build.tag) as output:
            _run(service, build, repo=repo, output=output, no_cache=no_cache)
    return True


def log_path(repo: Repo, build: BuildPlan) -> Path:
    return repo.logs_dir / f"build-{build.name}-{build.digest[:12]}.log"


def _run(
    service: DockerService, build: BuildPlan, *, repo: Repo, output: BuildOutput, no_cache: bool
) -> None:
    log = log_path(repo, build)
    try:
        tar, size = tar_context(
            build.context, build.dockerfile, build.dockerfile_in_context, build.left_out
        )
    except OSError as exc:
        raise BuildInputError(
            image=build.tag, problem=f"cannot read {exc.filename}: {exc.strerror or exc}"
        ) from exc
    request = BuildRequest(
        tag=build.tag,
        dockerfile=build.dockerfile_in_context,
        args=build.args,
        target=build.target,
        labels={
            L.MANAGED: "true",
            L.REPO: str(repo.root),
            L.REPO_ID: repo.repo_id,
            L.BUILD: build.digest[:16],
        },
        no_cache=no_cache,
    )
    tail: collections.deque[str] = collections.deque(maxlen=_TAIL)
    step: list[str] = []
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        out = log.open("w", encoding="utf-8")
    except OSError as exc:
        tar.close()
        raise StorageError(path=str(log), cause=exc.strerror or exc) from exc
    with tar, out:

        def line(text: str) -> None:
            with contextlib.suppress(OSError):  # a full disk must not stop the build
                out.write(text + "\n")
                out.flush()
            tail.append(text)
            if _STEP.match(text):
                step[:] = [text]
            output(text)

        try:
            service.build(tar, size, request, line)
        except BuildFailed as exc:
            reason = _short(str(exc.facts.get("reason") or exc.message))
            with contextlib.suppress(OSError):
                out.write(f"error: {exc.facts.get('reason') or exc.message}\n")
            raise BuildFailed(
                image=build.tag,
                step=step[0] if step else None,
                reason=reason,
                tail="\n".join(f"  {t}" for t in tail),
                log=str(log),
            ) from exc


def _short(reason: str, limit: int = 400) -> str:
    """An engine's error as one readable line (Podman's can hold a whole request dump;
    the log keeps all of it)."""
    line = " ".join(reason.split())
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."
