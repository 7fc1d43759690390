"""The one definition of every dashboard measure, as SQL over case rows, and the summaries built from it.

Each summary is a roll-up of case rows (or of audit-trail events) written once here as a SELECT over a
source relation whose rows carry a ``sign`` (+1 a row's contribution added, -1 taken away). The same
SELECT feeds:

- the triggers (migration 0007): the transition tables of each write (OLD rows with -1, NEW rows with
  +1) are upserted as deltas into the summary tables, in the writing transaction;
- the rebuild (``gridops stats rebuild``), over the whole case table in chunks;
- the raw path of the dashboard, over the cases of the request's area and period, into temporary tables
  of the same shape that the same figure queries then read.

So the summaries and the raw figures cannot drift apart: there is nothing else to drift."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# The cohort: every case received, except merged ones (a duplicate counts once, at its master).
COHORT = "c.state <> 'merged'"
# Filed at some point (应结案): a case never goes back before filing; voided and merged never were filed.
FILED_STATES = ("filed", "dispatched", "returned", "suspended", "handled", "checking", "checked", "closed")
_FILED = f"c.state IN {FILED_STATES}"

# Per case of the cohort: 1 when it counts, else 0.
CASE_MEASURES: dict[str, str] = {
    "received": "true",
    "due": _FILED,
    "closed": "c.state = 'closed'",
    "closed_on_time": "c.state = 'closed' AND c.close_kind = 'normal'",
    "handled_on_time": "c.handled_at IS NOT NULL AND c.handled_at <= c.handle_due_at",
    "reworked": "c.rework_count > 0",
    # the inspectors' miss rate: filed cases that did not come from an inspector
    "due_by_others": f"{_FILED} AND c.channel <> 'inspector'",
}
# Per inspector's own report (channel inspector): reported, and valid when filed.
REPORT_MEASURES: dict[str, str] = {"reported": "true", "valid": _FILED}
# Per audit-trail event of an inspector: replies to verification and check tasks, on time unless the
# light was red when they replied (the light ``act`` records in the event's data).
_ON_TIME = "(e.data->>'light') IS DISTINCT FROM 'red'"
EVENT_MEASURES: dict[str, str] = {
    "verifications": "e.action = 'reply_verification'",
    "verifications_on_time": f"e.action = 'reply_verification' AND {_ON_TIME}",
    "checks": "e.action = 'reply_check'",
    "checks_on_time": f"e.action = 'reply_check' AND {_ON_TIME}",
}

# The deepest grid level each summary keeps (the path cut to so many labels): area figures down to
# villages (a street's villages, the inspectors' village grids), categories and hours down to streets.
AREA_DEPTH = 4
DETAIL_DEPTH = 3
# A deeper raw roll-up: every grid level of the default scheme (a village's unit grids).
RAW_DEPTH = 5


def local_day(column: str, tz: str) -> str:
    return f"({column} AT TIME ZONE '{tz}')::date"


def _sums(measures: dict[str, str], weight: str) -> str:
    # a condition on a NULL column is NULL: it does not count
    return ", ".join(
        f"sum({weight} * coalesce({expr}, false)::int) AS {name}" for name, expr in measures.items()
    )


def _rolled(names: list[str]) -> str:
    return ", ".join(f"sum(b.{n}) AS {n}" for n in names)


def _nonzero(names: list[str]) -> str:
    return " OR ".join(f"sum(b.{n}) <> 0" for n in names)


@dataclass(frozen=True)
class Summary:
    table: str
    keys: tuple[str, ...]
    measures: tuple[str, ...]
    kind: str  # 'case' or 'event': the rows its roll-up reads
    build: Callable[[str, str, int], str]
    depth: int = AREA_DEPTH  # the deepest grid level the table keeps

    def rollup(self, source: str, tz: str, depth: int | None = None) -> str:
        """The SELECT of this summary's rows (keys, then measures) from ``source``: a relation of case rows
        (or events) with a ``sign`` column, aliased ``c`` (``e``), the paths cut to ``depth`` labels at most.
        Keys whose measures sum to zero are left out, so a write that changes nothing counted writes
        nothing."""
        return self.build(source, tz, depth or self.depth)

    def upsert(self, source: str, tz: str, depth: int | None = None, table: str | None = None) -> str:
        """Add the roll-up of ``source`` to the table (this summary's, or ``table`` of the same shape): an
        INSERT or an increment per key, in key order (two writers of the same keys wait, never deadlock)."""
        table = table or self.table
        columns = (*self.keys, *self.measures)
        increments = ", ".join(f"{m} = {table}.{m} + EXCLUDED.{m}" for m in self.measures)
        return (
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"SELECT * FROM ({self.rollup(source, tz, depth)}) AS r ORDER BY {', '.join(self.keys)} "
            f"ON CONFLICT ({', '.join(self.keys)}) DO UPDATE SET {increments}"
        )


def _area_rollup(source: str, tz: str, depth: int) -> str:
    # First per case key (the path cut to ``depth``, day, department), then up the levels of the path, each
    # once for its department and once for all departments (department 0).
    names = list(CASE_MEASURES)
    return f"""
    WITH b AS (
        SELECT c.city_id, subpath(c.grid_path, 0, least(nlevel(c.grid_path), {depth})) AS p,
               {local_day("c.received_at", tz)} AS day, c.department_id, {_sums(CASE_MEASURES, "c.sign")}
        FROM {source} AS c WHERE {COHORT} GROUP BY 1, 2, 3, 4
    )
    SELECT b.city_id, subpath(b.p, 0, l.n) AS path, l.n AS depth, b.day, d.id AS department_id,
           {_rolled(names)}
    FROM b CROSS JOIN LATERAL generate_series(1, nlevel(b.p)) AS l(n)
    CROSS JOIN LATERAL (VALUES (0::bigint), (b.department_id)) AS d(id)
    WHERE d.id IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5 HAVING {_nonzero(names)}
    """


def _detail_rollup(key: str, key_expr: str):
    """Received cases by area, day, department and one more key (a category, an hour of the day)."""

    def rollup(source: str, tz: str, depth: int) -> str:
        return f"""
        WITH b AS (
            SELECT c.city_id, subpath(c.grid_path, 0, least(nlevel(c.grid_path), {depth})) AS p,
                   {local_day("c.received_at", tz)} AS day, {key_expr.format(tz=tz)} AS {key},
                   c.department_id, sum(c.sign) AS received
            FROM {source} AS c WHERE {COHORT} GROUP BY 1, 2, 3, 4, 5
        )
        SELECT b.city_id, subpath(b.p, 0, l.n) AS path, l.n AS depth, b.day, b.{key},
               d.id AS department_id, sum(b.received) AS received
        FROM b CROSS JOIN LATERAL generate_series(1, nlevel(b.p)) AS l(n)
        CROSS JOIN LATERAL (VALUES (0::bigint), (b.department_id)) AS d(id)
        WHERE d.id IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(b.received) <> 0
        """

    return rollup


def _reporter_rollup(source: str, tz: str, depth: int) -> str:
    return f"""
    SELECT c.city_id, c.reporter_id AS user_id, {local_day("c.received_at", tz)} AS day,
           {_sums(REPORT_MEASURES, "c.sign")}, 0 AS verifications, 0 AS verifications_on_time,
           0 AS checks, 0 AS checks_on_time
    FROM {source} AS c
    WHERE {COHORT} AND c.channel = 'inspector' AND c.reporter_id IS NOT NULL
    GROUP BY 1, 2, 3 HAVING sum(c.sign) <> 0 OR sum(c.sign * ({_FILED})::int) <> 0
    """


def _event_rollup(source: str, tz: str, depth: int) -> str:
    return f"""
    SELECT e.city_id, e.actor_id AS user_id, {local_day("e.at", tz)} AS day, 0 AS reported, 0 AS valid,
           {_sums(EVENT_MEASURES, "1")}
    FROM {source} AS e
    WHERE e.actor_id IS NOT NULL AND e.action IN ('reply_verification', 'reply_check')
    GROUP BY 1, 2, 3
    """


INSPECTOR_MEASURES = (*REPORT_MEASURES, *EVENT_MEASURES)
AREA = Summary(
    "stats_area_day",
    ("city_id", "path", "depth", "day", "department_id"),
    tuple(CASE_MEASURES),
    "case",
    _area_rollup,
)
CATEGORY = Summary(
    "stats_category_day",
    ("city_id", "path", "depth", "day", "category_id", "department_id"),
    ("received",),
    "case",
    _detail_rollup("category_id", "c.category_id"),
    DETAIL_DEPTH,
)
HOUR = Summary(
    "stats_hour_day",
    ("city_id", "path", "depth", "day", "hour", "department_id"),
    ("received",),
    "case",
    _detail_rollup("hour", "extract(hour FROM c.received_at AT TIME ZONE '{tz}')::int"),
    DETAIL_DEPTH,
)
# The inspector table takes two roll-ups: from cases (their own reports) and from events (their replies).
_INSPECTOR_KEYS = ("city_id", "user_id", "day")
REPORTER = Summary("stats_inspector_day", _INSPECTOR_KEYS, INSPECTOR_MEASURES, "case", _reporter_rollup)
EVENTS = Summary("stats_inspector_day", _INSPECTOR_KEYS, INSPECTOR_MEASURES, "event", _event_rollup)
SUMMARIES = (AREA, CATEGORY, HOUR, REPORTER, EVENTS)
CASE_SUMMARIES = tuple(s for s in SUMMARIES if s.kind == "case")
TABLES = ("stats_area_day", "stats_category_day", "stats_hour_day", "stats_inspector_day")


# -- the triggers -------------------------------------------------------------------------------------

_CHANGES = {
    "INSERT": "(SELECT 1 AS sign, * FROM new_rows)",
    "UPDATE": "(SELECT -1 AS sign, * FROM old_rows UNION ALL SELECT 1 AS sign, * FROM new_rows)",
    "DELETE": "(SELECT -1 AS sign, * FROM old_rows)",
}
_TRANSITIONS = {
    "INSERT": "REFERENCING NEW TABLE AS new_rows",
    "UPDATE": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "DELETE": "REFERENCING OLD TABLE AS old_rows",
}


def function_sql(tz: str) -> list[str]:
    """The trigger functions (CREATE OR REPLACE: the rebuild renews them from this code and settings)."""
    statements = []
    for op, source in _CHANGES.items():
        upserts = ";\n".join(s.upsert(source, tz) for s in CASE_SUMMARIES)
        statements.append(
            f"CREATE OR REPLACE FUNCTION stats_case_file_{op.lower()}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {upserts}; RETURN NULL; END $$"
        )
    events = EVENTS.upsert("(SELECT 1 AS sign, * FROM new_rows)", tz)
    statements.append(
        "CREATE OR REPLACE FUNCTION stats_case_event_insert() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN {events}; RETURN NULL; END $$"
    )
    return statements


def trigger_sql() -> list[str]:
    """Statement-level triggers with transition tables: one set-based delta per write statement."""
    statements = [
        f"CREATE TRIGGER stats_case_file_{op.lower()} AFTER {op} ON case_file {_TRANSITIONS[op]} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION stats_case_file_{op.lower()}()"
        for op in _CHANGES
    ]
    statements.append(
        "CREATE TRIGGER stats_case_event_insert AFTER INSERT ON case_event "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stats_case_event_insert()"
    )
    return statements


def drop_sql() -> list[str]:
    statements = [f"DROP TRIGGER IF EXISTS stats_case_file_{op.lower()} ON case_file" for op in _CHANGES]
    statements += [f"DROP FUNCTION IF EXISTS stats_case_file_{op.lower()}()" for op in _CHANGES]
    statements += [
        "DROP TRIGGER IF EXISTS stats_case_event_insert ON case_event",
        "DROP FUNCTION IF EXISTS stats_case_event_insert()",
    ]
    return statements


def fill_sql(tz: str, where: str = "true", events: bool = False) -> list[str]:
    """Add the stored cases (or, with ``events``, the audit-trail events) matching ``where`` (on ``c`` or
    ``e``) to the summaries: the initial fill, and the rebuild chunk by chunk."""
    if events:
        return [EVENTS.upsert(f"(SELECT 1 AS sign, e.* FROM case_event AS e WHERE {where})", tz)]
    cases = f"(SELECT 1 AS sign, c.* FROM case_file AS c WHERE {where})"
    return [s.upsert(cases, tz) for s in CASE_SUMMARIES]
