"""Running git with a scrubbed environment.

para may be started from a git hook, where variables such as GIT_DIR or GIT_INDEX_FILE
point at another repository; ``scrub_process_env`` removes them from para's own
environment once at start-up, because GitPython copies ``os.environ`` into every git it
starts and offers no way to unset a variable per call.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from para.errors import GitError

# Variables that make git act on another repository, index or object store than the one
# para names. Identity (GIT_AUTHOR_*), config isolation (GIT_CONFIG_*), transport (GIT_SSH*)
# and GIT_EXEC_PATH are the user's choices and stay.
_REDIRECTING_VARS = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
        "GIT_PREFIX",
        "GIT_CEILING_DIRECTORIES",
        "GIT_DISCOVERY_ACROSS_FILESYSTEM",
        "GIT_QUARANTINE_PATH",
        "GIT_REFLOG_ACTION",
        "GIT_EDITOR",
        "GIT_SEQUENCE_EDITOR",
        "GIT_INTERNAL_SUPER_PREFIX",
    }
)


def scrubbed_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    for var in _REDIRECTING_VARS:
        env.pop(var, None)
    # A hook-invoked para must never wait for a password prompt.
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


def scrub_process_env(environ: MutableMapping[str, str] | None = None) -> None:
    target = os.environ if environ is None else environ
    for var in _REDIRECTING_VARS:
        target.pop(var, None)


@functools.cache
def _libc() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def die_with_para() -> None:
    """``preexec_fn`` of the git processes that change the repository: the kernel kills
    them when para dies (PR_SET_PDEATHSIG), so a para killed half-way leaves no git
    working on behind its back, and running para again finds the repository still."""
    _libc().prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG


def changing() -> dict[str, Any]:
    """Popen arguments for a git that changes the repository (Linux: dies with para)."""
    if not sys.platform.startswith("linux"):
        return {}
    _libc()  # loaded here, not in the child
    return {"preexec_fn": die_with_para}


def run_git(args: Sequence[str], cwd: Path, *, check: bool = True, changes: bool = False) -> str:
    """Run git directly (no GitPython) and return stdout. Only ``Git`` and ``repo``'s
    fallback call it: everything else asks the ``Git`` adapter."""
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=scrubbed_env(),
        capture_output=True,
        text=True,
        check=False,
        **(changing() if changes else {}),
    )
    if check and proc.returncode != 0:
        raise GitError(
            command=" ".join(args), stderr=proc.stderr.strip() or f"exit {proc.returncode}"
        )
    return str(proc.stdout)
