"""The mounts of a session's container and the policy for the user's volumes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from para.docker.mounts import engine_sockets, grant, parse_volume
from para.errors import UnsafeMount
from para.repo import Repo


@pytest.fixture
def repo_paths(repo: Path) -> Repo:
    (repo / ".para" / "state" / "sessions").mkdir(parents=True)
    (repo / ".para" / "worktrees").mkdir(parents=True)
    return Repo(repo, repo / ".git")


@pytest.mark.parametrize(
    ("volume", "reason"),
    [
        ("{repo}:/workspace", "hide the session's worktree"),
        ("{repo}/.git:/g", "writable git directory"),
        ("{repo}:/src", "writable git directory"),
        ("/:/host", "exposes the engine socket"),
        ("/var/run:/x:ro", "exposes the engine socket"),
        ("relative-missing:/x", "does not exist"),
        ("nocolon", "expected SRC:DST"),
        ("{repo}:/x:rx", "unknown mode"),
        ("{repo}/README.md:relative", "must be an absolute path"),
        ("{repo}/README.md:/para/channel/x", "replace the session channel"),
        ("{repo}/README.md:/para", "replace the session channel"),
        ("{repo}:/src:ro", "para's state"),
        ("{repo}/.para/state:/s", "para's state"),
        ("{repo}/.para/state/sessions:/s:ro", "para's state"),
        ("{repo}/.para/worktrees:/w", "worktrees of every session"),
        ("/proc:/p:ro", "host's processes"),
        ("/proc/1/root:/r:ro", "host's processes"),
        ("/sys:/s", "kernel and devices"),
        ("/dev/null:/null", "host's devices"),
    ],
)
def test_unsafe_volumes_are_refused(repo_paths: Repo, volume: str, reason: str) -> None:
    with pytest.raises(UnsafeMount) as info:
        parse_volume(volume.format(repo=repo_paths.root), repo_paths, {})
    assert reason in info.value.message


def test_safe_volumes(repo_paths: Repo, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    mount = parse_volume(f"{data}:/data", repo_paths, {})
    assert (mount.source, mount.target, mount.read_only) == (str(data), "/data", False)
    assert parse_volume(f"{repo_paths.root / 'README.md'}:/r:ro", repo_paths, {}).read_only
    (repo_paths.root / "sub").mkdir()
    relative = parse_volume("sub:/sub", repo_paths, {})
    assert relative.source == str(repo_paths.root / "sub")


def test_engine_socket_from_the_environment(tmp_path: Path) -> None:
    sock = tmp_path / "run" / "engine.sock"
    found = engine_sockets({"DOCKER_HOST": f"unix://{sock}", "XDG_RUNTIME_DIR": str(tmp_path)})
    assert str(sock) in found
    assert f"{tmp_path}/podman/podman.sock" in found


def test_grant_is_nothing_for_our_own_user(tmp_path: Path) -> None:
    target = tmp_path / "d"
    target.mkdir(mode=0o700)
    grant(f"{os.getuid()}:{os.getgid()}", [target])
    grant(None, [target])
    assert target.stat().st_mode & 0o777 == 0o700


def test_allow_volumes_lifts_only_what_it_names(repo_paths: Repo) -> None:
    allowed = ["/dev/null:/null"]
    assert parse_volume("/dev/null:/null", repo_paths, {}, allowed=allowed).source == "/dev/null"
    with pytest.raises(UnsafeMount, match="host's devices"):
        parse_volume("/dev/null:/other", repo_paths, {}, allowed=allowed)
    with pytest.raises(UnsafeMount, match="engine socket"):
        parse_volume("/var/run:/x:ro", repo_paths, {}, allowed=["/var/run:/x:ro"])
