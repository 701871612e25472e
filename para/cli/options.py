"""Options shared by commands that create containers (start, docker start, dispatch)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from para.options import ContainerOptions

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = [
    click.option("--image", metavar="IMAGE", help="Container image (default: configuration)."),
    click.option("--cpus", type=float, metavar="N", help="CPU limit, e.g. 1.5."),
    click.option("--memory", metavar="SIZE", help="Memory limit, e.g. 512m, 4g (swap = memory)."),
    click.option("--pids", type=int, metavar="N", help="Process limit."),
    click.option("--env", "env", multiple=True, metavar="K=V", help="Set a variable (repeatable)."),
    click.option(
        "--volume",
        "volumes",
        multiple=True,
        metavar="SRC:DST[:ro]",
        help="Extra mount (repeatable); the source must exist.",
    ),
    click.option(
        "--port",
        "ports",
        multiple=True,
        metavar="[HOST:]CONTAINER",
        help="Publish a port (repeatable); a free host port is chosen when omitted.",
    ),
    click.option(
        "--network",
        type=click.Choice(["bridge", "none", "host", "session"]),
        help="Network mode; session: a network shared by this repository's sessions.",
    ),
]


def container_options(func: F) -> F:
    for option in reversed(_OPTIONS):
        func = option(func)
    return func


def build_options(kwargs: dict[str, Any]) -> ContainerOptions:
    """Take the container options out of a command's keyword arguments."""
    from para.options import ContainerOptions

    return ContainerOptions(
        image=kwargs.pop("image"),
        cpus=kwargs.pop("cpus"),
        memory=kwargs.pop("memory"),
        pids=kwargs.pop("pids"),
        env=list(kwargs.pop("env")),
        volumes=list(kwargs.pop("volumes")),
        ports=list(kwargs.pop("ports")),
        network=kwargs.pop("network"),
    )
