"""Nothing in a session reaches the host: each route a hostile container or a cloned
repository could take, tried on Docker and on Podman (docs/security.md lists them)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from para.docker.service import DockerService
from tests.conftest import Para, git, run_para
from tests.docker.conftest import DEBIAN
from tests.docker.engine_helpers import start

pytestmark = pytest.mark.engine


def inside(repo: Path, name: str, script: str) -> subprocess.CompletedProcess[str]:
    """``script`` in the session's container (as para runs it: the exec fast path)."""
    return run_para("docker", "exec", name, "--", "sh", "-c", script, cwd=repo)


def host_reads_everything(repo: Path, para: Para, *names: str) -> None:
    """What a user and para do on the host that reads config, refs and worktrees."""
    git(repo, "status")
    for name in names:
        git(repo / ".para" / "worktrees" / name, "status")
        para("status", name)
    para("list")
    para("start", "after")
    para("cancel", "after", "--force")


def fsmonitor(marker: Path) -> str:
    return f"touch {marker}; false"


def test_host_config_rewritten_under_a_running_container(
    repo: Path, para: Para, engine: DockerService, tmp_path: Path
) -> None:
    """Route 1: the host rewrites .git/config (lock file and rename) while a container
    runs; nothing of the host's .git but the object store is mounted, so there is no
    mount to detach and the container never reaches the real file."""
    start(para, "r1", image=DEBIAN)
    marker = tmp_path / "route1"
    git(repo, "config", "para.test", "before")  # rewritten through config.lock
    script = (
        f"git config --file {repo}/.git/config core.fsmonitor '{fsmonitor(marker)}'; "
        f"echo '[core] fsmonitor = {fsmonitor(marker)}' >> {repo}/.git/config; true"
    )
    inside(repo, "r1", script)
    git(repo, "config", "para.test", "after")
    inside(repo, "r1", script)
    host_reads_everything(repo, para, "r1")
    assert "fsmonitor" not in (repo / ".git" / "config").read_text()
    assert not marker.exists()


def test_commondir_and_worktree_config_cannot_be_planted(
    repo: Path, para: Para, engine: DockerService, tmp_path: Path
) -> None:
    """Routes 2 and 3: commondir and config.worktree (with extensions.worktreeConfig,
    which git sparse-checkout turns on) in the host's .git or the session's admin entry
    are out of reach; in the container's own repository they change only its own git."""
    git(repo, "config", "extensions.worktreeConfig", "true")
    start(para, "r2", image=DEBIAN)
    marker = tmp_path / "route2"
    evil = tmp_path / "evil"  # a common dir with hostile config and hooks
    common = repo / ".git"
    script = (
        f"mkdir -p {evil}/hooks; printf '[core]\\n\\tfsmonitor = {fsmonitor(marker)}\\n' "
        f"> {evil}/config; "
        f"for f in {common}/commondir {common}/worktrees/r2/commondir "
        f"{common}/config.worktree {common}/worktrees/r2/config.worktree; do "
        f"echo {evil} > $f || true; done; "
        # its own repository: its own business, the host never runs git on it
        f"echo {evil} > /para/git/commondir; "
        f"printf '[core]\\n\\tfsmonitor = {fsmonitor(marker)}\\n' > /para/git/config.worktree; "
        f"git config core.fsmonitor '{fsmonitor(marker)}'; "
        f"git config uploadpack.packObjectsHook '{fsmonitor(marker)}'; "
        f"printf '#!/bin/sh\\ntouch {marker}\\n' > /para/git/hooks/post-commit; true"
    )
    inside(repo, "r2", script)
    assert not (common / "commondir").exists()
    assert not (common / "worktrees" / "r2" / "config.worktree").exists()
    host_reads_everything(repo, para, "r2")
    assert not marker.exists()


def test_container_cannot_delete_or_rewrite_host_refs_and_objects(
    repo: Path, para: Para, engine: DockerService
) -> None:
    """A container deleting main and another session's branch and pruning: only its own
    repository changes; the host's refs and objects stay (its object store is read-only)."""
    para("start", "other")
    (repo / ".para" / "worktrees" / "other" / "work.txt").write_text("other's work\n")
    para("finish", "other's work", "other")
    start(para, "pruner", image=DEBIAN)
    before = {ref: git(repo, "rev-parse", ref) for ref in ("main", "para/other")}
    objects = sorted(str(p) for p in (repo / ".git" / "objects").rglob("*") if p.is_file())
    script = (
        "git branch -D main; git update-ref -d refs/heads/para/other; "
        "git reflog expire --expire=now --all; git gc -q --prune=now; git prune; "
        f"rm -rf {repo}/.git/objects/* 2>&1; "
        f"git --git-dir={repo}/.git update-ref -d refs/heads/main; true"
    )
    proc = inside(repo, "pruner", script)
    assert "Read-only file system" in proc.stdout + proc.stderr
    assert {ref: git(repo, "rev-parse", ref) for ref in before} == before
    after = sorted(str(p) for p in (repo / ".git" / "objects").rglob("*") if p.is_file())
    assert set(objects) <= set(after)
    git(repo, "fsck", "--full", "--no-dangling")
    para("status", "pruner")
    assert git(repo, "rev-parse", "para/pruner") == before["main"]


def test_container_repository_is_read_safely(
    repo: Path, para: Para, engine: DockerService, tmp_path: Path
) -> None:
    """What para reads of the container's own repository: a symlinked ref is not
    followed, a FIFO among the objects is refused instead of read, the alternates file
    cannot be changed; the host branch moves only to commits that passed index-pack."""
    secret = tmp_path / "secret"
    secret.write_text("0" * 40 + "\n")
    start(para, "reader", image=DEBIAN)
    tip = git(repo, "rev-parse", "para/reader")
    proc = inside(
        repo,
        "reader",
        "echo /elsewhere > /para/git/objects/info/alternates; "
        "rm -f /para/git/refs/heads/para/reader; "
        f"ln -s {secret} /para/git/refs/heads/para/reader; true",
    )
    assert "Read-only file system" in proc.stdout + proc.stderr
    shown = para.json("status", "reader", "--json")
    assert any("is a symlink" in p for p in shown["problems"]), shown["problems"]
    assert git(repo, "rev-parse", "para/reader") == tip
    # a commit whose objects include a FIFO: refused, not read (it would hang git)
    script = (
        f"rm /para/git/refs/heads/para/reader; echo {tip} > /para/git/refs/heads/para/reader; "
        "echo x > x.txt && git add x.txt && git commit -qm fifo && "
        "obj=$(git rev-parse HEAD^{tree}); f=/para/git/objects/$(echo $obj | cut -c1-2)/"
        "$(echo $obj | cut -c3-); rm -f $f; mkfifo $f; echo made"
    )
    proc = inside(repo, "reader", script)
    assert "made" in proc.stdout, proc.stderr
    shown = para.json("status", "reader", "--json")
    assert any("not a regular file" in p for p in shown["problems"]), shown["problems"]
    assert git(repo, "rev-parse", "para/reader") == tip


def test_untrusted_repository_configuration_is_ignored_until_trusted(
    repo: Path, para: Para, engine: DockerService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Route 4: a cloned repository's committed .para files run nothing on the host and
    widen no container until para trust; a change needs trust again."""
    marker = tmp_path / "route4"
    secret_dir = tmp_path / "host-secret"
    secret_dir.mkdir()
    (secret_dir / "key").write_text("s3cret\n")
    monkeypatch.setenv("PARA_TEST_TOKEN", "token-value")
    (repo / ".para").mkdir()
    (repo / ".para" / "config.json").write_text(
        json.dumps({"setup_command": f"touch {marker}", "docker": {"image": DEBIAN}})
    )
    (repo / ".para" / "docker.json").write_text(
        json.dumps(
            {
                "volumes": [f"{secret_dir}:/secret:ro"],
                "user": "1234:1234",
                "forward_env": ["PARA_TEST_TOKEN"],
                "network": {"mode": "host"},
            }
        )
    )
    git(repo, "add", ".para")
    git(repo, "commit", "-qm", "a repository's own para config")
    probe = "id -u; ls /secret 2>&1; echo token=${PARA_TEST_TOKEN:-none}"

    result = para("start", "plain", "--docker")
    assert "setup_command" in result.stderr and "para trust" in result.stderr
    assert "volumes" in result.stderr and "forward_env" in result.stderr
    assert not marker.exists()
    out = inside(repo, "plain", probe).stdout
    assert out.splitlines()[0] == str(os.getuid())
    assert "No such file" in out and "token=none" in out

    para("trust")
    para("start", "trusted", "--docker")
    assert marker.exists()
    out = inside(repo, "trusted", probe).stdout
    assert out.splitlines()[0] == "1234" and "key" in out and "token=token-value" in out

    marker.unlink()
    (repo / ".para" / "config.json").write_text(
        json.dumps({"setup_command": f"touch {marker}; echo changed"})
    )
    git(repo, "commit", "-qam", "changed")
    result = para("start", "changed")
    assert "setup_command" in result.stderr and not marker.exists()
    shown = para.json("trust", "--show", "--json")
    assert {Path(f["file"]).name: f["changed"] for f in shown} == {
        "config.json": True,
        "docker.json": False,
    }
    para("trust", "--revoke")
    assert not para.json("trust", "--show", "--json")[1]["trusted"]


def test_symlinks_in_home_and_channel_are_not_followed(
    repo: Path, para: Para, engine: DockerService, tmp_path: Path
) -> None:
    """With docker.user another uid, para hands the session's directories to it by
    descriptor: links the container planted there lead nowhere."""
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o700)
    (repo / ".para").mkdir()
    (repo / ".para" / "docker.json").write_text(json.dumps({"user": "4321:4321"}))
    start(para, "linker")
    proc = inside(
        repo,
        "linker",
        f"ln -s {victim} /para/home/link && ln -s {victim} /para/channel/link && "
        f"ln -s {victim} /para/git/link && echo linked",
    )
    assert "linked" in proc.stdout, proc.stderr
    para("docker", "start", "linker", "--recreate")
    info = victim.stat()
    assert (info.st_uid, info.st_mode & 0o777) == (os.getuid(), 0o700)


def test_para_state_and_kernel_volumes_are_refused(
    repo: Path, para: Para, engine: DockerService
) -> None:
    (repo / ".para" / "state").mkdir(parents=True)
    for volume, reason in (
        (f"{repo}/.para/state:/state", "para's state"),
        ("/proc:/host-proc:ro", "host's processes"),
        ("/sys:/host-sys:ro", "kernel and devices"),
    ):
        result = para.fails("start", "vol", "--docker", "--volume", volume)
        assert reason in result.stderr
    assert git(repo, "branch", "--list", "para/vol") == ""


@pytest.mark.parametrize("tamper", ["gitdir-elsewhere", "locked", "nested", "submodule"])
@pytest.mark.parametrize("end", ["finish", "cancel"])
def test_finish_and_cancel_survive_what_was_done_to_the_worktree(
    repo: Path, para: Para, engine: DockerService, tmp_path: Path, tamper: str, end: str
) -> None:
    """A rewritten .git file and a locked admin entry (what a container of an older
    para, or an agent on the host, could do), a nested repository and an initialised
    submodule (what any container can make): finish and cancel complete, the work on
    the branch, the nested commits kept."""
    start(para, "t", image=DEBIAN)
    worktree = repo / ".para" / "worktrees" / "t"
    admin = repo / ".git" / "worktrees" / "t"
    (worktree / "work.txt").write_text("the session's work\n")
    if tamper == "gitdir-elsewhere":
        evil = tmp_path / "evil"
        git(tmp_path, "init", "-q", str(evil))
        (worktree / ".git").write_text(f"gitdir: {evil / '.git'}\n")  # under the mount
    elif tamper == "locked":
        (admin / "locked").write_text("mine now\n")
    elif tamper == "nested":
        script = (
            "git init -q nested && cd nested && echo n > n.txt && git add n.txt && "
            "git commit -qm nested && cd .. && git add nested work.txt 2>/dev/null; "
            "git commit -qm 'with a nested repository' && echo ok"
        )
        assert "ok" in inside(repo, "t", script).stdout
    else:
        script = (
            "git init -q /tmp/lib && cd /tmp/lib && echo l > l.txt && git add l.txt && "
            "git commit -qm lib && cd /workspace && "
            "git -c protocol.file.allow=always submodule -q add /tmp/lib lib && "
            "git commit -qm 'with a submodule' && echo ok"
        )
        assert "ok" in inside(repo, "t", script).stdout
    if end == "finish":
        para("finish", "done", "t")
        branch = "para/t"
    else:
        branch = para.json("cancel", "t", "--force", "--json")["branch"]
    assert not worktree.exists()
    assert git(repo, "show", f"{branch}:work.txt") == "the session's work"
    if tamper in ("nested", "submodule"):
        path = "nested" if tamper == "nested" else "lib"
        sha = git(repo, "rev-parse", f"{branch}:{path}")
        assert git(repo, "cat-file", "-t", sha) == "commit"  # kept: nothing is lost
        assert sha in git(repo, "for-each-ref", "--format=%(objectname)", "refs/para/kept/t/")
    git(repo, "worktree", "prune")
    assert len(git(repo, "worktree", "list").splitlines()) == 1


def test_control_sequences_from_a_session_never_reach_the_terminal(
    repo: Path, para: Para, engine: DockerService
) -> None:
    """A task with OSC (window title, clipboard) and CSI (clear screen) sequences, and a
    queued command with them: list, status and jobs print them without the controls."""
    start(para, "osc")
    evil = r"\033]0;pwned-title\007\033]52;c;cGF5bG9hZA==\007\033[2J"
    proc = inside(repo, "osc", f"para-status --task \"$(printf '{evil}task')\" && echo ok")
    assert "ok" in proc.stdout, proc.stderr
    para("docker", "exec", "osc", "--detach", "--", "printf", "\x1b]0;title\x07")
    for args in (
        ["list"],
        ["status", "osc"],
        ["docker", "status", "osc"],
        ["docker", "jobs", "osc"],
    ):
        out = run_para(*args, cwd=repo)
        assert out.returncode == 0, out.stderr
        assert "\x1b" not in out.stdout + out.stderr and "\x07" not in out.stdout + out.stderr
    assert "task" in run_para("status", "osc", cwd=repo).stdout


def test_old_layout_is_flagged_and_replaced_at_docker_start(
    repo: Path, para: Para, engine: DockerService
) -> None:
    """A container made before the session had a repository of its own (the host's .git
    mounted) is named in status; para docker start gives it the new layout."""
    start(para, "old")
    record = repo / ".para" / "state" / "sessions" / "old.json"
    data = json.loads(record.read_text())
    data["container"].pop("git")
    record.write_text(json.dumps(data))
    problems = para.json("status", "old", "--json")["problems"]
    assert any("older para" in p for p in problems), problems
    para("docker", "start", "old")
    assert json.loads(record.read_text())["container"]["git"] == "own"
    assert not any("older para" in p for p in para.json("status", "old", "--json")["problems"])
