"""The dev.para.* labels: the truth about which containers, networks, volumes and images
are para's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from para.errors import ContainerError

if TYPE_CHECKING:
    from para.docker.service import DockerService

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


# The labels that say whose an object is. Engine names join a session's name and a service's
# or volume's with "-", and all three may contain "-", so two can meet ("a-db" and session
# a's service "db"): an object found under the wanted name is para's to use only when these
# labels say it is the one wanted.
_IDENTITY = (MANAGED, REPO_ID, SESSION, SERVICE, VOLUME, CACHE)


def owner(labels: dict[str, str]) -> str:
    """Whose an engine object is, in words, from its labels."""
    if labels.get(MANAGED) != "true":
        return "not para's"
    session = labels.get(SESSION)
    if labels.get(SERVICE):
        return f"session {session}'s service {labels[SERVICE]}"
    if labels.get(VOLUME):
        return f"session {session}'s volume {labels[VOLUME]}"
    if labels.get(CACHE):
        return f"the cache volume {labels[CACHE]}"
    if session:
        return f"session {session}'s container"
    return "para's"


def foreign(have: dict[str, str], want: dict[str, str]) -> bool:
    """Whether an object labelled ``have`` is another's than the one labelled ``want``."""
    return any(have.get(key) != want.get(key) for key in _IDENTITY)


def ensure_volume(service: DockerService, name: str, want: dict[str, str]) -> bool:
    """Make the volume labelled ``want`` unless it exists; whether it was made. One found
    under that name that is another's (see ``_IDENTITY``) is refused."""
    found = service.volume(name)
    if found is None:
        service.create_volume(name, want)
        return True
    if foreign(found.labels, want):
        raise ContainerError(
            problem=f"volume {name} is {owner(found.labels)}, not {owner(want)}",
            hint=NAMES_MEET_HINT,
        )
    return False


NAMES_MEET_HINT = (
    "para joins session and service or volume names with '-' in engine names, so these "
    "two meet: start the session under another name, or rename the service or volume"
)
