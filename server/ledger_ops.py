"""The ledger's write operations: each builds an :data:`~server.ledger.Operation` for a batch.

All SQL that changes the ledger lives here and in ``server.tokens``, so another database
(PostgreSQL) replaces the ledger by providing these builders and :class:`server.ledger.Ledger`'s
reads.
"""

from __future__ import annotations

import json
from typing import Any

from edge_sdk.wire import protocol as p
from server.errors import ApiError
from server.ledger import Operation, TaskRow
from server.tokens import consume_token, token_digest


def store_nonces(nonces: list[tuple[str, str, float]], now: float) -> Operation:
    """Remember used nonces (device, nonce, expiry) and forget expired ones."""
    def run(conn: Any) -> None:
        conn.executemany("INSERT OR IGNORE INTO nonces(device_id, nonce, expires_at) VALUES(?, ?, ?)", nonces)
        conn.execute("DELETE FROM nonces WHERE expires_at < ?", (now,))
    return run


def insert_task(task: TaskRow, now: float) -> Operation:
    """Store a new task."""
    return lambda conn: conn.execute(
        "INSERT INTO tasks(task_id, device_id, round, base_version, seed, deadline, created_at) "
        "VALUES(?, ?, ?, ?, ?, ?, ?)",
        (task.task_id, task.device_id, task.round, task.base_version, task.seed, task.deadline, now))


def insert_update(task: TaskRow, round_number: int, digest: str, length: int, meta: p.UpdateMeta,
                  factor: float, now: float) -> Any:
    """Store an accepted update; the committer calls the result with the body's log ``offset``."""
    def run(conn: Any, offset: int) -> None:
        conn.execute("INSERT INTO updates(task_id, device_id, round, body_sha256, log_offset, length, "
                     "num_examples, factor, metrics, received_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (task.task_id, task.device_id, round_number, digest, offset, length, meta.num_examples,
                      factor, json.dumps(meta.metrics), now))
    return run


def enroll_device(request: p.EnrollRequest, public_key: bytes, device_id: str, now: float) -> Operation:
    """Register a device with a token use; (201, id), or (200, existing id) for a known key."""
    def run(conn: Any) -> tuple[int, str]:
        row = conn.execute("SELECT device_id, revoked FROM devices WHERE public_key = ?", (public_key,)).fetchone()
        if row is not None:
            if row[1]:
                raise ApiError("key_in_use", "this public key belongs to a revoked device")
            return 200, row[0]
        consume_token(conn, request.token, now)
        conn.execute("INSERT INTO devices(device_id, public_key, platform, sdk_version, runtime, token, "
                     "enrolled_at) VALUES(?, ?, ?, ?, ?, ?, ?)",
                     (device_id, public_key, request.platform, request.sdk_version, request.runtime,
                      token_digest(request.token)[:12], now))
        return 201, device_id
    return run


def finish_round(version: int | None, number: int | None, now: float, info: dict[str, Any] | None,
                 stats: dict[str, Any] | None, next_round: int) -> Operation:
    """Record a published version and/or a finished round, and open round ``next_round``."""
    def run(conn: Any) -> None:
        if version is not None:
            conn.execute("INSERT OR REPLACE INTO versions(version, round, created_at, info) VALUES(?, ?, ?, ?)",
                         (version, number, now, json.dumps(info)))
        if number is not None:
            conn.execute("UPDATE rounds SET closed_at = ?, outcome = ?, stats = ? WHERE round = ?",
                         (now, stats["outcome"], json.dumps(stats), number))
        base = conn.execute("SELECT MAX(version) FROM versions").fetchone()[0]
        conn.execute("INSERT INTO rounds(round, base_version, opened_at) VALUES(?, ?, ?)", (next_round, base, now))
    return run


def init_settings(model_sha256: str, seed_key: str) -> Operation:
    """Record the data directory's model and its secret seed key (first start only)."""
    return lambda conn: conn.executemany(
        "INSERT OR IGNORE INTO kv(key, value) VALUES(?, ?)",
        [("model_sha256", json.dumps(model_sha256)), ("seed_key", json.dumps(seed_key))])
