"""Many para processes at once on one repository: nothing lost, exactly one winner per name."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.conftest import git, para_executable


def start_many(repo: Path, names: list[str]) -> list[subprocess.CompletedProcess[str]]:
    procs = [
        subprocess.Popen(
            [para_executable(), "start", name, "--json"],
            cwd=repo,
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


def test_twenty_concurrent_starts(repo: Path) -> None:
    names = [f"s{i:02d}" for i in range(20)]
    results = start_many(repo, names)
    failed = [(r.args, r.stderr) for r in results if r.returncode != 0]
    assert not failed
    sessions = repo / ".para" / "state" / "sessions"
    records = sorted(sessions.glob("*.json"))
    assert [p.stem for p in records] == names
    for path in records:
        data = json.loads(path.read_text())
        assert data["schema_version"] == 1 and data["status"] == "active"
        assert Path(data["worktree"]).is_dir()
    listed = subprocess.run(
        [para_executable(), "list", "--json"], cwd=repo, capture_output=True, text=True, check=True
    )
    assert len(json.loads(listed.stdout)) == 20
    assert len(git(repo, "branch", "--list", "para/*").splitlines()) == 20
    assert not list(sessions.glob("*.starting"))


def test_same_name_twice_exactly_one_wins(repo: Path) -> None:
    for attempt in range(3):
        name = f"race{attempt}"
        results = start_many(repo, [name, name])
        codes = sorted(r.returncode for r in results)
        assert codes == [0, 1], [r.stderr for r in results]
        loser = next(r for r in results if r.returncode == 1)
        assert "already exists" in loser.stderr
        winner = json.loads(next(r for r in results if r.returncode == 0).stdout)
        assert Path(winner["worktree"]).is_dir()
        record = json.loads((repo / ".para" / "state" / "sessions" / f"{name}.json").read_text())
        assert record["worktree"] == winner["worktree"]
