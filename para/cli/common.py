"""What every command needs: the App from the click context, and the session it means."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from para.app import App
    from para.state import SessionRecord


def app_of(ctx: click.Context) -> App:
    app: App = ctx.find_root().obj
    return app


def name_of(ctx: click.Context, name: str | None, command: str, **kwargs: Any) -> str:
    """NAME, or the session the name rule picks (the cwd's, the only active one)."""
    from para.sessions.resolve import resolve

    return resolve(app_of(ctx).sessions, name, command=command, **kwargs)


def record_of(ctx: click.Context, name: str | None, command: str, **kwargs: Any) -> SessionRecord:
    """The record of the session ``name_of`` picks."""
    return app_of(ctx).store.read(name_of(ctx, name, command, **kwargs))


def interactive() -> bool:
    """Whether a person can answer a question (stdin is a terminal)."""
    return sys.stdin.isatty()
