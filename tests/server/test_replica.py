"""The read-only work on a streaming replica (``GRIDOPS_DATABASE_REPLICA_URL``): a second local cluster made
from the session's with ``pg_basebackup -R``, under a live server. While the replica's replay is paused it
cannot hold what the primary has since been written: what the dashboards, their CSV and the case tiles then
answer shows who answered. A replica that is down answers 503 with Retry-After, writes go on, and once it is
back it answers again."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from server.localdb import SUPERUSER, Cluster, free_port
from tests.server.case_world import village_point
from tests.server.live import live_server
from tests.server.test_outage import ADMIN, REQUEST_SECONDS, unavailable
from tests.server.test_serve import wait_for


@pytest.fixture
def replica(pg_cluster, demo_clone_url) -> Iterator[Cluster]:
    """A hot standby of the session's cluster, on a port and socket of its own, destroyed afterwards. The
    primary's defaults allow it unchanged (wal_level replica, 10 WAL senders, replication over the socket
    trusted); the roles and their password are the primary's."""
    replica = Cluster(Path(tempfile.mkdtemp(prefix="gridops-test-replica-", dir="/tmp")))
    try:
        replica.sockdir.mkdir()
        (replica.root / "port").write_text(str(free_port()))
        (replica.root / "password").write_text(pg_cluster.password)
        if os.geteuid() == 0:
            for path in (replica.root, replica.sockdir):
                shutil.chown(path, SUPERUSER, SUPERUSER)
        source = ["-h", str(pg_cluster.sockdir), "-p", str(pg_cluster.port), "-U", SUPERUSER]
        replica._run(["pg_basebackup", "-D", str(replica.data), *source, "-R", "-c", "fast"])
        replica.start()  # with the basebackup's data: only its own port and socket are written
        yield replica
    finally:
        replica.destroy()


def standby(replica: Cluster, database: str, query: str):
    """One value from the replica, as the superuser."""
    conn = replica.connect(database)
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            return cur.fetchone()[0]
    finally:
        conn.close()


def test_dashboards_and_tiles_read_the_replica_and_writes_the_primary(demo_clone_url, replica, tmp_path):
    from server.case.models import Case
    from server.database import get_engine, new_session

    database = make_url(demo_clone_url).database
    assert standby(replica, database, "SELECT pg_is_in_recovery()")
    with new_session(demo_clone_url) as db:
        village, lon, lat = village_point(db)
    get_engine(demo_clone_url).dispose()

    with (
        live_server(
            demo_clone_url, tmp_path / "server.log", GRIDOPS_DATABASE_REPLICA_URL=replica.url(database)
        ) as server,
        httpx.Client(base_url=server.url, headers=ADMIN, timeout=REQUEST_SECONDS) as client,
    ):

        def received(grid: str | None = None) -> int:
            resp = client.get("/api/stats/dashboard", params={"grid": grid} if grid else {})
            assert resp.status_code == 200, resp.text
            return resp.json()["totals"]["received"]

        def answers() -> tuple[int, int, bytes, str]:
            """The city's and the village's reports, a CSV export and the world's case tile's ETag."""
            csv = client.get("/api/stats/export/trend_day.csv")
            tile = client.get("/tiles/cases/0/0/0.mvt")
            assert csv.status_code == tile.status_code == 200, (csv.text, tile.text)
            return received(), received(village), csv.content, tile.headers["ETag"]

        city, in_village, csv, etag = answers()
        standby(replica, database, "SELECT pg_wal_replay_pause()")
        wait_for(
            lambda: standby(replica, database, "SELECT pg_get_wal_replay_pause_state()") == "paused",
            "the replica's replay did not pause",
        )

        # Written on the primary (a hot standby refuses every write): there, not yet on the paused replica.
        report = {"client_uuid": str(uuid.uuid4()), "category": "E06010", "lon": lon, "lat": lat}
        created = client.post("/api/cases", json=report)
        assert created.status_code == 201, created.text
        code = created.json()["code"]
        with new_session(demo_clone_url) as db:
            assert db.scalar(select(Case.id).where(Case.code == code)) is not None
        get_engine(demo_clone_url).dispose()
        assert standby(replica, database, f"SELECT count(*) FROM case_file WHERE code = '{code}'") == 0

        # The city's dashboard, its CSV and the tile come from the replica: without the report. A village's
        # dashboard is figured from its cases in temporary tables, which only the primary can make: with it.
        assert answers() == (city, in_village + 1, csv, etag)

        # Once the replica replays, its answers hold the report.
        standby(replica, database, "SELECT pg_wal_replay_resume()")
        wait_for(lambda: received() == city + 1, "the report did not reach the replica's dashboard")
        now = answers()
        assert now[:2] == (city + 1, in_village + 1) and now[2] != csv and now[3] != etag

        # The replica down: the read-only work answers 503 with Retry-After, the rest goes on.
        replica.stop()
        for path in ("/api/stats/dashboard", "/api/stats/export/districts.csv", "/tiles/cases/0/0/0.mvt"):
            unavailable(client.get(path))
        unavailable(client.get("/api/forecasts"))
        again = client.post("/api/cases", json={**report, "client_uuid": str(uuid.uuid4())})
        assert again.status_code == 201, again.text
        assert client.get(f"/api/cases/{code}").status_code == 200

        # Back without a restart of the server.
        replica.start()
        wait_for(lambda: received() == city + 2, "the dashboard did not read the replica again")
    assert "Traceback" not in server.output()
