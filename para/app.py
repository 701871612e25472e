"""The composition root: builds config, state, git and the managers on first use.

Commands receive an ``App`` through ``ctx.obj`` and ask it for the one service they call.
Nothing is built until asked for, so a command pays only for what it uses; tests swap
parts by assigning the cached attributes.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from para.config import Config, LoadedConfig
    from para.docker.manager import DockerManager, PullReporter
    from para.git import Git
    from para.repo import Repo
    from para.session import SessionManager
    from para.state import StateStore


def _cwd() -> Path:
    try:
        return Path.cwd()
    except FileNotFoundError:
        from para.errors import NotAGitRepository

        raise NotAGitRepository(
            "the current directory no longer exists (was it a finished session's worktree?)",
            hint="cd to the repository's main checkout",
        ) from None


class App:
    def __init__(
        self,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        *,
        flags: dict[str, Any] | None = None,
    ):
        self.cwd = (cwd or _cwd()).resolve()
        self.env = dict(os.environ) if env is None else env
        self.flags = dict(flags or {})
        self.pull_reporter: PullReporter | None = None

    @cached_property
    def repo(self) -> Repo:
        from para.repo import discover

        return discover(self.cwd)

    def repo_or_none(self) -> Repo | None:
        from para.errors import NotAGitRepository

        try:
            return self.repo
        except NotAGitRepository:
            return None

    @cached_property
    def loaded_config(self) -> LoadedConfig:
        from para.config import load_config

        repo = self.repo_or_none()
        return load_config(repo.root if repo else None, env=self.env, flags=self.flags)

    @property
    def config(self) -> Config:
        return self.loaded_config.config

    @cached_property
    def store(self) -> StateStore:
        from para.state import StateStore

        return StateStore(self.repo)

    @cached_property
    def git(self) -> Git:
        from para.git import Git

        return Git(
            self.repo.root,
            worktree_lock=self.repo.state_dir / "worktrees.lock",
            common_dir=self.repo.common_dir,
        )

    @cached_property
    def sessions(self) -> SessionManager:
        from para.session import SessionManager

        return SessionManager(
            self.repo,
            self.config,
            self.store,
            self.git,
            env=self.env,
            containers=lambda: self.docker,
        )

    @cached_property
    def docker(self) -> DockerManager:
        from para.docker.manager import DockerManager

        return DockerManager(
            self.repo,
            self.store,
            config=self.config.docker,
            worktrees_dir=self.sessions.worktrees_dir,
            env=self.env,
            flags=self.flags,
            pull_reporter=self.pull_reporter,
        )
