"""The git adapter, para's one front door to git: worktrees, branches, commits, status and
a container's own repository, with git errors translated.

Changes to history and branches (commit, rename, delete, reset, worktree removal) go
through GitPython, imported on first use. Queries, and the steps of ``start`` (which
``make bench`` measures against a bare ``git worktree add``), run git directly: each is
one git process either way, and GitPython's import alone costs ~0.1 s.

Git runs with a scrubbed environment. para may be started from a git hook, where variables
such as GIT_DIR or GIT_INDEX_FILE point at another repository; ``scrub_process_env`` removes
them from para's own environment once at start-up, because GitPython copies ``os.environ``
into every git it starts and offers no way to unset a variable per call.
"""

from __future__ import annotations

from para.git.base import Worktree, WorktreeEntry
from para.git.env import run_git, scrub_process_env, scrubbed_env
from para.git.objects import Objects
from para.git.queries import Queries
from para.git.refs import Refs
from para.git.worktrees import Worktrees

__all__ = [
    "Git",
    "Worktree",
    "WorktreeEntry",
    "run_git",
    "scrub_process_env",
    "scrubbed_env",
]


class Git(Refs, Worktrees, Queries, Objects):
    """One repository. Its parts by concern: ``refs.py``, ``worktrees.py`` (and the
    commits para makes), ``queries.py`` (read-only, for list and status) and
    ``objects.py`` (a container's own repository)."""
