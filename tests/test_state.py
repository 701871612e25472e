from __future__ import annotations

import json
from pathlib import Path

import pytest

from para.errors import SessionExists, SessionNotFound, StateLocked
from para.repo import discover
from para.state import SessionRecord, StateStore, utcnow, write_atomic


def record(name: str, tmp: Path) -> SessionRecord:
    return SessionRecord(
        name=name,
        branch=f"para/{name}",
        base="main",
        base_commit="0" * 40,
        worktree=str(tmp / name),
        created_at=utcnow(),
    )


def test_write_read_roundtrip(repo: Path) -> None:
    store = StateStore(discover(repo))
    store.write(record("a", repo))
    assert store.read("a").branch == "para/a"
    data = json.loads(store.path_of("a").read_text())
    assert data["schema_version"] == 1


def test_missing_record_is_session_not_found(repo: Path) -> None:
    with pytest.raises(SessionNotFound):
        StateStore(discover(repo)).read("nope")


def test_corrupt_and_unknown_version_records_are_skipped_by_name(repo: Path) -> None:
    store = StateStore(discover(repo))
    store.write(record("good", repo))
    store.write(record("half", repo))
    half = store.path_of("half")
    raw = half.read_bytes()
    half.write_bytes(raw[: len(raw) // 2])
    future = store.path_of("future")
    future.write_text(json.dumps({**json.loads(raw), "name": "future", "schema_version": 99}))
    records, bad = store.load_all()
    assert [r.name for r in records] == ["good"]
    reasons = {b.path.name: b.reason for b in bad}
    assert "not valid JSON" in reasons["half.json"]
    assert "unknown schema_version 99" in reasons["future.json"]


def test_write_atomic_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "d" / "f.json"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["f.json"]


def test_reserve_is_exclusive_and_released(repo: Path) -> None:
    store = StateStore(discover(repo))
    with (
        store.reserve("x"),
        pytest.raises(SessionExists, match="being started"),
        store.reserve("x"),
    ):
        pass
    with store.reserve("x"):
        pass


def test_stale_marker_of_dead_process_is_taken_over(repo: Path) -> None:
    store = StateStore(discover(repo))
    store.repo.sessions_dir.mkdir(parents=True)
    (store.repo.sessions_dir / "x.starting").write_text("999999999")
    assert store.stale_markers()
    with store.reserve("x"):
        pass


def test_lock_held_too_long_is_state_locked(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from filelock import FileLock

    store = StateStore(discover(repo), lock_timeout=0.2)
    store.repo.state_dir.mkdir(parents=True)
    holder = FileLock(str(store.lock_path), thread_local=False)
    holder.acquire()
    try:
        with pytest.raises(StateLocked) as info, store.lock():
            pass
    finally:
        holder.release()
    assert str(store.lock_path) in info.value.message
    assert "waiting for another para process" in capsys.readouterr().err
