"""Session containers on real engines; each test runs on Docker and on Podman."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from para.docker import labels as L
from para.docker.service import DockerService
from para.poll import wait_for
from para.repo import discover
from tests.conftest import Para, git, make_repo, para_executable, run_para
from tests.docker.conftest import BUSYBOX, DEBIAN, engine_cli
from tests.test_imports import modules_after

pytestmark = pytest.mark.engine


def start(para: Para, name: str, *extra: str, image: str = BUSYBOX) -> dict[str, object]:
    data: dict[str, object] = para.json(
        "start", name, "--docker", "--image", image, *extra, "--json"
    )
    return data


def containers_of(engine: DockerService, repo: Path) -> list[str]:
    return [c.name for c in engine.list_containers(L.repo_filter(discover(repo).repo_id))]


def nothing_left(repo: Path, engine: DockerService) -> None:
    branches = git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads")
    assert branches.splitlines() == ["main"]
    assert not any((repo / ".para" / "worktrees").glob("*"))
    assert not any((repo / ".para" / "state" / "sessions").glob("*"))
    assert containers_of(engine, repo) == []


def test_limits_labels_and_mounts_visible_in_inspect(
    repo: Path, para: Para, engine: DockerService
) -> None:
    data = start(para, "lim", "--cpus", "1.5", "--memory", "96m", "--pids", "77")
    container = data["container"]
    assert isinstance(container, dict)
    assert container["backend"] == engine.info.backend
    assert container["state"] == "running"
    info = engine.inspect(str(container["id"]))
    assert info is not None
    assert info.nano_cpus == 1_500_000_000
    assert info.memory == 96 * 2**20
    assert info.pids_limit == 77
    repo_id = discover(repo).repo_id
    assert info.name == f"para-{repo_id}-lim"
    assert info.labels[L.MANAGED] == "true"
    assert info.labels[L.REPO_ID] == repo_id
    assert info.labels[L.REPO] == str(repo)
    assert info.labels[L.SESSION] == "lim"
    assert len(info.labels[L.CONFIG_HASH]) == 16
    status = para.json("docker", "status", "lim", "--json")
    assert status["limits"] == {"cpus": 1.5, "memory": 96 * 2**20, "pids": 77}
    out = para(
        "docker", "exec", "lim", "--", "sh", "-c", "pwd; ls /para/bin; echo $HOME; cat /etc/hosts"
    ).stdout
    assert out.startswith("/workspace\n")
    assert "para-runner" in out and "/para/home" in out
    assert "host.docker.internal" in out


def test_file_written_inside_belongs_to_invoking_user(
    repo: Path, para: Para, engine: DockerService
) -> None:
    start(para, "own")
    para("docker", "exec", "own", "--", "sh", "-c", "echo made-inside > inside.txt; id -u")
    made = repo / ".para" / "worktrees" / "own" / "inside.txt"
    assert made.read_text() == "made-inside\n"
    assert made.stat().st_uid == os.getuid()
    assert made.stat().st_gid == os.getgid()


def test_configured_user_owns_files(repo: Path, para: Para, engine: DockerService) -> None:
    (repo / ".para").mkdir()
    (repo / ".para" / "docker.json").write_text(json.dumps({"user": "4321:4321"}))
    start(para, "uid")
    out = para("docker", "exec", "uid", "--", "sh", "-c", "id -u; touch $HOME/made; echo $HOME")
    assert out.stdout.split() == ["4321", "/para/home"]
    assert (repo / ".para" / "state" / "homes" / "uid" / "made").stat().st_uid == 4321


def test_exit_codes_and_stdin_pass_through(repo: Path, para: Para, engine: DockerService) -> None:
    start(para, "io")
    env = dict(os.environ)
    proc = subprocess.run(
        [
            _para(),
            "docker",
            "exec",
            "io",
            "--",
            "sh",
            "-c",
            "tr a-z A-Z; echo to-stderr >&2; exit 42",
        ],
        cwd=repo,
        input="piped stdin\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 42
    assert proc.stdout == "PIPED STDIN\n"
    assert "to-stderr" in proc.stderr
    missing = run_para("docker", "exec", "io", "--", "no-such-command", cwd=repo)
    assert missing.returncode in (126, 127)
    wt = repo / ".para" / "worktrees" / "io"
    inside = run_para(
        "docker", "exec", "-e", "A=b", "-w", "/tmp", "--", "sh", "-c", 'echo "$A $(pwd)"', cwd=wt
    )
    assert inside.stdout == "b /tmp\n", inside.stderr


def _para() -> str:
    from tests.conftest import para_executable

    return para_executable()


def test_exec_all_runs_in_parallel(
    repo: Path, para: Para, engine: DockerService, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    names = ["p1", "p2", "p3"]
    for name in names:
        start(para, name, "--volume", f"{shared}:/shared")
    # Each command waits until all three have started: run one after another, the first
    # would give up (exit 9); run in parallel, all finish.
    script = (
        "touch /shared/$PARA_SESSION; i=0; "
        'while [ "$(ls /shared | wc -l)" -lt 3 ]; do sleep 0.1; i=$((i+1)); '
        "[ $i -gt 150 ] && exit 9; done; echo done-$PARA_SESSION"
    )
    proc = run_para("docker", "exec", "--all", "--", "sh", "-c", script, cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in names:
        assert f"[{name}] done-{name}" in proc.stdout
    worst = run_para(
        "docker",
        "exec",
        "--all",
        "--",
        "sh",
        "-c",
        "case $PARA_SESSION in p2) exit 5;; *) exit 0;; esac",
        cwd=repo,
    )
    assert worst.returncode == 5


def test_git_works_inside_and_host_code_is_read_only(
    repo: Path, para: Para, engine: DockerService
) -> None:
    start(para, "g", image=DEBIAN)
    script = (
        "set -e; git status --short; echo inner > inner.txt; git add inner.txt; "
        "git commit -q -m 'commit from the container'; git log -1 --format=%s; "
        "if echo evil > $GIT_COMMON/hooks/post-checkout; then echo HOOK-WRITTEN; fi; "
        "if echo '[core] fsmonitor = evil' >> $GIT_COMMON/config; then echo CONFIG-WRITTEN; fi; "
        "if git config core.hooksPath /tmp; then echo GIT-CONFIG-WRITTEN; fi; true"
    )
    proc = run_para(
        "docker",
        "exec",
        "g",
        "-e",
        f"GIT_COMMON={repo / '.git'}",
        "--",
        "sh",
        "-c",
        script,
        cwd=repo,
    )
    assert proc.returncode == 0, proc.stderr
    assert "commit from the container" in proc.stdout
    assert "WRITTEN" not in proc.stdout
    assert "Read-only file system" in proc.stderr
    assert not (repo / ".git" / "hooks" / "post-checkout").exists()
    assert "fsmonitor" not in (repo / ".git" / "config").read_text()
    assert git(repo, "log", "-1", "--format=%s", "para/g") == "commit from the container"


def test_finish_removes_container_and_commits_its_file(
    repo: Path, para: Para, engine: DockerService
) -> None:
    data = start(para, "fin")
    para("docker", "exec", "fin", "--", "sh", "-c", "echo from-container > result.txt")
    finished = para.json("finish", "container work", "fin", "--json")
    assert finished["status"] == "review"
    assert finished["container"] is None
    container = data["container"]
    assert isinstance(container, dict)
    assert engine.inspect(str(container["id"])) is None
    assert git(repo, "show", "para/fin:result.txt") == "from-container"


def test_cancel_and_recover_recreate_the_container(
    repo: Path, para: Para, engine: DockerService
) -> None:
    data = start(para, "cr", "--memory", "80m")
    para("docker", "exec", "cr", "--", "sh", "-c", "echo wip > wip.txt")
    para("cancel", "cr", "--force")
    container = data["container"]
    assert isinstance(container, dict)
    assert engine.inspect(str(container["id"])) is None
    assert containers_of(engine, repo) == []
    recovered = para.json("recover", "cr", "--json")
    new = recovered["container"]
    assert new is not None and new["id"] != container["id"]
    assert new["state"] == "running"
    assert new["image"] == BUSYBOX
    out = para("docker", "exec", "cr", "--", "cat", "wip.txt").stdout
    assert out == "wip\n"


def test_docker_stop_start_and_exec_on_stopped(
    repo: Path, para: Para, engine: DockerService
) -> None:
    start(para, "ss")
    para("docker", "stop", "ss")
    assert para.json("status", "ss", "--json")["container"]["state"] == "exited"
    stopped = para.fails("docker", "exec", "ss", "--", "true")
    assert "session 'ss' is not running" in stopped.stderr
    assert "start it with: para docker start ss" in stopped.stderr
    para("docker", "start", "ss")
    assert para("docker", "exec", "ss", "--", "echo", "back").stdout == "back\n"
    again = para.fails("docker", "start", "ss")
    assert "already running" in again.stderr


def test_host_session_gets_a_container_later(repo: Path, para: Para, engine: DockerService) -> None:
    para("start", "later")
    para("docker", "start", "later", "--image", BUSYBOX)
    data = para.json("status", "later", "--json")
    assert data["container"]["state"] == "running"
    assert para("docker", "logs", "later").exit_code == 0


def test_cleanup_removes_only_orphans(
    repo: Path, para: Para, engine: DockerService, engine_name: str, tmp_path: Path
) -> None:
    live = start(para, "live")
    orphan = start(para, "orphan")
    (repo / ".para" / "state" / "sessions" / "orphan.json").unlink()
    repo_id = discover(repo).repo_id
    unlabelled = f"para-test-unlabelled-{repo_id}"
    foreign = f"para-test-foreign-{repo_id}"
    other_repo = make_repo(tmp_path / "other")
    other_id = discover(other_repo).repo_id
    try:
        for args in (
            ["--name", unlabelled],
            [
                "--name",
                foreign,
                "--label",
                f"{L.MANAGED}=true",
                "--label",
                f"{L.REPO_ID}={other_id}",
                "--label",
                f"{L.REPO}={other_repo}",
                "--label",
                f"{L.SESSION}=x",
            ],
        ):
            proc = engine_cli(engine_name, "run", "-d", *args, BUSYBOX, "sleep", "300")
            assert proc.returncode == 0, proc.stderr
        dry = para.json("docker", "cleanup", "--dry-run", "--json")
        assert [a["session"] for a in dry if a["kind"] == "container"] == ["orphan"]
        assert not any(a["done"] for a in dry)
        assert sorted(containers_of(engine, repo)) == sorted(
            [f"para-{repo_id}-live", f"para-{repo_id}-orphan"]
        )
        done = para.json("docker", "cleanup", "--json")
        assert [(a["session"], a["done"]) for a in done] == [("orphan", True)]
        assert containers_of(engine, repo) == [f"para-{repo_id}-live"]
        assert engine.inspect(unlabelled) is not None
        assert engine.inspect(foreign) is not None
        # --all-repos: the other repository still exists, so its container stays
        para("docker", "cleanup", "--all-repos")
        assert engine.inspect(foreign) is not None
        import shutil

        shutil.rmtree(other_repo)
        gone = para.json("docker", "cleanup", "--all-repos", "--json")
        assert [a["name"] for a in gone] == [foreign]
        assert engine.inspect(foreign) is None
        assert engine.inspect(unlabelled) is not None
    finally:
        for name in (unlabelled, foreign):  # one at a time: podman stops at a missing one
            engine_cli(engine_name, "rm", "-f", name)
    assert isinstance(live["container"], dict) and isinstance(orphan["container"], dict)
    assert engine.inspect(str(live["container"]["id"])) is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--image", "localhost/para-test/no-such-image:1"], "not found"),
        (["--image", BUSYBOX, "--volume", "/no/such/dir:/x"], "does not exist"),
        (["--image", BUSYBOX, "--volume", "/tmp:/"], "replace the container's whole"),
        (["--image", BUSYBOX, "--volume", "/tmp:/para/channel"], "session channel"),
    ],
    ids=["unknown-image", "missing-volume-source", "mount-over-root", "mount-over-channel"],
)
def test_failed_start_rolls_back(
    repo: Path, para: Para, engine: DockerService, args: list[str], message: str
) -> None:
    result = para.fails("start", "bad", "--docker", *args)
    assert message in result.stderr
    assert "hint:" in result.stderr
    nothing_left(repo, engine)


def test_mount_over_git_dir_refused(repo: Path, para: Para, engine: DockerService) -> None:
    result = para.fails(
        "start", "bad", "--docker", "--image", BUSYBOX, "--volume", f"/tmp:{repo / '.git'}"
    )
    assert "git directory" in result.stderr
    nothing_left(repo, engine)


def test_port_in_use_rolls_back(repo: Path, para: Para, engine: DockerService) -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = para.fails("start", "bad", "--docker", "--image", BUSYBOX, "--port", f"{port}:80")
    assert f"host port {port} is already in use" in result.stderr
    nothing_left(repo, engine)


def test_ports_get_free_host_ports_and_env(repo: Path, para: Para, engine: DockerService) -> None:
    data = start(para, "web", "--port", "8080")
    container = data["container"]
    assert isinstance(container, dict)
    host_port = container["ports"]["8080"]
    assert isinstance(host_port, int) and host_port > 0
    out = para("docker", "exec", "web", "--", "sh", "-c", "echo $PARA_PORT_8080").stdout
    assert out.strip() == str(host_port)
    assert f"8080 -> localhost:{host_port}" in para("docker", "status", "web").stdout


def test_image_without_shell_is_a_clear_error(
    repo: Path, para: Para, engine: DockerService, engine_name: str, tmp_path: Path
) -> None:
    tag = "localhost/para-test/noshell:1"
    if engine.image(tag) is None:
        payload = tmp_path / "payload"
        payload.mkdir()
        (payload / "hello").write_text("no shell here\n")
        tarball = tmp_path / "noshell.tar"
        subprocess.run(["tar", "-C", str(payload), "-cf", str(tarball), "."], check=True)
        proc = engine_cli(engine_name, "import", str(tarball), tag)
        assert proc.returncode == 0, proc.stderr
    result = para.fails("start", "ns", "--docker", "--image", tag)
    assert "/bin/sh" in result.stderr
    nothing_left(repo, engine)


def test_oom_kill_is_reported(repo: Path, para: Para, engine: DockerService) -> None:
    start(para, "oom", "--memory", "24m")
    hog = "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived"
    result = para.fails("docker", "exec", "oom", "--", "sh", "-c", hog, code=137)
    assert "survived" not in result.stdout
    status = para.json("docker", "status", "oom", "--json")
    seen = {k: status.get(k) for k in ("state", "oom_killed", "exit_code", "error")}
    assert "killed: out of memory (limit 24m)" in result.stderr, seen
    assert status["oom_killed"] is True
    assert "out of memory" in para("docker", "status", "oom").stdout


def test_container_killed_through_the_engine_is_not_called_oom(
    repo: Path, para: Para, engine: DockerService, engine_name: str
) -> None:
    container = start(para, "killed", "--memory", "24m")["container"]
    assert isinstance(container, dict)
    cid = str(container["id"])
    running = subprocess.Popen(
        [para_executable(), "docker", "exec", "killed", "--", "sleep", "60"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: "sleep 60" in engine_cli(engine_name, "exec", cid, "ps").stdout, timeout=30)
    proc = engine_cli(engine_name, "kill", cid)
    assert proc.returncode == 0, proc.stderr
    _out, err = running.communicate(timeout=60)
    assert "out of memory" not in err
    status = para.json("docker", "status", "killed", "--json")
    assert (status["state"], status["exit_code"], status["oom_killed"]) == ("exited", 137, False)
    assert "out of memory" not in para("docker", "status", "killed").stdout


def test_forwarded_secret_is_inside_but_never_stored_or_printed(
    repo: Path, para: Para, engine: DockerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s3cr3t-value-9f8e7d"
    monkeypatch.setenv("PARA_TEST_TOKEN", secret)
    (repo / ".para").mkdir()
    (repo / ".para" / "config.json").write_text(
        json.dumps({"docker": {"forward_env": ["PARA_TEST_TOKEN"]}})
    )
    outputs = [para("start", "sec", "--docker", "--image", BUSYBOX).output]
    inside = para("docker", "exec", "sec", "--", "sh", "-c", "echo $PARA_TEST_TOKEN").stdout
    assert inside.strip() == secret
    for args in (
        ["list"],
        ["list", "--json"],
        ["status", "sec"],
        ["status", "sec", "--json"],
        ["docker", "status", "sec", "--json"],
        ["docker", "list", "--json"],
        ["config", "show"],
        ["config", "show", "--json"],
    ):
        outputs.append(para(*args).output)
    assert all(secret not in out for out in outputs)
    for path in (repo / ".para").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_network_none_has_no_network(repo: Path, para: Para, engine: DockerService) -> None:
    start(para, "offline", "--network", "none")
    out = para("docker", "exec", "offline", "--", "ls", "/sys/class/net").stdout
    assert out.split() == ["lo"]


def test_session_network_created_and_removed_with_last_container(
    repo: Path, para: Para, engine: DockerService
) -> None:
    repo_id = discover(repo).repo_id
    network = f"para-{repo_id}"
    start(para, "n1", "--network", "session")
    start(para, "n2", "--network", "session")
    nets = {n.name: n for n in engine.networks(L.repo_filter(repo_id))}
    assert nets[network].containers == 2
    out = para("docker", "exec", "n1", "--", "ls", "/sys/class/net").stdout
    assert len(out.split()) == 2  # lo and the session network's interface
    para("finish", "one", "n1")
    assert network in {n.name for n in engine.networks(L.repo_filter(repo_id))}
    para("cancel", "n2")
    assert engine.networks(L.repo_filter(repo_id)) == []


def test_list_uses_one_engine_call_and_shows_state(
    repo: Path, para: Para, engine: DockerService
) -> None:
    start(para, "l1")
    para("start", "host-only")
    listed = {s["name"]: s for s in para.json("list", "--json")}
    assert listed["host-only"]["container"] is None
    container = listed["l1"]["container"]
    for key in ("id", "name", "image", "backend", "state", "health", "ports"):
        assert key in container
    assert container["state"] == "running"
    rows = para.json("docker", "list", "--json")
    assert [(r["session"], r["orphan"]) for r in rows] == [("l1", False)]


def test_exec_takes_the_fast_path(
    repo: Path, para: Para, engine: DockerService, tmp_path: Path
) -> None:
    from tests.test_imports import HEAVY, modules_after

    start(para, "fast")
    code, loaded = modules_after(["docker", "exec", "fast", "--", "true"], repo, tmp_path)
    assert code == 0
    assert not loaded & {"click", *HEAVY}, sorted(loaded & {"click", *HEAVY})
    code, _ = modules_after(["docker", "exec", "fast", "--", "sh", "-c", "exit 9"], repo, tmp_path)
    assert code == 9


def test_container_cannot_redirect_host_git(
    repo: Path, para: Para, engine: DockerService, engine_name: str
) -> None:
    """What the host's git reads to decide which config and hooks apply is read-only
    inside: the admin entries of every worktree, submodule git dirs; and the host's git
    does not follow the worktree's .git file."""
    (repo / ".git" / "modules" / "sub").mkdir(parents=True)
    (repo / ".git" / "modules" / "sub" / "config").write_text("[core]\n")
    para("start", "other")
    data = start(para, "box", image=DEBIAN)
    common = repo / ".git"
    admin = Path(para.json("status", "box", "--json")["worktree"]).name
    script = (
        f"for f in {common}/worktrees/box/commondir {common}/worktrees/box/gitdir "
        f"{common}/worktrees/other/commondir {common}/modules/sub/config; do "
        'if echo x >> "$f"; then echo "WROTE $f"; fi; done; '
        f"mkdir {common}/worktrees/new 2>/dev/null && echo WROTE-NEW; "
        # its own admin dir stays writable: git needs its index and HEAD there
        "git status --short >/dev/null && echo x > y && git add y && git commit -qm in && "
        "echo COMMITTED; "
        # and it may rewrite its .git file; the host must not follow it
        "mkdir -p /workspace/evil && git init -q /workspace/evil && "
        "git -C /workspace/evil config core.fsmonitor 'touch /workspace/PWNED; false' && "
        "echo 'gitdir: /workspace/evil/.git' > /workspace/.git"
    )
    proc = run_para("docker", "exec", "box", "--", "sh", "-c", script, cwd=repo)
    assert "WROTE" not in proc.stdout, proc.stdout
    assert "COMMITTED" in proc.stdout, proc.stderr
    assert admin == "box"
    para("list")
    para("status", "box")
    wt = repo / ".para" / "worktrees" / "box"
    assert not (wt / "PWNED").exists()
    assert isinstance(data["container"], dict)
    sec = engine_cli(
        engine_name,
        "inspect",
        "-f",
        "{{json .HostConfig.SecurityOpt}}",
        str(data["container"]["id"]),
    )
    assert "no-new-privileges" in sec.stdout


def test_ports_are_published_on_loopback(
    repo: Path, para: Para, engine: DockerService, engine_name: str
) -> None:
    data = start(para, "lo", "--port", "8000")
    container = data["container"]
    assert isinstance(container, dict)
    out = engine_cli(engine_name, "port", str(container["id"]), "8000")
    assert out.stdout.strip().startswith("127.0.0.1:"), out.stdout


def test_recreate_keeps_earlier_choices(repo: Path, para: Para, engine: DockerService) -> None:
    start(para, "re", "--memory", "72m", "--pids", "60")
    para("docker", "exec", "re", "--", "sh", "-c", "echo kept > $HOME/note")
    assert para.json("docker", "status", "re", "--json")["config_changed"] is False
    (repo / ".para").mkdir(exist_ok=True)
    (repo / ".para" / "config.json").write_text('{"docker": {"environment": {"MODE": "b"}}}')
    assert para.json("status", "re", "--json")["container"]["config_changed"] is True
    para("docker", "start", "re", "--recreate")
    status = para.json("docker", "status", "re", "--json")
    assert status["config_changed"] is False
    assert para("docker", "exec", "re", "--", "sh", "-c", "echo $MODE").stdout == "b\n"
    assert status["image"] == BUSYBOX
    assert status["limits"]["memory"] == 72 * 2**20
    assert status["limits"]["pids"] == 60
    out = para("docker", "exec", "re", "--", "cat", "/para/home/note").stdout
    assert out == "kept\n"  # HOME survives a recreate
    bad = para.fails(
        "docker", "start", "re", "--recreate", "--image", "localhost/para-test/no-such-image:1"
    )
    assert "not found" in bad.stderr
    # the failed recreate left the running container alone
    assert para.json("docker", "status", "re", "--json")["state"] == "running"


def test_start_with_a_container_loads_no_channel_models(
    repo: Path, engine: DockerService, tmp_path: Path
) -> None:
    """A container start writes the helpers and the channel's directories; the channel's
    pydantic models (~12 ms to build) are for the commands that read the channel."""
    args = ["start", "light", "--docker", "--image", BUSYBOX]
    code, loaded = modules_after(args, repo, tmp_path, full=True)
    assert code == 0
    assert "para.docker.manager" in loaded  # it did start a container
    assert "para.channel.models" not in loaded


def test_failed_start_leaves_no_home(repo: Path, para: Para, engine: DockerService) -> None:
    para.fails("start", "nohome", "--docker", "--image", "localhost/para-test/no-such:1")
    assert not (repo / ".para" / "state" / "homes" / "nohome").exists()


def test_attach_and_logs(repo: Path, para: Para, engine: DockerService) -> None:
    start(para, "att")
    proc = subprocess.run(
        [_para(), "docker", "attach", "att"],
        cwd=repo,
        input="echo inside-$PARA_SESSION; exit 3\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 3, proc.stderr
    assert "inside-att" in proc.stdout
    # the container's own output is its init's: write there, read it back through logs
    para("docker", "exec", "att", "--", "sh", "-c", "echo to-the-log > /proc/1/fd/1")
    assert "to-the-log" in para("docker", "logs", "att", "--tail", "5").stdout


def test_oom_warning_on_the_fast_path(repo: Path, para: Para, engine: DockerService) -> None:
    start(para, "oomfast", "--memory", "24m")
    hog = "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived"
    proc = run_para("docker", "exec", "oomfast", "--", "sh", "-c", hog, cwd=repo)
    assert proc.returncode == 137
    assert "killed: out of memory (limit 24m)" in proc.stderr, proc.stderr
