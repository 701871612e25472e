"""The session channel on the host: reports, the sh runner, requests, hostile files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from para.channel import Channel
from para.channel_dirs import install_helpers
from tests.conftest import Para, git, para_executable

SHELLS = [["sh"], ["busybox", "sh"]]


def channel_of(repo: Path, name: str) -> Path:
    return repo / ".para" / "state" / "channels" / name


def test_report_on_host_shows_in_list_and_status(repo: Path, para: Para) -> None:
    para("start", "h")
    para(
        "report",
        "h",
        "--task",
        "write parser",
        "--phase",
        "impl",
        "--progress",
        "2/5",
        "--message",
        "halfway",
    )
    para("report", "h", "--tests", "passed")
    data = para.json("status", "h", "--json")
    report = data["report"]
    assert report["task"] == "write parser"  # kept from the first report
    assert report["tests"] == "passed"
    assert report["progress"] == {"current": 2, "total": 5, "message": "halfway"}
    assert report["state"] == "working"
    para("report", "h", "--blocked", "need credentials")
    [listed] = para.json("list", "--json")
    assert listed["report"]["state"] == "blocked"
    assert listed["report"]["blocked_reason"] == "need credentials"
    assert "blocked" in para("list").stdout
    bad = para.fails("report", "h", "--progress", "x", code=2)
    assert "CUR/TOTAL" in bad.stderr


def test_report_is_kept_after_finish(repo: Path, para: Para) -> None:
    para("start", "k")
    para("report", "k", "--state", "done", "--task", "all good")
    para("finish", "done", "k")
    assert para.json("status", "k", "--json")["report"]["task"] == "all good"
    assert not channel_of(repo, "k").exists()


@pytest.mark.parametrize("shell", SHELLS, ids=["dash", "busybox"])
def test_sh_runner_runs_queue_in_order_with_codes_and_logs(
    repo: Path, tmp_path: Path, shell: list[str]
) -> None:
    if shutil.which(shell[0]) is None:
        pytest.skip(f"{shell[0]} not installed")
    path = tmp_path / "ch"
    channel = Channel(path, "s")
    channel.create()
    order = tmp_path / "order"
    jobs = [
        channel.enqueue(["sh", "-c", f"echo one >> {order}; echo out-one"]),
        channel.enqueue(["sh", "-c", f"echo two >> {order}; echo err-two >&2; exit 3"]),
        channel.enqueue(["printf", "%s|", "it's", 'a "quoted" arg', "$HOME"], env={"X": "1"}),
        channel.enqueue(["sh", "-c", "pwd"], cwd=str(tmp_path)),
    ]
    runner = install_helpers(repo / ".para" / "state") / "para-runner"
    proc = subprocess.run(
        [*shell, str(runner), "--drain"],
        env={**os.environ, "PARA_CHANNEL": str(path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    done = channel.jobs()
    assert [j.id for j in done] == [j.id for j in jobs]
    assert [j.state for j in done] == ["done"] * 4
    assert [j.exit_code for j in done] == [0, 3, 0, 0]
    assert order.read_text() == "one\ntwo\n"
    logs = [channel.log_chunks(j.id)[0].decode() for j in jobs]
    assert logs[0] == "out-one\n"
    assert logs[1] == "err-two\n"
    assert logs[2] == 'it\'s|a "quoted" arg|$HOME|'
    assert logs[3] == f"{tmp_path}\n"


@pytest.mark.parametrize("moves_after_listing", ["queue", "running"])
def test_a_job_that_moves_on_while_listed_is_neither_lost_nor_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moves_after_listing: str
) -> None:
    """The runner claims, runs and finishes a job between the host's directory listings
    and its reads: the listing still shows it, as done with its exit code."""
    channel = Channel(tmp_path / "ch", "s")
    channel.create()
    job = channel.enqueue(["true"])
    [name] = [p.name for p in (channel.path / "queue").iterdir()]
    if moves_after_listing == "running":
        (channel.path / "queue" / name).rename(channel.path / "running" / name)
    listed = Channel._job_files

    def runner_finishes_right_after(self: Channel, sub: str) -> dict[str, str]:
        out = listed(self, sub)
        if sub == moves_after_listing and job.id in out:
            result = {
                "schema_version": 1,
                "id": job.id,
                "exit_code": 0,
                "started_at": "2026-11-22T01:00:00Z",
                "finished_at": "2026-11-22T01:00:01Z",
                "state": "done",
            }
            (channel.path / "results" / f"{job.id}.json").write_text(json.dumps(result))
            (channel.path / sub / name).rename(channel.path / "done" / name)
        return out

    monkeypatch.setattr(Channel, "_job_files", runner_finishes_right_after)
    [seen] = channel.jobs()
    assert (seen.id, seen.state, seen.exit_code) == (job.id, "done", 0)
    assert channel.job(job.id).state == "done"


def test_runner_writes_under_hidden_temp_names(repo: Path, tmp_path: Path) -> None:
    """The host rejects unexpected names in the channel, so a file the runner is still
    writing must have a name the host skips (a leading dot) until it is renamed."""
    channel = Channel(tmp_path / "ch", "s")
    channel.create()
    job = channel.enqueue(["echo", "hi"])
    shim = tmp_path / "shim"
    shim.mkdir()
    calls = tmp_path / "mv-calls"
    real_mv = shutil.which("mv")
    (shim / "mv").write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexec {real_mv} "$@"\n')
    (shim / "mv").chmod(0o755)
    runner = install_helpers(repo / ".para" / "state") / "para-runner"
    env = {**os.environ, "PARA_CHANNEL": str(channel.path)}
    env["PATH"] = f"{shim}:{env['PATH']}"
    subprocess.run(["sh", str(runner), "--drain"], env=env, check=True, timeout=60)
    assert channel.job(job.id).state == "done"
    moves = [line.split()[-2:] for line in calls.read_text().splitlines()]
    into_results = [src for src, dst in moves if "/results/" in dst]
    assert into_results and all(Path(src).name.startswith(".") for src in into_results)
    assert not list((channel.path / "rejected").iterdir())


def test_idle_runner_slows_its_polling_but_still_serves(repo: Path, tmp_path: Path) -> None:
    """After 10 s without work the runner polls once a second (dash and busybox at once)."""
    runner = install_helpers(repo / ".para" / "state") / "para-runner"
    shells = [["dash"], ["busybox", "sh"]]
    channels = [Channel(tmp_path / f"ch{i}", "s") for i in range(len(shells))]
    procs = []
    for shell, channel in zip(shells, channels, strict=True):
        channel.create()
        env = {**os.environ, "PARA_CHANNEL": str(channel.path)}
        procs.append(subprocess.Popen([*shell, str(runner)], env=env))
    try:
        time.sleep(11)  # past the fast-polling window
        jobs = [channel.enqueue(["echo", "late"]) for channel in channels]
        for channel, job in zip(channels, jobs, strict=True):
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and channel.jobs()[0].state != "done":
                time.sleep(0.1)
            [done] = channel.jobs()
            assert (done.id, done.state, done.exit_code) == (job.id, "done", 0)
            assert channel.log_chunks(job.id)[0] == b"late\n"
        assert all(proc.poll() is None for proc in procs)  # still serving
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


def test_runner_timeout_and_leftovers(repo: Path, tmp_path: Path) -> None:
    path = tmp_path / "ch"
    channel = Channel(path, "s")
    channel.create()
    slow = channel.enqueue(["sleep", "30"], timeout=1)
    # jobs a dead runner left in running/: one had started (it has a log), one had not
    leftover = channel.enqueue(["true"])
    unstarted = channel.enqueue(["true"])
    for job in (leftover, unstarted):
        queued = next(p for p in (path / "queue").iterdir() if job.id in p.name)
        queued.rename(path / "running" / queued.name)
    (path / "logs" / f"{leftover.id}.log").write_text("partial output\n")
    runner = install_helpers(repo / ".para" / "state") / "para-runner"
    proc = subprocess.Popen(["sh", str(runner)], env={**os.environ, "PARA_CHANNEL": str(path)})
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = {j.id: j for j in channel.jobs()}
            if all(states[j.id].state == "done" for j in (slow, unstarted)):
                break
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    states = {j.id: j for j in channel.jobs()}
    assert states[leftover.id].state == "interrupted"
    assert states[unstarted.id].state == "done"  # never started: back in the queue, then run
    assert states[slow.id].state == "done"
    assert states[slow.id].exit_code is not None and states[slow.id].exit_code != 0
    result = json.loads((path / "results" / f"{slow.id}.json").read_text())
    assert result["state"] == "timeout"
    assert json.loads((path / "runner.json").read_text())["pid"] == proc.pid


def test_host_helpers_write_valid_requests_and_status(repo: Path, para: Para) -> None:
    para("start", "r")
    bin_dir = install_helpers(repo / ".para" / "state")
    env = {**os.environ, "PARA_CHANNEL": str(channel_of(repo, "r")), "PARA_SESSION": "r"}
    subprocess.run(
        ["sh", str(bin_dir / "para-status"), "--task", 'quote " and \\ back', "--progress", "1/2"],
        env=env,
        check=True,
    )
    assert para.json("status", "r", "--json")["report"]["task"] == 'quote " and \\ back'
    bad = subprocess.run(
        ["sh", str(bin_dir / "para-status"), "--tests", "maybe"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "usage" in bad.stderr
    subprocess.run(
        ["sh", str(bin_dir / "para-finish"), "host finish", "--branch", "done/r"],
        env=env,
        check=True,
        capture_output=True,
    )
    (repo / ".para" / "worktrees" / "r" / "f").write_text("x")
    out = para.json("watch", "--once", "--json")
    assert out["ok"] is True and out["kind"] == "finish"
    assert git(repo, "log", "-1", "--format=%s", "done/r") == "host finish"


def test_two_watchers_carry_out_a_request_once(repo: Path, para: Para) -> None:
    para("start", "w")
    bin_dir = install_helpers(repo / ".para" / "state")
    env = {**os.environ, "PARA_CHANNEL": str(channel_of(repo, "w"))}
    subprocess.run(
        ["sh", str(bin_dir / "para-cancel"), "--force"], env=env, check=True, capture_output=True
    )
    procs = [
        subprocess.Popen(
            [para_executable(), "watch", "--once", "--json"],
            cwd=repo,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    carried = [json.loads(o) for o in outs if o.strip()]
    assert len(carried) == 1
    assert carried[0]["kind"] == "cancel" and carried[0]["ok"]
    assert para("watch", "--once").stdout == ""
    log = (repo / ".para" / "state" / "logs" / "requests.jsonl").read_text().splitlines()
    assert len(log) == 1
    record = json.loads((repo / ".para" / "state" / "sessions" / "w.json").read_text())
    assert record["last_request"]["kind"] == "cancel"


def test_failed_request_is_recorded(repo: Path, para: Para) -> None:
    para("start", "f")
    git(repo, "branch", "taken")
    ch = channel_of(repo, "f") / "requests"
    (ch / "finish-abc.json").write_text(
        json.dumps({"schema_version": 1, "id": "abc", "message": "m", "branch": "taken"})
    )
    out = para.json("watch", "--once", "--json")
    assert out["ok"] is False and "already exists" in out["message"]
    assert para.json("status", "f", "--json")["status"] == "active"
    assert not (ch / "finish-abc.json").exists()


def test_dispatch_runs_agent_with_prompt_on_host(repo: Path, para: Para, tmp_path: Path) -> None:
    agent = tmp_path / "agent.sh"
    agent.write_text(
        '#!/bin/sh\necho "prompt: $1"\necho "session: $PARA_SESSION"\n'
        'para-status --task "$1" --progress 1/3\n'
        'echo done > "$PARA_WORKTREE/agent-was-here"\n'
    )
    agent.chmod(0o755)
    data = para.json(
        "dispatch", "agented", "fix the bug", "--agent", f"{agent} {{prompt}}", "--json"
    )
    job = data["job"]
    wt = Path(data["session"]["worktree"])
    deadline = time.monotonic() + 30
    while not (wt / "agent-was-here").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    waited = para("docker", "jobs", "agented", job, "--wait")
    assert "prompt: fix the bug" in waited.stdout
    assert "session: agented" in waited.stdout
    jobs = para.json("docker", "jobs", "agented", "--json")
    assert jobs[0]["state"] == "done" and jobs[0]["exit_code"] == 0
    assert jobs[0]["argv"] == [str(agent), "fix the bug"]
    report = para.json("status", "agented", "--json")["report"]  # para-status was on PATH
    assert report["task"] == "fix the bug" and report["progress"]["current"] == 1


def test_dispatch_without_agent_is_a_clear_error(repo: Path, para: Para) -> None:
    result = para.fails("dispatch", "x", "prompt")
    assert "no agent command" in result.stderr and "agent.command" in result.stderr


# -- hostile channel contents -------------------------------------------------------------


def test_status_symlink_to_host_file_is_rejected_unread(
    repo: Path, para: Para, tmp_path: Path
) -> None:
    para("start", "h")
    secret = tmp_path / "host-secret.json"
    secret.write_text(
        json.dumps(
            {"schema_version": 1, "timestamp": "2026-01-01T00:00:00Z", "task": "leaked-from-host"}
        )
    )
    (channel_of(repo, "h") / "status.json").symlink_to(secret)
    data = para.json("status", "h", "--json")
    assert data["report"] is None
    rejected = list((channel_of(repo, "h") / "rejected").iterdir())
    assert any(p.name.endswith(".reason") and "symlink" in p.read_text() for p in rejected)
    assert secret.read_text().count("leaked-from-host") == 1  # untouched


def test_symlinked_channel_subdir_is_not_followed(repo: Path, para: Para, tmp_path: Path) -> None:
    para("start", "h")
    outside = tmp_path / "outside"
    outside.mkdir()
    requests = channel_of(repo, "h") / "requests"
    shutil.rmtree(requests)
    requests.symlink_to(outside)
    (outside / "cancel-x.json").write_text(
        json.dumps({"schema_version": 1, "id": "x", "force": True})
    )
    para("watch", "--once")
    assert para.json("status", "h", "--json")["status"] == "active"
    assert (outside / "cancel-x.json").exists()
    assert list(outside.iterdir()) == [outside / "cancel-x.json"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"x" * (10 * 1024 * 1024), "more than 65536"),
        (b"{not json", "not valid JSON"),
        (
            json.dumps(
                {"schema_version": 1, "timestamp": "2026-01-01T00:00:00Z", "state": "sleeping"}
            ).encode(),
            "does not match the schema",
        ),
        (
            json.dumps({"schema_version": 7, "timestamp": "2026-01-01T00:00:00Z"}).encode(),
            "does not match the schema",
        ),
    ],
    ids=["10MB", "invalid-json", "wrong-state", "wrong-version"],
)
def test_bad_status_files_are_rejected(repo: Path, para: Para, content: bytes, reason: str) -> None:
    para("start", "h")
    (channel_of(repo, "h") / "status.json").write_bytes(content)
    data = para.json("status", "h", "--json")
    assert data["report"] is None
    reasons = [p.read_text() for p in (channel_of(repo, "h") / "rejected").glob("*.reason")]
    assert any(reason in r for r in reasons), reasons
    assert not (channel_of(repo, "h") / "status.json").exists()


def test_job_ids_with_path_parts_are_rejected(repo: Path, para: Para, tmp_path: Path) -> None:
    para("start", "h")
    ch = channel_of(repo, "h")
    victim = tmp_path / "victim.json"
    victim.write_text("{}")
    (ch / "queue" / "0001-..%2f..%2fx.json").write_text("{}")
    (ch / "results" / "..json").write_text("{}")
    (ch / "results" / "abc.json").write_text(
        json.dumps({"schema_version": 1, "id": "../../victim", "exit_code": 0})
    )
    jobs = para.json("docker", "jobs", "h", "--json")
    assert jobs == []
    bad = para.fails("docker", "jobs", "h", "../../etc/passwd")
    assert "invalid job id" in bad.stderr
    assert victim.read_text() == "{}"
    reasons = " ".join(p.read_text() for p in (ch / "rejected").glob("*.reason"))
    assert "job file" in reasons and "does not match the schema" in reasons


def test_helpers_refuse_malformed_progress(repo: Path, para: Para) -> None:
    para("start", "p")
    bin_dir = install_helpers(repo / ".para" / "state")
    env = {**os.environ, "PARA_CHANNEL": str(channel_of(repo, "p")), "PARA_SESSION": "p"}
    for bad in ("/5", "3/", "x/5", "3-5"):
        proc = subprocess.run(
            ["sh", str(bin_dir / "para-status"), "--progress", bad],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 2, bad
    subprocess.run(
        ["sh", str(bin_dir / "para-status"), "--message", "thinking"], env=env, check=True
    )
    report = para.json("status", "p", "--json")["report"]
    assert report["progress"] == {"current": None, "total": None, "message": "thinking"}


@pytest.mark.parametrize("shell", ["dash", "busybox"])
def test_para_status_keeps_what_para_report_set(repo: Path, para: Para, shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    para("start", "mix")
    task = 'it\'s $(touch pwned) `x` "q"\nline two'
    para("report", "mix", "--task", task, "--phase", "build", "--progress", "2/5")
    bin_dir = install_helpers(repo / ".para" / "state")
    channel = channel_of(repo, "mix")
    env = {**os.environ, "PARA_CHANNEL": str(channel), "PARA_SESSION": "mix"}
    argv = [*([shell, "sh"] if shell == "busybox" else [shell]), str(bin_dir / "para-status")]
    subprocess.run([*argv, "--tests", "passed"], env=env, check=True, cwd=repo)
    report = para.json("status", "mix", "--json")["report"]
    assert (report["task"], report["phase"], report["tests"]) == (task, "build", "passed")
    assert report["progress"] == {"current": 2, "total": 5, "message": None}
    assert not (repo / "pwned").exists()
    para("report", "mix", "--blocked", "needs a key")
    subprocess.run([*argv, "--state", "working"], env=env, check=True)
    report = para.json("status", "mix", "--json")["report"]
    assert (report["state"], report["blocked_reason"], report["task"]) == ("working", None, task)


def test_report_too_long_is_a_clear_error(repo: Path, para: Para) -> None:
    para("start", "r")
    result = para.fails("report", "r", "--task", "x" * 3000)
    assert "invalid report" in result.stderr and "task" in result.stderr


def test_fractional_timeout_and_timed_out_flag(repo: Path, tmp_path: Path) -> None:
    channel = Channel(tmp_path / "ch", "s")
    channel.create()
    job = channel.enqueue(["sh", "-c", "sleep 0.2; echo made-it"], timeout=1.5)
    slow = channel.enqueue(["sleep", "20"], timeout=0.5)
    runner = install_helpers(repo / ".para" / "state") / "para-runner"
    subprocess.run(
        ["sh", str(runner), "--drain"],
        env={**os.environ, "PARA_CHANNEL": str(channel.path)},
        check=True,
        timeout=60,
    )
    jobs = {j.id: j for j in channel.jobs()}
    assert jobs[job.id].exit_code == 0 and not jobs[job.id].timed_out
    assert jobs[slow.id].timed_out and jobs[slow.id].exit_code != 0


def test_failed_request_outcome_is_visible_to_the_session(repo: Path, para: Para) -> None:
    para("start", "o")
    git(repo, "branch", "taken")
    ch = channel_of(repo, "o") / "requests"
    (ch / "finish-abc.json").write_text(
        json.dumps({"schema_version": 1, "id": "abc", "message": "m", "branch": "taken"})
    )
    line = para("watch", "--once", "--json").stdout
    assert line.count("\n") == 1  # one JSON line per outcome
    outcome = json.loads((ch / "outcome-abc.json").read_text())
    assert outcome["ok"] is False and "already exists" in outcome["message"]
    assert para.json("status", "o", "--json")["last_request"]["id"] == "abc"


def test_stale_claim_is_retried(repo: Path, para: Para) -> None:
    para("start", "st")
    (repo / ".para" / "worktrees" / "st" / "f").write_text("x")
    claimed = channel_of(repo, "st") / "requests" / "claimed"
    (claimed / "999999999-finish-zzz.json").write_text(
        json.dumps({"schema_version": 1, "id": "zzz", "message": "retried"})
    )
    out = para.json("watch", "--once", "--json")
    assert out["ok"] is True
    assert git(repo, "log", "-1", "--format=%s", "para/st") == "retried"


def test_requests_need_valid_ids_and_names(repo: Path, para: Para) -> None:
    para("start", "v")
    ch = channel_of(repo, "v") / "requests"
    (ch / "cancel-x").write_text(json.dumps({"schema_version": 1, "id": "x", "force": True}))
    (ch / "cancel-y.json").write_text(
        json.dumps({"schema_version": 1, "id": "../y", "force": True})
    )
    assert para("watch", "--once").stdout == ""
    assert para.json("status", "v", "--json")["status"] == "active"


def test_jobs_id_alone_from_inside_the_session(
    repo: Path, para: Para, monkeypatch: pytest.MonkeyPatch
) -> None:
    para("start", "j")
    job = Channel(channel_of(repo, "j"), "j").enqueue(["true"])
    monkeypatch.chdir(repo / ".para" / "worktrees" / "j")
    assert para.json("docker", "jobs", job.id, "--json")["id"] == job.id


def test_channel_is_private_to_the_user(repo: Path, para: Para) -> None:
    para("start", "priv")
    for path in [channel_of(repo, "priv"), *channel_of(repo, "priv").rglob("*")]:
        if path.is_dir():
            assert path.stat().st_mode & 0o077 == 0, path


def test_dispatch_from_a_base(repo: Path, para: Para, tmp_path: Path) -> None:
    git(repo, "checkout", "-q", "-b", "dev")
    (repo / "dev.txt").write_text("dev\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "dev")
    git(repo, "checkout", "-q", "main")
    data = para.json("dispatch", "based", "look", "--base", "dev", "--agent", "true", "--json")
    assert data["session"]["base"] == "dev"
    assert (Path(data["session"]["worktree"]) / "dev.txt").exists()
