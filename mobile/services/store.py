"""The app's local database: one SQLite file holding everything the app must keep across restarts.

Settings and tokens, the cached grids, categories, cases and addresses, the outbox of reports and replies
with their photos, the drafts of reports, and the patrol shifts and track points. SQLite in WAL mode with
``synchronous=FULL``: a transaction that returned is on disk, so a report the screen called "saved"
survives the app being killed at any instant, or the phone losing power.

One connection is shared by the screens and the sync thread under a lock; every method is one short
transaction.

Phones are shared between shifts: every outbox item (with its photos), draft, shift (with its track
points), cached grid, case and address belongs to the user who made it (``owner``, the server's user id),
and is read, shown and sent only while that user is logged in (:attr:`Store.owner`). Categories are city-wide
and shared. An outbox item whose owner is unknown (NULL: queued before any login, or left by a version 1
database whose login was gone) is never dropped: the next user to log in takes it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA_VERSION = 5
# The caches of the server's data, one per user (kept only while someone is logged in), with the owner in
# the key since version 2; the migration from 1 makes them anew.
CACHES = """
CREATE TABLE grid (
    owner INTEGER NOT NULL, code TEXT NOT NULL, name TEXT NOT NULL, level TEXT NOT NULL, parent_code TEXT,
    geometry TEXT NOT NULL, PRIMARY KEY (owner, code)
);
CREATE TABLE cached_case (
    owner INTEGER NOT NULL, code TEXT NOT NULL, mine INTEGER NOT NULL DEFAULT 0,
    task INTEGER NOT NULL DEFAULT 0, data TEXT NOT NULL, detail TEXT, PRIMARY KEY (owner, code)
);
"""
# Reports the inspector put aside to finish later (version 3): the form as the report screen keeps it
# (JSON) and the paths of its photos, copied into the drafts' own folder (see mobile/services/drafts.py).
DRAFTS = """
CREATE TABLE draft (
    id INTEGER PRIMARY KEY, owner INTEGER, saved_at TEXT NOT NULL, form TEXT NOT NULL, photos TEXT NOT NULL
);
"""
# The register addresses in my grids (version 4), for searching them offline and naming the place of a
# report: as the server gives them, plus their label, text, aliases (each on a line of its own) and all
# their words normalised for search (grids.words.normalise). Search reads every row of the owner
# (a few thousand: an inspector's grids) with instr(): the rows are stored in the order of their key
# (WITHOUT ROWID), so that read is one sequential pass (5 times faster for 50,000 rows). The index serves
# the box around a point that the nearest address is looked for in.
ADDRESSES = """
CREATE TABLE address (
    owner INTEGER NOT NULL, id INTEGER NOT NULL, label TEXT NOT NULL, text TEXT NOT NULL, kind TEXT NOT NULL,
    aliases TEXT NOT NULL, lon REAL NOT NULL, lat REAL NOT NULL, grid_code TEXT NOT NULL,
    search_label TEXT NOT NULL, search_text TEXT NOT NULL, search_aliases TEXT NOT NULL,
    search_doc TEXT NOT NULL,
    PRIMARY KEY (owner, id)
) WITHOUT ROWID;
CREATE INDEX address_place ON address (owner, lat, lon);
"""
# The grid layer of a cached grid (version 5): its code and name (NULL: a grid shared by every layer).
GRID_LAYERS = """
ALTER TABLE grid ADD COLUMN layer TEXT;
ALTER TABLE grid ADD COLUMN layer_name TEXT;
"""
SCHEMA = (
    CACHES
    + DRAFTS
    + ADDRESSES
    + GRID_LAYERS
    + """
CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE category (code TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    owner INTEGER,
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
    owner INTEGER,
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
)
USER_CURSORS = ("grids", "tasks", "reports")  # the sync cursors of the per-user caches of version 1


def user_cursor(name: str, owner: int | None) -> str:
    """The settings key of the sync cursor of ``owner``'s cached ``name`` (grids, tasks, reports or
    addresses)."""
    return f"cursor.{name}.{owner}"


def _statements(script: str) -> list[str]:
    """The statements of ``script`` (executescript would commit: they run one by one in a transaction)."""
    return list(filter(str.strip, script.split(";")))


def _migrate_1_to_2(db: sqlite3.Connection) -> None:
    """Give every row to the user whose login is stored (the one who was using the phone). With none
    (version 1 forgot the login at logout), the cached grids and cases and the patrol track cannot be
    attributed and are dropped (sending a track as the next user's was the bug), while the outbox's
    items keep no owner and go to the next user who logs in: a report is never dropped."""
    row = db.execute("SELECT value FROM kv WHERE key IN ('offline_login', 'auth') LIMIT 1").fetchone()
    owner = json.loads(row["value"])["user"]["id"] if row else None  # version 1 kept one login in both
    db.execute("ALTER TABLE outbox ADD COLUMN owner INTEGER")
    db.execute("ALTER TABLE shift ADD COLUMN owner INTEGER")
    db.execute("UPDATE outbox SET owner = ?", (owner,))
    db.execute("UPDATE shift SET owner = ?", (owner,))
    for table in ("grid", "cached_case"):
        db.execute(f"ALTER TABLE {table} RENAME TO {table}_v1")
    for statement in _statements(CACHES):
        db.execute(statement)
    if owner is None:
        db.execute("DELETE FROM track_point")
        db.execute("DELETE FROM shift")
    else:
        db.execute("INSERT INTO grid SELECT ?, * FROM grid_v1", (owner,))
        db.execute("INSERT INTO cached_case SELECT ?, * FROM cached_case_v1", (owner,))
        db.execute("INSERT INTO kv (key, value) VALUES ('owner', ?)", (json.dumps(owner),))
    for table in ("grid", "cached_case"):
        db.execute(f"DROP TABLE {table}_v1")
    for name in USER_CURSORS:
        if owner is None:
            db.execute("DELETE FROM kv WHERE key = ?", (f"cursor.{name}",))
        else:
            db.execute("UPDATE kv SET key = ? WHERE key = ?", (user_cursor(name, owner), f"cursor.{name}"))


def _migrate_2_to_3(db: sqlite3.Connection) -> None:
    """Drafts of reports: a new table, nothing to move."""
    for statement in _statements(DRAFTS):
        db.execute(statement)


def _migrate_3_to_4(db: sqlite3.Connection) -> None:
    """The offline copy of the address register: a new table, filled by the next sync."""
    for statement in _statements(ADDRESSES):
        db.execute(statement)


def _migrate_4_to_5(db: sqlite3.Connection) -> None:
    """The grids' layers: new columns, filled by the next grid sync, which starts over to fetch them."""
    for statement in _statements(GRID_LAYERS):
        db.execute(statement)
    db.execute("DELETE FROM kv WHERE key LIKE 'cursor.grids.%'")


# version -> the step to the next one
MIGRATIONS = {1: _migrate_1_to_2, 2: _migrate_2_to_3, 3: _migrate_3_to_4, 4: _migrate_4_to_5}


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
            if version == 0:
                for statement in _statements(SCHEMA):
                    db.execute(statement)
            elif version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{path}: local database version {version}, this app knows {SCHEMA_VERSION}"
                )
            else:
                for step in range(version, SCHEMA_VERSION):
                    MIGRATIONS[step](db)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

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

    # -- whose data -----------------------------------------------------------------------------------

    @property
    def owner(self) -> int | None:
        """The server's id of the user logged in on the phone, whose rows are read, shown and sent (None:
        no one); a separate process (the patrol service) sees a change at once."""
        return self.get("owner")

    def set_owner(self, user_id: int | None) -> None:
        """``user_id`` logged in (None: logged out). A user who logs in takes the outbox items no one owns
        (see the module's docstring)."""
        with self.transaction() as db:
            if user_id is None:
                db.execute("DELETE FROM kv WHERE key = 'owner'")
                return
            db.execute(
                "INSERT INTO kv (key, value) VALUES ('owner', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (json.dumps(user_id),),
            )
            db.execute("UPDATE outbox SET owner = ? WHERE owner IS NULL", (user_id,))
