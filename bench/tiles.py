"""Case tiles over a million cases: our `/tiles/cases/{z}/{x}/{y}.mvt` beside developmentseed's tipg
serving the same table, in the same run, on the same cluster.

A throwaway cluster gets the demo city, its people, the starter taxonomy and 1,000,000 synthetic cases in
历下区 (bench/synthetic.py: set-based, the same for the same seed). Both servers run one uvicorn worker.
The tile set is fixed: at each zoom from 10 to 16, the 3 x 3 tiles around a point of 历下区 (clipped to
the district at low zoom). One round fetches every tile once, by one client, without ETags (each answer is
built); each server runs ``--rounds`` rounds. Printed per zoom and for all: the medians over the rounds of
each round's p50 and p95 latency in ms, the median tile size, and ours over tipg.

Ours answers as an operator would see it (a city-wide user: the scope condition is in the query), with
clusters below zoom 14 and points from it (clusters where a tile below zoom 16 is too dense); tipg answers
its default (every column of the table, up to its feature limit). tipg is installed from PyPI into its own
virtual environment (var/bench/tipg-venv) the first time: it pins other versions of FastAPI and pydantic
than the project.

    .venv/bin/python bench/tiles.py [--cases 1000000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import results  # bench/results.py, beside this file
from intake import TIMEOUT, serve, wait_for  # bench/intake.py
from synthetic import bench_city, load_synthetic_cases  # bench/synthetic.py

from gis.tiles import tile_for_point
from server.auth.passwords import DEMO_PASSWORD
from server.config import PROJECT_DIR
from server.localdb import APP_ROLE, free_port

ZOOMS = range(10, 17)
CENTRE = (117.0760, 36.6700)  # 历下区, east of 泉城广场
TIPG_VENV = PROJECT_DIR / "var" / "bench" / "tipg-venv"
OPERATOR = "zhaomin"
GOAL_P95_MS = 50


def tile_set() -> list[tuple[int, int, int]]:
    tiles = []
    for z in ZOOMS:
        cx, cy = tile_for_point(*CENTRE, z)
        tiles += [(z, cx + dx, cy + dy) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    return tiles


def tipg_python() -> Path:
    python = TIPG_VENV / "bin" / "python"
    if not (TIPG_VENV / "bin" / "uvicorn").exists():
        print("installing tipg into var/bench/tipg-venv ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(TIPG_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "tipg>=1.0,<2", "uvicorn"], check=True
        )
    return python


@contextmanager
def serve_tipg(url: str) -> Iterator[str]:
    """tipg on 127.0.0.1 over ``url`` (the cluster's TCP address: tipg's settings take no socket), publishing
    the case table."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_DB_TABLES": '["public.case_file"]',
        "TIPG_DB_FUNCTIONS": "[]",
        "TIPG_MAX_FEATURES_PER_TILE": "10000",
    }
    args = ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen([str(tipg_python()), "-m", "uvicorn", "tipg.main:app", *args], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(proc, f"{base}/collections")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=TIMEOUT)


Rounds = list[dict[int, tuple[list[float], list[int]]]]  # per round, per zoom: latencies (ms) and sizes


def measure(client: httpx.Client, url_of, rounds: int) -> Rounds:
    """``rounds`` fetches of the tile set, after one to warm the connection and the caches."""
    tiles = tile_set()
    for z, x, y in tiles:
        client.get(url_of(z, x, y)).raise_for_status()
    found = []
    for _ in range(rounds):
        one: dict[int, tuple[list[float], list[int]]] = {z: ([], []) for z in ZOOMS}
        for z, x, y in tiles:
            start = time.perf_counter()
            answer = client.get(url_of(z, x, y))
            elapsed = (time.perf_counter() - start) * 1000
            answer.raise_for_status()
            one[z][0].append(elapsed)
            one[z][1].append(len(answer.content))
        found.append(one)
    return found


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def summary(rounds: Rounds, zooms) -> tuple[float, float, float]:
    """The medians over the rounds of the p50 and p95 latency of the tiles at ``zooms``, and their median
    size."""
    latencies = [[ms for z in zooms for ms in one[z][0]] for one in rounds]
    sizes = [size for one in rounds for z in zooms for size in one[z][1]]
    return (
        statistics.median(statistics.median(ms) for ms in latencies),
        statistics.median(p95(ms) for ms in latencies),
        statistics.median(sizes),
    )


def report(ours: Rounds, tipg: Rounds) -> None:
    head = (
        f"{'zoom':>5} | {'ours p50':>9} {'p95':>7} {'size':>8} | {'tipg p50':>9} {'p95':>7} {'size':>8} | "
        f"{'ours/tipg p50':>13} {'p95':>5}"
    )
    print(head)
    print("-" * len(head))
    for name, zooms in [*((str(z), [z]) for z in ZOOMS), ("all", list(ZOOMS))]:
        (o50, o95, osize), (t50, t95, tsize) = summary(ours, zooms), summary(tipg, zooms)
        print(
            f"{name:>5} | {o50:9.1f} {o95:7.1f} {osize:8.0f} | {t50:9.1f} {t95:7.1f} {tsize:8.0f} | "
            f"{o50 / t50:13.2f} {o95 / t95:5.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000, help="synthetic cases to load")
    parser.add_argument("--rounds", type=int, default=5, help="rounds over the tile set per server")
    results.add_argument(parser)
    args = parser.parse_args()

    with bench_city("bench_tiles") as (cluster, url):
        print(f"loading {args.cases:,} synthetic cases ...", file=sys.stderr)
        started = time.perf_counter()
        with cluster.connect("bench_tiles") as conn:
            total = load_synthetic_cases(
                conn, args.cases, progress=lambda done: print(f"  {done:,}", file=sys.stderr)
            )
        print(f"{total:,} cases in {time.perf_counter() - started:.0f} s", file=sys.stderr)

        with serve(url, 1, Path(tempfile.mkdtemp(prefix="gridops-bench-var-"))) as (base, _pid):
            body = {
                "login": OPERATOR,
                "password": DEMO_PASSWORD,
                "device_id": "bench",
                "device_name": "bench",
            }
            token = httpx.post(f"{base}/api/auth/login", json=body, timeout=TIMEOUT).json()["access_token"]
            with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT) as client:
                ours = measure(client, lambda z, x, y: f"{base}/tiles/cases/{z}/{x}/{y}.mvt", args.rounds)
        tcp = (
            f"postgresql://{APP_ROLE}:{quote(cluster.password, safe='')}@127.0.0.1:{cluster.port}/bench_tiles"
        )
        with serve_tipg(tcp) as tipg_base, httpx.Client(timeout=TIMEOUT) as client:
            path = "collections/public.case_file/tiles/WebMercatorQuad"
            tipg = measure(client, lambda z, x, y: f"{tipg_base}/{path}/{z}/{x}/{y}", args.rounds)

    with results.table() as printed:
        print(
            f"\ncase tiles, {total:,} cases in 历下区, {len(tile_set())} tiles at zooms 10-16, {args.rounds} "
            "rounds, one client, one uvicorn worker each; medians over the rounds of each round's p50 and "
            "p95 latency (ms), median size (bytes)"
        )
        report(ours, tipg)
        print(f"\ngoal: p95 < {GOAL_P95_MS} ms at every zoom, and no slower than tipg")
    figures = []
    for zooms in [[z] for z in ZOOMS] + [list(ZOOMS)]:
        (o50, o95, _), (t50, t95, _) = summary(ours, zooms), summary(tipg, zooms)
        name = f"zoom {zooms[0]}" if len(zooms) == 1 else "all zooms"
        figures += [
            results.Figure(f"{name}: p50", o50, t50, "ms", "tipg"),
            results.Figure(
                f"{name}: p95", o95, t95, "ms", "tipg",
                goal=f"< {GOAL_P95_MS} ms, <= tipg", met=o95 < GOAL_P95_MS and o95 <= t95,
            ),
        ]  # fmt: skip
    results.write(
        args.json,
        measures=f"case vector tiles over {total:,} synthetic cases: our tile route beside tipg serving the "
        "same table, latency per zoom",
        parameters=vars(args),
        figures=figures,
        table=printed,
    )


if __name__ == "__main__":
    main()
