"""Blob store, update log, ledger batches and the group committer on real files."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from server.committer import GroupCommitter
from server.ledger import Ledger
from server.storage import FileBlobStore, FileUpdateLog


def test_blobs_are_replaced_atomically_and_keys_are_confined(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    store.put("weights/1.fp32", b"old")
    store.put("weights/1.fp32", b"new")
    assert store.get("weights/1.fp32") == b"new" and store.size("weights/1.fp32") == 3
    assert [p.name for p in (tmp_path / "blobs" / "weights").iterdir()] == ["1.fp32"]  # no temp files left
    for key in ("../escape", "/abs", "a/../../b", ""):
        with pytest.raises(ValueError):
            store.put(key, b"x")


def test_update_log_keeps_offsets_across_reopen_and_ignores_a_torn_tail(tmp_path: Path) -> None:
    log = FileUpdateLog(tmp_path)
    first = log.append(3, b"alpha")
    log.sync({3})
    log.close()
    with open(tmp_path / "round-00000003.log", "ab") as file:
        file.write(b"\x09\x00\x00\x00torn")  # a crash in the middle of a record
    log = FileUpdateLog(tmp_path)
    second = log.append(3, b"beta")
    log.sync({3})
    assert log.read(3, first, 5) == b"alpha" and log.read(3, second, 4) == b"beta"
    with pytest.raises(OSError, match="truncated"):
        log.read(3, second, 40)
    log.drop(3)
    assert not (tmp_path / "round-00000003.log").exists()


def test_a_failing_operation_does_not_spoil_its_batch(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    insert = lambda key: lambda conn: conn.execute("INSERT INTO kv(key, value) VALUES(?, '1')", (key,))
    results = ledger.run_batch([insert("a"), insert("a"), insert("b")])
    assert results[0] is not None and isinstance(results[1], sqlite3.IntegrityError)
    assert [row[0] for row in ledger.query("SELECT key FROM kv ORDER BY key")] == ["a", "b"]
    assert ledger.query("PRAGMA journal_mode")[0][0] == "wal"


def test_group_committer_batches_concurrent_writes(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    log = FileUpdateLog(tmp_path / "updates")
    committer = GroupCommitter(ledger, log)
    committer.start()

    def store(key: str):
        return lambda conn, offset: conn.execute("INSERT INTO kv(key, value) VALUES(?, ?)", (key, str(offset)))

    async def main() -> list:
        jobs = [committer.submit(store(f"k{i}"), append=(1, b"x" * 10)) for i in range(200)]
        failing = committer.submit(lambda conn: conn.execute("INSERT INTO nowhere VALUES(1)"))
        results = await asyncio.gather(*jobs, failing, return_exceptions=True)
        return results

    results = asyncio.run(main())
    committer.stop()
    assert isinstance(results[-1], sqlite3.OperationalError)
    offsets = sorted(int(v) for (v,) in ledger.query("SELECT value FROM kv"))
    assert offsets == [4 + 14 * i for i in range(200)]
    assert committer.batches < 200 and committer.jobs == 201
