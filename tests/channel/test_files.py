"""Hostile channel files: symlinks, bad content, sizes; the channel's permissions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import Para

SHELLS = [["sh"], ["busybox", "sh"]]


def channel_of(repo: Path, name: str) -> Path:
    return repo / ".para" / "state" / "channels" / name


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


def test_channel_is_private_to_the_user(repo: Path, para: Para) -> None:
    para("start", "priv")
    for path in [channel_of(repo, "priv"), *channel_of(repo, "priv").rglob("*")]:
        if path.is_dir():
            assert path.stat().st_mode & 0o077 == 0, path
