"""The app's local database: one SQLite file holding everything the app must keep across restarts.

Settings and tokens, the cached grids, categories and cases, the outbox of reports and replies with their
photos, and the patrol shifts and track points. SQLite in WAL mode with ``synchronous=FULL``: a transaction
that returned is on disk, so a report the screen called "saved" survives the app being killed at any
instant, or the phone losing power.

One connection is shared by the screens and the sync thread under a lock; every method is one short
transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE grid (
    code TEXT PRIMARY KEY, name TEXT NOT NULL, level TEXT NOT NULL, parent_code TEXT,
    geometry TEXT NOT NULL
);
CREATE TABLE category (code TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE cached_case (
    code TEXT PRIMARY KEY, mine INTEGER NOT NULL DEFAULT 0, task INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL, detail TEXT
);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    client_uuid TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('report', 'reply')),
    state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
    payload TEXT NOT NULL,
    case_code TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE TABLE outbox_photo (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    path TEXT NOT NULL,
    photo_id INTEGER,
    UNIQUE (item_id, position)
);
CREATE TABLE shift (
    client_uuid TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    start_sent INTEGER NOT NULL DEFAULT 0,
    end_sent INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE track_point (
    id INTEGER PRIMARY KEY,
    shift_uuid TEXT NOT NULL REFERENCES shift (client_uuid),
    recorded_at TEXT NOT NULL,
    lon REAL NOT NULL, lat REAL NOT NULL, accuracy_m REAL, speed_mps REAL,
    sent INTEGER NOT NULL DEFAULT 0,
    UNIQUE (shift_uuid, recorded_at)
);
CREATE INDEX track_point_unsent ON track_point (sent, shift_uuid);
"""


class Store:
    """The SQLite file at ``path`` (created with its schema on first use)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self.transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:  # executescript would commit: the statements run one by one
                for statement in filter(str.strip, SCHEMA.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            elif version != SCHEMA_VERSION:
                raise RuntimeError(
                    f"{path}: local database version {version}, this app knows {SCHEMA_VERSION}"
                )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction (BEGIN IMMEDIATE ... COMMIT, rolled back on an exception) under the lock."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- settings and small state ----------------------------------------------------------------------

    def get(self, key: str, default=None):
        rows = self.query("SELECT value FROM kv WHERE key = ?", (key,))
        return json.loads(rows[0]["value"]) if rows else default

    def set(self, key: str, value) -> None:
        with self.transaction() as db:
            if value is None:
                db.execute("DELETE FROM kv WHERE key = ?", (key,))
            else:
                db.execute(
                    "INSERT INTO kv (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, json.dumps(value, ensure_ascii=False)),
                )
