"""``gridops backup`` and ``gridops restore`` as real processes: a clone of the demo city with cases, events
and photos is backed up and restored into a fresh cluster and a fresh media store, where every row and every
photo's bytes are found again; a damaged backup and a database that is not empty are refused."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from server.case.models import CasePhoto
from server.config import get_settings
from server.database import get_engine, new_session
from server.localdb import OWNER_ROLE, Cluster
from server.photo.storage import LocalStorage
from tests.server.case_world import act, jpeg, photo, report, team
from tests.server.test_cli import gridops

TABLES = ("case_file", "case_event", "case_photo", "public_report")


def rows(url: str) -> dict[str, list[str]]:
    """Every row of the case tables, as text, in id order, read as the application."""
    with new_session(url) as db:
        found = {t: db.scalars(text(f"SELECT t::text FROM {t} t ORDER BY 1")).all() for t in TABLES}
    get_engine(url).dispose()
    return found


def restored_anything(url: str) -> bool:
    with new_session(url) as db:
        found = db.scalar(text("SELECT to_regclass('public.case_file') IS NOT NULL"))
    get_engine(url).dispose()
    return found


@pytest.fixture
def fresh_cluster():
    """A second, empty cluster: where a backup is restored."""
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="gridops-test-restore-", dir="/tmp")))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.destroy()


def test_backup_then_restore_into_a_fresh_cluster_finds_every_case_event_and_photo(
    demo_clone_url, pg_cluster, fresh_cluster, tmp_path, monkeypatch
):
    media = tmp_path / "media"
    monkeypatch.setattr(get_settings(), "media_dir", media)
    with new_session(demo_clone_url) as db:
        world = team(db)
        inspector, lon, lat = world["inspector"], world["lon"], world["lat"]
        shared = jpeg(lon, lat, color=(1, 2, 3))
        for i in range(3):
            case = report(db, inspector, lon + i * 0.0004, lat)
            photo(db, inspector, case, "before", shared)  # one file, three rows
            photo(db, inspector, case, "before", jpeg(color=(40 * i, 90, 10)))
        act(db, world["lead"], case, "file")
    get_engine(demo_clone_url).dispose()
    before = rows(demo_clone_url)
    assert (
        len(before["case_file"]) == 3 and len(before["case_photo"]) == 6 and len(before["case_event"]) >= 10
    )

    owner = pg_cluster.url(make_url(demo_clone_url).database, user=OWNER_ROLE)
    env = {**os.environ, "COLUMNS": "400"}
    source = {
        **env,
        "DATABASE_URL": demo_clone_url,
        "GRIDOPS_OWNER_DATABASE_URL": owner,
        "GRIDOPS_MEDIA_DIR": str(media),
    }
    backup = tmp_path / "backup"
    assert "DIRECTORY" in gridops("backup", "--help", env=source).stdout
    done = gridops("backup", str(backup), env=source)
    assert "3 个案件" in done.stderr and "6 张照片" in done.stderr, done.stderr

    target_url = fresh_cluster.ensure_database()
    restored_media = tmp_path / "restored-media"
    target = {
        **env,
        "DATABASE_URL": target_url,
        "GRIDOPS_OWNER_DATABASE_URL": fresh_cluster.url(user=OWNER_ROLE),
        "GRIDOPS_MEDIA_DIR": str(restored_media),
    }

    # A damaged file: refused before anything is restored.
    damaged = next((backup / "media").glob("*/*/*"))
    good = damaged.read_bytes()
    damaged.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    refused = gridops("restore", str(backup), env=target, check=False)
    assert refused.returncode == 1 and damaged.name in refused.stderr and "校验和" in refused.stderr, (
        refused.stderr
    )
    assert not restored_anything(target_url) and not list(restored_media.glob("*/*/*"))
    damaged.write_bytes(good)

    restored = gridops("restore", str(backup), env=target)
    assert "3 个案件" in restored.stderr, restored.stderr
    assert rows(target_url) == before
    with new_session(target_url) as db:
        photos = db.query(CasePhoto).all()
    get_engine(target_url).dispose()
    old, new = LocalStorage(media), LocalStorage(restored_media)
    for p in photos:
        for key in (p.sha256, p.public_key, p.thumbnail_key):
            assert new.get(key) == old.get(key)

    # A database that already holds the data is not overwritten by mistake.
    again = gridops("restore", str(backup), env=target, check=False)
    assert again.returncode == 1 and "不是空的" in again.stderr and "--force" in again.stderr
    assert rows(target_url) == before
