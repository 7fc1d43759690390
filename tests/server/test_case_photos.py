"""Photos of a case through HTTP: geotags near and far from the report, the accepted types, what is refused
and why, idempotent uploads, who may add which kind, and the content-addressed files."""

from __future__ import annotations

import hashlib
import io
import random

import pytest
from PIL import Image
from sqlalchemy import func, select

from server import messages
from server.case.models import CaseEvent, CasePhoto
from server.config import get_settings
from tests.server.case_world import act, jpeg, make_user, report, village_point
from tests.server.test_case_http import login, upload
from tests.server.test_photo_processing import _png_bomb


def encode(image: Image.Image, image_format: str) -> bytes:
    out = io.BytesIO()
    image.save(out, image_format)
    return out.getvalue()


def noise(width: int, height: int) -> Image.Image:
    """Random pixels: they compress badly, as a photo does."""
    return Image.frombytes("RGB", (width, height), random.Random(7).randbytes(width * height * 3))


@pytest.fixture
def world(demo_db, demo_client):
    db = demo_db
    village, lon, lat = village_point(db)
    inspector = make_user(db, ["inspector"], inspects=village)
    case = report(db, inspector, lon, lat)
    return {
        "db": db,
        "client": demo_client,
        "case": case,
        "lon": lon,
        "lat": lat,
        "inspector": inspector,
        "headers": login(demo_client, inspector),
    }


def stored(db, case) -> tuple[int, int]:
    """The photos of a case and its photo events."""
    photos = db.scalar(select(func.count()).select_from(CasePhoto).where(CasePhoto.case_id == case.id))
    events = db.scalar(
        select(func.count()).where(CaseEvent.case_id == case.id, CaseEvent.action == "add_photo")
    )
    return photos, events


def test_geotag_near_and_far_from_the_report(world):
    client, code, lon, lat = world["client"], world["case"].code, world["lon"], world["lat"]
    near = upload(client, world["headers"], code, "before", jpeg(lon, lat))
    assert near.status_code == 201, near.text
    assert near.json()["distance_m"] < 5 and near.json()["far_from_report"] is False
    assert (near.json()["exif_lon"], near.json()["exif_lat"]) == pytest.approx((lon, lat), abs=1e-6)

    # 0.003 degrees of latitude is about 333 m: more than the 200 m the settings allow.
    far = upload(client, world["headers"], code, "before", jpeg(lon, lat + 0.003))
    assert far.status_code == 201, far.text
    assert far.json()["distance_m"] == pytest.approx(333, abs=3)
    assert far.json()["far_from_report"] is True
    event = world["db"].scalar(select(CaseEvent).where(CaseEvent.photo_ids.contains([far.json()["id"]])))
    assert event.data["far_from_report"] is True and event.data["distance_m"] > 300

    plain = upload(client, world["headers"], code, "before", jpeg())
    assert plain.status_code == 201
    assert (plain.json()["distance_m"], plain.json()["exif_lon"], plain.json()["far_from_report"]) == (
        None,
        None,
        False,
    )


@pytest.mark.parametrize(
    ("image_format", "mime", "name"),
    [("PNG", "image/png", "photo.png"), ("WEBP", "image/webp", "photo.webp")],
)
def test_png_and_webp_are_accepted(world, image_format, mime, name):
    data = encode(noise(640, 480), image_format)
    resp = upload(world["client"], world["headers"], world["case"].code, "before", data, name=name)
    assert resp.status_code == 201, resp.text
    photo = resp.json()
    assert (photo["mime"], photo["width"], photo["height"], photo["size"]) == (mime, 640, 480, len(data))
    original = world["client"].get(photo["url"], headers=world["headers"])
    assert original.headers["content-type"] == mime and original.content == data
    public = Image.open(
        io.BytesIO(world["client"].get(photo["public_url"], headers=world["headers"]).content)
    )
    assert (public.format, public.size) == ("JPEG", (640, 480))


def _truncated_jpeg() -> bytes:
    data = encode(noise(600, 400), "JPEG")
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        ("路灯不亮，请尽快维修。".encode() * 40, 415, "photo.not_an_image"),
        (_truncated_jpeg(), 422, "photo.damaged"),
        (_png_bomb(8000, 8000), 422, "photo.too_many_pixels"),
    ],
    ids=["text-named-jpg", "truncated-jpeg", "decompression-bomb"],
)
def test_refused_uploads(world, data, status, code):
    resp = upload(world["client"], world["headers"], world["case"].code, "before", data, name="photo.jpg")
    assert resp.status_code == status
    body = resp.json()
    assert body["code"] == code and body["detail"] == messages.text(code, **body["params"])
    assert stored(world["db"], world["case"]) == (0, 0)


def test_oversized_upload(world, monkeypatch):
    data = encode(noise(200, 200), "JPEG")
    monkeypatch.setenv("GRIDOPS_PHOTO_MAX_BYTES", str(len(data) - 1))
    get_settings.cache_clear()
    try:
        resp = upload(world["client"], world["headers"], world["case"].code, "before", data)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert resp.status_code == 413
    body = resp.json()
    assert body["code"] == "photo.too_large" and body["detail"] == messages.text(
        "photo.too_large", **body["params"]
    )
    assert stored(world["db"], world["case"]) == (0, 0)
    assert upload(world["client"], world["headers"], world["case"].code, "before", data).status_code == 201


def test_the_same_photo_twice_is_stored_once(world):
    data = jpeg(world["lon"], world["lat"])
    first = upload(world["client"], world["headers"], world["case"].code, "before", data)
    again = upload(world["client"], world["headers"], world["case"].code, "before", data)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert stored(world["db"], world["case"]) == (1, 1)


def test_who_may_add_which_photo(world):
    db, client, case = world["db"], world["client"], world["case"]
    lead = make_user(db, ["shift_lead"])
    dispatcher = make_user(db, ["dispatcher"])
    department = make_user(db, ["department"], department="sanitation_lx")
    act(db, lead, case, "file")
    act(db, dispatcher, case, "dispatch")
    headers = login(client, department)
    data = jpeg(world["lon"], world["lat"], color=(30, 200, 30))

    refused = upload(client, headers, case.code, "before", data)
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "添加处置前照片需要网格员或受理员的身份：请用有这个身份的账号上传",
        "code": "case.photo_role_required",
        "params": {"kind": "处置前", "roles": "网格员或受理员", "role": "before"},
    }
    unknown = upload(client, world["headers"], case.code, "selfie", data)
    assert unknown.status_code == 422
    assert [(e["loc"], e["type"]) for e in unknown.json()["errors"]] == [(["query", "role"], "literal_error")]
    assert stored(db, case) == (0, 0)
    assert upload(client, headers, case.code, "after", data).status_code == 201


def test_files_are_content_addressed_under_the_media_dir(world):
    client, headers = world["client"], world["headers"]
    data = jpeg(world["lon"], world["lat"])
    photo = upload(client, headers, world["case"].code, "before", data).json()
    row = world["db"].get(CasePhoto, photo["id"])
    root = get_settings().media_root
    for url, key in [
        (photo["url"], row.sha256),
        (photo["public_url"], row.public_key),
        (photo["thumbnail_url"], row.thumbnail_key),
    ]:
        served = client.get(url, headers=headers).content
        assert hashlib.sha256(served).hexdigest() == key
        assert (root / key[:2] / key[2:4] / key).read_bytes() == served
    assert row.sha256 == hashlib.sha256(data).hexdigest()
