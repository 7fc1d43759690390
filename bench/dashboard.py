"""The dashboard over many cases: the city's and one street's figures for the last 30 days, from the summary
tables beside the same figures computed straight from the cases, in the same run, on the same cluster.

A throwaway cluster (removed at the end) gets the demo city, its people, the starter taxonomy and
``--cases`` synthetic cases over every village (bench/synthetic.py ``load_city_cases``: set-based, the
same for the same seed, loaded with the triggers off and the case table's secondary indexes dropped and
built again after), a reply event for every hundredth inspector's case, then the summaries rebuilt
set-based (``server.stats.service.rebuild``, what ``gridops stats rebuild`` runs). Each figure set is
``server.stats.service.dashboard`` as the API calls it, with ``source`` "summary" or "cases": cold is the
first call on a new database connection (a new server process's), warm the median of 5 calls after it.
Printed: ms for each, and cases over summary.

    .venv/bin/python bench/dashboard.py [--cases 10000000] [--seed 42]

At 10,000,000 cases on 2 cores the run takes about 35 minutes (load 4, indexes 2, summary rebuild 20 or
more, the raw figures 5) and 25 GB of disk."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import results  # bench/results.py, beside this file
from synthetic import bench_city, load_city_cases  # bench/synthetic.py

from server.auth.principal import ADMINISTRATOR
from server.database import get_engine, new_session
from server.localdb import OWNER_ROLE
from server.stats import request as stats_request
from server.stats import service

UNTIL = datetime(2026, 11, 24, tzinfo=UTC)
STREET = "370102001"  # a street of 历下区
WARM_RUNS = 5
GOAL_MS = 300  # the city's dashboard from the summaries
# The case table's secondary indexes, dropped for the bulk load and built again after it.
INDEX_SQL = (
    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'case_file' AND indexname LIKE 'ix_%'"
)


def timed(url: str, grid: str | None, source: str) -> tuple[float, float, int]:
    """Cold ms (a new connection), warm median ms, and the cohort's size."""
    get_engine(url).dispose()
    times = []
    for _ in range(1 + WARM_RUNS):
        with new_session(url) as db:
            start = time.perf_counter()
            request = stats_request.resolve(
                db=db, principal=ADMINISTRATOR, start=(UNTIL - timedelta(days=30)).date(),
                end=(UNTIL - timedelta(days=1)).date(), grid=grid,
            )  # fmt: skip
            board = service.dashboard(db=db, request=request, source=source)
            times.append((time.perf_counter() - start) * 1000)
            db.rollback()
    return times[0], statistics.median(times[1:]), board.totals.received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000_000, help="synthetic cases to load")
    parser.add_argument("--seed", type=int, default=42)
    results.add_argument(parser)
    args = parser.parse_args()

    with bench_city("bench_dashboard") as (cluster, url):
        print(f"loading {args.cases:,} synthetic cases ...", file=sys.stderr)
        started = time.perf_counter()
        with cluster.connect("bench_dashboard") as conn:
            with conn.cursor() as cur:
                cur.execute(INDEX_SQL)
                indexes = cur.fetchall()
                for name, _ in indexes:
                    cur.execute(f"DROP INDEX {name}")
            total = load_city_cases(
                conn, args.cases, seed=args.seed, until=UNTIL,
                progress=lambda done: print(f"  {done:,}", file=sys.stderr),
            )  # fmt: skip
            load_s = time.perf_counter() - started
            print(f"{total:,} cases in {load_s:.0f} s; indexing ...", file=sys.stderr)
            started = time.perf_counter()
            with conn.cursor() as cur:
                for _, definition in indexes:
                    cur.execute(definition)
                cur.execute("ANALYZE")
            index_s = time.perf_counter() - started
        print("rebuilding the summaries ...", file=sys.stderr)
        started = time.perf_counter()
        with new_session(cluster.url("bench_dashboard", user=OWNER_ROLE)) as db:  # as gridops stats rebuild
            rows = service.rebuild(db=db)
        with cluster.connect("bench_dashboard") as conn, conn.cursor() as cur:
            cur.execute("ANALYZE")
        rebuild_s = time.perf_counter() - started
        timings = {}
        for label, grid in (("city", None), (f"street {STREET}", STREET)):
            for source in ("summary", "cases"):
                print(f"measuring {label} from the {source} ...", file=sys.stderr)
                timings[label, source] = timed(url, grid, source)

    with results.table() as printed:
        print(
            f"\ndashboard, {total:,} synthetic cases over the demo city's villages (seed "
            f"{args.seed}), last 30 days before {UNTIL:%Y-%m-%d}; load {load_s:.0f} s, indexes "
            f"{index_s:.0f} s, summaries rebuilt in {rebuild_s:.0f} s ({rows:,} rows); ms per full dashboard "
            f"(every figure), cold = first call on a new connection, warm = median of {WARM_RUNS}"
        )
        head = (
            f"{'area':<20} {'cohort':>8} | {'summary cold':>12} {'warm':>7} | {'cases cold':>10} "
            f"{'warm':>7} | {'cases/summary cold':>18} {'warm':>6}"
        )
        print(head)
        print("-" * len(head))
        for label in ("city", f"street {STREET}"):
            s_cold, s_warm, cohort = timings[label, "summary"]
            r_cold, r_warm, raw_cohort = timings[label, "cases"]
            assert cohort == raw_cohort, (cohort, raw_cohort)
            print(
                f"{label:<20} {cohort:>8,} | {s_cold:12.1f} {s_warm:7.1f} | {r_cold:10.1f} {r_warm:7.1f} | "
                f"{r_cold / s_cold:18.1f} {r_warm / s_warm:6.1f}"
            )
        print(f"\ngoal: the city's dashboard from the summaries under {GOAL_MS} ms, cold and warm")
    figures = []
    for label in ("city", f"street {STREET}"):
        s_cold, s_warm, _ = timings[label, "summary"]
        r_cold, r_warm, _ = timings[label, "cases"]
        goal = {"goal": f"< {GOAL_MS} ms"} if label == "city" else {}
        figures += [
            results.Figure(
                f"{label}: cold", s_cold, r_cold, "ms", "straight from the cases", **goal,
                met=s_cold < GOAL_MS if goal else None,
            ),
            results.Figure(
                f"{label}: warm", s_warm, r_warm, "ms", "straight from the cases", **goal,
                met=s_warm < GOAL_MS if goal else None,
            ),
        ]  # fmt: skip
    results.write(
        args.json,
        measures=f"the whole dashboard for the last 30 days over {total:,} synthetic cases, from the summary "
        "tables beside the same figures computed straight from the cases",
        parameters=vars(args),
        figures=figures,
        table=printed,
    )


if __name__ == "__main__":
    main()
