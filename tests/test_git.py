from __future__ import annotations

import os
from pathlib import Path

import pytest

from para.errors import BranchExists, GitError, InvalidRef, RepositoryHasNoCommits
from para.git import Git, Worktree, scrub_process_env, scrubbed_env
from tests.conftest import git, run_para


def test_scrubbed_env_drops_redirecting_vars_and_keeps_identity() -> None:
    env = scrubbed_env(
        {"GIT_DIR": "/elsewhere", "GIT_INDEX_FILE": "x", "GIT_AUTHOR_NAME": "A", "PATH": "/bin"}
    )
    assert "GIT_DIR" not in env
    assert "GIT_INDEX_FILE" not in env
    assert env["GIT_AUTHOR_NAME"] == "A"
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    environ = {"GIT_WORK_TREE": "/x", "HOME": "/h"}
    scrub_process_env(environ)
    assert environ == {"HOME": "/h"}


def test_para_started_from_a_hook_acts_on_its_own_repository(repo: Path, tmp_path: Path) -> None:
    """A git hook exports GIT_DIR/GIT_INDEX_FILE of another repository; para must ignore them."""
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    git(other, "commit", "-q", "--allow-empty", "-m", "other")
    env = dict(
        os.environ,
        GIT_DIR=str(other / ".git"),
        GIT_INDEX_FILE=str(other / ".git/index"),
        GIT_WORK_TREE=str(other),
    )
    proc = run_para("start", "hooked", cwd=repo, env=env)
    assert proc.returncode == 0, proc.stderr
    assert git(repo, "branch", "--list", "para/hooked") != ""
    assert git(other, "branch", "--list", "para/hooked") == ""


def test_worktree_branch_and_commit_cycle(repo: Path) -> None:
    g = Git(repo)
    base = g.resolve("HEAD")
    wt = repo.parent / "wt"
    g.add_worktree(wt, "para/a", base)
    assert g.branch_exists("para/a")
    assert g.registered_worktree(wt) is not None
    admin = g.admin_dir(wt.resolve())
    assert admin is not None and admin.parent == repo / ".git" / "worktrees"
    ref = Worktree(wt, admin)
    (wt / "f.txt").write_text("x")
    assert g.dirty_count(ref) == 1
    sha = g.commit_all(ref, "add f")
    assert sha and g.dirty_count(ref) == 0
    assert g.commit_all(ref, "nothing") is None
    assert g.ahead_behind("para/a", base) == (1, 0)
    g.rename_branch("para/a", "para/b")
    assert git(wt, "branch", "--show-current") == "para/b"
    with pytest.raises(BranchExists):
        g.rename_branch("para/b", "main")
    g.remove_worktree(wt)
    assert g.registered_worktree(wt) is None
    g.delete_branch("para/b")
    assert not g.branch_exists("para/b")


def test_errors_are_translated(repo: Path) -> None:
    g = Git(repo)
    with pytest.raises(InvalidRef):
        g.resolve("no-such-ref")
    with pytest.raises(GitError) as info:
        g.delete_branch("no-such-branch")
    assert "branch -D" in info.value.message
    assert "not found" in info.value.message


def test_repository_without_commits(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    with pytest.raises(RepositoryHasNoCommits):
        Git(tmp_path).require_commits()


def test_host_git_ignores_a_rewritten_worktree_git_file(repo: Path, tmp_path: Path) -> None:
    """A container can rewrite its worktree's .git file to point at a git dir of its own
    with core.fsmonitor set; para's git must neither follow it nor run that command."""
    g = Git(repo)
    wt = repo.parent / "wt2"
    g.add_worktree(wt, "para/b", g.resolve("HEAD"))
    admin = g.admin_dir(wt.resolve())
    assert admin is not None
    evil = tmp_path / "evil"
    git(tmp_path, "init", "-q", str(evil))
    marker = tmp_path / "fsmonitor-ran"
    git(evil, "config", "core.fsmonitor", f"touch {marker}; false")
    (wt / ".git").write_text(f"gitdir: {evil / '.git'}\n")
    (wt / "new.txt").write_text("x")
    assert g.dirty_count(Worktree(wt, admin)) >= 1
    assert not marker.exists()
    assert g.admin_dir(wt.resolve()) == admin  # found from git's side, not the .git file
