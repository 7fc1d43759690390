"""Where one case intake's time goes: the database round trips of ``POST /api/cases`` in order, each with
its median time as the app sees it (sending, PostgreSQL's work, waiting to be scheduled, reading), beside the
report's whole time, for reports sent one after the other through the app in this process.

It starts its own throwaway PostGIS cluster in /tmp with the demo city's grids, the starter taxonomy and an
inspector (as bench/intake.py), then posts ``--reports`` JSON reports in 历下区 after a warm-up. On a
machine whose cores are busy, every round trip waits to be scheduled: their count is what to compare.

    .venv/bin/python bench/intake_trips.py [--reports 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from intake import CATEGORY, DISTRICT, PASSWORD, PHONE, prepare  # bench/intake.py, beside this file
from locate import random_points  # bench/locate.py

from server import migrate
from server.config import get_settings
from server.localdb import OWNER_ROLE, Cluster

WARM_UP = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=200, help="reports measured, one after the other")
    args = parser.parse_args()

    cluster = Cluster(Path(tempfile.mkdtemp(prefix="gridops-bench-pg-", dir="/tmp")))
    print("starting a throwaway PostGIS cluster ...", file=sys.stderr)
    cluster.start()
    try:
        url = cluster.ensure_database("bench_trips")
        migrate.upgrade(cluster.url("bench_trips", user=OWNER_ROLE))
        print("loading the demo city, the taxonomy and an inspector ...", file=sys.stderr)
        prepare(url)
        points = iter(random_points(url, DISTRICT, WARM_UP + args.reports, seed=7))
        os.environ["DATABASE_URL"] = url
        os.environ["GRIDOPS_VAR_DIR"] = str(cluster.root / "var")  # removed with the cluster
        get_settings.cache_clear()  # the app reads the URL above
        from fastapi.testclient import TestClient

        from server.database import get_engine
        from server.main import create_app

        client = TestClient(create_app())
        body = {"login": PHONE, "password": PASSWORD, "device_id": "bench", "device_name": "bench"}
        token = client.post("/api/auth/login", json=body).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}

        def report() -> float:
            lon, lat = next(points)
            body = {"client_uuid": str(uuid.uuid4()), "category": CATEGORY, "lon": lon, "lat": lat}
            start = time.perf_counter()
            answer = client.post("/api/cases", json=body, headers=headers)
            if answer.status_code != 201:
                raise RuntimeError(f"report refused: {answer.status_code} {answer.text}")
            return time.perf_counter() - start

        for _ in range(WARM_UP):
            report()
        engine = get_engine(None)  # the app's (get_db's) engine
        trips: list[tuple[str, float]] = []  # this report's round trips: (what, seconds)
        started: dict[int, float] = {}

        def statement_start(conn, cursor, statement, *_):
            started[id(cursor)] = time.perf_counter()

        def statement_end(conn, cursor, statement, *_):
            trips.append((" ".join(statement.split())[:90], time.perf_counter() - started.pop(id(cursor))))

        def timed_call(what: str, method):
            def call(dbapi_connection, *rest):
                start = time.perf_counter()
                method(dbapi_connection, *rest)
                trips.append((what, time.perf_counter() - start))

            return call

        event.listen(engine, "before_cursor_execute", statement_start)
        event.listen(engine, "after_cursor_execute", statement_end)
        dialect = engine.dialect
        # psycopg2 sends BEGIN itself before a transaction's first statement: timed with that statement.
        for name, what in (("do_ping", "SELECT 1 (the pool's ping at check-out)"), ("do_commit", "COMMIT")):
            setattr(dialect, name, timed_call(what, getattr(type(dialect), name).__get__(dialect)))
        per_trip: dict[tuple[int, str], list[float]] = defaultdict(list)
        totals = []
        for _ in range(args.reports):
            trips.clear()
            totals.append(report())
            for k, (what, seconds) in enumerate(trips):
                per_trip[k, what].append(seconds)
    finally:
        cluster.destroy()

    usual = [key for key, times in per_trip.items() if len(times) > args.reports // 2]
    print(f"\nPOST /api/cases, {args.reports} reports one after the other, in process; medians in ms")
    for k, what in sorted(usual):
        print(f"{k + 1:>3}  {statistics.median(per_trip[k, what]) * 1000:7.2f}  {what}")
    trips_ms = sum(statistics.median(per_trip[key]) for key in usual) * 1000
    total_ms = statistics.median(totals) * 1000
    print(
        f"\n{len(usual)} round trips and a BEGIN per transaction, {trips_ms:.1f} ms of the report's "
        f"{total_ms:.1f} ms (the rest: HTTP, validation, JSON, SQLAlchemy and the app's Python); "
        f"{os.cpu_count()} cores"
    )
    print(
        "(psycopg2 sends each transaction's BEGIN as a round trip of its own, timed in its first statement)"
    )


if __name__ == "__main__":
    main()
