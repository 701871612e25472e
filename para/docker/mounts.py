"""The mounts of a session's container, and the policy for the user's own volumes."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

from para.config import DockerConfig
from para.docker.service import Mount
from para.docker.spec import BIN_MOUNT, CHANNEL_MOUNT, HOME_MOUNT, WORKSPACE
from para.errors import ContainerError, UnsafeMount
from para.options import ContainerOptions
from para.repo import Repo
from para.state import SessionRecord


def parse_volume(text: str, repo: Repo, env: Mapping[str, str], workdir: str = WORKSPACE) -> Mount:
    """A ``SRC:DST[:ro]`` volume as a Mount, or UnsafeMount saying why it is refused."""
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
    source = Path(parts[0]).expanduser()
    if not source.is_absolute():
        source = repo.root / source
    source = source.resolve()
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
    protected = {
        "/": "a mount over / would replace the container's whole filesystem",
        workdir: "it would hide the session's worktree",
        CHANNEL_MOUNT: "it would replace the session channel",
        BIN_MOUNT: "it would replace para's helpers",
        common: "it would replace the repository's git directory",
    }
    for path, why in protected.items():
        if (
            target_norm == path
            or (path != "/" and target_norm.startswith(path + "/"))
            or (path.startswith(target_norm.rstrip("/") + "/"))
        ):
            raise UnsafeMount(volume=text, reason=why)
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
    env: Mapping[str, str],
) -> list[Mount]:
    """The worktree, the git directory with everything the host executes read-only,
    the channel, the helpers, HOME, and the user's volumes."""
    worktree = Path(record.worktree)
    common = repo.common_dir.resolve()
    hooks = common / "hooks"
    hooks.mkdir(exist_ok=True)  # git's standard directory; the ro mount needs it
    admin = Path(record.git_admin) if record.git_admin else None
    if admin is None or not admin.is_dir():
        raise ContainerError(
            problem=f"git has no admin directory for {worktree}",
            hint="para clean, then para recover the session",
        )
    mounts = [
        Mount(str(worktree), cfg.workdir),
        Mount(str(common), str(common)),
        # What git on the host reads and may execute must not be writable here:
        # config (core.fsmonitor, hooksPath, filters), hooks, the admin entries of
        # all worktrees (their commondir/gitdir decide which config applies), and
        # submodule git dirs (their own config and hooks).
        Mount(str(common / "config"), str(common / "config"), read_only=True),
        Mount(str(hooks), str(hooks), read_only=True),
        Mount(str(common / "worktrees"), str(common / "worktrees"), read_only=True),
        Mount(str(admin), str(admin)),
        Mount(str(channel), CHANNEL_MOUNT),
        Mount(str(helpers), BIN_MOUNT, read_only=True),
        Mount(str(home), HOME_MOUNT),
    ]
    if (common / "modules").is_dir():
        mounts.append(Mount(str(common / "modules"), str(common / "modules"), read_only=True))
    for name in ("commondir", "gitdir", "config.worktree", "config"):
        if (admin / name).exists():
            mounts.append(Mount(str(admin / name), str(admin / name), read_only=True))
    extra = [*cfg.volumes, *(options.volumes if options else [])]
    mounts.extend(parse_volume(v, repo, env, cfg.workdir) for v in extra)
    return mounts


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
    """Let a configured container user other than ours write the session's own dirs."""
    uid_text, _, gid_text = (user or "").partition(":")
    if not uid_text.isdigit() or int(uid_text) == os.getuid():
        return
    uid = int(uid_text)
    gid = int(gid_text) if gid_text.isdigit() else -1
    for top in paths:
        for path in [top, *(p for p in top.rglob("*") if p.is_dir())]:
            try:
                os.chown(path, uid, gid)
            except PermissionError:
                path.chmod(0o777)  # not root: the only way to let that uid write


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
