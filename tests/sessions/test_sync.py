"""sync_session, with the container played by git run against the session's own
repository (what git inside the container does): every way the two sides can move."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from para.docker.gitdir import SessionGitDir, moved_inside
from para.errors import SyncConflict
from para.sessions.context import SessionContext
from para.sessions.finish import finish_session
from para.sessions.start import start_session
from para.sessions.sync import require_synced, sync_quietly, sync_session
from para.state import ContainerRef, SessionRecord
from tests.conftest import git


def containerised(ctx: SessionContext, name: str) -> tuple[SessionRecord, SessionGitDir]:
    """A session whose (pretend) container has a repository of its own."""
    record = start_session(ctx, name)
    gitdir = SessionGitDir(ctx.repo.state_dir, name)
    gitdir.create(ctx.git, record.branch, record.base, Path(record.git_admin or ""))
    ref = ContainerRef(
        id="c" * 64,
        name=f"para-x-{name}",
        image="i",
        backend="docker",
        endpoint="fake://",
        git="own",
    )
    record = ctx.store.update(name, lambda r: r.model_copy(update={"container": ref}))
    return record, gitdir


def inside(record: SessionRecord, gitdir: SessionGitDir, *args: str) -> str:
    """git as the container runs it: its own repository, the shared worktree."""
    env = dict(os.environ, GIT_DIR=str(gitdir.root), GIT_WORK_TREE=record.worktree)
    proc = subprocess.run(
        ["git", *args], cwd=record.worktree, env=env, capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


def commit_inside(record: SessionRecord, gitdir: SessionGitDir, name: str) -> str:
    (Path(record.worktree) / name).write_text(f"{name}\n")
    inside(record, gitdir, "add", name)
    inside(record, gitdir, "commit", "-qm", f"add {name}")
    return inside(record, gitdir, "rev-parse", "HEAD")


def test_a_commit_inside_reaches_the_host_branch(ctx: SessionContext, repo: Path) -> None:
    record, gitdir = containerised(ctx, "up")
    assert inside(record, gitdir, "status", "--porcelain") == ""  # the index copy is valid
    tip = commit_inside(record, gitdir, "a.txt")
    assert git(repo, "rev-parse", "para/up") != tip
    assert moved_inside(ctx.repo.state_dir, "up", "para/up")
    result = sync_session(ctx, record)
    assert (result.outcome, result.tip) == ("from-container", tip)
    assert git(repo, "rev-parse", "para/up") == tip
    assert git(Path(record.worktree), "status", "--porcelain") == ""  # host index follows
    assert gitdir.agreed() == tip
    assert not moved_inside(ctx.repo.state_dir, "up", "para/up")
    assert sync_session(ctx, ctx.store.read("up")).outcome == "unchanged"


def test_a_commit_on_the_host_reaches_the_container(ctx: SessionContext, repo: Path) -> None:
    record, gitdir = containerised(ctx, "down")
    (Path(record.worktree) / "h.txt").write_text("host\n")
    git(Path(record.worktree), "add", "h.txt")
    git(Path(record.worktree), "commit", "-qm", "on the host")
    host = git(repo, "rev-parse", "para/down")
    assert sync_session(ctx, record).outcome == "from-host"
    assert gitdir.tip("para/down") == host
    assert inside(record, gitdir, "log", "-1", "--format=%s") == "on the host"


def test_a_rewrite_inside_is_the_session_s_own_business(ctx: SessionContext, repo: Path) -> None:
    record, gitdir = containerised(ctx, "amend")
    commit_inside(record, gitdir, "a.txt")
    sync_session(ctx, record)
    inside(record, gitdir, "commit", "-q", "--amend", "-m", "amended")
    amended = inside(record, gitdir, "rev-parse", "HEAD")
    assert sync_session(ctx, ctx.store.read("amend")).outcome == "from-container"
    assert git(repo, "log", "-1", "--format=%s", "para/amend") == "amended"
    assert git(repo, "rev-parse", "para/amend") == amended


def test_divergence_keeps_both_and_stops_finish(ctx: SessionContext, repo: Path) -> None:
    record, gitdir = containerised(ctx, "both")
    inside_tip = commit_inside(record, gitdir, "in.txt")
    host_before = git(repo, "rev-parse", "para/both")
    git(
        repo,
        "update-ref",
        "refs/heads/para/both",
        git(repo, "commit-tree", "-p", host_before, "-m", "host side", f"{host_before}^{{tree}}"),
    )
    host = git(repo, "rev-parse", "para/both")
    result = sync_session(ctx, record)
    assert result.outcome == "diverged" and "refs/para/diverged/both" in result.message
    assert git(repo, "rev-parse", "para/both") == host
    assert git(repo, "rev-parse", "refs/para/diverged/both") == inside_tip
    with pytest.raises(SyncConflict):
        require_synced(ctx, record)
    with pytest.raises(SyncConflict, match="cannot be finished") as info:
        finish_session(ctx, "both", "m")
    assert info.value.hint and "git merge refs/para/diverged/both" in info.value.hint
    # merged in the worktree as the hint says: the container's side is an ancestor now
    worktree = Path(record.worktree)
    (worktree / "in.txt").unlink()
    git(worktree, "merge", "-q", "--no-edit", "refs/para/diverged/both")
    assert finish_session(ctx, "both", "m").status == "review"
    assert git(repo, "show", "para/both:in.txt") == "in.txt"


def test_what_the_container_wrote_is_read_defensively(
    ctx: SessionContext, repo: Path, tmp_path: Path
) -> None:
    record, gitdir = containerised(ctx, "bad")
    tip = git(repo, "rev-parse", "para/bad")
    ref = gitdir.root / "refs" / "heads" / "para" / "bad"
    ref.unlink()
    ref.symlink_to(tmp_path / "elsewhere")
    result = sync_quietly(ctx, record)
    assert result.outcome == "unreadable" and "symlink" in result.message
    ref.unlink()
    assert sync_quietly(ctx, record).outcome == "unreadable"  # no ref at all: nothing moves
    ref.write_text(f"{tip}\n")
    commit_inside(record, gitdir, "x.txt")
    blob = inside(record, gitdir, "rev-parse", "HEAD:x.txt")
    loose = gitdir.root / "objects" / blob[:2] / blob[2:]
    loose.unlink()
    os.mkfifo(loose)
    result = sync_quietly(ctx, record)
    assert result.outcome == "unreadable" and "not a regular file" in result.message
    assert git(repo, "rev-parse", "para/bad") == tip


def test_objects_are_checked_on_the_way_in(ctx: SessionContext, repo: Path) -> None:
    """A tree with a ``.git`` entry (which a checkout would write into a git dir) never
    enters the host repository: index-pack --strict refuses it."""
    record, gitdir = containerised(ctx, "strict")
    blob = inside(record, gitdir, "hash-object", "-w", "--stdin")
    tree = subprocess.run(
        ["git", "mktree"],
        input=f"100644 blob {blob}\t.git\n",
        env=dict(os.environ, GIT_DIR=str(gitdir.root)),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    parent = inside(record, gitdir, "rev-parse", "HEAD")
    evil = inside(record, gitdir, "commit-tree", "-p", parent, "-m", "evil", tree)
    inside(record, gitdir, "update-ref", "refs/heads/para/strict", evil)
    result = sync_quietly(ctx, record)
    assert result.outcome == "unreadable"
    assert git(repo, "rev-parse", "para/strict") == parent
    assert (
        subprocess.run(
            ["git", "cat-file", "-e", evil], cwd=repo, capture_output=True, check=False
        ).returncode
        != 0
    )
