"""The phone's sync after a reconnect: reports with one photo each, queued in the app's outbox while the
network is down, then synced when it returns, timed until the outbox is empty; checked on the server's
database for lost reports (a queued client UUID with no case) and duplicates (cases beyond those queued,
photos beyond one per case). Beside it, the ceiling: the same reports and photos posted straight with
requests, one after the other (no outbox, no SQLite, no pull), over the same path.

It starts its own throwaway PostGIS cluster in /tmp (never ./var), loads the Jinan demo city with its
people and the starter taxonomy, serves the app with uvicorn on loopback, and puts the tests' fault proxy
(tests/mobile/netfault.py) between the phone and the server: ``down`` while queueing, ``pass`` to
reconnect; the ceiling goes through the same proxy. The phone is the demo inspector 张伟 on a new data
folder each run; each report's photo goes through the app's photo pipeline (1600 x 1200, stamped,
geotagged at the report), at a random point of the inspector's cached village. Each run queues fresh
reports; the figures are medians over the runs.

    .venv/bin/python bench/mobile_sync.py [--reports 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests
from PIL import Image
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import results  # bench/results.py, beside this file
from intake import TIMEOUT, photo_bytes, serve, unique  # bench/intake.py
from locate import load_demo, random_points  # bench/locate.py

from mobile.services.app import AppServices
from mobile.services.outbox import OutboxItem
from mobile.services.photos import prepare_photo
from server import migrate
from server.auth.passwords import DEMO_PASSWORD
from server.category import service as category_service
from server.database import get_engine, new_session
from server.localdb import OWNER_ROLE, Cluster
from server.users.demo import load_demo_people
from tests.mobile.netfault import NetFault

INSPECTOR = "13900000001"  # 张伟, the demo's first inspector (a village of 历下区)
CATEGORY = "E06010"  # exposed garbage


def prepare(url: str) -> None:
    """The demo city: grids, people (with the demo password) and the starter taxonomy."""
    load_demo(url)
    with new_session(url) as db:
        load_demo_people(db=db)
        category_service.load_starter(db=db)
    get_engine(url).dispose()


def phone(folder: Path, net: NetFault) -> AppServices:
    """The app on a new data folder, logged in as the inspector, its cache pulled (grids, categories)."""
    app = AppServices(folder, net.url)
    app.login(net.url, INSPECTOR, DEMO_PASSWORD)
    app.sync.run_once()
    if app.sync.status.state != "idle":
        raise RuntimeError(f"the first sync failed: {app.sync.status.message}")
    return app


def camera_frame(folder: Path, lon: float, lat: float) -> Path:
    """What the camera gives: a 1600 x 1200 JPEG (a noisy gradient) without a position of its own."""
    path = folder / "camera.jpg"
    Image.open(io.BytesIO(photo_bytes(lon, lat))).save(path, "JPEG", quality=92)
    return path


# -- one run -------------------------------------------------------------------------------------------


@dataclass
class Run:
    reports: int
    photos: int
    photo_bytes: int
    seconds: float  # from the reconnect to an empty outbox
    ceiling_seconds: float  # the same reports and photos posted straight
    lost: int  # queued reports with no case on the server
    photos_lost: int  # delivered reports without their photo
    duplicated: int  # cases of the inspector beyond those queued
    duplicated_photos: int  # photos beyond one per case

    @property
    def rate(self) -> float:
        return self.reports / self.seconds

    @property
    def ceiling_rate(self) -> float:
        return self.reports / self.ceiling_seconds


def queue_offline(
    app: AppServices, net: NetFault, frame: Path, points: list[tuple[float, float]], run: int
) -> list[OutboxItem]:
    """With the network down, one report per point, each with its own photo from the pipeline."""
    net.set("down")
    ready = app.data_dir.parent / "camera"
    items = []
    for n, (lon, lat) in enumerate(points, 1):
        photo = prepare_photo(
            frame, ready, inspector="张伟", place=f"历下区 压测 第 {run} 轮 第 {n} 份", lon=lon, lat=lat
        )
        items.append(
            app.outbox.add_report(
                category=CATEGORY,
                lon=lon,
                lat=lat,
                accuracy_m=5.0,
                description=f"路边垃圾堆放（压测 {run}-{n}）",
                urgency=None,
                photos=[photo],
            )
        )
        photo.unlink()  # the outbox holds its own copy
    return items


def sync_after_reconnect(app: AppServices, net: NetFault) -> float:
    """Seconds from the network's return to an empty outbox."""
    net.set("pass")
    start = time.perf_counter()
    for _ in range(10):  # a run stops at a network problem; on loopback one run is enough
        app.sync.run_once()
        if not app.outbox.pending():
            return time.perf_counter() - start
    raise RuntimeError(f"the outbox did not empty: {app.outbox.counts()}, {app.sync.status.message}")


def post_straight(net: NetFault, items: list[OutboxItem]) -> float:
    """The ceiling: the same reports (new client UUIDs) and photos (the same pictures, new bytes), posted
    one after the other on one keep-alive connection. Seconds."""
    http = requests.Session()
    body = {
        "login": INSPECTOR,
        "password": DEMO_PASSWORD,
        "device_id": "bench-ceiling",
        "device_name": "bench",
    }
    login = http.post(f"{net.url}/api/auth/login", json=body, timeout=TIMEOUT)
    login.raise_for_status()
    http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    photos = [unique(item.photos[0].path.read_bytes()) for item in items]
    start = time.perf_counter()
    for item, photo in zip(items, photos, strict=True):
        answer = http.post(
            f"{net.url}/api/cases", json={**item.payload, "client_uuid": str(uuid.uuid4())}, timeout=TIMEOUT
        )
        if answer.status_code != 201:
            raise RuntimeError(f"report refused: {answer.status_code} {answer.text}")
        answer = http.post(
            f"{net.url}/api/cases/{answer.json()['code']}/photos",
            files={"file": ("photo.jpg", photo, "image/jpeg")},
            timeout=TIMEOUT,
        )
        if answer.status_code != 201:
            raise RuntimeError(f"photo refused: {answer.status_code} {answer.text}")
    return time.perf_counter() - start


def inspector_cases(url: str) -> int:
    with get_engine(url).connect() as db:
        return db.scalar(
            text(
                "SELECT count(*) FROM case_file c JOIN app_user u ON u.id = c.reporter_id "
                "WHERE u.phone = :phone"
            ),
            {"phone": INSPECTOR},
        )


def delivery(url: str, uuids: list[str]) -> tuple[int, int, int]:
    """Of the reports with ``uuids``: how many have a case, how many of those have a photo, and how many
    photos they hold beyond one per case."""
    with get_engine(url).connect() as db:
        row = db.execute(
            text(
                """
                SELECT count(DISTINCT c.id), count(DISTINCT p.case_id),
                       count(p.id) - count(DISTINCT p.case_id)
                FROM case_file c LEFT JOIN case_photo p ON p.case_id = c.id
                WHERE c.client_uuid = ANY(CAST(:uuids AS uuid[]))
                """
            ),
            {"uuids": uuids},
        ).one()
    return row[0], row[1], row[2]


def one_run(url: str, net: NetFault, work: Path, frame: Path, points, run: int) -> Run:
    app = phone(work / f"run-{run}" / "app", net)
    try:
        items = queue_offline(app, net, frame, points, run)
        before = inspector_cases(url)
        seconds = sync_after_reconnect(app, net)
        after = inspector_cases(url)
        cases, with_photo, extra_photos = delivery(url, [i.client_uuid for i in items])
        ceiling = post_straight(net, items)
        return Run(
            reports=len(items),
            photos=len(items),
            photo_bytes=sum(i.photos[0].path.stat().st_size for i in items),
            seconds=seconds,
            ceiling_seconds=ceiling,
            lost=len(items) - cases,
            photos_lost=cases - with_photo,
            duplicated=after - before - cases,
            duplicated_photos=extra_photos,
        )
    finally:
        app.close()


# -- the report ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=500, help="reports queued per run (one photo each)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs, each with fresh reports (medians printed)"
    )
    results.add_argument(parser)
    args = parser.parse_args()

    cluster = Cluster(Path(tempfile.mkdtemp(prefix="gridops-bench-pg-", dir="/tmp")))
    work = Path(tempfile.mkdtemp(prefix="gridops-bench-mobile-"))  # the server's photos, the phones
    print("starting a throwaway PostGIS cluster ...", file=sys.stderr)
    cluster.start()
    try:
        url = cluster.ensure_database("bench_mobile")
        migrate.upgrade(cluster.url("bench_mobile", user=OWNER_ROLE))
        print("loading the demo city, its people and the taxonomy ...", file=sys.stderr)
        prepare(url)
        with serve(url, 1, work / "server") as (base, _pid), NetFault(base) as net:
            scout = phone(work / "scout", net)  # where the inspector's cached grids are
            village = next(g.code for g in scout.cache.grid_records() if g.level == "village")
            scout.close()
            points = random_points(url, village, args.reports, seed=11)
            frame = camera_frame(work, *points[0])
            runs = []
            for run in range(1, args.repeat + 1):
                print(
                    f"run {run}: queueing {args.reports} reports offline, then syncing ...", file=sys.stderr
                )
                runs.append(one_run(url, net, work, frame, points, run))
    finally:
        cluster.destroy()
        shutil.rmtree(work, ignore_errors=True)

    median = statistics.median
    with results.table() as printed:
        size = median(r.photo_bytes / r.photos for r in runs) / 1024
        print(
            f"\nmobile sync after reconnect, {args.reports} reports with one photo each ({size:.0f} KB JPEG, "
            f"1600 x 1200, from the app's photo pipeline), loopback through the fault proxy, {len(runs)} runs"
        )
        header = (
            f"{'run':<8}{'reports':>8}{'photos':>8}{'seconds':>9}{'reports/s':>11}{'lost':>6}"
            f"{'photo lost':>11}{'dup cases':>10}{'dup photos':>11}{'ceiling s':>11}{'ceiling/s':>11}"
            f"{'ratio':>7}"
        )
        print(header)
        print("-" * len(header))
        for n, r in enumerate(runs, 1):
            print(
                f"{n:<8}{r.reports:>8}{r.photos:>8}{r.seconds:>9.1f}{r.rate:>11.1f}{r.lost:>6}"
                f"{r.photos_lost:>11}{r.duplicated:>10}{r.duplicated_photos:>11}{r.ceiling_seconds:>11.1f}{r.ceiling_rate:>11.1f}"
                f"{r.rate / r.ceiling_rate:>7.2f}"
            )
        rate, ceiling = median(r.rate for r in runs), median(r.ceiling_rate for r in runs)
        print(
            f"{'median':<8}{'':>16}{median(r.seconds for r in runs):>9.1f}{rate:>11.1f}"
            f"{sum(r.lost for r in runs):>6}{sum(r.photos_lost for r in runs):>11}"
            f"{sum(r.duplicated for r in runs):>10}{sum(r.duplicated_photos for r in runs):>11}"
            f"{median(r.ceiling_seconds for r in runs):>11.1f}{ceiling:>11.1f}{rate / ceiling:>7.2f}"
        )
        print("(lost and duplicated: totals over the runs; both must be 0)")
    lost = sum(r.lost + r.photos_lost for r in runs)
    duplicated = sum(r.duplicated + r.duplicated_photos for r in runs)
    results.write(
        args.json,
        measures="the phone's sync after a reconnect: reports with one photo each queued offline, synced "
        "until the outbox is empty, beside the same reports and photos posted straight (no outbox)",
        parameters=vars(args),
        figures=[
            results.Figure("reports/s", rate, ceiling, "reports/s", "posted straight, one after the other"),
            results.Figure("reports or photos lost", lost, None, "", goal="0", met=lost == 0),
            results.Figure(
                "reports or photos duplicated", duplicated, None, "", goal="0", met=duplicated == 0
            ),
        ],
        table=printed,
    )
    if any(r.lost or r.photos_lost or r.duplicated or r.duplicated_photos for r in runs):
        sys.exit("FAILED: reports or photos were lost or duplicated")


if __name__ == "__main__":
    main()
