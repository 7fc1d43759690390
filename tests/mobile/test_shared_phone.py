"""One phone, two inspectors (issue 16): inspector A clocks in, walks, loses the network, reports, and logs
out, warned about the unsent report and made to clock out first; inspector B logs in on the same phone,
clocks in, walks and syncs; A logs in again and the kept report goes. The server must hold A's report as
A's, each shift and its track as its walker's, and B must see only B's own tasks, reports and grids.
Also: a version 1 database is migrated to its owner."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

# isort: off
import mobile.main  # noqa: F401 (first: it sets the window's size, which Kivy fixes when it makes it)

# isort: on
import shapely
from kivy.core.window import Window
from kivy.uix.button import Button
from sqlalchemy import text

from mobile.services.store import SCHEMA_VERSION, Store, user_cursor
from server.database import get_engine
from tests.mobile.app_driver import Driver, log_in, synced
from tests.mobile.conftest import INSPECTOR, OPERATOR, act, hotline_case, http_login, user_id

INSPECTOR_B = "13900000002"  # 刘洋, inspector of the demo street's second village


def choose(d: Driver, words: str, answer: str) -> str:
    """Tap ``answer`` in the open question whose text holds ``words``; return the question's text."""
    popup = d.until(
        lambda: next(
            (w for w in Window.children if type(w).__name__ == "ChoicePopup" and words in w.text), None
        ),
        f"the question about {words}",
    )
    asked = popup.text
    d.tap(d.find(Button, root=popup, text=answer))
    return asked


def walk(d: Driver, points: int = 2) -> None:
    """Wait until the open shift of the logged-in user has ``points`` track points."""
    patrol = d.app.services.patrol
    d.until(lambda: len(patrol.track()) >= points, f"{points} track points", seconds=90)


def report(d: Driver) -> None:
    """Report exposed garbage from the report screen (it lands in the outbox)."""
    d.nav("report")
    screen = d.screen
    d.until(lambda: screen.pin is not None, "the pin at the GPS fix")
    d.tap(screen.ids.photos.ids.take)
    d.until(lambda: screen.ids.photos.paths, "the photo from the camera")
    d.type(screen.ids.search, "垃圾")
    d.frames(2)
    d.tap(d.find("ChoiceRow", code="E06010"))
    d.type(screen.ids.description, "交班前看到的垃圾堆")
    d.tap(screen.ids.submit)
    d.until(lambda: d.app.current == "outbox", "the outbox")


def village_point(client) -> tuple[str, float, float]:
    """The first village of a user's grids: its code and a point inside it."""
    features = client.get("/api/sync/grids").json()["features"]
    village = next(f for f in features if f["properties"]["level"] == "village")
    inside = shapely.geometry.shape(village["geometry"]).representative_point()
    return village["properties"]["code"], inside.x, inside.y


def verification_for(operator, inspector) -> str:
    """A citizen's call in the inspector's village, sent to the inspector to verify: its code."""
    _, lon, lat = village_point(inspector)
    code = hotline_case(operator, lon, lat, "市民来电：路口有垃圾堆放")["code"]
    act(operator, code, "request_verification", inspector_id=user_id(inspector))
    return code


def test_two_inspectors_share_one_phone(drive, server, netfault, mobile_db_url):
    with (
        closing(http_login(server, OPERATOR)) as operator,
        closing(http_login(server, INSPECTOR)) as a_http,
        closing(http_login(server, INSPECTOR_B)) as b_http,
    ):
        a_id, b_id = user_id(a_http), user_id(b_http)
        a_village, b_village = village_point(a_http)[0], village_point(b_http)[0]
        assert a_village != b_village
        a_task, b_task = verification_for(operator, a_http), verification_for(operator, b_http)

    d = drive(sync_options={"interval_s": 1.0, "max_pause_s": 1.0})
    d.app.services.api.backoff_s = d.app.services.api.backoff_cap_s = 0.01
    services = d.app.services

    # A clocks in and walks, goes offline, reports, and logs out keeping the report.
    log_in(d, netfault.url, INSPECTOR)
    synced(d)
    assert a_task in [t["code"] for t in services.cache.tasks()]
    d.until(lambda: not d.screen.ids.clock.disabled, "the clock button to take a tap")
    d.tap(d.screen.ids.clock)
    walk(d)
    netfault.set("down")
    report(d)
    (kept,) = services.outbox.pending()
    d.nav("home")
    d.tap(d.screen.ids.logout)
    choose(d, "下班打卡", "下班并退出")
    asked = choose(d, "没有发送", "保留并退出")
    assert "1 条上报" in asked and "下次你用这个账号登录" in asked
    d.until(lambda: d.app.current == "login", "the login screen")
    assert services.store.owner is None
    assert not services.store.query("SELECT 1 FROM shift WHERE ended_at IS NULL")  # ended, not left open

    # B logs in: sees none of A's things, clocks in, walks, syncs.
    netfault.set("pass")
    log_in(d, netfault.url, INSPECTOR_B)
    synced(d)
    assert services.store.owner == b_id
    assert services.outbox.items() == [] and d.screen.ids.waiting.value == 0
    tasks = [t["code"] for t in services.cache.tasks()]
    assert b_task in tasks and a_task not in tasks
    assert services.cache.case(a_task) is None and services.cache.reports() == []
    grids = {g.code for g in services.cache.grid_records()}
    assert b_village in grids and a_village not in grids
    assert not services.patrol.on_shift  # A's shift is not B's
    d.until(lambda: not d.screen.ids.clock.disabled, "the clock button to take a tap")
    d.tap(d.screen.ids.clock)
    walk(d)
    synced(d)
    assert d.app.sync_state == "idle"
    d.tap(d.screen.ids.logout)
    choose(d, "下班打卡", "下班并退出")  # online: the clock-out is sent, nothing waits, B is logged out
    d.until(lambda: d.app.current == "login", "the login screen")

    # A logs in again: the kept report goes, with A's session.
    log_in(d, netfault.url, INSPECTOR)
    synced(d)
    assert services.outbox.get(kept.id).state == "sent"

    shifts = {r["client_uuid"]: r["owner"] for r in services.store.query("SELECT * FROM shift")}
    local_points = {
        r["shift_uuid"]: r["n"]
        for r in services.store.query("SELECT shift_uuid, count(*) AS n FROM track_point GROUP BY shift_uuid")
    }
    assert sorted(shifts.values()) == sorted([a_id, b_id])
    with get_engine(mobile_db_url).connect() as db:
        reporter = db.execute(
            text("SELECT reporter_id FROM case_file WHERE client_uuid = CAST(:u AS uuid)"),
            {"u": kept.client_uuid},
        ).scalar_one()
        rows = db.execute(
            text(
                "SELECT s.client_uuid::text AS uuid, s.user_id, s.ended_at IS NOT NULL AS ended, "
                "count(p.id) AS points FROM patrol_shift s LEFT JOIN track_point p ON p.shift_id = s.id "
                "WHERE s.client_uuid::text = ANY(:uuids) GROUP BY s.id"
            ),
            {"uuids": list(shifts)},
        ).all()
    assert reporter == a_id
    assert {r.uuid: r.user_id for r in rows} == shifts  # each shift is its walker's
    assert all(r.ended and r.points == local_points[r.uuid] >= 2 for r in rows)


def test_version_1_database_goes_to_the_stored_login(tmp_path):
    """A version 1 phone's rows go to the user whose login it keeps; with none kept, its unsent reports
    wait for the next login and its unattributable track and caches are dropped."""
    for stored, path in ((7, tmp_path / "kept.sqlite"), (None, tmp_path / "gone.sqlite")):
        with closing(sqlite3.connect(path)) as db:
            db.executescript(V1_SCHEMA)
            if stored is not None:
                login = json.dumps({"user": {"id": stored, "name": "张伟"}})
                db.execute("INSERT INTO kv VALUES ('offline_login', ?), ('auth', ?)", (login, login))
            db.executescript(V1_ROWS)
            db.commit()
        store = Store(path)
        assert store.query("PRAGMA user_version")[0][0] == SCHEMA_VERSION
        assert store.owner == stored
        assert [r["owner"] for r in store.query("SELECT owner FROM outbox")] == [stored]
        assert len(store.query("SELECT * FROM outbox_photo")) == 1
        kept = stored is not None
        assert [r["owner"] for r in store.query("SELECT owner FROM shift")] == ([stored] if kept else [])
        assert len(store.query("SELECT * FROM track_point")) == (1 if kept else 0)
        assert [r["owner"] for r in store.query("SELECT owner FROM grid")] == ([stored] if kept else [])
        assert [r["owner"] for r in store.query("SELECT owner FROM cached_case")] == (
            [stored] if kept else []
        )
        assert store.get(user_cursor("tasks", stored)) == (5 if kept else None)
        assert store.get("cursor.tasks") is None
        store.set_owner(9)  # the next login: an unattributed report is that user's, never dropped
        assert [r["owner"] for r in store.query("SELECT owner FROM outbox")] == [stored or 9]
        store.close()


V1_SCHEMA = """
CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE grid (
    code TEXT PRIMARY KEY, name TEXT NOT NULL, level TEXT NOT NULL, parent_code TEXT, geometry TEXT NOT NULL
);
CREATE TABLE category (code TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE cached_case (
    code TEXT PRIMARY KEY, mine INTEGER NOT NULL DEFAULT 0, task INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL, detail TEXT
);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY, client_uuid TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('report', 'reply')),
    state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
    payload TEXT NOT NULL, case_code TEXT, error TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL, sent_at TEXT
);
CREATE TABLE outbox_photo (
    id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    position INTEGER NOT NULL, path TEXT NOT NULL, photo_id INTEGER, UNIQUE (item_id, position)
);
CREATE TABLE shift (
    client_uuid TEXT PRIMARY KEY, started_at TEXT NOT NULL, ended_at TEXT,
    start_sent INTEGER NOT NULL DEFAULT 0, end_sent INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE track_point (
    id INTEGER PRIMARY KEY, shift_uuid TEXT NOT NULL REFERENCES shift (client_uuid),
    recorded_at TEXT NOT NULL, lon REAL NOT NULL, lat REAL NOT NULL, accuracy_m REAL, speed_mps REAL,
    sent INTEGER NOT NULL DEFAULT 0, UNIQUE (shift_uuid, recorded_at)
);
CREATE INDEX track_point_unsent ON track_point (sent, shift_uuid);
PRAGMA user_version = 1;
"""
V1_ROWS = """
INSERT INTO kv VALUES ('cursor.tasks', '5'), ('cursor.categories', '"2024-01-01"');
INSERT INTO grid VALUES ('370102001001', '一村', 'village', NULL, '{}');
INSERT INTO cached_case VALUES ('370102-20240101-0001', 0, 1, '{}', NULL);
INSERT INTO outbox (id, client_uuid, kind, state, payload, created_at)
    VALUES (1, 'u-1', 'report', 'queued', '{}', '2024-01-01T00:00:00+00:00');
INSERT INTO outbox_photo (item_id, position, path) VALUES (1, 0, '/nowhere/a.jpg');
INSERT INTO shift (client_uuid, started_at) VALUES ('s-1', '2024-01-01T00:00:00+00:00');
INSERT INTO track_point (shift_uuid, recorded_at, lon, lat)
    VALUES ('s-1', '2024-01-01T00:00:05+00:00', 117, 36);
"""
