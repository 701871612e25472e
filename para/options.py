"""Per-session container choices from the command line, and the parsing of ``K=V``
(a light module: the CLI and ``start`` import it for every session, with or without a
container)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from para.state import ContainerRef


# A variable name as POSIX shells take it (``É`` is not one: ASCII letters, digits, _)
ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_env_pairs(pairs: list[str]) -> dict[str, str]:
    """``["K=V", ...]`` -> ``{K: V}``; a bad entry is a ContainerError naming it."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not ENV_KEY.fullmatch(key):
            from para.errors import ContainerError

            raise ContainerError(
                problem=f"bad environment entry {pair!r}",
                hint="use KEY=VALUE with KEY of ASCII letters, digits and _, e.g. --env DEBUG=1",
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
        """Whether any choice was made (a container option implies ``--docker``; so does
        ``--cpus 0``, which is then refused, not ignored)."""
        given = (self.image, self.cpus, self.memory, self.pids, self.network)
        return any(value is not None for value in given) or bool(
            self.env or self.volumes or self.ports
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
            cpus=self.cpus if self.cpus is not None else base.cpus,
            memory=self.memory or base.memory,
            pids=self.pids if self.pids is not None else base.pids,
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
