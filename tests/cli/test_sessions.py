"""Session commands end to end through the CLI, on real git repositories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Para, git, make_repo


def branches(repo: Path) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads").splitlines()


def nothing_created(repo: Path) -> None:
    assert branches(repo) == ["main"]
    wt = repo / ".para" / "worktrees"
    assert not wt.exists() or not any(wt.iterdir())
    sessions = repo / ".para" / "state" / "sessions"
    assert not sessions.exists() or not any(sessions.iterdir())
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_start_list_finish_cycle(repo: Path, para: Para) -> None:
    started = para.json("start", "feat", "--json")
    wt = Path(started["worktree"])
    assert started["name"] == "feat"
    assert started["branch"] == "para/feat"
    assert started["base"] == "main"
    assert started["status"] == "active"
    assert started["container"] is None
    assert wt == repo / ".para" / "worktrees" / "feat"
    assert git(wt, "branch", "--show-current") == "para/feat"

    (wt / "new.txt").write_text("work\n")
    (wt / "README.md").write_text("changed\n")
    [listed] = para.json("list", "--json")
    for key in (
        "name",
        "branch",
        "base",
        "worktree",
        "status",
        "created_at",
        "dirty",
        "ahead",
        "container",
    ):
        assert key in listed
    assert listed["dirty"] == 2 and listed["ahead"] == 0

    finished = para.json("finish", "Add new", "feat", "--json")
    assert finished["status"] == "review"
    assert finished["ahead"] == 1
    assert not wt.exists()
    assert git(repo, "log", "-1", "--format=%s", "para/feat") == "Add new"
    assert set(git(repo, "show", "--name-only", "--format=", "para/feat").split()) == {
        "new.txt",
        "README.md",
    }
    # the user's tracked files are untouched; para's paths are excluded through .git/info
    assert git(repo, "status", "--porcelain") == ""
    exclude = (repo / ".git" / "info" / "exclude").read_text()
    assert "/.para/worktrees/" in exclude and "/.para/state/" in exclude


def test_repository_path_with_spaces(
    tmp_path: Path, para: Para, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo(tmp_path / "my work" / "the repo")
    monkeypatch.chdir(root)
    out = para("start", "sp").stdout
    worktree = root / ".para" / "worktrees" / "sp"
    assert f"next: cd '{worktree}'" in out  # a line to paste into a shell
    (worktree / "new.txt").write_text("x")
    monkeypatch.chdir(worktree)
    para("finish", "spaces")
    assert git(root, "log", "-1", "--format=%s", "para/sp").strip() == "spaces"


def test_generated_name(repo: Path, para: Para) -> None:
    data = para.json("start", "--json")
    assert "-" in data["name"]
    assert data["branch"] == f"para/{data['name']}"


@pytest.mark.parametrize("name", ["../x", "a b", "", "a" * 51, "-x", ".x"])
def test_invalid_names_create_nothing(repo: Path, para: Para, name: str) -> None:
    args = ["start", "--", name] if name.startswith("-") else ["start", name]
    result = para.fails(*args)
    assert "invalid session name" in result.stderr
    assert "1-50 characters" in result.stderr
    nothing_created(repo)


def test_existing_name_refused(repo: Path, para: Para) -> None:
    para("start", "dup")
    result = para.fails("start", "dup")
    assert "already exists" in result.stderr
    assert len(para.json("list", "--json")) == 1


def test_unknown_base_refused(repo: Path, para: Para) -> None:
    result = para.fails("start", "x", "--base", "no-such-branch")
    assert "unknown git reference 'no-such-branch'" in result.stderr
    assert "--base" in result.stderr
    nothing_created(repo)


def test_base_other_branch(repo: Path, para: Para) -> None:
    git(repo, "checkout", "-q", "-b", "dev")
    (repo / "dev.txt").write_text("d")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "dev work")
    git(repo, "checkout", "-q", "main")
    data = para.json("start", "x", "--base", "dev", "--json")
    assert data["base"] == "dev"
    assert (Path(data["worktree"]) / "dev.txt").exists()


def test_not_a_git_repository(tmp_path: Path, para: Para, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = para.fails("start", "x")
    assert "is not inside a git repository" in result.stderr
    assert "git init" in result.stderr


def test_repository_without_commits(
    tmp_path: Path, para: Para, monkeypatch: pytest.MonkeyPatch
) -> None:
    git(tmp_path, "init", "-q")
    monkeypatch.chdir(tmp_path)
    result = para.fails("start", "x")
    assert "has no commits yet" in result.stderr
    assert git(tmp_path, "worktree", "list").count("\n") == 0


def test_finish_branch_onto_existing_branch_refused(repo: Path, para: Para) -> None:
    para("start", "a")
    git(repo, "branch", "taken")
    wt = repo / ".para" / "worktrees" / "a"
    (wt / "f").write_text("x")
    result = para.fails("finish", "msg", "a", "--branch", "taken")
    assert "branch 'taken' already exists" in result.stderr
    assert wt.exists() and (wt / "f").exists()
    assert para.json("status", "a", "--json")["status"] == "active"


def test_finish_with_branch_renames(repo: Path, para: Para) -> None:
    para("start", "a")
    (repo / ".para" / "worktrees" / "a" / "f").write_text("x")
    data = para.json("finish", "msg", "a", "--branch", "feature/a", "--json")
    assert data["branch"] == "feature/a"
    assert "para/a" not in branches(repo)
    assert git(repo, "log", "-1", "--format=%s", "feature/a") == "msg"


def test_finish_with_nothing_to_commit_still_finishes(repo: Path, para: Para) -> None:
    para("start", "a")
    data = para.json("finish", "nothing", "a", "--json")
    assert data["status"] == "review"
    assert data["ahead"] == 0
    assert not (repo / ".para" / "worktrees" / "a").exists()


def test_finish_again_is_a_no_op(repo: Path, para: Para) -> None:
    para("start", "a")
    para("finish", "m", "a")
    assert para.json("finish", "m", "a", "--json")["status"] == "review"


def test_finish_from_inside_the_worktree(
    repo: Path, para: Para, monkeypatch: pytest.MonkeyPatch
) -> None:
    para("start", "a")
    para("start", "b")
    wt = repo / ".para" / "worktrees" / "a"
    (wt / "sub").mkdir()
    (wt / "sub" / "x").write_text("x")
    monkeypatch.chdir(wt / "sub")
    para("finish", "from inside")
    monkeypatch.chdir(repo)
    statuses = {s["name"]: s["status"] for s in para.json("list", "--json")}
    assert statuses == {"a": "review", "b": "active"}


def test_interrupted_finish_completes_when_run_again(repo: Path, para: Para) -> None:
    para("start", "a")
    wt = repo / ".para" / "worktrees" / "a"
    (wt / "f").write_text("x")
    # simulate a finish that stopped after committing and renaming the branch
    record_path = repo / ".para" / "state" / "sessions" / "a.json"
    record = json.loads(record_path.read_text())
    git(wt, "add", "-A")
    git(wt, "commit", "-q", "-m", "half")
    git(repo, "branch", "-m", "para/a", "done/a")
    record.update(pending="finish", pending_branch="done/a", message="half")
    record_path.write_text(json.dumps(record))
    data = para.json("finish", "half", "a", "--branch", "done/a", "--json")
    assert data["status"] == "review" and data["branch"] == "done/a"
    assert not wt.exists()


def test_name_is_required_when_ambiguous(repo: Path, para: Para) -> None:
    para("start", "a")
    para("start", "b")
    result = para.fails("finish", "msg")
    assert "2 active sessions, which one? a, b" in result.stderr


def test_only_active_session_is_taken(repo: Path, para: Para) -> None:
    para("start", "solo")
    assert para("path").stdout.strip() == str(repo / ".para" / "worktrees" / "solo")


def test_cancel_dirty_non_interactive_refused(repo: Path, para: Para) -> None:
    para("start", "a")
    wt = repo / ".para" / "worktrees" / "a"
    (wt / "precious.txt").write_text("keep me")
    result = para.fails("cancel", "a")
    assert "1 uncommitted change" in result.stderr
    assert "--force" in result.stderr
    assert (wt / "precious.txt").exists()


def test_cancel_force_keeps_work_on_archive_branch_and_recover_restores(
    repo: Path, para: Para
) -> None:
    para("start", "a")
    wt = repo / ".para" / "worktrees" / "a"
    (wt / "precious.txt").write_text("keep me")
    (wt / "README.md").write_text("edited")
    data = para.json("cancel", "a", "--force", "--json")
    archive = data["branch"]
    assert data["status"] == "cancelled"
    assert archive.startswith("para/archived/") and archive.endswith("/a")
    assert not wt.exists()
    assert "para/a" not in branches(repo)
    assert git(repo, "show", f"{archive}:precious.txt") == "keep me"
    assert para.json("list", "--json") == []
    assert [s["name"] for s in para.json("list", "--json", "--archived")] == ["a"]

    recovered = para.json("recover", "a", "--json")
    assert recovered["status"] == "active"
    assert recovered["branch"] == "para/a"
    assert (wt / "precious.txt").read_text() == "keep me"
    # the safekeeping commit is undone: the work is uncommitted again, as it was
    assert recovered["dirty"] == 2
    assert recovered["ahead"] == 0
    assert archive not in branches(repo)


def test_cancel_interactive_confirmation(
    repo: Path, para: Para, monkeypatch: pytest.MonkeyPatch
) -> None:
    from para.cli import sessions

    para("start", "a")
    (repo / ".para" / "worktrees" / "a" / "f").write_text("x")
    monkeypatch.setattr(sessions, "interactive", lambda: True)
    result = para.fails("cancel", "a", input="n\n")
    assert "archive them and cancel?" in result.stdout
    assert para.json("status", "a", "--json")["status"] == "active"
    para("cancel", "a", input="y\n")
    assert para.json("status", "a", "--json")["status"] == "cancelled"


def test_worktree_deleted_by_hand_shows_and_clean_repairs(repo: Path, para: Para) -> None:
    import shutil

    para("start", "a")
    wt = repo / ".para" / "worktrees" / "a"
    (wt / "f").write_text("x")
    git(wt, "add", "-A")
    git(wt, "commit", "-q", "-m", "committed work")
    shutil.rmtree(wt)
    [listed] = para.json("list", "--json")
    assert listed["worktree_exists"] is False
    assert any("worktree missing" in p for p in listed["problems"])
    assert "worktree missing" in para("list").stderr

    dry = para.json("clean", "--dry-run", "--json")
    assert any(a["kind"] == "session" and a["target"] == "a" and not a["done"] for a in dry)
    assert para.json("list", "--json")[0]["status"] == "active"

    actions = para.json("clean", "--json")
    assert any(a["kind"] == "session" and a["done"] for a in actions)
    assert para.json("list", "--json") == []
    archived = para.json("list", "--archived", "--json")[0]
    assert archived["status"] == "cancelled"
    assert git(repo, "log", "-1", "--format=%s", archived["branch"]) == "committed work"
    assert "prunable" not in git(repo, "worktree", "list", "--porcelain")
    para("recover", "a")
    assert (wt / "f").read_text() == "x"


def test_clean_leaves_unknown_directories_and_dirty_orphans(repo: Path, para: Para) -> None:
    stray = repo / ".para" / "worktrees" / "stray"
    stray.mkdir(parents=True)
    (stray / "data").write_text("mine")
    git(repo, "worktree", "add", "-q", "-b", "orphan", str(repo / ".para" / "worktrees" / "orph"))
    git(repo, "worktree", "add", "-q", "-b", "dirty", str(repo / ".para" / "worktrees" / "dirt"))
    (repo / ".para" / "worktrees" / "dirt" / "wip").write_text("w")
    actions = {a["target"]: a for a in para.json("clean", "--json")}
    assert (stray / "data").exists()
    assert not actions[str(stray)]["done"]
    assert actions[str(repo / ".para" / "worktrees" / "orph")]["done"]
    assert not (repo / ".para" / "worktrees" / "orph").exists()
    assert "orphan" in branches(repo)
    assert (repo / ".para" / "worktrees" / "dirt" / "wip").exists()


def test_clean_prunes_old_archives(repo: Path, para: Para) -> None:
    for name in ("a", "b", "c"):
        para("start", name)
        para("cancel", name)
    cfg = repo / ".para" / "config.json"
    cfg.write_text(json.dumps({"archive": {"days": 30, "max": 1}}))
    git(repo, "branch", "para/archived/20200101-000000/ancient")
    actions = para.json("clean", "--json")
    deleted = [a["target"] for a in actions if a["kind"] == "archive" and a["done"]]
    assert "para/archived/20200101-000000/ancient" in deleted
    remaining = [b for b in branches(repo) if b.startswith("para/archived/")]
    assert len(remaining) == 1
    assert len(para.json("list", "--archived", "--json")) == 1


def test_truncated_record_is_reported_not_a_crash(repo: Path, para: Para) -> None:
    para("start", "good")
    para("start", "broken")
    path = repo / ".para" / "state" / "sessions" / "broken.json"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    result = para("list", "--json")
    assert [s["name"] for s in json.loads(result.stdout)] == ["good"]
    assert "broken.json" in result.stderr and "not valid JSON" in result.stderr
    clean = para.json("clean", "--dry-run", "--json")
    assert any("broken.json" in a["target"] for a in clean)


def test_worktreeinclude_and_setup_command(repo: Path, para: Para) -> None:
    (repo / ".env").write_text("SECRET=1\n")
    (repo / "local.log").write_text("log\n")
    (repo / ".worktreeinclude").write_text("# copied into every session\n.env\n*.log\n../evil\n")
    (repo / ".para").mkdir(exist_ok=True)
    (repo / ".para" / "config.json").write_text(
        json.dumps({"setup_command": 'echo "$PARA_SESSION" > setup-ran.txt'})
    )
    data = para.json("start", "s", "--json")
    wt = Path(data["worktree"])
    assert (wt / ".env").read_text() == "SECRET=1\n"
    assert (wt / "local.log").exists()
    assert (wt / "setup-ran.txt").read_text().strip() == "s"


def test_failed_setup_command_rolls_back(repo: Path, para: Para) -> None:
    (repo / ".para").mkdir()
    (repo / ".para" / "config.json").write_text(
        json.dumps({"setup_command": "echo boom >&2; exit 7"})
    )
    result = para.fails("start", "s")
    assert "exit code 7" in result.stderr and "boom" in result.stderr
    nothing_created(repo)


def test_status_text_and_resume(repo: Path, para: Para) -> None:
    para("start", "a")
    text = para("status", "a").stdout
    assert "para/a" in text and "0 uncommitted" in text
    marker = repo.parent / "ide-called"
    (repo / ".para" / "config.json").write_text(
        json.dumps({"ide": {"command": ["sh", "-c", f'echo "$1" > {marker}', "ide", "{path}"]}})
    )
    out = para("resume", "a").stdout.strip()
    assert out == str(repo / ".para" / "worktrees" / "a")
    assert marker.read_text().strip() == out


def test_start_after_cancel_reuses_name(repo: Path, para: Para) -> None:
    para("start", "a")
    para("cancel", "a")
    para("start", "a")
    assert para.json("status", "a", "--json")["status"] == "active"
    assert len(para.json("list", "--archived", "--json")) == 2


def test_config_show(repo: Path, para: Para) -> None:
    (repo / ".para").mkdir()
    (repo / ".para" / "config.json").write_text(json.dumps({"branch_prefix": "team"}))
    text = para("config", "show").stdout
    assert "branch_prefix" in text and '"team"' in text and "config.json" in text
    data = para.json("config", "show", "--json")
    assert data["values"]["branch_prefix"] == "team"
    assert data["sources"]["docker.backend"] == "default"


def test_bad_config_is_a_clear_error(repo: Path, para: Para) -> None:
    (repo / ".para").mkdir()
    (repo / ".para" / "config.json").write_text(json.dumps({"worktree_dir": "x"}))
    result = para.fails("list")
    assert "config.json: worktree_dir: Extra inputs are not permitted" in result.stderr


def test_global_directory_and_backend_options(
    repo: Path, para: Para, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    para("start", "far")
    monkeypatch.chdir(tmp_path)
    listed = para.json("-C", str(repo), "list", "--json")
    assert [s["name"] for s in listed] == ["far"]
    shown = para.json("-C", str(repo), "--backend", "podman", "config", "show", "--json")
    assert shown["values"]["docker"]["backend"] == "podman"
    assert shown["sources"]["docker.backend"] == "flag"
