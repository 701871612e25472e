"""The composition root: builds config, state, git, the session context and the container
manager on first use.

Commands receive an ``App`` through ``ctx.obj`` and pass its ``sessions`` context (or its
``docker`` manager) to the one use case they call. Nothing is built until asked for, so a
command pays only for what it uses; tests swap the engine through ``connect``.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from para.config import Config, LoadedConfig
    from para.docker.build import BuildReporter
    from para.docker.connect import ServiceFactory
    from para.docker.manager import DockerManager, PullReporter
    from para.git import Git
    from para.repo import Repo
    from para.sessions.context import SessionContext
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
    # How engines are reached (None: the real ones); tests put a fake engine here.
    connect: ServiceFactory | None = None

    def __init__(
        self,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        *,
        flags: dict[str, Any] | None = None,
    ):
        if env is None:
            from para.git import scrub_process_env

            # para may run from a git hook, whose GIT_DIR... name another repository;
            # GitPython copies os.environ into every git it starts.
            scrub_process_env()
        self.cwd = (cwd or _cwd()).resolve()
        self.env = dict(os.environ) if env is None else env
        self.flags = dict(flags or {})
        self.pull_reporter: PullReporter | None = None
        self.build_reporter: BuildReporter | None = None
        # What the use cases noticed but did not fail on; the CLI prints them.
        self.warnings: list[str] = []

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
        loaded = load_config(repo.root if repo else None, env=self.env, flags=self.flags)
        for warning in (
            loaded.ignored_warning(),
            loaded.user_only_warning(),
            loaded.unsupported_warning(),
        ):
            if warning:
                self.warnings.append(warning)
        return loaded

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
    def sessions(self) -> SessionContext:
        from para.sessions.context import SessionContext

        return SessionContext(
            repo=self.repo,
            config=self.config,
            store=self.store,
            git=self.git,
            env=self.env,
            containers_factory=lambda: self.docker,
            warnings=self.warnings,
        )

    @cached_property
    def docker(self) -> DockerManager:
        from para.docker.manager import DockerManager

        return DockerManager(
            self.repo,
            self.store,
            self.git,
            config=self.config.docker,
            worktrees_dir=self.sessions.worktrees_dir,
            env=self.env,
            flags=self.flags,
            connect=self.connect,
            pull_reporter=self.pull_reporter,
            build_reporter=self.build_reporter,
            warnings=self.warnings,
        )
