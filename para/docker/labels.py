"""The dev.para.* labels: the truth about which containers, networks, volumes and images
are para's."""

from __future__ import annotations

PREFIX = "dev.para"
MANAGED = f"{PREFIX}.managed"
REPO = f"{PREFIX}.repo"
REPO_ID = f"{PREFIX}.repo-id"
SESSION = f"{PREFIX}.session"
VERSION = f"{PREFIX}.version"
CONFIG_HASH = f"{PREFIX}.config-hash"
WORKTREE = f"{PREFIX}.worktree"
BUILD = f"{PREFIX}.build"  # on an image para built: its input hash
CACHE = f"{PREFIX}.cache"  # on a shared cache volume: its name in docker.cache_volumes
SERVICE = f"{PREFIX}.service"  # on a service container: its name in the stack
VOLUME = f"{PREFIX}.volume"  # on a session's service volume: its name in the stack


def repo_filter(repo_id: str | None) -> dict[str, str]:
    """Label filter for para's objects of one repository (all repositories: None)."""
    labels = {MANAGED: "true"}
    if repo_id is not None:
        labels[REPO_ID] = repo_id
    return labels


def container_name(repo_id: str, session: str) -> str:
    return f"para-{repo_id}-{session}"


def network_name(repo_id: str) -> str:
    return f"para-{repo_id}"


def cache_volume_name(repo_id: str, name: str) -> str:
    return f"para-{repo_id}-cache-{name}"


def stack_network_name(repo_id: str, session: str) -> str:
    """A session's services network (their names are its aliases there)."""
    return f"para-{repo_id}-{session}"


def service_container_name(repo_id: str, session: str, service: str) -> str:
    return f"para-{repo_id}-{session}-{service}"


def stack_volume_name(repo_id: str, session: str, volume: str) -> str:
    return f"para-{repo_id}-{session}-{volume}"
