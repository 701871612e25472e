"""The session channel with real containers (Docker and Podman)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from para.docker.service import DockerService
from tests.conftest import Para, git, run_para
from tests.docker.conftest import BUSYBOX, engine_cli

pytestmark = pytest.mark.engine


def boxed(para: Para, name: str) -> dict[str, object]:
    data: dict[str, object] = para.json("start", name, "--docker", "--image", BUSYBOX, "--json")
    return data


def wait_job(para: Para, name: str, job: str, state: str, timeout: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        jobs = {j["id"]: j for j in para.json("docker", "jobs", name, "--json")}
        if jobs.get(job, {}).get("state") == state:
            found: dict[str, object] = jobs[job]
            return found
        if time.monotonic() > deadline:
            container = para("docker", "status", name, ok=False).output
            logs = para("docker", "logs", name, "--tail", "20", ok=False).output
            raise AssertionError(f"job {job} never reached {state}: {jobs}\n{container}\n{logs}")
        time.sleep(0.1)


def test_para_status_inside_shows_on_the_host(
    repo: Path, para: Para, engine: DockerService
) -> None:
    boxed(para, "st")
    para(
        "docker",
        "exec",
        "st",
        "--",
        "para-status",
        "--task",
        "port the parser",
        "--phase",
        "tests",
        "--tests",
        "failed",
        "--progress",
        "4/9",
        "--message",
        "4 left",
    )
    report = para.json("status", "st", "--json")["report"]
    assert report["session"] == "st"
    assert report["task"] == "port the parser"
    assert report["tests"] == "failed"
    assert report["progress"] == {"current": 4, "total": 9, "message": "4 left"}
    para("docker", "exec", "st", "--", "para-status", "--blocked", "needs a decision")
    [listed] = para.json("list", "--json")
    assert listed["report"]["state"] == "blocked"
    assert listed["report"]["task"] == "port the parser"


def test_detached_jobs_run_in_order_with_codes_and_logs(
    repo: Path, para: Para, engine: DockerService
) -> None:
    boxed(para, "q")
    ids = [
        para(
            "docker",
            "exec",
            "q",
            "--detach",
            "--",
            "sh",
            "-c",
            f"echo job{i} >> order.txt; echo out{i}; exit {i}",
        ).stdout.strip()
        for i in range(3)
    ]
    assert all(len(i) == 12 for i in ids)
    last = run_para("docker", "jobs", "q", ids[2], "--wait", cwd=repo)
    assert last.returncode == 2
    assert last.stdout == "out2\n"
    jobs = para.json("docker", "jobs", "q", "--json")
    assert [j["id"] for j in jobs] == ids
    assert [j["exit_code"] for j in jobs] == [0, 1, 2]
    assert {j["state"] for j in jobs} == {"done"}
    assert jobs[0]["argv"][0] == "sh"
    assert Path(jobs[1]["log"]).read_text() == "out1\n"
    assert (repo / ".para" / "worktrees" / "q" / "order.txt").read_text() == "job0\njob1\njob2\n"


def test_job_outlives_the_para_that_queued_it(
    repo: Path, para: Para, engine: DockerService
) -> None:
    boxed(para, "late")
    queued = run_para(
        "docker",
        "exec",
        "late",
        "--detach",
        "--",
        "sh",
        "-c",
        "sleep 1; echo finished-later",
        cwd=repo,
    )
    assert queued.returncode == 0
    job = queued.stdout.strip()
    state = para.json("docker", "jobs", "late", job, "--json")["state"]
    assert state in ("pending", "running")  # para has exited; the job has not finished
    done = wait_job(para, "late", job, "done")
    assert done["exit_code"] == 0
    assert para("docker", "jobs", "late", job).stdout == "finished-later\n"


def test_restart_mid_job_marks_it_interrupted_and_the_queue_goes_on(
    repo: Path, para: Para, engine: DockerService, engine_name: str
) -> None:
    data = boxed(para, "rs")
    container = data["container"]
    assert isinstance(container, dict)
    long = para("docker", "exec", "rs", "-d", "--", "sleep", "60").stdout.strip()
    after = para("docker", "exec", "rs", "-d", "--", "echo", "after").stdout.strip()
    wait_job(para, "rs", long, "running")
    proc = engine_cli(engine_name, "restart", "-t", "2", str(container["id"]))
    assert proc.returncode == 0, proc.stderr
    assert wait_job(para, "rs", long, "interrupted")["exit_code"] is None
    assert wait_job(para, "rs", after, "done")["exit_code"] == 0


def test_finish_request_from_inside_is_carried_out_once(
    repo: Path, para: Para, engine: DockerService
) -> None:
    data = boxed(para, "req")
    para(
        "docker",
        "exec",
        "req",
        "--",
        "sh",
        "-c",
        "echo work > work.txt && para-finish 'finished from inside' --branch inside/req",
    )
    out = para("watch", "--once").stdout
    assert "[ok] req finish" in out
    container = data["container"]
    assert isinstance(container, dict)
    assert engine.inspect(str(container["id"])) is None
    assert git(repo, "log", "-1", "--format=%s", "inside/req") == "finished from inside"
    assert git(repo, "show", "inside/req:work.txt") == "work"
    status = para.json("status", "req", "--json")
    assert status["status"] == "review"
    assert para("watch", "--once").stdout == ""
    log = (repo / ".para" / "state" / "logs" / "requests.jsonl").read_text().splitlines()
    assert [json.loads(line)["kind"] for line in log] == ["finish"]


def test_dispatch_runs_the_agent_in_the_container(
    repo: Path, para: Para, engine: DockerService
) -> None:
    agent = 'sh -c \'echo "agent got: $1" > agent.out; para-status --task "$1"\' agent {prompt}'
    data = para.json(
        "dispatch",
        "ag",
        "refactor the CLI",
        "--docker",
        "--image",
        BUSYBOX,
        "--agent",
        agent,
        "--json",
    )
    assert data["session"]["container"]["state"] == "running"
    done = wait_job(para, "ag", data["job"], "done")
    assert done["exit_code"] == 0
    wt = Path(data["session"]["worktree"])
    assert (wt / "agent.out").read_text() == "agent got: refactor the CLI\n"
    assert para.json("status", "ag", "--json")["report"]["task"] == "refactor the CLI"


def test_detached_job_with_timeout(repo: Path, para: Para, engine: DockerService) -> None:
    boxed(para, "to")
    job = para(
        "docker", "exec", "to", "--detach", "--timeout", "0.5", "--", "sleep", "20"
    ).stdout.strip()
    done = wait_job(para, "to", job, "done")
    assert done["timed_out"] is True
    assert done["exit_code"] != 0
    bad = para.fails("docker", "exec", "to", "--timeout", "1", "--", "true", code=2)
    assert "--timeout goes with --detach" in bad.stderr
