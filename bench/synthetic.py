"""Synthetic cases for the benchmarks: many cases in the demo city's 历下区, made set-based in the database
and the same for the same seed.

Each case lies at a point inside a unit grid (``ST_GeneratePoints`` with a seed), with a category, an
urgency, a state of the workflow (weighted like a working city: most cases closed), a received time over the
year before ``until`` and, for open cases, a step deadline on the minute that makes some of them overdue,
with the instant its light turns yellow from the work calendar (suspended cases keep minutes instead). Rows
are inserted in chunks with the per-row triggers off (``session_replication_role = replica``: the change
numbers, notifications and the tiles' case summary are for live work, not for a bulk load), then the case
summary is built in one statement and the tables are analysed.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from locate import load_demo  # bench/locate.py, beside this file

from server import migrate
from server.category import service as category_service
from server.config import get_settings
from server.database import new_session
from server.localdb import OWNER_ROLE, Cluster
from server.users.demo import load_demo_people
from server.worktime.calendar import load_calendar

DISTRICT = "370102"
# (state, weight): closed cases dominate, as in a city that has run the system for a year.
STATES = [
    ("closed", 70), ("dispatched", 6), ("handled", 4), ("checking", 3), ("verifying", 3), ("registered", 3),
    ("reported", 2), ("filed", 2), ("returned", 1), ("suspended", 1), ("checked", 1), ("voided", 3),
    ("merged", 1),
]  # fmt: skip
STOPPED = ("closed", "voided", "merged", "suspended")  # no running clock
STEP_LIMIT_MIN = 240
DUE_FROM_MIN, DUE_SPAN_MIN = -2 * 24 * 60, 6 * 24 * 60  # due over six days from two days before ``until``
INSERT = """
WITH unit AS (
    SELECT id, code, path, geom, row_number() OVER (ORDER BY code) - 1 AS k
    FROM grid WHERE valid_to IS NULL AND level = 'unit' AND code LIKE %(district)s || '%%'
), category AS (
    SELECT id, urgency, row_number() OVER (ORDER BY code) - 1 AS k FROM category WHERE active AND leaf
), state AS (
    SELECT s.state, sum(s.weight) OVER (ORDER BY s.ord) - s.weight AS low,
           sum(s.weight) OVER (ORDER BY s.ord) AS high
    FROM unnest(%(states)s::text[], %(weights)s::int[]) WITH ORDINALITY AS s(state, weight, ord)
), picked AS (
    SELECT i,
           abs(hashtextextended('unit' || i, %(seed)s)) %% (SELECT count(*) FROM unit) AS unit_k,
           abs(hashtextextended('category' || i, %(seed)s)) %% (SELECT count(*) FROM category) AS category_k,
           abs(hashtextextended('state' || i, %(seed)s)) %% %(total_weight)s AS state_w,
           (abs(hashtextextended('when' || i, %(seed)s)) %% (365 * 24 * 3600))::int AS seconds_ago,
           (abs(hashtextextended('due' || i, %(seed)s)) %% %(due_span)s)::int + %(due_from)s AS due_in
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS i
), yellow AS (
    SELECT * FROM unnest(%(due_in)s::int[], %(yellow)s::timestamptz[]) AS y(due_in, at)
)
INSERT INTO case_file (
    code, client_uuid, content_hash, channel, state, category_id, urgency, description, location,
    reported_crs, grid_id, grid_code, grid_path, district_code, received_at, step_started_at,
    step_limit_min, step_due_at, step_yellow_at, step_remaining_min, closed_at, close_kind, change_seq
)
SELECT %(district)s || '-'
           || to_char(%(until)s::timestamptz - p.seconds_ago * interval '1 second', 'YYYYMMDD')
           || '-' || lpad(p.i::text, 8, '0'),
       md5(%(seed)s || '-' || p.i)::uuid, md5('content' || p.i), 'inspector', s.state, c.id, c.urgency,
       '', ST_GeometryN(ST_GeneratePoints(u.geom, 1, ((%(seed)s * 1000003 + p.i) %% 2147483647 + 1)::int), 1),
       'wgs84', u.id, u.code, u.path, %(district)s,
       %(until)s::timestamptz - p.seconds_ago * interval '1 second',
       %(until)s::timestamptz - p.seconds_ago * interval '1 second',
       %(limit)s,
       CASE WHEN s.state <> ALL(%(stopped)s) THEN %(until)s::timestamptz + p.due_in * interval '1 minute' END,
       CASE WHEN s.state <> ALL(%(stopped)s) THEN y.at END,
       CASE WHEN s.state = 'suspended' THEN %(limit)s / 2 END,
       CASE WHEN s.state = 'closed'
            THEN %(until)s::timestamptz - (p.seconds_ago / 2) * interval '1 second' END,
       CASE WHEN s.state = 'closed' THEN 'normal' END,
       p.i
FROM picked p
JOIN unit u ON u.k = p.unit_k
JOIN category c ON c.k = p.category_k
JOIN state s ON p.state_w >= s.low AND p.state_w < s.high
JOIN yellow y ON y.due_in = p.due_in
"""


def _insert_chunks(
    cur,
    statement: str,
    params: dict,
    n: int,
    *,
    seed: int,
    until: datetime,
    chunk: int,
    progress,
    after: tuple[str, dict] | None = None,
) -> None:
    """Run ``statement`` for cases 1..n in chunks, with the row triggers off (a bulk load: no change numbers,
    no notifications, no summaries), then ``after`` if given; the change sequence then follows the table."""
    states, weights = zip(*STATES, strict=True)
    common = {**params, "states": list(states), "weights": list(weights), "total_weight": sum(weights)}
    cur.execute("SET session_replication_role = replica")
    for first in range(1, n + 1, chunk):
        last = min(first + chunk - 1, n)
        cur.execute(statement, {**common, "seed": seed, "first": first, "last": last, "until": until})
        progress(last)
    if after:
        cur.execute(*after)
    cur.execute("SET session_replication_role = DEFAULT")
    cur.execute("SELECT setval('case_change_seq', greatest((SELECT max(change_seq) FROM case_file), 1))")


def load_synthetic_cases(
    conn,
    n: int,
    *,
    seed: int = 42,
    until: datetime | None = None,
    chunk: int = 100_000,
    progress: Callable[[int], None] = lambda done: None,
) -> int:
    """Insert ``n`` synthetic cases (numbered from 1) through ``conn``, a superuser's autocommit psycopg2
    connection (``Cluster.connect(database)``: turning the triggers off needs one), and return how many the
    table then holds. Needs the demo city's grids and the starter categories."""
    until = until or datetime(2026, 11, 24, tzinfo=UTC)
    settings = get_settings()
    cal, yellow_minutes = load_calendar(settings), settings.yellow_fraction * STEP_LIMIT_MIN
    due_in = list(range(DUE_FROM_MIN, DUE_FROM_MIN + DUE_SPAN_MIN))
    yellow = [cal.subtract(until + timedelta(minutes=m), yellow_minutes) for m in due_in]
    params = {
        "district": DISTRICT,
        "limit": STEP_LIMIT_MIN,
        "stopped": list(STOPPED),
        "due_from": DUE_FROM_MIN,
        "due_span": DUE_SPAN_MIN,
        "due_in": due_in,
        "yellow": yellow,
    }
    with conn.cursor() as cur:
        _insert_chunks(cur, INSERT, params, n, seed=seed, until=until, chunk=chunk, progress=progress)
        cur.execute("DELETE FROM case_cell")
        cur.execute("INSERT INTO case_cell SELECT * FROM case_cell_source")
        cur.execute("ANALYZE case_file")
        cur.execute("ANALYZE case_cell")
        cur.execute("SELECT count(*) FROM case_file")
        return cur.fetchone()[0]


# -- the whole city, for the dashboards --------------------------------------------------------------

CITY_INSERT = """
WITH village AS (
    SELECT id, code, path, ST_PointOnSurface(geom) AS point, row_number() OVER (ORDER BY code) - 1 AS k
    FROM grid WHERE valid_to IS NULL AND level = 'village'
), category AS (
    SELECT id, urgency, department_id, row_number() OVER (ORDER BY code) - 1 AS k
    FROM category WHERE active AND leaf
), inspector AS (
    SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM app_user WHERE 'inspector' = ANY(roles)
), state AS (
    SELECT s.state, sum(s.weight) OVER (ORDER BY s.ord) - s.weight AS low,
           sum(s.weight) OVER (ORDER BY s.ord) AS high
    FROM unnest(%(states)s::text[], %(weights)s::int[]) WITH ORDINALITY AS s(state, weight, ord)
), picked AS (
    SELECT i,
           (abs(hashtextextended('village' || i, %(seed)s)) %% (SELECT count(*) FROM village)) AS village_k,
           abs(hashtextextended('category' || i, %(seed)s)) %% (SELECT count(*) FROM category) AS category_k,
           abs(hashtextextended('state' || i, %(seed)s)) %% %(total_weight)s AS state_w,
           abs(hashtextextended('channel' || i, %(seed)s)) %% 10 AS channel_k,
           (abs(hashtextextended('when' || i, %(seed)s)) %% (365 * 24 * 3600))::int AS seconds_ago,
           (abs(hashtextextended('handled' || i, %(seed)s)) %% (48 * 3600))::int AS handled_after,
           abs(hashtextextended('rework' || i, %(seed)s)) %% 20 = 0 AS reworked
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS i
)
INSERT INTO case_file (
    code, client_uuid, content_hash, channel, state, category_id, urgency, description, location,
    reported_crs, grid_id, grid_code, grid_path, district_code, reporter_id, received_at, department_id,
    dispatched_at, handle_due_at, handled_at, closed_at, close_kind, rework_count, change_seq
)
SELECT substr(v.code, 1, 6) || '-' || to_char(r.at, 'YYYYMMDD') || '-' || lpad(p.i::text, 8, '0'),
       md5(%(seed)s || '-city-' || p.i)::uuid, md5('content' || p.i),
       CASE WHEN p.channel_k < 6 THEN 'inspector' WHEN p.channel_k < 9 THEN 'hotline' ELSE 'citizen' END,
       s.state, c.id, c.urgency, '', v.point, 'wgs84', v.id, v.code, v.path, substr(v.code, 1, 6),
       CASE WHEN p.channel_k < 6 THEN u.id END, r.at, c.department_id,
       CASE WHEN s.state IN %(dispatched)s THEN r.at + interval '30 minutes' END,
       CASE WHEN s.state IN %(dispatched)s THEN r.at + interval '1 day' END,
       CASE WHEN s.state IN %(handled)s THEN r.at + p.handled_after * interval '1 second' END,
       CASE WHEN s.state = 'closed' THEN r.at + (p.handled_after + 7200) * interval '1 second' END,
       CASE WHEN s.state = 'closed' THEN
           CASE WHEN p.handled_after <= 86400 THEN 'normal' ELSE 'overdue' END END,
       CASE WHEN p.reworked AND s.state IN %(dispatched)s THEN 1 ELSE 0 END,
       p.i
FROM picked p
CROSS JOIN LATERAL (SELECT %(until)s::timestamptz - p.seconds_ago * interval '1 second' AS at) r
JOIN village v ON v.k = p.village_k
JOIN category c ON c.k = p.category_k
JOIN state s ON p.state_w >= s.low AND p.state_w < s.high
LEFT JOIN inspector u ON u.k = p.i %% greatest((SELECT count(*) FROM inspector), 1)
"""
DISPATCHED = ("dispatched", "returned", "suspended", "handled", "checking", "checked", "closed")
HANDLED = ("handled", "checking", "checked", "closed")
EVENTS_INSERT = """
INSERT INTO case_event (case_id, at, actor_id, actor_name, role, action, state_before, state_after, data)
SELECT c.id, c.received_at + interval '40 minutes', c.reporter_id, 'bench', 'inspector',
       CASE WHEN c.id %% 2 = 0 THEN 'reply_verification' ELSE 'reply_check' END, 'verifying', 'registered',
       jsonb_build_object('light', CASE WHEN c.id %% 7 = 0 THEN 'red' ELSE 'green' END)
FROM case_file c WHERE c.reporter_id IS NOT NULL AND c.id %% %(every)s = 0
"""


def load_city_cases(
    conn,
    n: int,
    *,
    seed: int = 42,
    until: datetime | None = None,
    chunk: int = 250_000,
    event_every: int = 100,
    progress: Callable[[int], None] = lambda done: None,
) -> int:
    """Insert ``n`` synthetic cases over every village of the demo city (numbered from 1), with their
    lead departments, handling and closing times (some late, some reworked), a received time over the
    year before ``until``, six in ten reported by the demo's inspectors; then one reply event for every
    ``event_every``-th inspector's case. Through ``conn`` (a superuser's autocommit psycopg2 connection)
    with the triggers off: rebuild the summaries afterwards. Returns how many cases the table holds."""
    until = until or datetime(2026, 11, 24, tzinfo=UTC)
    params = {"dispatched": DISPATCHED, "handled": HANDLED}
    with conn.cursor() as cur:
        _insert_chunks(
            cur, CITY_INSERT, params, n, seed=seed, until=until, chunk=chunk, progress=progress,
            after=(EVENTS_INSERT, {"every": event_every}),
        )  # fmt: skip
        cur.execute("SELECT count(*) FROM case_file")
        return cur.fetchone()[0]


@contextmanager
def bench_city(database: str) -> Iterator[tuple[Cluster, str]]:
    """A throwaway PostGIS cluster under /tmp whose migrated ``database`` holds the demo city, its people and
    the starter taxonomy: yields the cluster and the database's URL, and deletes the cluster afterwards."""
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="gridops-bench-pg-", dir="/tmp")))
    print("starting a throwaway PostGIS cluster ...", file=sys.stderr)
    cluster.start()
    try:
        url = cluster.ensure_database(database)
        migrate.upgrade(cluster.url(database, user=OWNER_ROLE))
        print("loading the demo city, its people and the taxonomy ...", file=sys.stderr)
        load_demo(url)
        with new_session(url) as db:
            load_demo_people(db=db)
            category_service.load_starter(db=db)
        yield cluster, url
    finally:
        cluster.destroy()  # tens of gigabytes with millions of cases
