"""A citizen report and its photo files are one unit: a store that fails makes no case, a commit that fails
leaves only files, and the media sweep (in the server and by hand) deletes those once old, never a file a row
names nor a young one."""

from __future__ import annotations

import io
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from server.case.models import Case, CasePhoto
from server.config import get_settings
from server.database import get_db, get_engine, new_session
from server.main import create_app
from server.photo.storage import LocalStorage
from server.photo.sweep import sweep_media
from server.public import service as public_service
from server.public.models import PublicReport
from server.public.schemas import PublicReportIn
from tests.server.case_world import jpeg, village_point
from tests.server.live import live_server
from tests.server.test_cli import gridops
from tests.server.test_public import post_report

HOUR = 3600


def counts(db) -> tuple[int, int, int]:
    """Cases, photo rows and reporter tokens."""
    return tuple(db.scalar(select(func.count()).select_from(t)) for t in (Case, CasePhoto, PublicReport))


def stored_files(root: Path) -> set[str]:
    return {key for key, _ in LocalStorage(root).files()}


def age(root: Path, seconds: float) -> None:
    """Make every stored file ``seconds`` older."""
    for path in root.glob("*/*/*"):
        stat = path.stat()
        os.utime(path, (stat.st_atime - seconds, stat.st_mtime - seconds))


@contextmanager
def unwritable(path: Path) -> Iterator[Path]:
    """A folder nothing can be written into: read-only, and for root (whom modes do not stop) immutable."""
    path.mkdir()
    path.chmod(0o555)
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield path
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(0o755)


def test_a_citizen_report_while_the_media_store_fails_makes_no_case(demo_db, tmp_path, monkeypatch):
    _, lon, lat = village_point(demo_db)
    before = counts(demo_db)
    app = create_app()
    app.dependency_overrides[get_db] = lambda: demo_db
    with (
        unwritable(tmp_path / "media") as media,
        TestClient(app, raise_server_exceptions=False) as client,
    ):
        monkeypatch.setattr(get_settings(), "media_dir", media)
        answer = post_report(client, lon, lat, photos=[jpeg(lon, lat)], phone="13655550001")

    assert answer.status_code != 200 and answer.status_code != 201, answer.text
    assert answer.status_code == 503 and int(answer.headers["Retry-After"]) > 0, answer.text
    demo_db.rollback()  # what the request's session does when it ends without a commit
    assert counts(demo_db) == before, "a report whose photos could not be stored left rows behind"


def _citizen(lon: float, lat: float) -> PublicReportIn:
    return PublicReportIn(
        client_uuid=uuid.uuid4(), category="E06010", lon=lon, lat=lat, description="垃圾堆放", crs="wgs84"
    )


def test_a_failed_commit_leaves_orphans_which_the_sweep_deletes_once_old(
    demo_clone_url, pg_cluster, tmp_path, monkeypatch
):
    root = tmp_path / "media"
    monkeypatch.setattr(get_settings(), "media_dir", root)
    storage = LocalStorage(root)
    shared, orphan = jpeg(color=(10, 20, 30)), jpeg(color=(200, 210, 220))
    with new_session(demo_clone_url) as db:
        _, lon, lat = village_point(db)
        public_service.report(db=db, data=_citizen(lon, lat), photos=[io.BytesIO(shared)], ip=None)
        kept = stored_files(root)
        assert len(kept) == 3  # the original, the public copy, the thumbnail
        before = counts(db)

        # The database goes away between the files and the commit.
        def kill_backend(session):
            pid = session.connection().connection.dbapi_connection.info.backend_pid
            conn = pg_cluster.connect()
            try:
                conn.cursor().execute("SELECT pg_terminate_backend(%s)", (pid,))
            finally:
                conn.close()

        event.listen(db, "before_commit", kill_backend)
        with pytest.raises(OperationalError):
            public_service.report(
                db=db, data=_citizen(lon, lat), photos=[io.BytesIO(shared), io.BytesIO(orphan)], ip=None
            )
        event.remove(db, "before_commit", kill_backend)
    get_engine(demo_clone_url).dispose()

    orphans = stored_files(root) - kept
    assert len(orphans) == 3
    with new_session(demo_clone_url) as db:
        assert counts(db) == before, "the failed report left rows"
        young = sweep_media(db=db, storage=storage, older_than_s=HOUR)
        assert (young.files, young.old, young.deleted) == (6, 0, 0)
        assert stored_files(root) == kept | orphans, "the sweep deleted a young file"

        age(root, 2 * HOUR)
        renewed = storage.put(orphan)  # put again, young again: a row about to name an old file keeps it
        assert renewed in orphans
        swept = sweep_media(db=db, storage=storage, older_than_s=HOUR)
        assert (swept.files, swept.old, swept.deleted) == (6, 5, 2)
        assert stored_files(root) == kept | {renewed}, "a file a row names, or a young one, was deleted"

        age(root, 2 * HOUR)
        swept = sweep_media(db=db, storage=storage, older_than_s=HOUR)
        assert swept.deleted == 1 and stored_files(root) == kept
    get_engine(demo_clone_url).dispose()


def test_a_file_shared_by_rows_stays_and_leftovers_of_interrupted_writes_go(
    demo_clone_url, tmp_path, monkeypatch
):
    root = tmp_path / "media"
    monkeypatch.setattr(get_settings(), "media_dir", root)
    storage = LocalStorage(root)
    photo = jpeg(color=(90, 90, 90))
    with new_session(demo_clone_url) as db:
        _, lon, lat = village_point(db)
        for _ in range(2):  # two cases, one set of files
            public_service.report(db=db, data=_citizen(lon, lat), photos=[io.BytesIO(photo)], ip=None)
        assert db.scalar(select(func.count(func.distinct(CasePhoto.sha256)))) == 1
        assert db.scalar(select(func.count()).select_from(CasePhoto)) == 2
        files = stored_files(root)
        leftover = storage.path(next(iter(files))).parent / ".interrupted.part"
        leftover.write_bytes(b"half a photo")
        age(root, 2 * HOUR)
        os.utime(leftover, (time.time() - 2 * HOUR,) * 2)
        swept = sweep_media(db=db, storage=storage, older_than_s=HOUR)
    get_engine(demo_clone_url).dispose()
    assert (swept.deleted, swept.parts) == (0, 1)
    assert stored_files(root) == files and not leftover.exists()


def test_gridops_media_sweep(demo_clone_url, tmp_path):
    root = tmp_path / "media"
    storage = LocalStorage(root)
    orphan = storage.put(b"bytes no row names")
    age(root, 2 * HOUR)
    env = {**os.environ, "DATABASE_URL": demo_clone_url, "GRIDOPS_MEDIA_DIR": str(root), "COLUMNS": "200"}
    assert "--older-than" in gridops("media", "sweep", "--help", env=env).stdout
    kept = gridops("media", "sweep", "--older-than", str(3 * 60), env=env)
    assert storage.exists(orphan) and "删除 0 个" in kept.stderr
    swept = gridops("media", "sweep", env=env)
    assert not storage.exists(orphan) and "删除 1 个" in swept.stderr


def test_the_running_server_sweeps_by_itself(fresh_db_url, tmp_path):
    root = tmp_path / "media"
    storage = LocalStorage(root)
    orphan = storage.put(b"left by a failed upload")
    age(root, 2 * HOUR)
    young = storage.put(b"written a moment ago, its row not yet committed")
    settings = {"GRIDOPS_MEDIA_DIR": str(root), "GRIDOPS_MEDIA_SWEEP_SECONDS": "0.5"}
    with live_server(fresh_db_url, tmp_path / "server.log", **settings) as server:
        deadline = time.monotonic() + 120
        while storage.exists(orphan):
            assert time.monotonic() < deadline, f"the server did not sweep:\n{server.output()}"
            time.sleep(0.2)
    assert storage.exists(young)
