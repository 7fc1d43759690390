"""What the city key costs: the dashboards of a city read through the row-level security policies (as the
application's role, placed in its city) beside the same reads past them (as the schema's owner), the
price of placing each transaction in its city, and the same city's dashboards once a second city of the
same size shares its tables.

A throwaway cluster (removed at the end) gets the demo city, its people, the starter taxonomy and
``--cases`` synthetic cases (bench/synthetic.py), the summaries rebuilt. Each dashboard is
``server.stats.service.dashboard`` over the city's last 30 days, from the summaries and straight from the
cases: the median of 5 warm calls after a cold one (bench/dashboard.py ``timed``). The placement is the
median time of an empty transaction in a session (which places it: one more statement) beside the same
transaction on a bare connection (placed nowhere). Then every case is copied into a second city
(北京市, the same grids' paths and categories: a neighbour of the same size in the same tables), the
summaries rebuilt, and the first city's dashboards measured again.

    .venv/bin/python bench/tenant.py [--cases 300000] [--seed 42]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import results  # bench/results.py, beside this file
from dashboard import UNTIL, timed  # bench/dashboard.py
from sqlalchemy import text
from synthetic import bench_city, load_city_cases  # bench/synthetic.py

from server.city import service as city_service
from server.database import get_engine, new_session
from server.localdb import OWNER_ROLE
from server.stats import service

DATABASE = "bench_tenant"
TRANSACTIONS = 2000
# The columns a copy of a case takes from it: all but its id and what PostgreSQL computes.
COLUMNS_SQL = """
    SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position)
    FROM information_schema.columns
    WHERE table_name = 'case_file' AND column_name NOT IN ('id', 'city_id')
      AND is_generated = 'NEVER' AND identity_generation IS NULL
"""


def dashboards(url: str) -> dict[str, float]:
    """Warm median ms of the city's 30-day dashboard from the summaries and from the cases."""
    return {source: timed(url, None, source)[1] for source in ("summary", "cases")}


def transaction_us(url: str) -> tuple[float, float]:
    """Median µs of an empty transaction in a session (placed in its city) and on a bare connection."""
    engine = get_engine(url)
    placed, bare = [], []
    for _ in range(TRANSACTIONS):
        with new_session(url) as db:
            started = time.perf_counter()
            db.execute(text("SELECT 1"))
            db.commit()
            placed.append(time.perf_counter() - started)
        with engine.connect() as conn:
            started = time.perf_counter()
            conn.execute(text("SELECT 1"))
            conn.commit()
            bare.append(time.perf_counter() - started)
    return statistics.median(placed) * 1e6, statistics.median(bare) * 1e6


def rebuild(cluster) -> None:
    with new_session(cluster.url(DATABASE, user=OWNER_ROLE)) as db:  # as gridops stats rebuild
        service.rebuild(db=db)
    with cluster.connect(DATABASE) as conn, conn.cursor() as cur:
        cur.execute("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=300_000, help="synthetic cases of the city")
    parser.add_argument("--seed", type=int, default=42)
    results.add_argument(parser)
    args = parser.parse_args()

    with bench_city(DATABASE) as (cluster, url):
        owner = cluster.url(DATABASE, user=OWNER_ROLE)
        print(f"loading {args.cases:,} synthetic cases ...", file=sys.stderr)
        with cluster.connect(DATABASE) as conn:
            total = load_city_cases(conn, args.cases, seed=args.seed, until=UNTIL)
        rebuild(cluster)
        print("measuring one city, through the policies and past them ...", file=sys.stderr)
        policed, past = dashboards(url), dashboards(owner)
        placed_us, bare_us = transaction_us(url)

        print("copying every case into a second city ...", file=sys.stderr)
        with new_session(url) as db:
            second = city_service.add_city(db, code="110100", name="北京市").id
        with cluster.connect(DATABASE) as conn, conn.cursor() as cur:
            cur.execute(COLUMNS_SQL)
            (columns,) = cur.fetchone()
            cur.execute("SET session_replication_role = replica")  # a bulk copy: no triggers
            cur.execute(
                f"INSERT INTO case_file ({columns}, city_id) SELECT {columns}, %s FROM case_file", (second,)
            )
            cur.execute("SELECT count(*) FROM case_file")
            (both,) = cur.fetchone()
        rebuild(cluster)
        print("measuring the first city beside its neighbour ...", file=sys.stderr)
        shared = dashboards(url)

    with results.table() as printed:
        print(
            f"\nthe city key, {total:,} synthetic cases in the demo city (seed {args.seed}); the city's "
            f"30-day dashboard, warm median ms of 5 calls"
        )
        head = (
            f"{'dashboard':<14} | {'policies':>9} {'owner':>9} {'ratio':>6} | "
            f"{'+ neighbour':>11} {'ratio':>6}"
        )
        print(head)
        print("-" * len(head))
        for source in ("summary", "cases"):
            print(
                f"{source:<14} | {policed[source]:9.1f} {past[source]:9.1f} "
                f"{policed[source] / past[source]:6.2f} | {shared[source]:11.1f} "
                f"{shared[source] / policed[source]:6.2f}"
            )
        print(
            f"\nan empty transaction: {placed_us:.0f} µs placed in its city, {bare_us:.0f} µs on a bare "
            f"connection ({placed_us / bare_us:.2f}x); the neighbour brought the table to {both:,} cases"
        )
    figures = [
        results.Figure(
            f"dashboard from the {source}: through the policies",
            policed[source],
            past[source],
            "ms",
            "the same as the schema's owner (no policies)",
        )
        for source in ("summary", "cases")
    ] + [
        results.Figure(
            f"dashboard from the {source}: beside a second city of the same size",
            shared[source],
            policed[source],
            "ms",
            "the city alone",
        )
        for source in ("summary", "cases")
    ]
    figures.append(
        results.Figure(
            "an empty transaction, placed in its city", placed_us, bare_us, "µs", "a bare connection"
        )
    )
    results.write(
        args.json, measures="the city key's cost", parameters=vars(args), figures=figures, table=printed
    )


if __name__ == "__main__":
    main()
