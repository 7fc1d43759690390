"""The outbox on the phone: photos copied into the app's storage, items that survive restarts and the app
being killed in the middle of saving, the inspector's retry and delete, and the photo count rule."""

from __future__ import annotations

import io
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mobile.services.outbox import Outbox, OutboxError
from mobile.services.store import Store
from server.config import PROJECT_DIR


def open_outbox(app_dir: Path) -> Outbox:
    """The outbox as the app opens it at start."""
    return Outbox(Store(app_dir / "gridops.sqlite"), app_dir / "photos")


@pytest.fixture
def outbox(app_dir):
    outbox = open_outbox(app_dir)
    yield outbox
    outbox.store.close()


def add_reply(outbox: Outbox, photos: list[Path], action: str = "reply_verification"):
    return outbox.add_reply(
        case_code="370102-20261124-0001",
        action=action,
        result="confirmed",
        note="现场确认",
        version=3,
        lon=117.03,
        lat=36.66,
        photos=photos,
    )


def test_photos_are_copied_into_the_apps_storage(outbox, camera, queue_report):
    originals = camera(2)
    taken = [p.read_bytes() for p in originals]
    item = queue_report(outbox, originals)
    for path in originals:  # the gallery is cleaned up, or the camera's file was temporary
        path.unlink()

    assert [p.position for p in item.photos] == [0, 1]
    for photo, data in zip(item.photos, taken, strict=True):
        assert photo.path.parent == outbox.media_dir
        assert photo.path.read_bytes() == data
        assert photo.photo_id is None
    assert sorted(outbox.media_dir.iterdir()) == sorted(p.path for p in item.photos)  # no temporary left


def test_items_survive_reopening_the_store(app_dir, camera, queue_report):
    outbox = open_outbox(app_dir)
    report = queue_report(outbox, camera(3))
    reply = add_reply(outbox, camera(1))
    outbox.store.close()

    reopened = open_outbox(app_dir)  # the app was closed and started again
    assert reopened.items() == [reply, report]  # newest first, everything kept
    assert reopened.pending() == [report, reply]  # sent oldest first
    assert report.kind == "report" and report.state == "queued" and report.case_code is None
    assert report.payload["category"] == "E06010" and report.payload["channel"] == "inspector"
    assert reply.kind == "reply" and reply.case_code == "370102-20261124-0001"
    assert reply.photo_role == "verification" and report.photo_role == "before"
    assert reopened.counts() == {"queued": 2, "sending": 0, "sent": 0, "failed": 0}
    reopened.store.close()


def test_a_report_takes_one_to_three_photos_and_a_reply_up_to_three(outbox, camera, queue_report):
    with pytest.raises(OutboxError, match="1 到 3 张照片"):
        queue_report(outbox, [])
    with pytest.raises(OutboxError, match="1 到 3 张照片"):
        queue_report(outbox, camera(4))
    with pytest.raises(OutboxError, match="最多 3 张照片"):
        add_reply(outbox, camera(4))
    with pytest.raises(OutboxError, match="只能回复核实任务或核查任务"):
        add_reply(outbox, [], action="close")
    assert outbox.counts()["queued"] == 0
    assert list(outbox.media_dir.iterdir()) == []  # a refused item copies nothing

    assert len(queue_report(outbox, camera(1)).photos) == 1
    assert len(queue_report(outbox, camera(3)).photos) == 3
    assert add_reply(outbox, []).photos == []
    assert len(add_reply(outbox, camera(3), action="reply_check").photos) == 3
    assert outbox.counts()["queued"] == 4


def test_only_a_failed_item_is_retried(inspector_app, camera, queue_report):
    outbox = inspector_app.outbox
    beijing = queue_report(outbox, camera(1), lon=116.3975, lat=39.9087)  # outside every grid
    waiting = queue_report(outbox, camera(1))
    with pytest.raises(OutboxError, match="只有发送失败的记录"):
        outbox.retry(waiting.id)

    run = inspector_app.sync.run_once()
    assert run.failed == [beijing.client_uuid] and run.sent == [waiting.client_uuid]
    assert outbox.counts() == {"queued": 0, "sending": 0, "sent": 1, "failed": 1}
    with pytest.raises(OutboxError, match="只有发送失败的记录"):
        outbox.retry(waiting.id)  # sent

    again = outbox.retry(beijing.id)
    assert again.state == "queued" and again.error is None
    assert outbox.counts() == {"queued": 1, "sending": 0, "sent": 1, "failed": 0}


def test_delete_is_refused_once_the_report_reached_the_server(inspector_app, netfault, camera, queue_report):
    outbox = inspector_app.outbox
    halfway = queue_report(outbox, camera(2))
    netfault.fault("down", path="/photos$")  # the case is made, then the network dies
    inspector_app.sync.run_once()
    halfway = outbox.get(halfway.id)
    assert halfway.state == "queued" and halfway.case_code is not None

    with pytest.raises(OutboxError, match="已送达服务器"):
        outbox.delete(halfway.id)
    netfault.set("pass")
    inspector_app.sync.run_once()
    assert outbox.get(halfway.id).state == "sent"
    with pytest.raises(OutboxError, match="已送达服务器"):
        outbox.delete(halfway.id)
    assert all(p.path.exists() for p in halfway.photos)

    never_sent = queue_report(outbox, camera(2))
    outbox.delete(never_sent.id)
    with pytest.raises(OutboxError, match="已不在发件箱中"):
        outbox.get(never_sent.id)
    assert not any(p.path.exists() for p in never_sent.photos)


# -- killed while saving ------------------------------------------------------------------------------

# Opens the app's outbox in the folder argv[1] and adds reports with the photos argv[2:] until killed,
# printing "ready" once open, then each report's client UUID as soon as add_report has returned (the
# moment the screen says "saved").
ADD_UNTIL_KILLED = """
import sys
from pathlib import Path

from mobile.services.outbox import Outbox
from mobile.services.store import Store

folder, photos = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]
outbox = Outbox(Store(folder / "gridops.sqlite"), folder / "photos")
print("ready", flush=True)
while True:
    item = outbox.add_report(
        category="E06010", lon=117.03, lat=36.66, accuracy_m=5.0, description="", urgency=None, photos=photos
    )
    print(item.client_uuid, flush=True)
"""
KILLS = 40


def camera_photo(path: Path, seed: int) -> Path:
    """A photo the size a phone's camera makes (1600 x 1200, noisy, about 1.5 MB)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (1200, 1600, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=70)
    path.write_bytes(out.getvalue())
    return path


def test_a_report_killed_while_being_saved_is_whole_or_absent(app_dir, tmp_path):
    photos = [camera_photo(tmp_path / f"IMG_{i}.jpg", i) for i in range(3)]
    originals = [p.read_bytes() for p in photos]
    rng = random.Random()
    saved: set[str] = set()
    checked: set[int] = set()
    for kill in range(KILLS):
        app = subprocess.Popen(
            [sys.executable, "-c", ADD_UNTIL_KILLED, str(app_dir), *map(str, photos)],
            cwd=PROJECT_DIR,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert app.stdout.readline() == "ready\n"
        if kill % 2:  # right after a report was saved (the next one is already under way)
            saved.add(app.stdout.readline().strip())
        else:  # at a random moment, most likely in the middle of saving one
            time.sleep(rng.uniform(0, 0.1))
        app.kill()
        out, _ = app.communicate()
        saved.update(out.split())

        outbox = open_outbox(app_dir)  # the app started again
        assert outbox.store.query("PRAGMA integrity_check")[0][0] == "ok"
        items = outbox.items()
        assert saved <= {i.client_uuid for i in items}, f"kill {kill}: a saved report was lost"
        for item in items:
            assert [p.position for p in item.photos] == [0, 1, 2], f"kill {kill}: {item}"
            if item.id not in checked:
                for photo, data in zip(item.photos, originals, strict=True):
                    assert photo.path.read_bytes() == data, f"kill {kill}: {photo.path} is not whole"
                checked.add(item.id)
        held = {p.path for i in items for p in i.photos}
        assert set(outbox.media_dir.iterdir()) == held, f"kill {kill}: files no item holds were left"
        outbox.store.close()
    assert len(saved) >= KILLS // 2
