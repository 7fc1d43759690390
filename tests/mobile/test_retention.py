"""Sent reports and replies leave the phone after the retention period, with their photos: an item sent
8 days ago goes, of whichever user; one sent yesterday stays, and so does everything not sent yet (waiting
or refused). The app purges at start with the period of its setting ``retention_days``, and again after
syncs, at most once an hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mobile.services.outbox import Outbox, OutboxItem
from mobile.services.store import Store

NOW = datetime.now(UTC)


def add(outbox: Outbox, folder: Path, name: str) -> OutboxItem:
    """Queue a report with one photo (a file of the camera's folder, copied into the app's storage)."""
    folder.mkdir(exist_ok=True)
    photo = folder / f"{name}.jpg"
    photo.write_bytes(name.encode() * 100)
    return outbox.add_report(
        category="E06010",
        lon=117.03,
        lat=36.66,
        accuracy_m=5.0,
        description=name,
        urgency=None,
        photos=[photo],
    )


def sent(outbox: Outbox, item: OutboxItem, at: datetime) -> None:
    """``item`` reached the server at ``at``."""
    outbox.finish(item.id)
    with outbox.store.transaction() as db:
        db.execute("UPDATE outbox SET sent_at = ? WHERE id = ?", (at.isoformat(), item.id))


@pytest.fixture
def outbox(app_dir):
    store = Store(app_dir / "gridops.sqlite")
    yield Outbox(store, app_dir / "photos")
    store.close()


def test_sent_items_and_their_photos_go_after_the_period(outbox, tmp_path):
    camera = tmp_path / "DCIM"
    outbox.store.set_owner(7)
    old = add(outbox, camera, "old")
    sent(outbox, old, NOW - timedelta(days=8))
    recent = add(outbox, camera, "recent")
    sent(outbox, recent, NOW - timedelta(days=1))
    waiting = add(outbox, camera, "waiting")
    refused = add(outbox, camera, "refused")
    outbox.finish(refused.id, error="类别已停用：请换一个类别后重发。")
    outbox.store.set_owner(8)  # another inspector's old item goes too: the phone's storage is shared
    others = add(outbox, camera, "others")
    sent(outbox, others, NOW - timedelta(days=30))

    assert outbox.purge_sent(NOW - timedelta(days=7)) == 2

    assert outbox.items() == []
    outbox.store.set_owner(7)
    assert [(item.id, item.state) for item in outbox.items()] == [
        (refused.id, "failed"),
        (waiting.id, "queued"),
        (recent.id, "sent"),
    ]
    for gone in (old, others):
        assert not gone.photos[0].path.exists()
    kept = [item.photos[0].path for item in (recent, waiting, refused)]
    assert all(path.exists() for path in kept)
    assert sorted(outbox.media_dir.iterdir()) == sorted(kept)
    held = outbox.store.query("SELECT item_id FROM outbox_photo ORDER BY item_id")
    assert [row["item_id"] for row in held] == [recent.id, waiting.id, refused.id]
    assert outbox.purge_sent(NOW - timedelta(days=7)) == 0


def test_the_app_purges_at_start_with_its_setting(app_dir, tmp_path):
    """With ``retention_days`` 3, an item sent 4 days ago is gone once the app has started, one sent 2
    days ago is not."""
    from mobile.platform.camera import DesktopCamera
    from mobile.platform.gps import SimulatedGps
    from tests.mobile.app_driver import Driver, GridOpsApp

    store = Store(app_dir / "gridops.sqlite")
    outbox = Outbox(store, app_dir / "photos")
    store.set("retention_days", 3)
    old, recent = add(outbox, tmp_path / "DCIM", "old"), add(outbox, tmp_path / "DCIM", "recent")
    sent(outbox, old, NOW - timedelta(days=4))
    sent(outbox, recent, NOW - timedelta(days=2))
    store.close()

    gps = SimulatedGps()
    d = Driver(GridOpsApp(app_dir, gps=gps, camera=DesktopCamera(gps=gps))).start()
    try:
        assert [item.id for item in d.app.services.outbox.items()] == [recent.id]
        assert not old.photos[0].path.exists() and recent.photos[0].path.exists()
    finally:
        d.stop()
