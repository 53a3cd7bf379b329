"""The ledger: devices, tokens, nonces, rounds, tasks, accepted updates, versions, state.

The embedded implementation is SQLite in WAL mode with ``synchronous=FULL``: a committed
transaction survives a process kill and a power cut. Writes go through :meth:`Ledger.run_batch`
(one transaction, one savepoint per operation) so the group committer can make many requests
durable with one fsync. Each thread gets its own connection; readers never block the writer.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens(token TEXT PRIMARY KEY, max_uses INTEGER NOT NULL,
  uses INTEGER NOT NULL DEFAULT 0, expires_at REAL, revoked INTEGER NOT NULL DEFAULT 0,
  created_at REAL NOT NULL, note TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS devices(device_id TEXT PRIMARY KEY, public_key BLOB NOT NULL UNIQUE,
  platform TEXT NOT NULL, sdk_version TEXT NOT NULL, runtime TEXT NOT NULL, token TEXT NOT NULL,
  enrolled_at REAL NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS nonces(device_id TEXT NOT NULL, nonce TEXT NOT NULL,
  expires_at REAL NOT NULL, PRIMARY KEY(device_id, nonce)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rounds(round INTEGER PRIMARY KEY, base_version INTEGER NOT NULL,
  opened_at REAL NOT NULL, closed_at REAL, outcome TEXT, stats TEXT);
CREATE TABLE IF NOT EXISTS tasks(task_id TEXT PRIMARY KEY, device_id TEXT NOT NULL,
  round INTEGER NOT NULL, base_version INTEGER NOT NULL, seed INTEGER NOT NULL,
  deadline REAL NOT NULL, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS tasks_deadline ON tasks(deadline);
CREATE TABLE IF NOT EXISTS updates(task_id TEXT PRIMARY KEY, device_id TEXT NOT NULL,
  round INTEGER NOT NULL, body_sha256 TEXT NOT NULL, log_offset INTEGER NOT NULL,
  length INTEGER NOT NULL, num_examples INTEGER NOT NULL, factor REAL NOT NULL,
  metrics TEXT NOT NULL, received_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS updates_round ON updates(round);
CREATE TABLE IF NOT EXISTS versions(version INTEGER PRIMARY KEY, round INTEGER,
  created_at REAL NOT NULL, info TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kv(key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class TaskRow:
    """A task as stored."""

    task_id: str
    device_id: str
    round: int
    base_version: int
    seed: int
    deadline: float


@dataclass(frozen=True)
class UpdateRow:
    """An accepted update as stored; its body is in the round's update log."""

    task_id: str
    device_id: str
    round: int
    body_sha256: str
    log_offset: int
    length: int
    num_examples: int
    factor: float
    metrics: dict[str, float]


Operation = Callable[[sqlite3.Connection], Any]


class Ledger:
    """The SQLite ledger at ``path`` (created with its schema if new)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._conn().executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # ------------------------------------------------------------------ writing

    def run_batch(self, operations: Sequence[Operation]) -> list[Any]:
        """Run operations in one transaction; each result is its value or the exception it raised."""
        conn = self._conn()
        results: list[Any] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for operation in operations:
                results.append(_run_in_savepoint(conn, operation))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return results

    def write(self, operation: Operation) -> Any:
        """Run one operation in its own transaction; re-raise its exception."""
        (result,) = self.run_batch([operation])
        if isinstance(result, Exception):
            raise result
        return result

    # ------------------------------------------------------------------ reading

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Rows of a read-only query."""
        return self._conn().execute(sql, params).fetchall()

    def get(self, key: str, default: Any = None) -> Any:
        """A JSON value of the key-value table."""
        rows = self.query("SELECT value FROM kv WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else default

    def devices(self) -> dict[str, tuple[bytes, bool]]:
        """Every device: id → (raw public key, revoked)."""
        rows = self.query("SELECT device_id, public_key, revoked FROM devices")
        return {device: (bytes(key), bool(revoked)) for device, key, revoked in rows}

    def task(self, task_id: str) -> TaskRow | None:
        """The task called ``task_id``, if any."""
        rows = self.query(f"SELECT {_TASK_COLUMNS} FROM tasks WHERE task_id = ?", (task_id,))
        return TaskRow(*rows[0]) if rows else None

    def open_tasks(self, now: float) -> list[TaskRow]:
        """Tasks whose deadline has not passed."""
        rows = self.query(f"SELECT {_TASK_COLUMNS} FROM tasks WHERE deadline > ?", (now,))
        return [TaskRow(*row) for row in rows]

    def update_of(self, task_id: str) -> UpdateRow | None:
        """The accepted update of a task, if any."""
        rows = self.query(f"SELECT {_UPDATE_COLUMNS} FROM updates WHERE task_id = ?", (task_id,))
        return _update_row(rows[0]) if rows else None

    def updates_in_round(self, round_number: int) -> list[UpdateRow]:
        """Accepted updates of a round, in acceptance order."""
        sql = f"SELECT {_UPDATE_COLUMNS} FROM updates WHERE round = ? ORDER BY rowid"
        return [_update_row(row) for row in self.query(sql, (round_number,))]

    def open_round(self) -> tuple[int, int, float] | None:
        """(round, base_version, opened_at) of the round without an outcome, if any."""
        rows = self.query("SELECT round, base_version, opened_at FROM rounds WHERE outcome IS NULL")
        return rows[0] if rows else None

    def latest_version(self) -> int | None:
        """The newest published weights version."""
        return self.query("SELECT MAX(version) FROM versions")[0][0]

    def version_info(self, version: int) -> dict[str, Any] | None:
        """The stored description of a weights version."""
        rows = self.query("SELECT info FROM versions WHERE version = ?", (version,))
        return json.loads(rows[0][0]) if rows else None

    def live_nonces(self, now: float) -> list[tuple[str, str, float]]:
        """(device, nonce, expires_at) of nonces still inside their window."""
        return self.query("SELECT device_id, nonce, expires_at FROM nonces WHERE expires_at > ?", (now,))

    def rounds(self, limit: int = 200) -> list[dict[str, Any]]:
        """The most recent finished rounds with their stats, oldest first."""
        sql = ("SELECT round, base_version, opened_at, closed_at, outcome, stats FROM rounds "
               "WHERE outcome IS NOT NULL ORDER BY round DESC LIMIT ?")
        rows = self.query(sql, (limit,))
        keys = ("round", "base_version", "opened_at", "closed_at", "outcome")
        return [dict(zip(keys, row[:5]), **json.loads(row[5] or "{}")) for row in reversed(rows)]


def _run_in_savepoint(conn: sqlite3.Connection, operation: Operation) -> Any:
    conn.execute("SAVEPOINT op")
    try:
        result = operation(conn)
    except Exception as exc:  # the operation's failure is its result; the batch goes on
        conn.execute("ROLLBACK TO op")
        conn.execute("RELEASE op")
        return exc
    conn.execute("RELEASE op")
    return result


_TASK_COLUMNS = "task_id, device_id, round, base_version, seed, deadline"
_UPDATE_COLUMNS = ("task_id, device_id, round, body_sha256, log_offset, length, num_examples, "
                   "factor, metrics")


def _update_row(row: tuple) -> UpdateRow:
    return UpdateRow(*row[:8], metrics=json.loads(row[8]))
