"""Writing the address register: a checked file's records upserted by the register's own id, set-based,
each address linked to the deepest current grid holding it (``server.grid.lookup.deepest_code_sql``, the
one rule of every point lookup); and the links computed again after the grids change (``relink``).

An import copies the records into a temporary table (COPY), links them there in batches, counts what is
new, changed and unchanged, and writes them with one INSERT ... ON CONFLICT: a row is rewritten, with the
next ``change_seq`` (which the phone's copy follows) and ``updated_at``, only when something of it
changed. Addresses the file does not hold stay as they are: a register may come in parts (a district, a
street). All of it is one transaction: an import either writes every record or none."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from grids.addresses import AddressRecord
from server.address.cases import BATCH as CASE_BATCH
from server.address.cases import link_cases
from server.config import get_settings
from server.grid.lookup import deepest_code_sql
from server.imports import end_import

LINK_BATCH = 20_000
MAX_OUTSIDE = 1000  # listed in the report; the rest are counted
COLUMNS = (
    "register_id",
    "name",
    "address_text",
    "district",
    "street",
    "community",
    "road",
    "house_number",
    "building",
    "unit",
    "kind",
    "aliases",
    "approximate",
    "lon",
    "lat",
)
# What an address is, beyond its id: a row whose values are all the same is unchanged.
VALUES = (
    "name", "address_text", "district", "street", "community", "road", "house_number", "building", "unit",
    "kind", "aliases", "approximate", "grid_code",
)  # fmt: skip


def _same(old: str, new: str) -> str:
    """SQL: the rows ``old`` and ``new`` hold the same address (NULL parts alike, the same point)."""
    values = [f"{{row}}.{v}" for v in VALUES] + ["ST_X({row}.geom)", "ST_Y({row}.geom)"]
    row = ", ".join(values)
    return f"({row.format(row=old)}) IS NOT DISTINCT FROM ({row.format(row=new)})"


Progress = Callable[[str, int, int], None]


@dataclass
class ImportResult:
    """What an import did (``written``) or, on a dry run, would do: how many addresses are new, changed and
    unchanged, and those outside every grid (``outside``: the first MAX_OUTSIDE, as (register id,
    address); ``outside_count``: all of them); and how many cases without a near address got one."""

    added: int = 0
    changed: int = 0
    unchanged: int = 0
    outside_count: int = 0
    outside: list[tuple[str, str]] = field(default_factory=list)
    written: bool = False
    cases_linked: int = 0  # cases received before, now near one of these addresses


def _silent(stage: str, done: int, total: int) -> None:
    """The default progress callback: report nothing."""


def _copy(db: Session, records: Sequence[AddressRecord]) -> None:
    """The records into the temporary table ``address_import`` (numbered from 1 in file order)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for r in records:
        writer.writerow(
            (
                r.register_id, r.name, r.address_text, r.district, r.street, r.community, r.road,
                r.house_number, r.building, r.unit, r.kind, json.dumps(r.aliases, ensure_ascii=False),
                r.approximate, repr(r.lon), repr(r.lat),
            )
        )  # fmt: skip
    buffer.seek(0)
    cursor = db.connection().connection.dbapi_connection.cursor()
    # an empty CSV field is NULL: the parts a record does not have
    cursor.copy_expert(f"COPY address_import_raw ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv)", buffer)


def import_addresses(
    *,
    db: Session,
    records: Sequence[AddressRecord],
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Link ``records`` (checked: ``grids.addresses.read_register``) to their grids and upsert them by
    register id, in one transaction; on a dry run count what would change and write nothing."""
    report = progress or _silent
    db.execute(text("DROP TABLE IF EXISTS address_import_raw, address_import"))
    db.execute(
        text(
            """
            CREATE TEMP TABLE address_import_raw (
                n bigint GENERATED ALWAYS AS IDENTITY, register_id text, name text, address_text text,
                district text, street text, community text, road text, house_number text, building text,
                unit text, kind text, aliases text, approximate boolean, lon float8, lat float8
            )
            """
        )
    )
    _copy(db, records)
    report("copy", len(records), len(records))
    # the aliases as the column's array, and the point's grid linked in batches (a progress bar)
    db.execute(
        text(
            """
            CREATE TEMP TABLE address_import AS
            SELECT n, register_id, name, address_text, district, street, community, road, house_number,
                   building, unit, kind,
                   ARRAY(SELECT jsonb_array_elements_text(aliases::jsonb))::varchar(100)[] AS aliases,
                   approximate, lon, lat, ST_Point(lon, lat, 4326) AS geom, NULL::varchar(15) AS grid_code
            FROM address_import_raw
            """
        )
    )
    db.execute(text("CREATE UNIQUE INDEX ON address_import (n)"))
    link = text(
        f"UPDATE address_import SET grid_code = ({deepest_code_sql('lon', 'lat')}) "
        "WHERE n > :start AND n <= :end"
    )
    for start in range(0, len(records), LINK_BATCH):
        db.execute(link, {"start": start, "end": start + LINK_BATCH})
        report("link", min(start + LINK_BATCH, len(records)), len(records))
    db.execute(text("ANALYZE address_import"))

    counts = db.execute(
        text(
            f"""
            SELECT count(*) FILTER (WHERE a.id IS NULL) AS added,
                   count(*) FILTER (WHERE a.id IS NOT NULL AND NOT {_same("a", "t")}) AS changed,
                   count(*) FILTER (WHERE a.id IS NOT NULL AND {_same("a", "t")}) AS unchanged,
                   count(*) FILTER (WHERE t.grid_code IS NULL) AS outside
            FROM address_import t LEFT JOIN address a ON a.register_id = t.register_id
            """
        )
    ).one()
    outside = db.execute(
        text(
            "SELECT register_id, address_text FROM address_import WHERE grid_code IS NULL ORDER BY n "
            "LIMIT :most"
        ),
        {"most": MAX_OUTSIDE},
    ).all()
    result = ImportResult(
        added=counts.added,
        changed=counts.changed,
        unchanged=counts.unchanged,
        outside_count=counts.outside,
        outside=[tuple(row) for row in outside],
    )
    if not dry_run and (result.added or result.changed):
        report("write", 0, len(records))
        db.execute(
            text(
                f"""
                INSERT INTO address AS a (
                    register_id, name, address_text, district, street, community, road, house_number,
                    building, unit, kind, aliases, approximate, geom, grid_code
                )
                SELECT register_id, name, address_text, district, street, community, road, house_number,
                       building, unit, kind, aliases, approximate, geom, grid_code
                FROM address_import t ORDER BY n
                ON CONFLICT (city_id, register_id) DO UPDATE SET
                    name = EXCLUDED.name, address_text = EXCLUDED.address_text, district = EXCLUDED.district,
                    street = EXCLUDED.street, community = EXCLUDED.community, road = EXCLUDED.road,
                    house_number = EXCLUDED.house_number, building = EXCLUDED.building, unit = EXCLUDED.unit,
                    kind = EXCLUDED.kind, aliases = EXCLUDED.aliases, approximate = EXCLUDED.approximate,
                    geom = EXCLUDED.geom, grid_code = EXCLUDED.grid_code,
                    change_seq = nextval('address_change_seq'), updated_at = now()
                WHERE NOT {_same("a", "EXCLUDED")}
                """
            )
        )
        report("write", len(records), len(records))
    db.execute(text("DROP TABLE address_import_raw, address_import"))
    end_import(db, result, dry_run=dry_run)
    if result.written and (result.added or result.changed):
        result.cases_linked = _link_cases(db, report)
    return result


def _link_cases(db: Session, report: Progress) -> int:
    """The cases with no register address near them given the nearest one now (``server.address.cases``)."""
    total = db.scalar(text("SELECT count(*) FROM case_file WHERE address_id IS NULL"))
    done = linked = 0
    for batch in link_cases(db=db, radius_m=get_settings().address_near_radius_m):
        linked += batch
        done = min(done + CASE_BATCH, total)
        report("cases", done, total)
    return linked


@dataclass
class RelinkResult:
    checked: int = 0
    changed: int = 0
    outside: int = 0


def relink(*, db: Session, progress: Progress | None = None) -> RelinkResult:
    """Link every address again to the deepest current grid holding it (after a grid import), in batches
    of ids; a row whose grid changes gets the next ``change_seq``, so the phones see it move."""
    report = progress or _silent
    low, high = db.execute(text("SELECT coalesce(min(id), 0), coalesce(max(id), -1) FROM address")).one()
    result = RelinkResult(checked=db.scalar(text("SELECT count(*) FROM address")))
    update = text(
        f"""
        WITH linked AS (
            SELECT s.id, ({deepest_code_sql("ST_X(s.geom)", "ST_Y(s.geom)")}) AS code
            FROM address s WHERE s.id >= :start AND s.id < :end
        )
        UPDATE address a
        SET grid_code = l.code, change_seq = nextval('address_change_seq'), updated_at = now()
        FROM linked l WHERE a.id = l.id AND a.grid_code IS DISTINCT FROM l.code
        """
    )
    for start in range(low, high + 1, LINK_BATCH):
        result.changed += db.execute(update, {"start": start, "end": start + LINK_BATCH}).rowcount
        report("relink", min(start + LINK_BATCH - low, high + 1 - low), high + 1 - low)
    result.outside = db.scalar(text("SELECT count(*) FROM address WHERE grid_code IS NULL"))
    db.commit()
    return result
