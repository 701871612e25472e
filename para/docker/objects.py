"""The engine's networks and volumes (part of DockerEngineService)."""

from __future__ import annotations

import json
from collections.abc import Callable

from para.docker.http import APIError, Response, quote_path
from para.docker.service import NetworkInfo, VolumeInfo
from para.errors import ContainerError


class NetworksAndVolumes:
    """Networks and volumes over the engine API; the class using it supplies ``_call``."""

    _call: Callable[..., Response]

    # -- networks ---------------------------------------------------------------------------

    def create_network(self, name: str, labels: dict[str, str]) -> None:
        try:
            self._call(
                "POST",
                "/networks/create",
                body={"Name": name, "Labels": labels, "CheckDuplicate": True},
            )
        except APIError as exc:
            if exc.status == 409 or "already exists" in exc.message:
                return
            raise ContainerError(problem=f"cannot create network {name}: {exc.message}") from exc

    def remove_network(self, name: str) -> None:
        try:
            self._call("DELETE", f"/networks/{quote_path(name)}")
        except APIError as exc:
            if exc.status == 404:
                return
            raise ContainerError(problem=f"cannot remove network {name}: {exc.message}") from exc

    def networks(self, labels: dict[str, str]) -> list[NetworkInfo]:
        filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
        try:
            data = self._call("GET", "/networks", params={"filters": json.dumps(filters)}).json()
        except APIError as exc:
            raise ContainerError(problem=f"cannot list networks: {exc.message}") from exc
        out = []
        for item in data or []:
            item_labels = dict(item.get("Labels") or {})
            if any(item_labels.get(k) != v for k, v in labels.items()):
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
        try:
            self._call("POST", "/volumes/create", body={"Name": name, "Labels": labels})
        except APIError as exc:
            if exc.status == 409 or "already exists" in exc.message:
                return
            raise ContainerError(problem=f"cannot create volume {name}: {exc.message}") from exc

    def volumes(self, labels: dict[str, str]) -> list[VolumeInfo]:
        filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
        try:
            data = self._call("GET", "/volumes", params={"filters": json.dumps(filters)}).json()
        except APIError as exc:
            raise ContainerError(problem=f"cannot list volumes: {exc.message}") from exc
        out = []
        for item in (data or {}).get("Volumes") or []:
            found = VolumeInfo(name=str(item["Name"]), labels=dict(item.get("Labels") or {}))
            if all(found.labels.get(k) == v for k, v in labels.items()):
                out.append(found)
        return out

    def remove_volume(self, name: str) -> None:
        try:
            self._call("DELETE", f"/volumes/{quote_path(name)}")
        except APIError as exc:
            if exc.status == 404:
                return
            raise ContainerError(problem=f"cannot remove volume {name}: {exc.message}") from exc
