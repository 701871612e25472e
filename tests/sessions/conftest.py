"""Session use cases called directly, on a real repository (no click)."""

from __future__ import annotations

from pathlib import Path

import pytest

from para.app import App
from para.sessions.context import SessionContext


@pytest.fixture
def ctx(repo: Path) -> SessionContext:
    """The session context of the test repository, as the CLI builds it."""
    return App(cwd=repo).sessions
