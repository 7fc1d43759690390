"""Point-to-grid lookups per second: (a) through the HTTP API, (b) in one batch SQL query, (c) the raw
GiST ceiling (a bare ST_Contains join of the same points against an indexed table of the deepest grids'
polygons), at the demo scale (the Jinan demo city, points inside 历下区) and at a synthetic scale
(100,000 unit grids under 1,000 villages, 100 streets, 10 districts and one city).

It starts its own throwaway PostGIS cluster in /tmp, so it never touches ./var. Each figure is the median
of several runs; the ratios are what to compare across machines.

    .venv/bin/python bench/locate.py [--points 10000] [--repeat 5] [--api-requests 2000]
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import shapely
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import results  # bench/results.py, beside this file

from grids.demo import generate_demo_city
from grids.topology import TopologyReport
from server import migrate
from server.city import service as city_service
from server.database import new_session
from server.grid import importer as grid_importer
from server.grid import lookup as grid_lookup
from server.localdb import OWNER_ROLE, Cluster, free_port

CELL = 0.001  # unit grids of 0.001 deg (about 89 m x 111 m)
SYNTH_WEST, SYNTH_SOUTH = 116.5, 36.3
GOAL_RATE, GOAL_RATIO = 20_000, 0.8  # (b) lookups/s, and (b) against (c)
# (level, width and height in units, code digits):
# 1 city, 10 districts, 100 streets, 1,000 villages, 100,000 units
BLOCKS = [
    ("city", 500, 200, 0),
    ("district", 100, 100, 2),
    ("street", 50, 20, 3),
    ("village", 10, 10, 3),
    ("unit", 1, 1, 3),
]


def register_city(url: str, code: str = "370100", name: str = "济南市") -> None:
    """A new database's city (the demo's, by default), which everything loaded next belongs to."""
    with new_session(url) as db:
        city_service.ensure_city(db, code=code, name=name)


def load_demo(url: str) -> None:
    register_city(url)
    records = generate_demo_city()
    with new_session(url) as db:
        grid_importer.import_grids(
            db=db, records=records, report=TopologyReport(issues=[], checked=len(records))
        )


def synthetic_path(depth: int, ux: int, uy: int) -> list[str]:
    """Codes from the city down to the block at ``depth`` whose south-west unit is (ux, uy); each level
    numbers its children west to east, north to south."""
    path, code = ["990100"], "9901"
    for (_, pw, ph, _), (_, w, h, digits) in itertools.pairwise(BLOCKS[: depth + 1]):
        cols, rows = pw // w, ph // h
        col, row = (ux % pw) // w, (uy % ph) // h
        code += f"{(rows - 1 - row) * cols + col + 1:0{digits}d}"
        path.append(code)
    return path


def synthetic_rows() -> list[tuple[str, str, str, str | None, str, str]]:
    """(code, name, level, parent_code, path, wkt) for the synthetic city 990100 and its subtree."""
    _, cols, rows, _ = BLOCKS[0]
    result = []
    for depth, (level, w, h, _) in enumerate(BLOCKS):
        for ux in range(0, cols, w):
            for uy in range(0, rows, h):
                path = synthetic_path(depth, ux, uy)
                x0, y0 = SYNTH_WEST + ux * CELL, SYNTH_SOUTH + uy * CELL
                wkt = shapely.box(x0, y0, x0 + w * CELL, y0 + h * CELL).wkt
                parent = path[-2] if depth else None
                result.append((path[-1], f"合成{level}{path[-1]}", level, parent, ".".join(path), wkt))
    return result


def load_synthetic(url: str) -> int:
    rows = synthetic_rows()
    buf = io.StringIO()
    for code, name, level, parent, path, wkt in rows:
        buf.write("\t".join([code, name, level, parent or r"\N", path, wkt]) + "\n")
    buf.seek(0)
    register_city(url, "990100", "合成市")
    with new_session(url) as db:
        raw = db.connection().connection.dbapi_connection
        with raw.cursor() as cur:
            cur.execute(
                "CREATE TEMP TABLE staging "
                "(code text, name text, level text, parent_code text, path text, wkt text)"
            )
            cur.copy_expert("COPY staging FROM STDIN", buf)
        db.execute(
            text(
                """
                INSERT INTO grid (code, name, level, parent_code, path, geom, area_m2)
                SELECT code, name, level, parent_code, path::ltree, ST_Multi(ST_GeomFromText(wkt, 4326)),
                       ST_Area(ST_GeomFromText(wkt, 4326)::geography)
                FROM staging
                """
            )
        )
        grid_importer.refresh_parts(db=db, codes=[r[0] for r in rows])
        db.commit()
    return len(rows)


def prepare_ceiling(url: str) -> None:
    """The deepest grids' polygons, as stored, in a bare GiST-indexed table."""
    with new_session(url) as db:
        db.execute(
            text(
                """
                DROP TABLE IF EXISTS bench_leaf;
                CREATE TABLE bench_leaf AS
                SELECT g.code, g.geom FROM grid g
                WHERE g.valid_to IS NULL
                  AND NOT EXISTS (SELECT 1 FROM grid c WHERE c.valid_to IS NULL AND c.parent_code = g.code);
                CREATE INDEX ON bench_leaf USING gist (geom);
                ANALYZE bench_leaf; ANALYZE grid; ANALYZE grid_part;
                """
            )
        )
        db.commit()


def random_points(url: str, code: str, n: int, seed: int) -> list[tuple[float, float]]:
    with new_session(url) as db:
        area = grid_importer.stored_records(db=db, codes=[code])[code].geometry
    rng = np.random.default_rng(seed)
    west, south, east, north = area.bounds
    shapely.prepare(area)
    points: list[tuple[float, float]] = []
    while len(points) < n:
        xs, ys = rng.uniform(west, east, n), rng.uniform(south, north, n)
        inside = shapely.contains_xy(area, xs, ys)
        points.extend(zip(xs[inside].tolist(), ys[inside].tolist(), strict=True))
    return points[:n]


def rate(n: int, seconds: list[float]) -> float:
    return n / statistics.median(seconds)


def time_batch(url: str, points, repeat: int) -> float:
    times = []
    with new_session(url) as db:
        grid_lookup.locate_batch(db=db, points=points[:100])  # warm the connection and plan
        for _ in range(repeat):
            start = time.perf_counter()
            codes = grid_lookup.locate_batch(db=db, points=points)
            times.append(time.perf_counter() - start)
    assert all(codes), "every bench point lies inside a grid"
    return rate(len(points), times)


def time_ceiling(url: str, points, repeat: int) -> float:
    query = text(
        """
        SELECT count(*) FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[])) AS t(lon, lat)
        JOIN bench_leaf l ON ST_Contains(l.geom, ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326))
        """
    )
    params = {"lons": [p[0] for p in points], "lats": [p[1] for p in points]}
    times = []
    with new_session(url) as db:
        for _ in range(repeat):
            start = time.perf_counter()
            found = db.scalar(query, params)
            times.append(time.perf_counter() - start)
    assert found >= len(points)
    return rate(len(points), times)


def time_api(url: str, points, requests: int, threads: int) -> float:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "server.main:create_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        sample = points[:requests]

        def worker(chunk):
            with httpx.Client(base_url=base, timeout=30) as client:
                for lon, lat in chunk:
                    client.get("/api/grids/locate", params={"lon": lon, "lat": lat}).raise_for_status()

        chunks = [sample[i::threads] for i in range(threads)]
        worker(sample[:50])
        start = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(worker, chunks))
        return len(sample) / (time.perf_counter() - start)
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=10000, help="points per batch query")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (the median is printed)")
    parser.add_argument("--api-requests", type=int, default=2000, help="HTTP lookups per API figure")
    results.add_argument(parser)
    args = parser.parse_args()

    cluster = Cluster(Path(tempfile.mkdtemp(prefix="gridops-bench-pg-", dir="/tmp")))
    print("starting a throwaway PostGIS cluster ...", file=sys.stderr)
    cluster.start()
    try:
        found = []
        for scale, load, area_code in (
            ("demo (Jinan)", load_demo, "370102"),
            ("synthetic", load_synthetic, "990100"),
        ):
            name = "bench_demo" if area_code == "370102" else "bench_synth"
            url = cluster.ensure_database(name)
            owner = cluster.url(name, user=OWNER_ROLE)  # makes the ceiling's table
            migrate.upgrade(owner)
            print(f"loading {scale} ...", file=sys.stderr)
            start = time.perf_counter()
            load(url)
            print(f"  loaded in {time.perf_counter() - start:.1f} s", file=sys.stderr)
            prepare_ceiling(owner)
            with new_session(url) as db:
                grids = db.scalar(text("SELECT count(*) FROM grid"))
                parts = db.scalar(text("SELECT count(*) FROM grid_part"))
            points = random_points(url, area_code, args.points, seed=42)
            batch = time_batch(url, points, args.repeat)
            ceiling = time_ceiling(owner, points, args.repeat)
            api1 = time_api(url, points, args.api_requests, threads=1)
            api4 = time_api(url, points, args.api_requests, threads=4)
            found.append((scale, grids, parts, api1, api4, batch, ceiling))
    finally:
        cluster.destroy()

    header = (
        f"{'scale':<14}{'grids':>9}{'pieces':>9}{'(a) API':>11}{'(a) API x4':>12}"
        f"{'(b) batch':>12}{'(c) ceiling':>13}{'b/c':>7}{'b/a':>8}"
    )
    with results.table() as printed:
        print("\nlookups per second (median of runs); points inside the area with unit grids")
        print(header)
        print("-" * len(header))
        for scale, grids, parts, api1, api4, batch, ceiling in found:
            print(
                f"{scale:<14}{grids:>9,}{parts:>9,}{api1:>11,.0f}{api4:>12,.0f}"
                f"{batch:>12,.0f}{ceiling:>13,.0f}{batch / ceiling:>7.2f}{batch / api4:>8.0f}"
            )
        print(f"\ngoal: (b) >= {GOAL_RATE:,} lookups/s and b/c >= {GOAL_RATIO}")
    figures = []
    for scale, _grids, _parts, _api1, api4, batch, ceiling in found:
        figures += [
            results.Figure(
                f"{scale}: (b) batch", batch, ceiling, "lookups/s", "(c) the GiST ceiling",
                goal=f">= {GOAL_RATE:,}/s and >= {GOAL_RATIO} of the ceiling",
                met=batch >= GOAL_RATE and batch >= GOAL_RATIO * ceiling,
            ),
            results.Figure(
                f"{scale}: (a) API, 4 threads", api4, ceiling, "lookups/s", "(c) the GiST ceiling"
            ),
        ]  # fmt: skip
    results.write(
        args.json,
        measures="point-to-grid lookups per second through the API and in one batch query, beside the raw "
        "GiST ceiling (a bare ST_Contains join against the deepest grids' polygons)",
        parameters=vars(args),
        figures=figures,
        table=printed,
    )


if __name__ == "__main__":
    main()
