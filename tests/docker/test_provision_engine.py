"""Containers provisioned from the repository, on real engines: a devcontainer.json whose
build and postCreateCommand install the project, image reuse and rebuilds, concurrent
starts, failing builds and lifecycle commands, cache volumes, hostile contexts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from para.docker import labels as L
from para.docker.service import DockerService
from para.repo import discover
from tests.conftest import Para, git, para_executable
from tests.docker.conftest import DEBIAN, engine_cli
from tests.docker.engine_helpers import containers_of, nothing_left

pytestmark = pytest.mark.engine

INSTALL = "pip install --user --break-system-packages --no-index --no-build-isolation -e ."


def provisioned_repo(repo: Path, **devcontainer: object) -> None:
    """A Python project whose only container setup is a devcontainer.json: its Dockerfile
    puts a dependency into the image, postCreateCommand installs the project."""
    (repo / ".devcontainer").mkdir()
    config = {
        "build": {"dockerfile": "Dockerfile", "context": "..", "args": {"GREETING": "hello"}},
        "postCreateCommand": INSTALL,
        **devcontainer,
    }
    text = "// made by the test\n" + json.dumps(config, indent=2).replace("\n}", ",\n}")
    (repo / ".devcontainer" / "devcontainer.json").write_text(text)
    (repo / ".devcontainer" / "Dockerfile").write_text(
        f"FROM {DEBIAN}\n"
        "ARG GREETING\n"
        "RUN mkdir -p /usr/local/lib/python3.11/dist-packages && "
        "echo \"GREETING = '$GREETING'\" > /usr/local/lib/python3.11/dist-packages/depmod.py\n"
    )
    (repo / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "mypkg"\nversion = "0.1"\n'
        '[tool.setuptools]\npackages = ["mypkg"]\n'
    )
    (repo / "mypkg").mkdir()
    (repo / "mypkg" / "__init__.py").write_text("def hello():\n    return 'hi'\n")
    (repo / "tests").mkdir()
    (repo / "tests" / "test_it.py").write_text(
        "import depmod\nimport mypkg\n\n\ndef test_it():\n"
        "    assert mypkg.hello() == 'hi' and depmod.GREETING == 'hello'\n"
    )
    (repo / ".gitignore").write_text("*.egg-info/\n__pycache__/\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a devcontainer project")


def image_of(para: Para, name: str) -> str:
    data = para.json("status", name, "--json")
    return str(data["container"]["image"])


def builds_in(output: str) -> int:
    """How many builds ran, by the first step each prints."""
    return sum(1 for line in output.splitlines() if line.strip().lower().startswith("step 1/"))


def test_a_devcontainer_project_is_ready_to_test(
    repo: Path, para: Para, engine: DockerService
) -> None:
    provisioned_repo(repo)
    first = para("start", "one", "--docker")
    assert builds_in(first.stderr) == 1
    assert "post_create_command" in first.stderr and "Successfully installed mypkg" in first.stderr
    run = para("docker", "exec", "one", "--", "python3", "-m", "pytest", "-q", ok=False)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout
    status = para.json("status", "one", "--json")["container"]
    assert status["image"].startswith(f"localhost/para-{discover(repo).repo_id}/devcontainer:")
    assert status["image_source"] == "build in .devcontainer/devcontainer.json"
    log = para("docker", "exec", "one", "--", "cat", "/para/channel/logs/lifecycle.log").stdout
    assert "Successfully installed mypkg" in log

    second = para("start", "two", "--docker")
    assert builds_in(second.stderr) == 0
    assert image_of(para, "two") == status["image"]

    dockerfile = repo / ".devcontainer" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "RUN echo changed > /changed\n")
    third = para("start", "three", "--docker")
    fourth = para("start", "four", "--docker")
    assert builds_in(third.stderr) == 1 and builds_in(fourth.stderr) == 0
    assert image_of(para, "three") == image_of(para, "four") != status["image"]
    assert para("docker", "exec", "four", "--", "cat", "/changed").stdout.strip() == "changed"


def test_two_starts_at_once_build_once(repo: Path, engine: DockerService) -> None:
    provisioned_repo(repo, postCreateCommand=None)
    dockerfile = repo / ".devcontainer" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "RUN sleep 2\n")
    procs = [
        subprocess.Popen(
            [para_executable(), "start", name, "--docker"],
            cwd=repo,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    results = [proc.communicate(timeout=300) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], results
    assert sum(builds_in(err) for _out, err in results) == 1, results
    assert sorted(containers_of(engine, repo)) == sorted(
        L.container_name(discover(repo).repo_id, n) for n in ("a", "b")
    )


def test_para_docker_build_builds_then_reuses(
    repo: Path, para: Para, engine: DockerService
) -> None:
    provisioned_repo(repo)
    first = para.json("docker", "build", "--json")
    assert first["built"] is True and Path(first["log"]).is_file()
    again = para.json("docker", "build", "--json")
    assert again["built"] is False and again["image"] == first["image"]
    forced = para.json("docker", "build", "--no-cache", "--json")
    assert forced["built"] is True and forced["image"] == first["image"]
    assert containers_of(engine, repo) == []


def test_a_failing_build_names_the_step_and_leaves_nothing(
    repo: Path, para: Para, engine: DockerService
) -> None:
    provisioned_repo(repo)
    dockerfile = repo / ".devcontainer" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "RUN echo about-to-fail && exit 3\n")
    result = para.fails("start", "bad", "--docker")
    assert "failed at" in result.stderr and "RUN echo about-to-fail && exit 3" in result.stderr
    assert "about-to-fail" in result.stderr  # the log's tail
    assert "build log is" in result.stderr and "Traceback" not in result.stderr
    nothing_left(repo, engine)
    tag = result.stderr.split("building ", 1)[1].split()[0]
    assert engine.image(tag) is None


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no-dockerfile", "the Dockerfile '.devcontainer/Missing.dockerfile' does not exist"),
        ("no-context", "the build context 'nowhere' does not exist"),
        ("bad-json", "devcontainer.json: line 2, column 1"),
        ("image-and-build", "docker.image and docker.build: both given"),
    ],
)
def test_bad_provisioning_input_is_refused_before_anything_is_made(
    repo: Path, para: Para, engine: DockerService, case: str, expected: str
) -> None:
    provisioned_repo(repo, postCreateCommand=None)
    path = repo / ".devcontainer" / "devcontainer.json"
    config = json.loads("\n".join(path.read_text().splitlines()[1:]).replace(",\n}", "\n}"))
    if case == "no-dockerfile":
        config["build"]["dockerfile"] = "Missing.dockerfile"
    elif case == "no-context":
        config["build"]["context"] = "../nowhere"
    elif case == "image-and-build":
        config["image"] = DEBIAN
    path.write_text("{\n" if case == "bad-json" else json.dumps(config))
    result = para.fails("start", "bad", "--docker")
    assert expected in result.stderr and "Traceback" not in result.stderr
    nothing_left(repo, engine)


def test_a_failing_lifecycle_command_undoes_the_start(
    repo: Path, para: Para, engine: DockerService
) -> None:
    provisioned_repo(repo, postCreateCommand="echo checking; echo broken >&2; exit 4")
    result = para.fails("start", "lc", "--docker")
    assert "post_create_command" in result.stderr and "exit code 4" in result.stderr
    assert "broken" in result.stderr.split("error:", 1)[1]
    nothing_left(repo, engine)


def test_a_hanging_lifecycle_command_times_out(
    repo: Path, para: Para, engine: DockerService
) -> None:
    provisioned_repo(repo, postCreateCommand=None, onCreateCommand="echo waiting; sleep 600")
    (repo / ".para").mkdir(exist_ok=True)
    para_config = repo / ".para" / "docker.json"
    para_config.write_text(json.dumps({"lifecycle_timeout": 3}))
    result = para.fails("start", "hang", "--docker")
    assert "on_create_command" in result.stderr and "stopped after 3s" in result.stderr
    assert "waiting" in result.stderr
    nothing_left(repo, engine)


def test_lifecycle_commands_order_and_restarts(
    repo: Path, para: Para, engine: DockerService
) -> None:
    provisioned_repo(
        repo,
        postCreateCommand=None,
        onCreateCommand="echo create >> $HOME/order",
        updateContentCommand=["sh", "-c", "echo update >> $HOME/order"],
        postStartCommand={
            "a": "echo start-a >> $HOME/starts",
            "b": ["sh", "-c", "echo start-b >> $HOME/starts"],
        },
    )
    para("start", "lc", "--docker")
    home = repo / ".para" / "state" / "homes" / "lc"
    assert (home / "order").read_text().split() == ["create", "update"]
    assert sorted((home / "starts").read_text().split()) == ["start-a", "start-b"]
    para("docker", "stop", "lc")
    restarted = para("docker", "start", "lc")
    assert "[a]" in restarted.stderr or "post_start_command a" in restarted.stderr
    assert (home / "order").read_text().split() == ["create", "update"]
    assert sorted((home / "starts").read_text().split()) == sorted(["start-a", "start-b"] * 2)


def test_cache_volumes_are_shared_and_kept(repo: Path, para: Para, engine: DockerService) -> None:
    (repo / ".para").mkdir(exist_ok=True)
    (repo / ".para" / "docker.json").write_text(
        json.dumps({"image": DEBIAN, "cache_volumes": {"pip": "/para/home/.cache/pip"}})
    )
    para("start", "c1", "--docker")
    para("start", "c2", "--docker")
    para("docker", "exec", "c1", "--", "sh", "-c", "echo cached > /para/home/.cache/pip/x")
    seen = para("docker", "exec", "c2", "--", "cat", "/para/home/.cache/pip/x").stdout
    assert seen.strip() == "cached"
    name = L.cache_volume_name(discover(repo).repo_id, "pip")
    volume = engine.volume(name)
    assert volume is not None and volume.labels[L.CACHE] == "pip"
    para("finish", "done", "c1")
    para("cancel", "c2", "--force")
    para("docker", "cleanup", "--all-repos")
    assert engine.volume(name) is not None  # the repository still exists


def test_a_context_link_to_outside_sends_the_link_only(
    repo: Path, para: Para, engine: DockerService, tmp_path: Path
) -> None:
    """The context holds a link to a host file outside it: the build gets the link, never
    the file (COPY of the whole context keeps it a dangling link; COPY of the link
    alone finds nothing)."""
    secret = tmp_path / "outside-secret.txt"
    secret.write_text("host secret\n")
    provisioned_repo(repo, postCreateCommand=None)
    (repo / "leak").symlink_to(secret)
    dockerfile = repo / ".devcontainer" / "Dockerfile"
    base = dockerfile.read_text()
    dockerfile.write_text(
        base + "COPY . /ctx/\nRUN test -L /ctx/leak && ! test -e /ctx/leak && echo link-only\n"
    )
    built = para("docker", "build")
    assert "host secret" not in built.stdout + built.stderr
    para("start", "ctx", "--docker")
    out = para("docker", "exec", "ctx", "--", "cat", "/ctx/leak", ok=False)
    assert out.exit_code != 0 and "host secret" not in out.stdout
    dockerfile.write_text(base + "COPY leak /ctx/leak\n")
    refused = para.fails("docker", "build")
    assert "COPY leak" in refused.stderr and "host secret" not in refused.stderr


def test_a_devcontainer_json_changed_in_a_worktree_is_not_read(
    repo: Path, para: Para, engine: DockerService
) -> None:
    provisioned_repo(repo, postCreateCommand=None, containerEnv={"FROM_MAIN": "yes"})
    para("start", "wt", "--docker")
    hostile = {"image": DEBIAN, "containerEnv": {"FROM_MAIN": "no"}, "runArgs": ["--network=host"]}
    para(
        "docker",
        "exec",
        "wt",
        "--",
        "sh",
        "-c",
        f"cat > /workspace/.devcontainer/devcontainer.json <<'EOF'\n{json.dumps(hostile)}\nEOF",
    )
    para("docker", "start", "wt", "--recreate")
    env = para("docker", "exec", "wt", "--", "printenv", "FROM_MAIN").stdout.strip()
    assert env == "yes"
    info = engine_cli(
        engine.info.backend,
        "inspect",
        "--format",
        "{{.HostConfig.NetworkMode}}",
        L.container_name(discover(repo).repo_id, "wt"),
    )
    assert info.stdout.strip() != "host"
