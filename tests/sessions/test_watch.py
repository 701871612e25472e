"""Carrying out finish/cancel requests: once each, outcomes recorded, stale claims."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from para.channel.layout import install_helpers
from tests.conftest import Para, git, para_executable

SHELLS = [["sh"], ["busybox", "sh"]]


def channel_of(repo: Path, name: str) -> Path:
    return repo / ".para" / "state" / "channels" / name


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
