"""The engine's networks and volumes (part of DockerEngineService)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from para.docker.http import APIError, Response, quote_path
from para.docker.service import NetworkInfo, VolumeInfo
from para.errors import ContainerError


class NetworksAndVolumes:
    """Networks and volumes over the engine API; the class using it supplies ``_call``."""

    _call: Callable[..., Response]

    # -- networks ---------------------------------------------------------------------------

    def create_network(self, name: str, labels: dict[str, str]) -> None:
        body = {"Name": name, "Labels": labels, "CheckDuplicate": True}
        self._create("network", body)

    def remove_network(self, name: str) -> None:
        self._remove("network", name)

    def networks(self, labels: dict[str, str]) -> list[NetworkInfo]:
        out = []
        for item in self._listed("networks", labels) or []:
            item_labels = dict(item.get("Labels") or {})
            if not _matches(item_labels, labels):
                continue
            try:
                detail = self._call("GET", f"/networks/{quote_path(item['Name'])}").json()
            except APIError:
                continue
            out.append(
                NetworkInfo(
                    id=str(item.get("Id", "")),
                    name=item["Name"],
                    labels=item_labels,
                    containers=len(detail.get("Containers") or {}),
                )
            )
        return out

    def connect_network(self, name: str, container_id: str) -> None:
        try:
            self._call(
                "POST", f"/networks/{quote_path(name)}/connect", body={"Container": container_id}
            )
        except APIError as exc:
            raise ContainerError(
                problem=f"cannot connect {container_id[:12]} to network {name}: {exc.message}"
            ) from exc

    # -- volumes ----------------------------------------------------------------------------

    def volume(self, name: str) -> VolumeInfo | None:
        try:
            data = self._call("GET", f"/volumes/{quote_path(name)}").json()
        except APIError as exc:
            if exc.status == 404:
                return None
            raise ContainerError(problem=f"cannot inspect volume {name}: {exc.message}") from exc
        return VolumeInfo(name=str(data["Name"]), labels=dict(data.get("Labels") or {}))

    def create_volume(self, name: str, labels: dict[str, str]) -> None:
        self._create("volume", {"Name": name, "Labels": labels})

    def volumes(self, labels: dict[str, str]) -> list[VolumeInfo]:
        out = []
        for item in (self._listed("volumes", labels) or {}).get("Volumes") or []:
            found = VolumeInfo(name=str(item["Name"]), labels=dict(item.get("Labels") or {}))
            if _matches(found.labels, labels):
                out.append(found)
        return out

    def remove_volume(self, name: str) -> None:
        self._remove("volume", name)

    # -- shared -----------------------------------------------------------------------------

    def _create(self, kind: str, body: dict[str, object]) -> None:
        """Create a network or volume; one that exists already is not an error (the
        callers check whose it is by its labels)."""
        try:
            self._call("POST", f"/{kind}s/create", body=body)
        except APIError as exc:
            if exc.status == 409 or "already exists" in exc.message:
                return
            raise ContainerError(
                problem=f"cannot create {kind} {body['Name']}: {exc.message}"
            ) from exc

    def _remove(self, kind: str, name: str) -> None:
        """Remove a network or volume; one already gone is not an error."""
        try:
            self._call("DELETE", f"/{kind}s/{quote_path(name)}")
        except APIError as exc:
            if exc.status == 404:
                return
            raise ContainerError(problem=f"cannot remove {kind} {name}: {exc.message}") from exc

    def _listed(self, kind: str, labels: dict[str, str]) -> Any:
        """The engine's list of networks or volumes with ``labels`` (its JSON)."""
        filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
        try:
            return self._call("GET", f"/{kind}", params={"filters": json.dumps(filters)}).json()
        except APIError as exc:
            raise ContainerError(problem=f"cannot list {kind}: {exc.message}") from exc


def _matches(have: dict[str, str], want: dict[str, str]) -> bool:
    """Whether ``have`` holds every label of ``want`` (an engine may filter loosely)."""
    return all(have.get(k) == v for k, v in want.items())
