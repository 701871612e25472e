"""start_session and init, called directly: what a start makes, and what a failed one
leaves (nothing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from para.config import Config
from para.errors import CommandFailed, SessionExists
from para.options import ContainerOptions
from para.sessions.context import SessionContext
from para.sessions.start import container_request, init, start_session
from tests.conftest import git


def test_start_makes_branch_worktree_channel_and_record(ctx: SessionContext, repo: Path) -> None:
    record = start_session(ctx, "s")
    assert record.branch == "para/s"
    assert record.base == "main"
    assert record.base_commit == git(repo, "rev-parse", "HEAD")
    assert Path(record.worktree) == (repo / ".para" / "worktrees" / "s").resolve()
    assert git(Path(record.worktree), "branch", "--show-current") == "para/s"
    assert record.git_admin == str(repo / ".git" / "worktrees" / "s")
    assert (repo / ".para" / "state" / "channels" / "s" / "queue").is_dir()
    assert ctx.store.read("s") == record
    exclude = (repo / ".git" / "info" / "exclude").read_text()
    assert "/.para/worktrees/" in exclude and "/.para/state/" in exclude


def test_init_is_idempotent(ctx: SessionContext, repo: Path) -> None:
    first = init(ctx)
    assert any("exclude" in line for line in first)
    assert init(ctx) == []


def test_failed_setup_leaves_nothing_and_shows_the_output(ctx: SessionContext, repo: Path) -> None:
    ctx.config.setup_command = "echo preparing; echo broken >&2; exit 7"
    with pytest.raises(CommandFailed) as info:
        start_session(ctx, "bad")
    assert info.value.message.startswith("setup command 'echo preparing;")
    assert "exit code 7" in info.value.message
    assert "preparing" in info.value.message and "broken" in info.value.message
    assert git(repo, "branch", "--list", "para/bad") == ""
    assert not (repo / ".para" / "worktrees" / "bad").exists()
    assert not ctx.store.exists("bad")
    assert not (repo / ".para" / "state" / "channels" / "bad").exists()


def test_same_name_twice_is_refused(ctx: SessionContext) -> None:
    start_session(ctx, "dup")
    with pytest.raises(SessionExists, match="an active session has this name"):
        start_session(ctx, "dup")


def test_includes_are_copied(ctx: SessionContext, repo: Path) -> None:
    (repo / ".env").write_text("SECRET=1\n")
    (repo / ".worktreeinclude").write_text("# comment\n.env\n../outside\n")
    record = start_session(ctx, "inc")
    assert (Path(record.worktree) / ".env").read_text() == "SECRET=1\n"


@pytest.mark.parametrize(
    ("enabled", "fallback", "flag", "given", "wanted", "falls_back"),
    [
        (False, "refuse", None, False, False, False),
        (False, "refuse", True, False, True, False),
        (False, "refuse", None, True, True, False),  # an option implies --docker
        (True, "refuse", None, False, True, False),
        (True, "host", None, False, True, True),  # only the configured default falls back
        (True, "host", True, False, True, False),
        (True, "host", False, True, False, False),  # --no-docker wins
    ],
)
def test_container_request(
    enabled: bool,
    fallback: str,
    flag: bool | None,
    given: bool,
    wanted: bool,
    falls_back: bool,
) -> None:
    config = Config.model_validate({"docker": {"enabled": enabled, "fallback": fallback}})
    options = ContainerOptions(image="img:1" if given else None)
    chosen, fall = container_request(config, options, flag)
    assert (chosen is not None, fall) == (wanted, falls_back)


def test_record_file_is_json_with_schema_version(ctx: SessionContext, repo: Path) -> None:
    start_session(ctx, "j")
    data = json.loads((repo / ".para" / "state" / "sessions" / "j.json").read_text())
    assert data["schema_version"] == 1 and data["status"] == "active"


def test_includes_never_go_through_a_symlink_out_of_their_tree(
    ctx: SessionContext, repo: Path, tmp_path: Path
) -> None:
    """The base branch holds ``out -> <outside>``: an include under it would be written
    through the link into the user's files; a link in the main checkout that leads out
    of the repository is not read either."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "out").symlink_to(outside)
    git(repo, "add", "out")
    git(repo, "commit", "-qm", "a committed symlink")
    (repo / "out").unlink()
    (repo / "out").mkdir()  # the main checkout has a real directory there
    (repo / "out" / "secret.txt").write_text("from the main checkout\n")
    (tmp_path / "host-file").write_text("host secret\n")
    (repo / "peek").mkdir()
    (repo / "peek" / "inner").symlink_to(tmp_path)
    (repo / ".worktreeinclude").write_text("out/secret.txt\npeek/inner/host-file\n")
    record = start_session(ctx, "inc")
    assert not (outside / "secret.txt").exists()
    assert not (Path(record.worktree) / "peek").exists()
    assert len([w for w in ctx.warnings if ".worktreeinclude" in w]) == 2
