"""The command queue: the sh runner, job states, timeouts, listing while jobs move."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from para.channel.channel import Channel
from para.channel.jobs import JobQueue
from para.channel.layout import install_helpers
from tests.conftest import Para

SHELLS = [["sh"], ["busybox", "sh"]]


def channel_of(repo: Path, name: str) -> Path:
    return repo / ".para" / "state" / "channels" / name


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
        channel.queue.enqueue(["sh", "-c", f"echo one >> {order}; echo out-one"]),
        channel.queue.enqueue(["sh", "-c", f"echo two >> {order}; echo err-two >&2; exit 3"]),
        channel.queue.enqueue(["printf", "%s|", "it's", 'a "quoted" arg', "$HOME"], env={"X": "1"}),
        channel.queue.enqueue(["sh", "-c", "pwd"], cwd=str(tmp_path)),
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
    done = channel.queue.jobs()
    assert [j.id for j in done] == [j.id for j in jobs]
    assert [j.state for j in done] == ["done"] * 4
    assert [j.exit_code for j in done] == [0, 3, 0, 0]
    assert order.read_text() == "one\ntwo\n"
    logs = [channel.queue.log_chunks(j.id)[0].decode() for j in jobs]
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
    job = channel.queue.enqueue(["true"])
    [name] = [p.name for p in (channel.path / "queue").iterdir()]
    if moves_after_listing == "running":
        (channel.path / "queue" / name).rename(channel.path / "running" / name)
    listed = JobQueue._job_files

    def runner_finishes_right_after(self: JobQueue, sub: str) -> dict[str, str]:
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

    monkeypatch.setattr(JobQueue, "_job_files", runner_finishes_right_after)
    [seen] = channel.queue.jobs()
    assert (seen.id, seen.state, seen.exit_code) == (job.id, "done", 0)
    assert channel.queue.job(job.id).state == "done"


def test_runner_writes_under_hidden_temp_names(repo: Path, tmp_path: Path) -> None:
    """The host rejects unexpected names in the channel, so a file the runner is still
    writing must have a name the host skips (a leading dot) until it is renamed."""
    channel = Channel(tmp_path / "ch", "s")
    channel.create()
    job = channel.queue.enqueue(["echo", "hi"])
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
    assert channel.queue.job(job.id).state == "done"
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
        jobs = [channel.queue.enqueue(["echo", "late"]) for channel in channels]
        for channel, job in zip(channels, jobs, strict=True):
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and channel.queue.jobs()[0].state != "done":
                time.sleep(0.1)
            [done] = channel.queue.jobs()
            assert (done.id, done.state, done.exit_code) == (job.id, "done", 0)
            assert channel.queue.log_chunks(job.id)[0] == b"late\n"
        assert all(proc.poll() is None for proc in procs)  # still serving
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


def test_runner_timeout_and_leftovers(repo: Path, tmp_path: Path) -> None:
    path = tmp_path / "ch"
    channel = Channel(path, "s")
    channel.create()
    slow = channel.queue.enqueue(["sleep", "30"], timeout=1)
    # jobs a dead runner left in running/: one had started (it has a log), one had not
    leftover = channel.queue.enqueue(["true"])
    unstarted = channel.queue.enqueue(["true"])
    for job in (leftover, unstarted):
        queued = next(p for p in (path / "queue").iterdir() if job.id in p.name)
        queued.rename(path / "running" / queued.name)
    (path / "logs" / f"{leftover.id}.log").write_text("partial output\n")
    runner = install_helpers(repo / ".para" / "state") / "para-runner"
    proc = subprocess.Popen(["sh", str(runner)], env={**os.environ, "PARA_CHANNEL": str(path)})
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = {j.id: j for j in channel.queue.jobs()}
            if all(states[j.id].state == "done" for j in (slow, unstarted)):
                break
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    states = {j.id: j for j in channel.queue.jobs()}
    assert states[leftover.id].state == "interrupted"
    assert states[unstarted.id].state == "done"  # never started: back in the queue, then run
    assert states[slow.id].state == "done"
    assert states[slow.id].exit_code is not None and states[slow.id].exit_code != 0
    result = json.loads((path / "results" / f"{slow.id}.json").read_text())
    assert result["state"] == "timeout"
    assert json.loads((path / "runner.json").read_text())["pid"] == proc.pid


def test_fractional_timeout_and_timed_out_flag(repo: Path, tmp_path: Path) -> None:
    channel = Channel(tmp_path / "ch", "s")
    channel.create()
    job = channel.queue.enqueue(["sh", "-c", "sleep 0.2; echo made-it"], timeout=1.5)
    slow = channel.queue.enqueue(["sleep", "20"], timeout=0.5)
    runner = install_helpers(repo / ".para" / "state") / "para-runner"
    subprocess.run(
        ["sh", str(runner), "--drain"],
        env={**os.environ, "PARA_CHANNEL": str(channel.path)},
        check=True,
        timeout=60,
    )
    jobs = {j.id: j for j in channel.queue.jobs()}
    assert jobs[job.id].exit_code == 0 and not jobs[job.id].timed_out
    assert jobs[slow.id].timed_out and jobs[slow.id].exit_code != 0


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


def test_jobs_id_alone_from_inside_the_session(
    repo: Path, para: Para, monkeypatch: pytest.MonkeyPatch
) -> None:
    para("start", "j")
    job = Channel(channel_of(repo, "j"), "j").queue.enqueue(["true"])
    monkeypatch.chdir(repo / ".para" / "worktrees" / "j")
    assert para.json("docker", "jobs", job.id, "--json")["id"] == job.id
