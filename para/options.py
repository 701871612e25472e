"""Per-session container choices from the command line, and the parsing of ``K=V``
(a light module: the CLI and ``start`` import it for every session, with or without a
container)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from para.state import ContainerRef


def parse_env_pairs(pairs: list[str]) -> dict[str, str]:
    """``["K=V", ...]`` -> ``{K: V}``; a bad entry is a ContainerError naming it."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key or not key.replace("_", "a").isalnum():
            from para.errors import ContainerError

            raise ContainerError(
                problem=f"bad environment entry {pair!r}", hint="use KEY=VALUE, e.g. --env DEBUG=1"
            )
        out[key] = value
    return out


@dataclass
class ContainerOptions:
    """Per-session choices from the command line; None/empty: take the configuration."""

    image: str | None = None
    cpus: float | None = None
    memory: str | None = None
    pids: int | None = None
    env: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    ports: list[str] = field(default_factory=list)
    network: str | None = None

    def any_given(self) -> bool:
        """Whether any choice was made (a container option implies ``--docker``)."""
        return any(
            [
                self.image,
                self.cpus,
                self.memory,
                self.pids,
                self.env,
                self.volumes,
                self.ports,
                self.network,
            ]
        )

    def flags(self) -> dict[str, Any]:
        return {
            "docker.image": self.image,
            "docker.resources.cpus": self.cpus,
            "docker.resources.memory": self.memory,
            "docker.resources.pids": self.pids,
            "docker.network.mode": self.network,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "cpus": self.cpus,
            "memory": self.memory,
            "pids": self.pids,
            "env": list(self.env),
            "volumes": list(self.volumes),
            "ports": list(self.ports),
            "network": self.network,
        }

    def over(self, base: ContainerOptions) -> ContainerOptions:
        """These choices where given, else ``base``'s (a recreate keeps earlier choices)."""
        return ContainerOptions(
            image=self.image or base.image,
            cpus=self.cpus or base.cpus,
            memory=self.memory or base.memory,
            pids=self.pids or base.pids,
            env=self.env or base.env,
            volumes=self.volumes or base.volumes,
            ports=self.ports or base.ports,
            network=self.network or base.network,
        )

    @classmethod
    def given(cls, ref: ContainerRef) -> ContainerOptions:
        """The choices given on the command line when the container was made; what the
        configuration decided is left to the configuration (host ports are chosen anew)."""
        saved = dict(ref.options)
        made = cls(**{k: v for k, v in saved.items() if k in cls.__dataclass_fields__})
        made.ports = [p.rpartition(":")[2] for p in made.ports]
        return made

    @classmethod
    def from_ref(cls, ref: ContainerRef) -> ContainerOptions:
        """The container as it was made: its choices, and the image, network and ports
        the configuration gave it then (host ports are chosen anew)."""
        made = cls.given(ref)
        made.image = made.image or ref.image
        made.network = made.network or ref.network_mode
        made.ports = made.ports or list(ref.ports)
        return made
