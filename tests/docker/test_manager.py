"""DockerManager against the FakeDockerService (no engine): spec building, rollback, lists."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from para.app import App
from para.docker import labels as L
from para.docker.service import ImageInfo
from para.errors import ContainerError, EngineUnavailable, UnsafeMount
from tests.conftest import Para, git
from tests.docker.fake import FakeDockerService


def test_spec_has_mounts_user_limits_env_labels(
    repo: Path, para: Para, fake: FakeDockerService
) -> None:
    para(
        "start",
        "s",
        "--docker",
        "--image",
        "img:1",
        "--cpus",
        "0.5",
        "--memory",
        "1g",
        "--pids",
        "99",
        "--env",
        "A=1",
        "--port",
        "8000",
    )
    [spec] = fake.specs.values()
    assert spec.image == "img:1"
    assert spec.nano_cpus == 500_000_000
    assert spec.memory == 2**30
    assert spec.pids_limit == 99
    assert spec.user == f"{os.getuid()}:{os.getgid()}"
    assert spec.init is True
    assert spec.command == ["/bin/sh", "/para/bin/para-runner"]
    assert spec.workdir == "/workspace"
    mounts = {m.target: m for m in spec.mounts}
    objects = str((repo / ".git" / "objects").resolve())
    own = repo / ".para" / "state" / "git" / "s"
    assert mounts["/workspace"].source == str(repo / ".para" / "worktrees" / "s")
    # of the host's .git only the object store, read-only; git works in a repository
    # of the container's own
    assert [t for t in mounts if t.startswith(str(repo / ".git"))] == [objects]
    assert mounts[objects].read_only
    assert (mounts["/para/git"].source, mounts["/para/git"].read_only) == (str(own), False)
    assert not mounts["/para/git/objects"].read_only
    assert mounts["/para/git/objects/info"].read_only
    assert mounts["/workspace/.git"].read_only
    assert (own / "objects" / "info" / "alternates").read_text() == f"{objects}\n"
    assert mounts["/para/bin"].read_only
    assert mounts["/para/channel"].source == str(repo / ".para" / "state" / "channels" / "s")
    assert spec.env["A"] == "1"
    assert spec.env["HOME"] == "/para/home"
    assert spec.env["PATH"].endswith(":/para/bin")
    assert spec.env["GIT_CONFIG_KEY_0"] == "safe.directory"
    assert spec.env["GIT_AUTHOR_NAME"] == "Para Test"
    assert spec.env["PARA_PORT_8000"] == str(spec.ports[8000])
    assert spec.extra_hosts == {"host.docker.internal": "host-gateway"}
    assert spec.labels[L.SESSION] == "s"
    assert (repo / ".para" / "state" / "bin" / "para-runner").stat().st_mode & 0o111


def test_image_resolution_order(repo: Path, para: Para, fake: FakeDockerService) -> None:
    fake.images.update(dict.fromkeys(("py:1", "proj:1", "dflt:1", "env:1"), fake.images["img:1"]))
    (repo / "pyproject.toml").write_text("[project]\nname='x'\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "python project")
    (repo / ".para").mkdir()
    (repo / ".para" / "config.json").write_text(
        json.dumps({"docker": {"default_image": "dflt:1", "image_mappings": {"python": "py:1"}}})
    )
    para("start", "a", "--docker")
    assert fake.specs[max(fake.specs)].image == "py:1"  # project type detected
    (repo / ".para" / "docker.json").write_text(json.dumps({"image": "proj:1"}))
    para("start", "b", "--docker")
    assert fake.specs[max(fake.specs)].image == "proj:1"  # docker.json beats the mapping
    para("start", "c", "--docker", "--image", "img:1")
    assert fake.specs[max(fake.specs)].image == "img:1"  # the flag beats everything


def test_missing_image_is_pulled_with_progress(
    repo: Path, para: Para, fake: FakeDockerService
) -> None:
    fake.pullable.add("new:1")
    para("start", "p", "--docker", "--image", "new:1")
    assert "pull new:1" in fake.calls


def test_failed_start_removes_container_and_everything_else(
    repo: Path, para: Para, fake: FakeDockerService
) -> None:
    fake.fail_start = "boom"
    result = para.fails("start", "f", "--docker", "--image", "img:1")
    assert "boom" in result.stderr
    assert fake.containers == {}
    assert any(c.startswith("remove ") for c in fake.calls)
    assert git(repo, "branch", "--list", "para/f") == ""
    assert not (repo / ".para" / "worktrees" / "f").exists()
    assert not (repo / ".para" / "state" / "sessions" / "f.json").exists()


def test_unsafe_volume_refused_before_anything(
    repo: Path, para: Para, fake: FakeDockerService
) -> None:
    for volume, reason in (
        (f"{repo}:/workspace", "hide the session's worktree"),
        (f"{repo / '.git'}:/g", "writable git directory"),
        ("/:/host", "exposes the engine socket"),
        ("/var/run:/x:ro", "exposes the engine socket"),
        (f"{repo}:/src", "writable git directory"),
        ("relative-missing:/x", "does not exist"),
        ("nocolon", "expected SRC:DST"),
    ):
        result = para.fails("start", "v", "--docker", "--image", "img:1", "--volume", volume)
        assert reason in result.stderr, (volume, result.stderr)
    assert not [c for c in fake.calls if c.startswith("create")]


def test_no_engine_fails_early_or_falls_back(
    repo: Path, para: Para, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARA_DOCKER_HOST", f"unix://{repo}/no-engine.sock")
    result = para.fails("start", "x", "--docker", "--image", "img:1")
    assert f"engine not reachable at unix://{repo}/no-engine.sock" in result.stderr
    assert "no socket there" in result.stderr
    assert git(repo, "branch", "--list", "para/x") == ""
    (repo / ".para").mkdir()
    (repo / ".para" / "config.json").write_text(
        json.dumps({"docker": {"enabled": True, "fallback": "host"}})
    )
    fell_back = para("start", "y", "--json")
    assert json.loads(fell_back.stdout)["container"] is None
    assert "starting a host session instead" in fell_back.stderr
    # an explicit --docker is not silently downgraded
    para.fails("start", "z", "--docker")


def test_list_makes_one_engine_list_call(repo: Path, para: Para, fake: FakeDockerService) -> None:
    for name in ("a", "b", "c"):
        para("start", name, "--docker", "--image", "img:1")
    para("start", "host")
    fake.calls.clear()
    listed = para.json("list", "--json")
    assert fake.calls == ["list"]
    states = {s["name"]: (s["container"] or {}).get("state") for s in listed}
    assert states == {"a": "running", "b": "running", "c": "running", "host": None}


def test_states_report_missing_and_unreachable(
    repo: Path, fake: FakeDockerService, para: Para
) -> None:
    para("start", "gone", "--docker", "--image", "img:1")
    fake.containers.clear()
    [view] = para.json("list", "--json")
    assert view["container"]["state"] == "missing"


@pytest.mark.parametrize(
    ("limited", "exit_code", "stopped", "expected"),
    [
        (True, 137, False, True),  # SIGKILL nobody asked the engine for: the memory limit
        (True, 137, True, False),  # killed or stopped through the engine
        (True, 1, False, False),  # the keep-alive failed on its own
        (False, 137, False, False),  # no memory limit, so not the memory cgroup
    ],
)
def test_dead_container_counts_as_oom_only_when_nothing_else_killed_it(
    repo: Path,
    para: Para,
    fake: FakeDockerService,
    limited: bool,
    exit_code: int,
    stopped: bool,
    expected: bool,
) -> None:
    para("start", "m", "--docker", "--image", "img:1", "--memory", "24m")
    [(cid, info)] = fake.containers.items()
    info.memory = info.memory if limited else None
    if stopped:
        fake.stop(cid, 1)
    info.state, info.exit_code = "exited", exit_code
    info.started_at, info.finished_at = "2026-11-22T01:00:00.5Z", "2026-11-22T01:00:09.25Z"
    status = para.json("docker", "status", "m", "--json")
    assert status["oom_killed"] is expected
    assert ("out of memory" in para("docker", "status", "m").stdout) is expected


def test_status_says_when_the_config_changed_and_recreate_applies_it(
    repo: Path, para: Para, fake: FakeDockerService
) -> None:
    para("start", "cfg", "--docker", "--image", "img:1", "--memory", "1g", "--port", "8000")
    assert para.json("docker", "status", "cfg", "--json")["config_changed"] is False
    config = repo / ".para" / "config.json"
    config.parent.mkdir(exist_ok=True)
    config.write_text(json.dumps({"docker": {"retention_days": 1, "stop_timeout": 5}}))
    assert para.json("docker", "status", "cfg", "--json")["config_changed"] is False
    config.write_text(json.dumps({"docker": {"environment": {"MODE": "fast"}}}))
    assert para.json("docker", "status", "cfg", "--json")["config_changed"] is True
    for command in (["docker", "status"], ["status"]):
        assert "para docker start cfg --recreate applies it" in para(*command, "cfg").stdout
    para("docker", "start", "cfg", "--recreate")
    assert para.json("docker", "status", "cfg", "--json")["config_changed"] is False
    [spec] = [fake.specs[cid] for cid in fake.containers]
    assert spec.env["MODE"] == "fast" and spec.memory == 2**30  # the choice given is kept
    assert list(spec.ports) == [8000]


def test_recreate_takes_the_image_and_limits_the_configuration_gives_now(
    repo: Path, para: Para, fake: FakeDockerService
) -> None:
    fake.images["img:2"] = ImageInfo(id="sha256:img2", env=[])
    config = repo / ".para" / "config.json"
    config.parent.mkdir(exist_ok=True)
    config.write_text(json.dumps({"docker": {"image": "img:1"}}))
    para("start", "c", "--docker", "--cpus", "1.5")
    config.write_text(json.dumps({"docker": {"image": "img:2", "resources": {"pids": 42}}}))
    assert para.json("status", "c", "--json")["container"]["config_changed"] is True
    para("docker", "start", "c", "--recreate")
    [spec] = [fake.specs[cid] for cid in fake.containers]
    assert (spec.image, spec.pids_limit, spec.nano_cpus) == ("img:2", 42, 1_500_000_000)
    assert para.json("status", "c", "--json")["container"]["config_changed"] is False


def test_engine_unavailable_during_finish_leaves_a_warning(
    repo: Path, para: Para, fake: FakeDockerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    para("start", "w", "--docker", "--image", "img:1")

    def down(*_args: object, **_kwargs: object) -> None:
        raise EngineUnavailable(backend="Docker", endpoint="fake", reason="stopped")

    monkeypatch.setattr(fake, "stop", down)
    result = para("finish", "done", "w")
    assert "para docker cleanup removes it" in result.stderr
    assert para.json("status", "w", "--json")["status"] == "review"


def test_exec_all_prefixes_and_reports_worst(
    repo: Path, para: Para, fake: FakeDockerService
) -> None:
    para("start", "a", "--docker", "--image", "img:1")
    para("start", "bb", "--docker", "--image", "img:1")
    result = para("docker", "exec", "--all", "--", "echo", "hi")
    assert sorted(result.stdout.splitlines()) == ["[a ] echo hi", "[bb] echo hi"]


def test_cleanup_by_label_only(repo: Path, para: Para, fake: FakeDockerService) -> None:
    para("start", "keep", "--docker", "--image", "img:1")
    para("start", "drop", "--docker", "--image", "img:1")
    (repo / ".para" / "state" / "sessions" / "drop.json").unlink()
    actions = para.json("docker", "cleanup", "--json")
    assert [(a["session"], a["reason"]) for a in actions] == [("drop", "no session record")]
    assert [c.labels[L.SESSION] for c in fake.containers.values()] == ["keep"]


def test_app_builds_manager_lazily(repo: Path) -> None:
    app = App(cwd=repo, env=dict(os.environ))
    assert "docker" not in app.__dict__
    _ = app.sessions
    assert "docker" not in app.__dict__


def test_container_error_has_hint() -> None:
    err = UnsafeMount(volume="a:b", reason="r")
    assert err.hint
    assert ContainerError(problem="p").message == "p"


def test_ports_with_host_network_refused(repo: Path, para: Para, fake: FakeDockerService) -> None:
    result = para.fails(
        "start", "h", "--docker", "--image", "img:1", "--network", "host", "--port", "8000"
    )
    assert "cannot be published with --network host" in result.stderr
    assert not (repo / ".para" / "state" / "homes" / "h").exists()
    assert fake.containers == {}


def test_worktree_docker_json_is_ignored(repo: Path, para: Para, fake: FakeDockerService) -> None:
    para("start", "a", "--docker", "--image", "img:1")
    wt = repo / ".para" / "worktrees" / "a"
    (wt / ".para").mkdir()
    (wt / ".para" / "docker.json").write_text(
        json.dumps({"volumes": ["/etc:/host-etc"], "network": {"mode": "host"}})
    )
    para("docker", "start", "a", "--recreate")
    spec = fake.specs[max(fake.specs)]
    assert spec.network == "bridge"
    assert not any(m.target == "/host-etc" for m in spec.mounts)


def test_workdir_is_where_the_worktree_is_mounted(
    repo: Path, para: Para, fake: FakeDockerService
) -> None:
    (repo / ".para").mkdir()
    (repo / ".para" / "docker.json").write_text(json.dumps({"workdir": "/src"}))
    para("start", "w", "--docker", "--image", "img:1")
    spec = fake.specs[max(fake.specs)]
    assert spec.workdir == "/src"
    assert any(m.target == "/src" and m.source.endswith("/worktrees/w") for m in spec.mounts)
    assert spec.env["PARA_WORKTREE"] == "/src"
