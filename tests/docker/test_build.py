"""Builds without an engine: .dockerignore, the content hash, the tar, build inputs that
are missing or leave the repository, and the start flow on the fake engine."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from para.config import Build
from para.docker import build
from para.docker.context import DockerIgnore, HashCache, content_hash, context_files
from para.errors import BuildInputError
from para.git import Git
from para.repo import discover
from tests.conftest import Para, git
from tests.docker.fake import FakeDockerService


def plan(repo: Path, **spec: object) -> build.BuildPlan:
    return build.plan(discover(repo), Git(repo), Build.model_validate(spec))


def dockerfile(repo: Path, text: str = "FROM img:1\nRUN make\n") -> None:
    (repo / "Dockerfile").write_text(text)


def test_dockerignore_patterns() -> None:
    ignore = DockerIgnore(
        "# comment\nnode_modules\n*.log\n!keep.log\ndocs/**/*.md\n/build\n**/tmp\n"
    )
    assert ignore.excluded("node_modules")
    assert ignore.excluded("node_modules/a/b.js")
    assert ignore.excluded("x.log") and not ignore.excluded("keep.log")
    assert not ignore.excluded("sub/x.log")  # * does not cross directories
    assert ignore.excluded("docs/a/b/c.md") and ignore.excluded("docs/c.md")
    assert not ignore.excluded("docs/c.txt")
    assert ignore.excluded("build/out") and ignore.excluded("a/b/tmp/x")
    assert not ignore.excluded("src/main.py")


def test_context_files_prune_and_keep_links(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("")
    (tmp_path / "node_modules" / "x").mkdir(parents=True)
    (tmp_path / "node_modules" / "x" / "big.js").write_text("")
    (tmp_path / "link-dir").symlink_to("/etc")
    found = list(context_files(tmp_path, DockerIgnore("node_modules\n")))
    assert found == ["link-dir", "src", "src/a.py"]


def test_the_hash_follows_what_the_build_would_see(repo: Path) -> None:
    dockerfile(repo)
    (repo / ".dockerignore").write_text("*.tmp\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "build")
    first = plan(repo)
    assert plan(repo).tag == first.tag  # same inputs, same tag
    (repo / "scratch.tmp").write_text("ignored by .dockerignore")
    assert plan(repo).tag == first.tag
    (repo / "new.txt").write_text("untracked: sent")
    untracked = plan(repo)
    assert untracked.tag != first.tag
    (repo / "README.md").write_text("changed\n")
    changed = plan(repo)
    assert changed.tag not in (first.tag, untracked.tag)
    (repo / "new.txt").unlink()
    git(repo, "checkout", "-q", "README.md")
    assert plan(repo).tag == first.tag  # back to the committed content
    assert plan(repo, args={"V": "1"}).tag != first.tag
    assert plan(repo, target="dev").tag != first.tag
    dockerfile(repo, "FROM img:1\nRUN make all\n")
    assert plan(repo).tag != first.tag
    assert first.tag.startswith(f"localhost/para-{discover(repo).repo_id}/repo:")


def test_sessions_and_para_state_are_never_in_the_context(repo: Path, para: Para) -> None:
    dockerfile(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "build")
    first = plan(repo)
    para("start", "s")
    (repo / ".para" / "worktrees" / "s" / "new.txt").write_text("in a session")
    assert plan(repo).tag == first.tag


def test_the_hash_cache_reads_a_file_once(repo: Path, tmp_path: Path) -> None:
    """An untracked file is read when its size, mtime or inode changes, not at every
    start (the same trade-off as git's index)."""
    target = repo / "big.bin"
    target.write_bytes(b"a" * 1000)
    cache_file = tmp_path / "cache.json"
    first = content_hash(Git(repo), repo, repo, HashCache(cache_file))
    assert str(target) in json.loads(cache_file.read_text())
    stamp = target.stat()
    target.write_bytes(b"b" * 1000)  # same size; the old mtime put back: not read again
    os.utime(target, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert content_hash(Git(repo), repo, repo, HashCache(cache_file)) == first
    time.sleep(0.01)
    target.write_bytes(b"b" * 1000)  # a new mtime: read, and the hash follows
    assert content_hash(Git(repo), repo, repo, HashCache(cache_file)) != first


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (
            {"dockerfile": "missing/Dockerfile"},
            "the Dockerfile 'missing/Dockerfile' does not exist",
        ),
        ({"context": "nowhere"}, "the build context 'nowhere' does not exist"),
        ({"context": ".."}, "leads outside the repository"),
        ({"dockerfile": "../Dockerfile"}, "leads outside the repository"),
        ({"dockerfile": "."}, "is not a file"),
        ({"context": "README.md"}, "is not a directory"),
    ],
)
def test_bad_build_inputs(repo: Path, spec: dict[str, str], problem: str) -> None:
    dockerfile(repo)
    (repo.parent / "Dockerfile").write_text("FROM img:1\n")
    with pytest.raises(BuildInputError) as err:
        plan(repo, **spec)
    assert problem in err.value.message


def test_a_context_that_is_a_link_out_of_the_repository(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "Dockerfile").write_text("FROM img:1\n")
    (repo / "ctx").symlink_to(outside)
    with pytest.raises(BuildInputError) as err:
        plan(repo, context="ctx", dockerfile="ctx/Dockerfile")
    assert "leads outside the repository" in err.value.message


def test_the_tar_holds_links_not_their_targets(
    repo: Path, para: Para, fake: FakeDockerService, tmp_path: Path
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("host secret")
    dockerfile(repo)
    (repo / "leak").symlink_to(secret)
    (repo / ".dockerignore").write_text("Dockerfile\nskipped.txt\n")
    (repo / "skipped.txt").write_text("x")
    (repo / ".para").mkdir(exist_ok=True)
    (repo / ".para" / "docker.json").write_text(json.dumps({"build": {}}))
    para("docker", "build")
    request, files = fake.builds[-1]
    assert files["leak"] == f"-> {secret}"
    assert "skipped.txt" not in files
    assert files["Dockerfile"] == b"FROM img:1\nRUN make\n"  # sent though ignored
    assert not any(name.startswith((".git/", ".para/")) for name in files)
    assert request.labels["dev.para.repo-id"] == discover(repo).repo_id


def test_start_builds_once_and_reuses(repo: Path, para: Para, fake: FakeDockerService) -> None:
    dockerfile(repo)
    (repo / ".para").mkdir(exist_ok=True)
    (repo / ".para" / "docker.json").write_text(
        json.dumps({"build": {"name": "Dev Image"}, "post_create_command": "make setup"})
    )
    first = para("start", "a", "--docker")
    assert "building localhost/para-" in first.stderr and "/dev-image:" in first.stderr
    assert "Step 1/2" in first.stderr
    second = para("start", "b", "--docker")
    assert "building" not in second.stderr
    assert len(fake.builds) == 1
    execs = [c for c in fake.calls if c.startswith("exec ") and "make setup" in c]
    assert len(execs) == 2


def test_a_failed_build_keeps_its_log(repo: Path, para: Para, fake: FakeDockerService) -> None:
    dockerfile(repo)
    (repo / ".para").mkdir(exist_ok=True)
    (repo / ".para" / "docker.json").write_text(json.dumps({"build": {}}))
    fake.fail_build = "make: *** [all] Error 2"
    result = para.fails("start", "a", "--docker")
    assert "failed at Step 2/2 : RUN make" in result.stderr
    assert "make: *** [all] Error 2" in result.stderr
    log = next((repo / ".para" / "state" / "logs").glob("build-repo-*.log"))
    assert "Error 2" in log.read_text()
    assert git(repo, "branch", "--list", "para/a") == ""
    assert fake.containers == {}


def test_nothing_to_build(repo: Path, para: Para, fake: FakeDockerService) -> None:
    result = para.fails("docker", "build")
    assert "nothing to build" in result.stderr


def test_a_failing_lifecycle_command_removes_the_container(
    repo: Path, para: Para, fake: FakeDockerService
) -> None:
    (repo / ".para").mkdir(exist_ok=True)
    (repo / ".para" / "docker.json").write_text(
        json.dumps({"image": "img:1", "post_create_command": ["make", "setup"]})
    )
    fake.exec_codes["make setup"] = 2
    result = para.fails("start", "a", "--docker")
    assert "post_create_command 'make setup' failed with exit code 2" in result.stderr
    assert fake.containers == {}
    assert git(repo, "branch", "--list", "para/a") == ""


def test_cache_volumes_are_made_labelled_and_owned(
    repo: Path, para: Para, fake: FakeDockerService
) -> None:
    (repo / ".para").mkdir(exist_ok=True)
    (repo / ".para" / "docker.json").write_text(
        json.dumps({"image": "img:1", "cache_volumes": {"npm": "/para/home/.npm"}})
    )
    para("start", "a", "--docker")
    repo_id = discover(repo).repo_id
    name = f"para-{repo_id}-cache-npm"
    assert fake.vols[name]["dev.para.cache"] == "npm"
    spec = next(iter(fake.specs.values()))
    assert any(m.volume and m.source == name and m.target == "/para/home/.npm" for m in spec.mounts)
    assert any(c.endswith(f"chown {spec.user} /para/home/.npm") for c in fake.calls)


def test_a_cache_volume_name_taken_by_a_session_s_volume_is_refused(
    repo: Path, para: Para, fake: FakeDockerService
) -> None:
    """Session "cache"'s service volume "npm" holds the cache volume's name: para does not
    hand that session's data to every container of the repository."""
    (repo / ".para").mkdir(exist_ok=True)
    (repo / ".para" / "docker.json").write_text(
        json.dumps({"image": "img:1", "cache_volumes": {"npm": "/para/home/.npm"}})
    )
    repo_id = discover(repo).repo_id
    name = f"para-{repo_id}-cache-npm"
    fake.vols[name] = {
        "dev.para.managed": "true",
        "dev.para.repo-id": repo_id,
        "dev.para.session": "cache",
        "dev.para.volume": "npm",
    }
    result = para.fails("start", "a", "--docker")
    assert f"volume {name} is session cache's volume npm, not the cache volume npm" in (
        result.stderr
    )
    assert fake.containers == {}
    assert git(repo, "branch", "--list", "para/a") == ""


@pytest.mark.parametrize(
    ("volumes", "problem"),
    [
        ({"x": "/workspace/cache"}, "it would hide the session's worktree"),
        ({"x": "/para/channel"}, "it would replace the session channel"),
        ({"x": "relative"}, "must be an absolute container path"),
        ({"bad name": "/c"}, "a name of letters"),
    ],
)
def test_cache_volume_targets_are_checked(
    repo: Path, para: Para, fake: FakeDockerService, volumes: dict[str, str], problem: str
) -> None:
    (repo / ".para").mkdir(exist_ok=True)
    (repo / ".para" / "docker.json").write_text(
        json.dumps({"image": "img:1", "cache_volumes": volumes})
    )
    result = para.fails("start", "a", "--docker")
    assert problem in result.stderr
    assert fake.containers == {}


def test_cleanup_removes_caches_of_gone_repositories_only(
    repo: Path, para: Para, fake: FakeDockerService, tmp_path: Path
) -> None:
    fake.vols["para-x-cache-pip"] = {
        "dev.para.managed": "true",
        "dev.para.repo-id": "x",
        "dev.para.repo": str(tmp_path / "gone"),
        "dev.para.cache": "pip",
    }
    fake.vols["para-y-cache-pip"] = {
        "dev.para.managed": "true",
        "dev.para.repo-id": "y",
        "dev.para.repo": str(repo),
        "dev.para.cache": "pip",
    }
    assert "volume" not in para("docker", "cleanup").stdout
    out = para("docker", "cleanup", "--all-repos").stdout
    assert "[removed] volume para-x-cache-pip" in out
    assert set(fake.vols) == {"para-y-cache-pip"}
