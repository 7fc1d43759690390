"""Outages answer 503 with Retry-After, never 500: the database stopped under a live server (on a cluster of
its own, not the session's), and a media store that cannot be written (a full or read-only tmpfs)."""

from __future__ import annotations

import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import ADMIN_TOKEN
from tests.server.case_world import jpeg, village_point
from tests.server.live import live_server

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
RECOVERY_SECONDS = 60  # bounds the wait for the API to answer again once the database is back
REQUEST_SECONDS = 30


def unavailable(resp: httpx.Response) -> None:
    """503 in the one error shape, with Retry-After (the setting's 5 s) and a Chinese detail."""
    assert resp.status_code == 503, resp.text
    assert resp.headers["Retry-After"] == "5"
    body = resp.json()
    assert body["retry_after"] == 5 and "请稍后重试" in body["detail"]


@pytest.fixture
def own_cluster() -> Iterator:
    """A migrated PostGIS cluster of this test's own, in a directory the postgres user can reach."""
    from server import migrate
    from server.localdb import OWNER_ROLE, Cluster

    cluster = Cluster(Path(tempfile.mkdtemp(prefix="gridops-test-outage-", dir="/tmp")))
    try:
        cluster.start()
        cluster.ensure_database("gridops")
        migrate.upgrade(cluster.url("gridops", user=OWNER_ROLE))
        yield cluster
    finally:
        cluster.destroy()


def test_a_stopped_database_answers_503_and_the_api_recovers_without_a_restart(own_cluster, tmp_path):
    with live_server(own_cluster.url("gridops"), tmp_path / "server.log") as server:
        assert httpx.get(f"{server.url}/api/grids", timeout=REQUEST_SECONDS).status_code == 200

        own_cluster.stop()
        unavailable(httpx.get(f"{server.url}/api/grids", timeout=REQUEST_SECONDS))
        report = {"client_uuid": str(uuid.uuid4()), "category": "E06010", "lon": 117.02, "lat": 36.67}
        unavailable(
            httpx.post(f"{server.url}/api/cases", json=report, headers=ADMIN, timeout=REQUEST_SECONDS)
        )

        own_cluster.start()
        deadline = time.monotonic() + RECOVERY_SECONDS
        while (resp := httpx.get(f"{server.url}/api/grids", timeout=REQUEST_SECONDS)).status_code != 200:
            unavailable(resp)  # until the pool reconnects, never anything else
            assert time.monotonic() < deadline, "the API did not recover once the database was back"
        assert resp.json() == []
    assert "Traceback" not in server.output()


# -- the media store -----------------------------------------------------------------------------------


@contextmanager
def broken_media(root: Path, fault: str) -> Iterator[Path]:
    """A 64 KiB tmpfs at ``root``: filled to the last byte ("full": ENOSPC) or mounted read-only
    ("read-only": EROFS, which stops root too); unmounted afterwards."""
    root.mkdir()
    options = "size=64k" + (",ro" if fault == "read-only" else "")
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(root)], check=True)
    try:
        if fault == "full":
            with (
                (root / "filler").open("wb", buffering=0) as filler,
                pytest.raises(OSError, match="No space"),
            ):
                while True:
                    filler.write(b"\0" * 4096)
        yield root
    finally:
        subprocess.run(["umount", str(root)], check=True)


def counts(url: str) -> tuple[int, int]:
    from server.case.models import Case, CasePhoto
    from server.database import new_session

    with new_session(url) as db:
        return db.scalar(select(func.count()).select_from(Case)), db.scalar(
            select(func.count()).select_from(CasePhoto)
        )


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_a_media_store_that_cannot_be_written_answers_503_and_stores_nothing(demo_clone_url, tmp_path, fault):
    from server.database import get_engine, new_session

    with new_session(demo_clone_url) as db:
        _, lon, lat = village_point(db)
    get_engine(demo_clone_url).dispose()
    photo = jpeg(lon, lat)

    with (
        broken_media(tmp_path / "media", fault) as media,
        live_server(demo_clone_url, tmp_path / "server.log", GRIDOPS_MEDIA_DIR=str(media)) as server,
        httpx.Client(base_url=server.url, timeout=REQUEST_SECONDS) as client,
    ):
        report = {"client_uuid": str(uuid.uuid4()), "category": "E06010", "lon": lon, "lat": lat}
        created = client.post("/api/cases", json=report, headers=ADMIN)
        assert created.status_code == 201, created.text
        code = created.json()["code"]
        before = counts(demo_clone_url)

        # A staff member's photo of a case.
        files = {"file": ("photo.jpg", photo, "image/jpeg")}
        unavailable(client.post(f"/api/cases/{code}/photos", files=files, headers=ADMIN))
        assert counts(demo_clone_url) == before

        # A citizen's report with a photo: refused as a whole, no case without its photo.
        form = {"client_uuid": str(uuid.uuid4()), "category": "E06010", "lon": str(lon), "lat": str(lat)}
        photos = [("photos", ("photo.jpg", photo, "image/jpeg"))]
        unavailable(client.post("/api/public/reports", data=form, files=photos))
        assert counts(demo_clone_url) == before

    get_engine(demo_clone_url).dispose()
