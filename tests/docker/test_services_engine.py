"""A session's services on real engines: a web server and a worker per session on ports of
its own, depends_on conditions, what a bad compose file or a failing service does, and
the lifecycle (stop, start, a service removed by hand, finish, cancel, recover, cleanup)."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from para.docker import labels as L
from para.docker.service import DockerService
from para.repo import discover
from tests.conftest import Para, git, para_executable
from tests.docker.conftest import BUSYBOX
from tests.docker.engine_helpers import nothing_left

pytestmark = pytest.mark.engine

WEB = f"""
  web:
    image: {BUSYBOX}
    command: ["httpd", "-f", "-p", "8000", "-h", "/srv/www"]
    volumes:
      - ./www:/srv/www:ro
    ports:
      - "8000"
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8000/"]
      interval: 1s
"""
WORKER = f"""
  worker:
    image: {BUSYBOX}
    command: >-
      sh -c 'while true; do wget -q -O /dev/null http://web:8000/ && echo fetched;
      sleep 1; done'
    depends_on:
      web:
        condition: service_healthy
"""


def compose(repo: Path, services: str, **docker: object) -> None:
    (repo / "www").mkdir(exist_ok=True)
    (repo / "www" / "index.html").write_text("main checkout\n")
    (repo / "compose.yaml").write_text("services:" + services)
    (repo / ".para").mkdir(exist_ok=True)
    (repo / ".para" / "docker.json").write_text(
        json.dumps({"compose_file": "compose.yaml", **docker})
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "services")


def fetch(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
        body: bytes = answer.read()
    return body.decode().strip()


def stack_of(repo: Path, name: str) -> dict[str, Any]:
    record = json.loads((repo / ".para" / "state" / "sessions" / f"{name}.json").read_text())
    stack: dict[str, Any] = record["stack"]
    return stack


def everything_of(engine: DockerService, repo: Path) -> tuple[list[str], list[str], list[str]]:
    repo_id = discover(repo).repo_id
    labels = L.repo_filter(repo_id)
    return (
        sorted(c.name for c in engine.list_containers(labels)),
        sorted(n.name for n in engine.networks(labels)),
        sorted(v.name for v in engine.volumes(labels)),
    )


def test_each_session_gets_its_own_web_and_worker(
    repo: Path, para: Para, engine: DockerService
) -> None:
    compose(repo, WEB + WORKER)
    one = para.json("start", "one", "--json")
    two = para.json("start", "two", "--docker", "--image", BUSYBOX, "--json")
    ports = {s: int(d["services"]["web"]["ports"]["8000"]) for s, d in (("one", one), ("two", two))}
    assert ports["one"] != ports["two"]
    for name in ("one", "two"):
        # a relative bind is the session's worktree: each web serves its own session
        (repo / ".para" / "worktrees" / name / "www" / "index.html").write_text(f"{name}\n")
        assert fetch(ports[name]) == name
    status = para.json("status", "two", "--json")
    web = status["services"]["web"]
    assert web["state"] == "running" and web["image"] == BUSYBOX
    assert web["ports"] == {"8000": ports["two"]}
    assert status["services"]["worker"]["state"] == "running"
    env_file = (repo / ".para" / "state" / "services" / "one.env").read_text()
    assert f"PARA_SERVICE_WEB_PORT={ports['one']}" in env_file
    assert "PARA_SERVICE_WEB_HOST=127.0.0.1" in env_file
    inside = para("docker", "exec", "two", "--", "sh", "-c", "env | grep PARA_SERVICE_").stdout
    assert "PARA_SERVICE_WEB_HOST=web" in inside and "PARA_SERVICE_WEB_PORT=8000" in inside
    page = para(
        "docker",
        "exec",
        "two",
        "--",
        "sh",
        "-c",
        "wget -q -O - http://$PARA_SERVICE_WEB_HOST:8000/",
    ).stdout
    assert page.strip() == "two"
    served = para("docker", "exec", "two", "--service", "web", "--", "cat", "/srv/www/index.html")
    assert served.stdout.strip() == "two"
    logs = para("docker", "logs", "two", "--service", "worker", "--tail", "5").stdout
    assert "fetched" in logs
    networks = everything_of(engine, repo)[1]
    repo_id = discover(repo).repo_id
    assert L.stack_network_name(repo_id, "one") in networks
    assert L.stack_network_name(repo_id, "two") in networks
    listed = para("list").stdout
    assert "web healthy" in listed or "web running" in listed


def test_logs_of_everything_interleave_and_follow(
    repo: Path, para: Para, engine: DockerService
) -> None:
    compose(repo, WEB + WORKER)
    para("start", "lg", "--docker", "--image", BUSYBOX)
    proc = subprocess.Popen(
        [para_executable(), "docker", "logs", "lg", "--all", "-f"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            seen.append(line)
            if sum("[worker]" in s and "fetched" in s for s in seen) >= 2:
                break
    finally:
        proc.kill()
        proc.communicate(timeout=10)
    assert sum("[worker]" in s and "fetched" in s for s in seen) >= 2, seen


def test_depends_on_conditions_and_a_migration(
    repo: Path, para: Para, engine: DockerService
) -> None:
    """A one-shot migration fills a named volume; the app waits for it to complete."""
    compose(
        repo,
        f"""
  migrate:
    image: {BUSYBOX}
    command: sh -c 'sleep 1; echo v42 > /data/schema'
    volumes:
      - data:/data
  app:
    image: {BUSYBOX}
    command: sh -c 'cat /data/schema > /data/seen; sleep 3600'
    volumes:
      - data:/data
    depends_on:
      migrate:
        condition: service_completed_successfully
volumes:
  data: {{}}
""",
    )
    para("start", "mig")
    seen = para("docker", "exec", "mig", "--service", "app", "--", "cat", "/data/seen").stdout
    assert seen.strip() == "v42"
    volume = L.stack_volume_name(discover(repo).repo_id, "mig", "data")
    assert engine.volume(volume) is not None
    status = para.json("status", "mig", "--json")["services"]
    assert status["migrate"]["state"] == "exited" and status["app"]["state"] == "running"
    para("cancel", "mig", "--force")
    assert engine.volume(volume) is None


def test_a_service_built_from_the_repository(repo: Path, para: Para, engine: DockerService) -> None:
    (repo / "svc.Dockerfile").write_text(f"FROM {BUSYBOX}\nRUN echo built-here > /built\n")
    compose(
        repo,
        """
  tool:
    build: {context: ., dockerfile: svc.Dockerfile}
    command: sleep 3600
""",
    )
    first = para("start", "b1")
    assert "building localhost/para-" in first.stderr
    seen = para("docker", "exec", "b1", "--service", "tool", "--", "cat", "/built").stdout
    assert seen.strip() == "built-here"
    image = para.json("status", "b1", "--json")["services"]["tool"]["image"]
    assert image.startswith(f"localhost/para-{discover(repo).repo_id}/tool:")
    second = para("start", "b2")
    assert "building" not in second.stderr  # the same inputs: the same image


@pytest.mark.parametrize(
    ("services", "expected"),
    [
        ("\n  web: [not, a, mapping\n", "compose.yaml: line"),
        (
            f"\n  app:\n    image: {BUSYBOX}\n    depends_on: [db]\n",
            "depends_on names db, which is not a service",
        ),
        (
            f"\n  a:\n    image: {BUSYBOX}\n    depends_on: [b]\n"
            f"  b:\n    image: {BUSYBOX}\n    depends_on: [a]\n",
            "a -> b -> a",
        ),
        ("\n  gone:\n    image: localhost/para-test/missing:1\n", "missing:1"),
        (
            f"\n  crash:\n    image: {BUSYBOX}\n    command: sh -c 'echo going-down; exit 3'\n",
            "exited (code 3)",
        ),
        (
            f"\n  sick:\n    image: {BUSYBOX}\n    command: sleep 600\n"
            "    healthcheck:\n      test: ['CMD', 'false']\n      interval: 1s\n",
            "did not get ready in time",
        ),
    ],
    ids=["parse", "unknown-dependency", "cycle", "missing-image", "crash", "never-healthy"],
)
def test_a_bad_stack_fails_the_start_and_leaves_nothing(
    repo: Path, para: Para, engine: DockerService, services: str, expected: str
) -> None:
    compose(repo, services, services_timeout=4)
    result = para.fails("start", "bad")
    assert expected in result.stderr and "Traceback" not in result.stderr
    if "exited" in expected:
        assert "going-down" in result.stderr  # its last output
    nothing_left(repo, engine)
    assert everything_of(engine, repo) == ([], [], [])
    assert not (repo / ".para" / "state" / "services" / "bad.env").exists()


def test_a_host_port_in_the_file_is_not_used(repo: Path, para: Para, engine: DockerService) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        compose(repo, WEB.replace('- "8000"', f'- "{port}:8000"'))
        data = para.json("start", "hp", "--json")
        published = int(data["services"]["web"]["ports"]["8000"])
        assert published != port
        (repo / ".para" / "worktrees" / "hp" / "www" / "index.html").write_text("hp\n")
        assert fetch(published) == "hp"


def test_two_sessions_starting_at_once_share_nothing(repo: Path, engine: DockerService) -> None:
    compose(
        repo,
        WEB
        + f"""
  db:
    image: {BUSYBOX}
    command: sleep 3600
    volumes:
      - data:/data
volumes:
  data: {{}}
""",
    )
    procs = [
        subprocess.Popen(
            [para_executable(), "start", name, "--json"],
            cwd=repo,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("p", "q")
    ]
    outs = [proc.communicate(timeout=180) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outs
    stacks = [stack_of(repo, name) for name in ("p", "q")]
    assert stacks[0]["network"] != stacks[1]["network"]
    assert set(stacks[0]["volumes"]).isdisjoint(stacks[1]["volumes"])
    ports = [s["services"]["web"]["ports"]["8000"] for s in stacks]
    assert ports[0] != ports[1]


def test_a_session_whose_engine_names_meet_another_s_is_refused(
    repo: Path, para: Para, engine: DockerService
) -> None:
    """Session n's service db and session n-db's container are both para-<id>-n-db; n's
    volume db-data and n-db's volume data are both para-<id>-n-db-data. The second to
    come is refused, naming whose the name is, and the first keeps everything."""
    compose(
        repo,
        f"""
  db:
    image: {BUSYBOX}
    command: sleep 3600
    volumes:
      - db-data:/data
      - data:/more
volumes:
  db-data: {{}}
  data: {{}}
""",
    )
    first = para.json("start", "n", "--json")
    repo_id = discover(repo).repo_id
    before = everything_of(engine, repo)
    assert f"para-{repo_id}-n-db" in before[0] and f"para-{repo_id}-n-db-data" in before[2]

    refused = para.fails("start", "n-db", "--docker", "--image", BUSYBOX, "--no-services")
    assert f"container name para-{repo_id}-n-db is taken by session n's service db" in (
        refused.stderr
    )
    assert "start the session under another name" in refused.stderr
    refused = para.fails("start", "n-db")
    assert (
        f"volume para-{repo_id}-n-db-data is session n's volume db-data, "
        "not session n-db's volume data" in refused.stderr
    )
    assert "Traceback" not in refused.stderr

    assert everything_of(engine, repo) == before
    assert not (repo / ".para" / "state" / "sessions" / "n-db.json").exists()
    branches = git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads")
    assert "para/n-db" not in branches.split()
    db = engine.inspect(first["services"]["db"]["id"])
    assert db is not None and db.state == "running"


def test_status_shows_a_service_s_health_after_the_start(
    repo: Path, para: Para, engine: DockerService
) -> None:
    """Docker runs the healthcheck and lists its result; Podman (no systemd here) runs
    none and lists none, so status runs it. Either way status tells healthy from not."""
    compose(
        repo,
        f"""
  api:
    image: {BUSYBOX}
    command: ["sh", "-c", "mkdir -p /tmp && touch /tmp/ok && exec sleep 3600"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ok"]
      interval: 1s
      retries: 1
""",
    )
    para("start", "h")

    def health() -> str | None:
        found: str | None = para.json("status", "h", "--json")["services"]["api"]["health"]
        return found

    deadline = time.monotonic() + 30
    while health() != "healthy":
        assert time.monotonic() < deadline, health()
        time.sleep(0.5)
    para("docker", "exec", "h", "--service", "api", "--", "rm", "/tmp/ok")
    while health() != "unhealthy":
        assert time.monotonic() < deadline, health()
        time.sleep(0.5)
    assert "api unhealthy" in para("list").stdout or engine.info.backend == "podman"


def test_stop_start_and_a_service_removed_by_hand(
    repo: Path, para: Para, engine: DockerService
) -> None:
    compose(repo, WEB + WORKER)
    data = para.json("start", "life", "--json")
    port = int(data["services"]["web"]["ports"]["8000"])
    para("docker", "stop", "life")
    assert para.json("status", "life", "--json")["services"]["web"]["state"] == "exited"
    para("docker", "start", "life")
    (repo / ".para" / "worktrees" / "life" / "www" / "index.html").write_text("back\n")
    assert fetch(port) == "back"
    web = stack_of(repo, "life")["services"]["web"]["id"]
    engine.remove(str(web))
    assert para.json("status", "life", "--json")["services"]["web"]["state"] == "missing"
    para("docker", "start", "life")
    assert fetch(port) == "back"  # made again, on its port
    para("cancel", "life", "--force")
    assert everything_of(engine, repo) == ([], [], [])
    para("recover", "life")
    again = para.json("status", "life", "--json")["services"]["web"]
    assert again["state"] == "running" and again["ports"] == {"8000": port}
    para("finish", "done", "life")
    assert everything_of(engine, repo) == ([], [], [])


def test_finish_while_the_engine_is_away_then_cleanup(
    repo: Path, para: Para, engine: DockerService, tmp_path: Path
) -> None:
    compose(repo, WEB)
    para("start", "away")
    record_file = repo / ".para" / "state" / "sessions" / "away.json"
    record = json.loads(record_file.read_text())
    record["stack"]["endpoint"] = f"unix://{tmp_path / 'nothing-here.sock'}"
    record_file.write_text(json.dumps(record))
    result = para("finish", "done", "away")
    assert "services of session away were left behind" in result.stderr
    assert everything_of(engine, repo)[0]  # still there
    para("docker", "cleanup")
    assert everything_of(engine, repo) == ([], [], [])


def test_no_services_and_an_untrusted_bind_outside_the_repository(
    repo: Path, para: Para, engine: DockerService, tmp_path: Path
) -> None:
    outside = tmp_path / "host-secrets"
    outside.mkdir()
    (outside / "key").write_text("secret\n")
    compose(
        repo,
        f"""
  spy:
    image: {BUSYBOX}
    command: sleep 3600
    volumes:
      - {outside}:/host
""",
    )
    para("start", "plain", "--no-services")
    assert everything_of(engine, repo)[0] == []
    started = para("start", "spy")
    assert "para trust" in started.stderr
    looked = para("docker", "exec", "spy", "--service", "spy", "--", "ls", "/host", ok=False)
    assert "key" not in looked.stdout
