"""The mounts of a session's container, and the policy for the user's own volumes."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from para import safefs
from para.config import DockerConfig
from para.docker.gitdir import MOUNT as GIT_MOUNT
from para.docker.service import Mount
from para.docker.spec import BIN_MOUNT, CHANNEL_MOUNT, HOME_MOUNT, WORKSPACE
from para.errors import UnsafeMount
from para.options import ContainerOptions
from para.repo import Repo
from para.state import SessionRecord

if TYPE_CHECKING:
    from para.docker.gitdir import SessionGitDir
    from para.git import Git


def parse_volume(
    text: str,
    repo: Repo,
    env: Mapping[str, str],
    workdir: str | None = WORKSPACE,
    *,
    worktrees: Path | None = None,
    allowed: Collection[str] = (),
) -> Mount:
    """A ``SRC:DST[:ro]`` volume as a Mount, or UnsafeMount saying why it is refused.
    ``allowed`` (``docker.allow_volumes``) lifts the refusal of para's own directories
    and of /proc, /sys and /dev for exactly the volumes it lists; an engine socket or a
    writable git directory is refused whatever it says. ``workdir`` None: a service's
    volume (no session mount points to protect in that container)."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise UnsafeMount(
            volume=text,
            reason="expected SRC:DST or SRC:DST:ro",
            hint="e.g. --volume ~/.cache/pip:/para/home/.cache/pip",
        )
    mode = parts[2] if len(parts) == 3 else "rw"
    if mode not in ("ro", "rw"):
        raise UnsafeMount(volume=text, reason=f"unknown mode {mode!r} (ro or rw)")
    given = Path(parts[0]).expanduser()
    if not given.is_absolute():
        given = repo.root / given
    given = Path(os.path.normpath(given))
    private = worktrees or repo.para_dir / "worktrees"
    try:
        source = given.resolve()
    except OSError as exc:
        why = _private_source(given, repo, private) or f"cannot follow it: {exc.strerror}"
        raise UnsafeMount(volume=text, reason=why) from exc
    target = parts[1]
    if not source.exists():
        raise UnsafeMount(
            volume=text,
            reason=f"the source {source} does not exist",
            hint="create it first, or fix the path",
        )
    if not target.startswith("/"):
        raise UnsafeMount(volume=text, reason="the target must be an absolute path")
    target_norm = os.path.normpath(target)
    common = str(repo.common_dir.resolve())
    if workdir is not None:
        refused = _target_refusal(target_norm, workdir, common)
    elif target_norm == "/":
        refused = "a mount over / would replace the container's whole filesystem"
    else:
        refused = None
    if refused:
        raise UnsafeMount(volume=text, reason=refused)
    src = str(source)
    for sock in engine_sockets(env):
        if sock == src or sock.startswith(src.rstrip("/") + "/"):
            raise UnsafeMount(
                volume=text,
                reason=f"it exposes the engine socket {sock}: the container could run "
                "anything on the host (read-only does not prevent connecting)",
            )
    if (
        src == common
        or src.startswith(common + "/")
        or (mode == "rw" and common.startswith(src.rstrip("/") + "/"))
    ):
        raise UnsafeMount(
            volume=text,
            reason="a writable git directory would let the container change hooks and "
            "config that run on the host",
            hint="mount it read-only (:ro), or a directory that does not contain .git",
        )
    if text not in allowed:
        refused = _private_source(given, repo, private) or _private_source(source, repo, private)
        if refused:
            raise UnsafeMount(volume=text, reason=refused, hint=_ALLOW_HINT)
    return Mount(source=src, target=target_norm, read_only=mode == "ro")


def session_mounts(
    repo: Repo,
    record: SessionRecord,
    cfg: DockerConfig,
    options: ContainerOptions | None,
    *,
    channel: Path,
    helpers: Path,
    home: Path,
    gitdir: SessionGitDir,
    git: Git,
    env: Mapping[str, str],
    worktrees: Path,
) -> list[Mount]:
    """The worktree; the container's own repository (``gitdir.py``) and the host's
    object store, read-only; the channel, the helpers, HOME, and the user's volumes.
    Nothing else of the host's ``.git``."""
    mounts = [
        Mount(record.worktree, cfg.workdir),
        *gitdir.mounts(git, cfg.workdir),
        Mount(str(channel), CHANNEL_MOUNT),
        Mount(str(helpers), BIN_MOUNT, read_only=True),
        Mount(str(home), HOME_MOUNT),
    ]
    return [
        *mounts,
        *user_volumes(repo, cfg, options, env=env, worktrees=worktrees),
        *cache_mounts(repo, cfg),
    ]


def user_volumes(
    repo: Repo,
    cfg: DockerConfig,
    options: ContainerOptions | None,
    *,
    env: Mapping[str, str],
    worktrees: Path,
) -> list[Mount]:
    """``docker.volumes`` and ``--volume``, each checked by ``parse_volume``."""
    given = [*cfg.volumes, *(options.volumes if options else [])]
    return [
        parse_volume(v, repo, env, cfg.workdir, worktrees=worktrees, allowed=cfg.allow_volumes)
        for v in given
    ]


def _target_refusal(target: str, workdir: str, common: str) -> str | None:
    """Why nothing may be mounted at ``target`` (para's own mount points), or None."""
    protected = {
        "/": "a mount over / would replace the container's whole filesystem",
        workdir: "it would hide the session's worktree",
        CHANNEL_MOUNT: "it would replace the session channel",
        BIN_MOUNT: "it would replace para's helpers",
        GIT_MOUNT: "it would replace the session's repository",
        common: "it would replace the repository's git directory",
    }
    for path, why in protected.items():
        if (
            target == path
            or (path != "/" and target.startswith(path + "/"))
            or (path.startswith(target.rstrip("/") + "/"))
        ):
            return why
    return None


def cache_mounts(repo: Repo, cfg: DockerConfig) -> list[Mount]:
    """``docker.cache_volumes``: one named volume per repository and name, shared by its
    sessions (never a host path)."""
    from para.docker import labels as L

    mounts = []
    common = str(repo.common_dir.resolve())
    for name, target in sorted(cfg.cache_volumes.items()):
        target_norm = os.path.normpath(target)
        refused = (
            "the target must be an absolute path"
            if not target.startswith("/")
            else _target_refusal(target_norm, cfg.workdir, common)
        )
        if refused:
            raise UnsafeMount(
                volume=f"docker.cache_volumes {name}: {target}",
                reason=refused,
                hint="mount the cache elsewhere, e.g. under /para/home/.cache",
            )
        mounts.append(Mount(L.cache_volume_name(repo.repo_id, name), target_norm, volume=True))
    return mounts


_ALLOW_HINT = (
    "mount something else; if you really need it, list the volume exactly in "
    "docker.allow_volumes in your own config"
)


def _private_source(source: Path, repo: Repo, worktrees: Path) -> str | None:
    """Why a volume's source would give a container what belongs to the host or to
    other sessions (None: it does not)."""
    private = {
        repo.state_dir: "it holds para's state (every session's record and channel: a "
        "container could point the host's git anywhere)",
        worktrees: "it holds the worktrees of every session",
        Path("/proc"): "it exposes the host's processes and kernel settings",
        Path("/sys"): "it exposes the host's kernel and devices",
        Path("/dev"): "it exposes the host's devices",
    }
    for path, why in private.items():
        resolved = path.resolve() if path.exists() else path
        if source == resolved or resolved in source.parents or source in resolved.parents:
            return why
    return None


def engine_sockets(env: Mapping[str, str]) -> set[str]:
    """Engine API sockets a volume must not expose (any of them is root on the host)."""
    found = {
        "/var/run/docker.sock",
        "/run/docker.sock",
        "/run/podman/podman.sock",
        f"/run/user/{os.getuid()}/podman/podman.sock",
    }
    for var in ("DOCKER_HOST", "CONTAINER_HOST", "PARA_DOCKER_HOST"):
        value = env.get(var, "")
        if value.startswith("unix://"):
            found.add(value.removeprefix("unix://"))
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime:
        found.add(f"{runtime}/podman/podman.sock")
        found.add(f"{runtime}/docker.sock")
    out = set()
    for path in found:
        out.add(path)
        with contextlib.suppress(OSError):
            out.add(str(Path(path).resolve()))
    return out


def grant(user: str | None, paths: list[Path]) -> None:
    """Let a configured container user other than ours write the session's own
    directories (by descriptor: a symlink the container planted is never followed)."""
    uid_text, _, gid_text = (user or "").partition(":")
    if not uid_text.isdigit() or int(uid_text) == os.getuid():
        return
    uid = int(uid_text)
    gid = int(gid_text) if gid_text.isdigit() else -1
    for top in paths:
        safefs.chown_tree(top, uid, gid)


def channel_dir(repo: Repo, name: str) -> Path:
    """The session's channel on the host (mounted at /para/channel)."""
    path = repo.channels_dir / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def home_dir(repo: Repo, name: str) -> Path:
    """The session's HOME on the host (mounted at /para/home), private to the user."""
    path = repo.state_dir / "homes" / name
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def session_dirs(
    repo: Repo, git: Git, record: SessionRecord, undo: contextlib.ExitStack
) -> tuple[Path, Path, SessionGitDir]:
    """The session's channel, HOME and own repository on the host, made when missing
    (what this call made is removed again on ``undo``)."""
    from para.docker.gitdir import SessionGitDir

    home_path = repo.state_dir / "homes" / record.name
    if not home_path.exists():
        undo.callback(shutil.rmtree, home_path, True)
    gitdir = SessionGitDir(repo.state_dir, record.name)
    if not gitdir.exists():
        gitdir.create(git, record.branch, record.base, Path(record.git_admin or "/nonexistent"))
        undo.callback(gitdir.remove)
    return channel_dir(repo, record.name), home_dir(repo, record.name), gitdir
