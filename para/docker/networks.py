"""Networks para makes: the per-repository ``session`` network, made on demand and removed
with its last container."""

from __future__ import annotations

import contextlib

from para.docker import labels as L
from para.docker.service import DockerService
from para.errors import ParaError
from para.repo import Repo


def for_container(service: DockerService, repo: Repo, mode: str, undo: contextlib.ExitStack) -> str:
    """The network a container joins: ``mode`` itself, or for ``session`` the
    repository's network (created now when missing, its removal on ``undo``)."""
    if mode != "session":
        return mode
    name = L.network_name(repo.repo_id)
    existing = service.networks(L.repo_filter(repo.repo_id))
    if not any(n.name == name for n in existing):
        service.create_network(name, {**L.repo_filter(repo.repo_id), L.REPO: str(repo.root)})
        undo.callback(drop_if_empty, service, repo, name)
    return name


def drop_if_empty(service: DockerService, repo: Repo, name: str) -> None:
    with contextlib.suppress(ParaError):
        for net in service.networks(L.repo_filter(repo.repo_id)):
            if net.name == name and net.containers == 0:
                service.remove_network(name)
