"""Case intake: reports per second and latency with concurrent clients through the HTTP API, (a) JSON
reports sent back to back and (b) reports with one ~300 KB photo each (the report, then the photo), and
(d) JSON reports sent at a fixed rate (0.3 of the ceiling's) on a schedule, latency counted from each
report's scheduled moment; beside (c) the raw ceiling: the rows an intake writes (the district's day
counter, the case_file row, its report event) in one transaction each, straight through psycopg2 over as
many connections as there are clients.

It starts its own throwaway PostGIS cluster in /tmp (never ./var), loads the Jinan demo city's grids, the
starter taxonomy and an inspector with a password, and serves the app with uvicorn on loopback with 1 and
2 workers. Every report lies in 历下区 (one day counter, the hardest case). Each figure is the median of
several repetitions, each with fresh client_uuids; the CPU columns say where the time went (cores used by
the client, the app server, PostgreSQL and the machine's other processes), so a saturated client, or a
machine busy with something else, shows.

    .venv/bin/python bench/intake.py [--clients 16] [--reports 1600] [--photo-reports 320] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import psycopg2
from PIL import Image
from sqlalchemy import select
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import results  # bench/results.py, beside this file
from locate import load_demo, random_points  # bench/locate.py

from server import migrate
from server.auth import service as auth_service
from server.auth.schemas import UserCreate
from server.category import service as category_service
from server.config import PROJECT_DIR, get_settings
from server.database import get_engine, new_session
from server.grid import lookup as grid_lookup
from server.grid import people as grid_people
from server.grid.models import CURRENT, Grid
from server.localdb import OWNER_ROLE, Cluster, free_port
from server.users import service as user_service

DISTRICT = "370102"  # 历下区, where the demo city has unit grids
CATEGORY = "E06010"  # exposed garbage: handled by sanitation_lx in 历下区
PHONE, PASSWORD = "17799990001", "bench intake 2026"
TIMEOUT = 60  # bounds every request, the start barrier and the server's start
TICK = os.sysconf("SC_CLK_TCK")
LOCAL = ZoneInfo(get_settings().timezone)  # the day of the district's counter
GOAL_RATIO, GOAL_P95_MS, GOAL_RATE = 0.3, 50, 500  # (a) against (c), its p95, and reports/s
PACED_SENDERS = 16  # connections of the paced run: more than its reports ever in flight at once


# -- the database ------------------------------------------------------------------------------------


def prepare(url: str) -> None:
    """The demo city's grids, the starter taxonomy, and an inspector of a 历下区 village with a password."""
    load_demo(url)
    with new_session(url) as db:
        category_service.load_starter(db=db)
        village = db.scalar(
            select(Grid.code)
            .where(CURRENT, Grid.level == "village", Grid.path.op("~")(f"*.{DISTRICT}.*"))
            .order_by(Grid.code)
            .limit(1)
        )
        user = user_service.create_user(
            db=db,
            data=UserCreate(name="压测巡查员", phone=PHONE, roles=["inspector"], password=PASSWORD),
        )
        grid_people.assign(db=db, grid_code=village, user=user, role="inspector")
    get_engine(url).dispose()


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by process ``pid``, its ended children and its live descendants (/proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = " ".join(p.read_text() for p in Path(f"/proc/{pid}/task").glob("*/children")).split()
    except OSError:  # it ended meanwhile
        return 0.0
    own = sum(int(f) for f in fields[11:15]) / TICK  # utime, stime, and those of its reaped children
    return own + sum(tree_cpu(int(child)) for child in children)


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (every core, every process: /proc/stat)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = Path("/proc/stat").read_text().split()[1:9]
    return sum(int(t) for t in (user, nice, system, irq, softirq, steal)) / TICK


def cpu_times(watched: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of this process (the client), of each watched process tree, and of the machine."""
    times = {"client": time.process_time(), "machine": machine_busy()}
    return times | {name: tree_cpu(pid) for name, pid in watched.items()}


def postmaster_pid(cluster: Cluster) -> int:
    return int((cluster.data / "postmaster.pid").read_text().split()[0])


# -- runs --------------------------------------------------------------------------------------------


@dataclass
class Run:
    reports: int
    seconds: float
    latencies: list[float]  # seconds per report
    cpu: dict[str, float]  # cores used on average: client, app, db, machine (everything)

    @property
    def rate(self) -> float:
        return self.reports / self.seconds


def concurrently(
    clients: int,
    per_client: int,
    connect: Callable[[], object],
    one: Callable[[object, int], None],
    watched: dict[str, int],
) -> Run:
    """``per_client`` calls of ``one(connection, k)`` in each of ``clients`` threads, each on its own
    connection, all released at once; timed from the release to the last answer."""
    barrier = threading.Barrier(clients + 1, timeout=TIMEOUT)
    latencies: list[float] = []

    def client() -> None:
        connection = connect()
        try:
            barrier.wait()
            for k in range(per_client):
                start = time.perf_counter()
                one(connection, k)
                latencies.append(time.perf_counter() - start)
        finally:
            connection.close()

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(client) for _ in range(clients)]
        barrier.wait()
        start, cpu0 = time.perf_counter(), cpu_times(watched)
        for future in futures:
            future.result(timeout=TIMEOUT * per_client)
        seconds = time.perf_counter() - start
        cpu1 = cpu_times(watched)
    return Run(clients * per_client, seconds, latencies, {k: (cpu1[k] - cpu0[k]) / seconds for k in cpu0})


def photo_bytes(lon: float, lat: float, width: int = 1600, height: int = 1200) -> bytes:
    """A real JPEG (a gradient with noise; about 300 KB at 1600 x 1200), geotagged at (lon, lat)."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:height, 0:width]
    gradient = np.stack([x * 255 // width, y * 255 // height, (x + y) * 255 // (width + height)], axis=-1)
    pixels = np.clip(gradient + rng.normal(0, 10, gradient.shape), 0, 255).astype(np.uint8)
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (lat, 0.0, 0.0), 3: "E", 4: (lon, 0.0, 0.0)})
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=80, exif=exif)
    return out.getvalue()


def unique(jpeg: bytes) -> bytes:
    """The same picture with a fresh JPEG comment segment right after the start marker: other bytes, so
    the server stores it as a new photo."""
    comment = uuid.uuid4().hex.encode()
    return jpeg[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + jpeg[2:]


@contextmanager
def serve(url: str, workers: int, var_dir: Path) -> Iterator[tuple[str, int]]:
    """The app under uvicorn on 127.0.0.1 with ``workers`` processes; its base URL and process id."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "GRIDOPS_VAR_DIR": str(var_dir)}
    args = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "server.main:create_app", "--factory", *args, "--no-access-log"],
        cwd=PROJECT_DIR,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(proc, f"{base}/health")
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=TIMEOUT)


def wait_for(proc: subprocess.Popen, url: str) -> None:
    """Wait until the server ``proc`` answers ``url`` with 200; RuntimeError if it ends or takes too long."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start: {url}")
        try:
            httpx.get(url, timeout=2).raise_for_status()
            return
        except (httpx.TransportError, httpx.HTTPStatusError):
            time.sleep(0.1)


def login(base: str) -> str:
    body = {"login": PHONE, "password": PASSWORD, "device_id": "bench", "device_name": "bench"}
    resp = httpx.post(f"{base}/api/auth/login", json=body, timeout=TIMEOUT)
    resp.raise_for_status()
    return resp.json()["access_token"]


def api_run(
    base: str, token: str, points, clients: int, per_client: int, photo: bytes | None, watched: dict
) -> Run:
    """Reports through the API (each followed by its photo when ``photo`` is given)."""
    headers = {"Authorization": f"Bearer {token}"}
    lock, spots = threading.Lock(), iter(points)

    def connect() -> httpx.Client:
        return httpx.Client(base_url=base, headers=headers, timeout=TIMEOUT)

    def one(client: httpx.Client, k: int) -> None:
        with lock:
            lon, lat = next(spots)
        body = {"client_uuid": str(uuid.uuid4()), "category": CATEGORY, "lon": lon, "lat": lat}
        resp = client.post("/api/cases", json=body)
        if resp.status_code != 201:
            raise RuntimeError(f"report refused: {resp.status_code} {resp.text}")
        if photo is not None:
            files = {"file": ("photo.jpg", unique(photo), "image/jpeg")}
            resp = client.post(f"/api/cases/{resp.json()['code']}/photos", files=files)
            if resp.status_code != 201:
                raise RuntimeError(f"photo refused: {resp.status_code} {resp.text}")

    return concurrently(clients, per_client, connect, one, watched)


def paced_run(base: str, token: str, points, rate: float, count: int, watched: dict) -> Run:
    """``count`` JSON reports sent at ``rate`` per second on a fixed schedule (open loop): each report's
    latency counts from its scheduled moment, so a slow answer neither delays the reports after it nor
    hides the queueing it causes. The senders, connected before the start, are more than ever needed at
    once."""
    headers = {"Authorization": f"Bearer {token}"}
    idle: queue.SimpleQueue[httpx.Client] = queue.SimpleQueue()
    for _ in range(PACED_SENDERS):
        client = httpx.Client(base_url=base, headers=headers, timeout=TIMEOUT)
        client.get("/health").raise_for_status()
        idle.put(client)
    latencies, spots, lock = [], iter(points), threading.Lock()

    def one(due: float) -> None:
        with lock:
            lon, lat = next(spots)
        body = {"client_uuid": str(uuid.uuid4()), "category": CATEGORY, "lon": lon, "lat": lat}
        client = idle.get()
        try:
            resp = client.post("/api/cases", json=body)
        finally:
            idle.put(client)
        if resp.status_code != 201:
            raise RuntimeError(f"report refused: {resp.status_code} {resp.text}")
        latencies.append(time.perf_counter() - due)

    try:
        with ThreadPoolExecutor(PACED_SENDERS) as pool:
            start, cpu0 = time.perf_counter(), cpu_times(watched)
            futures = []
            for k in range(count):
                due = start + k / rate
                time.sleep(max(0.0, due - time.perf_counter()))
                futures.append(pool.submit(one, due))
            for future in futures:
                future.result(timeout=TIMEOUT)
            seconds = time.perf_counter() - start
            cpu1 = cpu_times(watched)
    finally:
        while not idle.empty():
            idle.get().close()
    return Run(count, seconds, latencies, {k: (cpu1[k] - cpu0[k]) / seconds for k in cpu0})


# The statements an intake's transaction writes, with the values it would compute beforehand.
COUNTER_SQL = """
    INSERT INTO case_counter (district_code, day, last) VALUES (%(district)s, %(day)s, 1)
    ON CONFLICT (district_code, day) DO UPDATE SET last = case_counter.last + 1 RETURNING last
"""
CASE_SQL = """
    INSERT INTO case_file (code, client_uuid, content_hash, channel, state, category_id, urgency, description,
        location, reported_crs, grid_id, grid_code, grid_path, district_code, rural, reporter_id,
        reporter_name, reporter_phone, received_at, department_id, tags, step_started_at, step_limit_min,
        step_due_at)
    VALUES (%(code)s, %(uuid)s, %(hash)s, 'inspector', 'registered', %(category_id)s, 'important', '',
        ST_Point(%(lon)s, %(lat)s, 4326), 'wgs84', %(grid_id)s, %(grid_code)s, %(grid_path)s, %(district)s,
        false, %(user_id)s, '压测巡查员', %(phone)s, %(now)s, %(department_id)s, '{}', %(now)s, 60,
        %(now)s + interval '1 hour')
    RETURNING id
"""
EVENT_SQL = """
    INSERT INTO case_event (case_id, at, actor_id, actor_name, role, action, state_after, note, location,
        photo_ids, due_at, data)
    VALUES (%(case_id)s, %(now)s, %(user_id)s, '压测巡查员', 'inspector', 'report', 'registered', '',
        ST_Point(%(lon)s, %(lat)s, 4326), '{}', %(now)s + interval '1 hour', %(data)s)
"""


def ceiling_values(url: str, lon: float, lat: float) -> dict:
    """What the intake computes before writing (grid, category, department, reporter), looked up once."""
    with new_session(url) as db:
        *_, chain = grid_lookup.locate(db=db, lon=lon, lat=lat)
        category = category_service.get_category(db=db, code=CATEGORY)
        department = category_service.responsible_department(db=db, category=category, district_code=DISTRICT)
        user = auth_service.find_user(db=db, key=PHONE)
        leaf = chain[-1]
        values = {
            "district": DISTRICT,
            "category_id": category.id,
            "department_id": department.id,
            "user_id": user.id,
            "phone": PHONE,
            "grid_id": leaf.id,
            "grid_code": leaf.code,
            "grid_path": leaf.path,
            "data": json.dumps({"channel": "inspector", "grids": [g.code for g in chain]}),
        }
    get_engine(url).dispose()
    return values


def ceiling_run(url: str, values: dict, points, clients: int, per_client: int, watched: dict) -> Run:
    """The same writes with no HTTP and no application: three statements and a commit per report."""
    dsn = make_url(url)
    params = {
        "dbname": dsn.database,
        "user": dsn.username,
        "password": dsn.password,
        "host": dsn.query["host"],
        "port": dsn.query["port"],
        "options": "-c jit=off",
    }
    lock, spots = threading.Lock(), iter(points)

    def one(conn, k: int) -> None:
        with lock:
            lon, lat = next(spots)
        now = datetime.now(UTC)
        day = now.astimezone(LOCAL).date()
        with conn.cursor() as cur:
            row = {**values, "now": now, "day": day, "lon": lon, "lat": lat, "uuid": str(uuid.uuid4())}
            cur.execute(COUNTER_SQL, row)
            row["code"] = f"{DISTRICT}-{day:%Y%m%d}-{cur.fetchone()[0]:04d}"
            row["hash"] = row["uuid"].replace("-", "") * 2
            cur.execute(CASE_SQL, row)
            row["case_id"] = cur.fetchone()[0]
            cur.execute(EVENT_SQL, row)
        conn.commit()

    return concurrently(clients, per_client, lambda: psycopg2.connect(**params), one, watched)


# -- the report ----------------------------------------------------------------------------------------


def summary(mode: str, runs: list[Run]) -> dict:
    """Medians over the repetitions of each figure."""
    median = statistics.median
    return {
        "mode": mode,
        "reports": runs[0].reports,
        "seconds": median(r.seconds for r in runs),
        "rate": median(r.rate for r in runs),
        "p50": median(float(np.percentile(r.latencies, 50)) for r in runs) * 1000,
        "p95": median(float(np.percentile(r.latencies, 95)) for r in runs) * 1000,
        "cpu": {k: median(r.cpu[k] for r in runs) for k in runs[0].cpu},
    }


def measured(mode: str, repeat: int, run: Callable[[], Run]) -> dict:
    """A warm-up run (connections, query plans, imports), then ``repeat`` measured ones."""
    print(f"{mode} ...", file=sys.stderr)
    run()
    return summary(mode, [run() for _ in range(repeat)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (and connections)")
    parser.add_argument("--reports", type=int, default=1600, help="JSON reports per repetition")
    parser.add_argument("--photo-reports", type=int, default=320, help="reports with a photo per repetition")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per figure (medians are printed)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="uvicorn worker counts")
    results.add_argument(parser)
    args = parser.parse_args()
    clients = args.clients
    per_json, per_photo = args.reports // clients, args.photo_reports // clients

    cluster = Cluster(Path(tempfile.mkdtemp(prefix="gridops-bench-pg-", dir="/tmp")))
    var_dir = Path(tempfile.mkdtemp(prefix="gridops-bench-var-"))  # the served app's photos
    print("starting a throwaway PostGIS cluster ...", file=sys.stderr)
    cluster.start()
    try:
        url = cluster.ensure_database("bench_intake")
        migrate.upgrade(cluster.url("bench_intake", user=OWNER_ROLE))
        print("loading the demo city, the taxonomy and an inspector ...", file=sys.stderr)
        prepare(url)
        runs_per_mode = 1 + args.repeat  # a warm-up, then the repetitions
        per_workers = 2 * per_json + per_photo  # (a), (d) and (b)
        needed = clients * runs_per_mode * (per_json + len(args.workers) * per_workers)
        points = random_points(url, DISTRICT, needed, seed=7)
        spots = iter(points)
        photo = photo_bytes(*points[0])
        db = {"db": postmaster_pid(cluster)}
        found = []

        values = ceiling_values(url, *points[0])
        ceiling = measured(
            f"(c) ceiling, {clients} psycopg2 connections",
            args.repeat,
            partial(ceiling_run, url, values, spots, clients, per_json, db),
        )
        for workers in args.workers:
            with serve(url, workers, var_dir) as (base, pid):
                token = login(base)
                for mode, per_client, with_photo in (
                    ("(a) JSON", per_json, None),
                    ("(b) photo", per_photo, photo),
                ):
                    run = partial(
                        api_run, base, token, spots, clients, per_client, with_photo, {"app": pid, **db}
                    )
                    found.append(measured(f"{mode}, {workers} worker(s)", args.repeat, run))
                paced = GOAL_RATIO * ceiling["rate"]
                run = partial(paced_run, base, token, spots, paced, clients * per_json, {"app": pid, **db})
                found.append(measured(f"(d) paced {paced:.0f}/s, {workers} worker(s)", args.repeat, run))
        found.append(ceiling)
    finally:
        cluster.destroy()
        shutil.rmtree(var_dir)

    header = (
        f"{'mode':<40}{'reports':>8}{'seconds':>9}{'reports/s':>11}{'p50 ms':>8}{'p95 ms':>8}"
        f"{'/ceiling':>9}   CPU cores: client app  db  other"
    )
    with results.table() as printed:
        print(
            f"\ncase intake, {clients} concurrent clients, medians of {args.repeat} repetitions; "
            f"photo: {len(photo) / 1024:.0f} KB JPEG, 1600 x 1200, posted after its report (a report's "
            "latency covers both)"
        )
        print(header)
        print("-" * len(header))
        for r in found:
            used = {k: r["cpu"].get(k, 0.0) for k in ("client", "app", "db")}
            other = r["cpu"]["machine"] - sum(used.values())  # processes outside the benchmark
            cpu = "  ".join(f"{v:4.2f}" for v in [*used.values(), other])
            print(
                f"{r['mode']:<40}{r['reports']:>8}{r['seconds']:>9.2f}{r['rate']:>11,.0f}{r['p50']:>8.1f}"
                f"{r['p95']:>8.1f}{r['rate'] / ceiling['rate']:>9.2f}   {cpu}"
            )
        print(
            f"\nmachine: {os.cpu_count()} cores shared by the client, the app server, PostgreSQL and any "
            "other process (other)"
        )
        print(
            f"(d): JSON reports sent at {GOAL_RATIO} of (c)'s rate on a fixed schedule, latency counted from "
            "each one's scheduled moment (open loop)"
        )
        print(
            f"goal: (a) >= {GOAL_RATIO} of (c) (and >= {GOAL_RATE} reports/s), and at that rate (d) p95 < "
            f"{GOAL_P95_MS} ms"
        )
    figures = []
    for r in found[:-1]:
        if r["mode"].startswith("(a)"):
            figures += [
                results.Figure(
                    f"{r['mode']}: reports/s", r["rate"], ceiling["rate"], "reports/s", "(c) the ceiling",
                    goal=f">= {GOAL_RATIO} of the ceiling", met=r["rate"] >= GOAL_RATIO * ceiling["rate"],
                ),
                results.Figure(
                    f"{r['mode']}: reports/s, absolute", r["rate"], ceiling["rate"], "reports/s",
                    "(c) the ceiling", goal=f">= {GOAL_RATE}/s", met=r["rate"] >= GOAL_RATE,
                ),
                results.Figure(
                    f"{r['mode']}: p95, {clients} clients back to back", r["p95"], ceiling["p95"], "ms",
                    "(c) the ceiling",
                ),
            ]  # fmt: skip
        elif r["mode"].startswith("(d)"):
            figures.append(
                results.Figure(
                    f"{r['mode']}: p95",
                    r["p95"],
                    ceiling["p95"],
                    "ms",
                    "(c) the ceiling, back to back",
                    goal=f"< {GOAL_P95_MS} ms",
                    met=r["p95"] < GOAL_P95_MS,
                )
            )
        else:
            figures.append(
                results.Figure(
                    f"{r['mode']}: reports/s", r["rate"], ceiling["rate"], "reports/s", "(c) the ceiling"
                )
            )
    results.write(
        args.json,
        measures="reports per second and latency of POST /api/cases with concurrent clients (JSON, and with "
        "one photo each) and at a fixed rate, beside the raw ceiling: the same rows inserted straight "
        "through psycopg2",
        parameters=vars(args),
        figures=figures,
        table=printed,
    )


if __name__ == "__main__":
    main()
