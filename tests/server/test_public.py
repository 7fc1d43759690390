"""The citizens' public routes on the demo city: a report with photos through the real intake, its retry,
a GCJ-02 position, the limits and the throttling, tracking that shows nothing private, the reporter's one
rating, and the operators' spam flag."""

from __future__ import annotations

import io
import uuid

import pytest
from geoalchemy2.shape import to_shape
from PIL import Image
from sqlalchemy import func, select

from gis.crs import wgs84_to_gcj02
from server import messages
from server.case.models import Case, CasePhoto
from server.config import get_settings
from server.grid.models import CURRENT, Grid, today
from server.photo.processing import work_slots
from server.public.models import PublicReport
from server.public.service import code_example
from tests.server.case_world import act, jpeg, photo, report, team
from tests.server.test_auth import from_address
from tests.server.test_case_http import login

PHONE = "13655554444"


@pytest.fixture
def world(demo_db, demo_client):
    return {**team(demo_db), "client": demo_client}


def post_report(client, lon, lat, *, photos=None, client_uuid=None, **fields):
    data = {
        "client_uuid": client_uuid or str(uuid.uuid4()),
        "category": "E06010",
        "lon": lon,
        "lat": lat,
        "description": "小区门口垃圾堆了三天",
        **fields,
    }
    files = [
        ("photos", (f"p{i}.jpg", blob, "image/jpeg"))
        for i, blob in enumerate([jpeg()] if photos is None else photos)
    ]
    return client.post("/api/public/reports", data=data, files=files)


def cases(db) -> int:
    return db.scalar(select(func.count()).select_from(Case))


def test_a_report_with_photos_goes_through_the_intake_and_its_retry_makes_no_second_case(world):
    client, db = world["client"], world["db"]
    body = {"client_uuid": str(uuid.uuid4()), "phone": PHONE}
    photos = [jpeg(world["lon"], world["lat"]), jpeg(color=(10, 200, 30))]
    first = post_report(client, world["lon"], world["lat"], photos=photos, **body)
    assert first.status_code == 201, first.text
    answer = first.json()
    assert answer["track_url"] == f"/track/{answer['code']}" and len(answer["reporter_token"]) >= 20

    case = db.scalar(select(Case).where(Case.code == answer["code"]))
    assert (case.channel, case.state, case.reporter_phone, case.reporter_id) == (
        "citizen",
        "reported",
        PHONE,
        None,
    )
    assert case.grid_code.startswith(world["village"])
    stored = db.scalars(select(CasePhoto).where(CasePhoto.case_id == case.id)).all()
    assert sorted(p.role for p in stored) == ["before", "before"]
    report_row = db.scalar(select(PublicReport).where(PublicReport.case_id == case.id))
    assert answer["reporter_token"] not in report_row.token_hash  # kept hashed
    assert (report_row.ip, report_row.phone) == ("testclient", PHONE)

    # The answer was lost: the page sends the same report again.
    again = post_report(client, world["lon"], world["lat"], photos=photos, **body)
    assert again.status_code == 201, again.text
    assert again.json()["code"] == answer["code"]
    assert again.json()["reporter_token"] != answer["reporter_token"]
    assert cases(db) == 1
    assert db.scalar(select(func.count()).select_from(CasePhoto)) == 2
    assert db.scalar(select(func.count()).select_from(PublicReport)) == 1

    other = post_report(client, world["lon"], world["lat"], photos=photos, **body, description="别的")
    assert other.status_code == 409
    assert other.json()["code"] == "public.report_changed"
    assert other.json()["detail"] == messages.text("public.report_changed")


def test_a_position_pasted_from_a_chinese_map_is_stored_in_wgs84(world):
    client, db = world["client"], world["db"]
    gcj_lon, gcj_lat = wgs84_to_gcj02(world["lon"], world["lat"])
    answer = post_report(client, gcj_lon, gcj_lat, crs="gcj02")
    assert answer.status_code == 201, answer.text
    case = db.scalar(select(Case).where(Case.code == answer.json()["code"]))
    point = to_shape(case.location)
    assert (point.x, point.y) == pytest.approx((world["lon"], world["lat"]), abs=1e-6)
    assert case.reported_crs == "gcj02"

    outside = post_report(client, 100.0, 30.0)
    assert outside.status_code == 422
    assert outside.json()["code"] == "case.outside_city"  # the intake's own refusal, said to everyone


def test_swapped_coordinates_are_refused_in_words(world):
    swapped = post_report(world["client"], world["lat"], world["lon"])  # latitude first, as many maps copy
    assert swapped.status_code == 422
    body = swapped.json()
    assert body["code"] == "validation.request" and body["errors"][0]["loc"] == ["body", "lat"]
    assert body["detail"].startswith("纬度超出范围：应不大于 90")  # the field in words, and its limit
    assert cases(world["db"]) == 0


def test_size_limits_refuse_before_any_case_is_made(world, monkeypatch):
    client, db, lon, lat = world["client"], world["db"], world["lon"], world["lat"]
    monkeypatch.setattr(get_settings(), "public_max_photo_bytes", 1024 * 1024)
    digits = {"min_digits": 5, "max_digits": 20}
    refused = [  # what is sent, and the answer: its status, code and parameters
        ({"photos": []}, 422, "public.photo_required", {}),
        ({"photos": [jpeg()] * 5}, 422, "public.too_many_photos", {"max_photos": 4}),
        ({"description": "脏" * 501}, 422, "public.description_too_long", {"max_length": 500}),
        ({"photos": [b"%PDF-1.4 not a photo"]}, 415, "photo.not_an_image", {"kind": "看起来是 PDF 文档"}),
        ({"photos": [b"\xff\xd8\xff broken"]}, 422, "photo.damaged", {"format": "JPEG"}),
        ({"photos": [jpeg() + b"\0" * (1024 * 1024)]}, 413, "photo.too_large", {"megabytes": 1}),
        ({"category": "C01001"}, 422, "public.category_unknown", {}),
        ({"phone": "call me"}, 422, "public.phone_format", digits),
        ({"phone": "1234"}, 422, "public.phone_format", digits),
    ]
    for sent, status, code, params in refused:
        answer = post_report(client, lon, lat, **sent)
        assert answer.status_code == status, (code, answer.text)
        assert (answer.json()["code"], answer.json()["params"]) == (code, params)
        assert answer.json()["detail"] == messages.text(code, **params)
    assert cases(db) == 0


def test_the_report_page_learns_its_limits_from_the_server(demo_client, monkeypatch):
    monkeypatch.setattr(get_settings(), "public_max_description", 300)
    assert demo_client.get("/api/public/limits").json() == {
        "description_max_length": 300,
        "comment_max_length": 500,
        "max_photos": 4,
    }


def test_throttling_per_address_and_per_phone(world, monkeypatch):
    client, lon, lat = world["client"], world["lon"], world["lat"]
    settings = get_settings()
    monkeypatch.setattr(settings, "public_reports_per_ip", 3)
    monkeypatch.setattr(settings, "public_reports_per_phone", 2)

    first = {"client_uuid": str(uuid.uuid4()), "phone": PHONE}
    assert post_report(client, lon, lat, **first).status_code == 201
    assert post_report(client, lon, lat, phone=PHONE).status_code == 201
    by_phone = post_report(client, lon, lat, phone=PHONE)
    assert by_phone.status_code == 429
    assert by_phone.json()["code"] == "public.too_many_reports"
    assert by_phone.json()["detail"] == "这个手机号在 60 分钟内已上报 2 次：请 60 分钟后再试"
    assert 3500 < int(by_phone.headers["Retry-After"]) <= 3600

    assert post_report(client, lon, lat).status_code == 201  # another phone (none): the third from here
    by_address = post_report(client, lon, lat)
    assert by_address.status_code == 429
    assert by_address.json()["detail"] == "这个网络在 60 分钟内已上报 3 次：请 60 分钟后再试"
    assert int(by_address.headers["Retry-After"]) > 0
    # A retry of an accepted report is not a new report: it is answered.
    assert post_report(client, lon, lat, **first).status_code == 201


def close_it(world, code: str) -> Case:
    """The operators take the citizen's case to closing, with public and private notes on the way."""
    db = world["db"]
    case = db.scalar(select(Case).where(Case.code == code))
    act(db, world["acceptor"], case, "request_verification", inspector_id=world["inspector"].user.id)
    photo(db, world["inspector"], case, "verification")
    act(db, world["inspector"], case, "reply_verification", result="confirmed", note="内部：核实属实")
    act(db, world["lead"], case, "file", public_note="已立案，将尽快处理")
    act(db, world["dispatcher"], case, "dispatch")
    photo(db, world["department"], case, "after")
    act(db, world["department"], case, "report_handling", note="内部：李师傅清运", public_note="垃圾已清运")
    act(db, world["acceptor"], case, "request_check", inspector_id=world["inspector"].user.id)
    photo(db, world["inspector"], case, "check")
    act(db, world["inspector"], case, "reply_check", result="pass")
    return act(db, world["lead"], case, "close")


def test_tracking_hides_a_case_until_filed_then_shows_nothing_private(world):
    client = world["client"]
    answer = post_report(client, world["lon"], world["lat"], phone=PHONE).json()
    code = answer["code"]
    hidden = client.get(f"/api/public/cases/{code}")
    assert hidden.status_code == 404 and hidden.json()["code"] == "public.not_yet_public"
    assert hidden.json()["detail"] == messages.text("public.not_yet_public", case=code)
    unknown = client.get("/api/public/cases/370102-20200101-9999")
    assert unknown.status_code == 404 and unknown.json()["code"] == "public.no_case"
    assert unknown.json()["detail"] == messages.text("public.no_case", case="370102-20200101-9999")

    close_it(world, code)
    seen = client.get(f"/api/public/cases/{code}")
    assert seen.status_code == 200, seen.text
    item = seen.json()
    assert [s["label"] for s in item["stages"] if s["current"]] == ["结案"]
    assert all(s["done"] for s in item["stages"])
    assert [e["label"] for e in item["timeline"]] == [
        "受理", "派核实", "回复核实", "立案", "派遣", "处置反馈", "派核查", "回复核查", "结案",
    ]  # fmt: skip
    notes = [e["note"] for e in item["timeline"] if e["note"]]
    assert notes == ["已立案，将尽快处理", "垃圾已清运"]
    assert (len(item["before"]), len(item["after"])) == (1, 1)
    assert item["before"][0]["url"].startswith("/api/public/photos/")
    assert item["deadline"] is None and item["closed_at"] and item["rated"] is False
    text = seen.text
    for private in (PHONE, "内部", "testclient", answer["reporter_token"], *(
        world[who].name for who in ("inspector", "acceptor", "lead", "dispatcher", "department")
    )):  # fmt: skip
        assert private not in text


def test_a_mistyped_code_is_answered_with_what_a_code_looks_like(world):
    client, db = world["client"], world["db"]
    example = code_example(db)
    district, day, number = example.split("-")
    assert db.scalar(select(Grid.level).where(CURRENT, Grid.code == district)) == "district"
    assert (day, number) == (f"{today():%Y%m%d}", "0001")
    for typed in ("37010220261124", "abc", "370102-2026-11-24-1", "370102-20261124-01"):
        answer = client.get(f"/api/public/cases/{typed}")
        assert answer.status_code == 422, typed
        assert answer.json()["code"] == "public.code_format"
        assert answer.json()["detail"] == messages.text("public.code_format", example=example)
        assert "[0-9]" not in answer.text and "{" not in answer.json()["detail"]
    # Typed with a Chinese input method: full-width digits and dashes read as the code they are.
    code = post_report(client, world["lon"], world["lat"]).json()["code"]
    wide = code.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789-"})
    assert wide != code
    assert client.get(f"/api/public/cases/ {wide} ").json()["code"] == "public.not_yet_public"


def test_only_the_photos_the_track_page_shows_are_served(world):
    client, db = world["client"], world["db"]
    code = post_report(client, world["lon"], world["lat"], phone=PHONE).json()["code"]
    case = close_it(world, code)  # photos before, for the verification, after and for the check
    item = client.get(f"/api/public/cases/{code}").json()
    shown = {p["url"] for p in item["before"] + item["after"]}
    rows = list(db.scalars(select(CasePhoto).where(CasePhoto.case_id == case.id)))
    assert {row.role for row in rows} == {"before", "verification", "after", "check"}
    for row in rows:
        url = f"/api/public/photos/{row.id}.jpg"
        served = client.get(url)
        assert (served.status_code == 200) == (url in shown), row.role
        assert (url in shown) == (row.role in ("before", "after")), row.role
    params = {"jurisdiction_id": get_settings().open311_jurisdiction_id}
    (request,) = client.get(f"/open311/v2/requests/{code}.json", params=params).json()
    assert request["media_url"].endswith(item["before"][0]["url"])  # Open311 links a photo shown


def test_the_reporter_rates_a_closed_case_once(world):
    client = world["client"]
    answer = post_report(client, world["lon"], world["lat"]).json()
    code, token = answer["code"], answer["reporter_token"]
    stars = {"speed": 5, "result": 4, "attitude": 5, "system": 3, "comment": "处理很快"}
    close_it(world, code)

    wrong = client.post(f"/api/public/cases/{code}/rating", json={**stars, "reporter_token": "x" * 32})
    assert wrong.status_code == 403 and wrong.json()["code"] == "public.not_reporter"
    bad = client.post(f"/api/public/cases/{code}/rating", json={**stars, "speed": 6, "reporter_token": token})
    assert bad.status_code == 422
    rated = client.post(f"/api/public/cases/{code}/rating", json={**stars, "reporter_token": token})
    assert rated.status_code == 201, rated.text
    assert {k: rated.json()[k] for k in stars} == stars
    again = client.post(f"/api/public/cases/{code}/rating", json={**stars, "reporter_token": token})
    assert again.status_code == 409 and again.json()["code"] == "public.already_rated"
    assert again.json()["detail"] == messages.text("public.already_rated")
    assert client.get(f"/api/public/cases/{code}").json()["rated"] is True


def test_a_case_is_rated_only_once_closed(world):
    client, db = world["client"], world["db"]
    answer = post_report(client, world["lon"], world["lat"]).json()
    case = db.scalar(select(Case).where(Case.code == answer["code"]))
    act(db, world["acceptor"], case, "request_verification", inspector_id=world["inspector"].user.id)
    act(db, world["inspector"], case, "reply_verification", result="confirmed")
    act(db, world["lead"], case, "file")
    early = client.post(
        f"/api/public/cases/{case.code}/rating",
        json={
            "speed": 5,
            "result": 5,
            "attitude": 5,
            "system": 5,
            "reporter_token": answer["reporter_token"],
        },
    )
    assert early.status_code == 409 and early.json()["code"] == "public.not_closed"


def test_operators_mark_spam_which_voids_the_case_for_good(world):
    client, db = world["client"], world["db"]
    code = post_report(client, world["lon"], world["lat"], description="广告广告广告").json()["code"]
    case = db.scalar(select(Case).where(Case.code == code))
    body = {"version": case.version, "reason": "广告信息"}

    refused = client.post(
        f"/api/public/cases/{code}/spam", json=body, headers=login(client, world["acceptor"])
    )
    assert refused.status_code == 403
    marked = client.post(f"/api/public/cases/{code}/spam", json=body, headers=login(client, world["lead"]))
    assert marked.status_code == 200, marked.text
    assert marked.json()["state"] == "voided"
    assert marked.json()["timeline"][-1]["data"]["reason"] == "垃圾上报：广告信息"
    db.expire_all()
    assert db.scalar(select(PublicReport.spam_at).where(PublicReport.case_id == case.id)) is not None
    tracked = client.get(f"/api/public/cases/{code}")
    assert tracked.status_code == 404 and tracked.json()["code"] == "public.voided"  # no reason shown
    assert "广告" not in tracked.text
    assert client.post(f"/api/public/cases/{code}/spam", json=body).status_code == 401
    hotline = report(db, world["acceptor"], world["lon"], world["lat"], channel="hotline")
    not_public = client.post(
        f"/api/public/cases/{hotline.code}/spam",
        json={"version": hotline.version, "reason": "广告"},
        headers=login(client, world["lead"]),
    )
    assert not_public.status_code == 404 and not_public.json()["code"] == "public.not_a_public_report"


def test_openapi_documents_the_public_routes(demo_client):
    paths = demo_client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/public/categories",
        "/api/public/reports",
        "/api/public/cases/{code}",
        "/api/public/cases/{code}/rating",
        "/api/public/cases/{code}/spam",
        "/report",
        "/track",
        "/track/{code}",
    ):
        assert path in paths
        assert all(operation["summary"] for operation in paths[path].values())


# -- resource exhaustion ----------------------------------------------------------------------------


def images_made() -> int:
    """How many images Pillow has allocated in this process: decoding a photo makes one."""
    return Image.core.get_stats()["new_count"]


def lossless_webp(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height)).save(out, "WEBP", lossless=True)
    return out.getvalue()


def test_a_pixel_strip_without_login_is_refused_before_it_is_decoded(world):
    client, db = world["client"], world["db"]
    strip = lossless_webp(16383, 3000)  # the probe's photo: 49 megapixels in about 2 KB
    assert len(strip) < 4096
    made = images_made()
    answer = post_report(client, world["lon"], world["lat"], photos=[strip])
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "photo.too_many_pixels"  # over the public's limit before its shape
    assert answer.json()["params"] == {"width": 16383, "height": 3000, "limit": "1600"}
    assert images_made() == made  # refused from its header: not one pixel decoded
    assert cases(db) == 0


def test_the_public_may_send_fewer_pixels_than_staff(world):
    client, db = world["client"], world["db"]
    settings = get_settings()
    width, height = 5000, 4000  # 20 megapixels: an inspector's photo, not a citizen's
    assert settings.public_photo_max_pixels < width * height <= settings.photo_max_pixels
    large = lossless_webp(width, height)
    made = images_made()
    answer = post_report(client, world["lon"], world["lat"], photos=[large])
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == (
        "照片为 5000 × 4000 像素，超过 1600 万像素的上限："
        "请上传手机相机直接拍摄的普通照片，或把照片缩小后再上传"
    )
    assert images_made() == made
    assert cases(db) == 0


def test_a_throttled_address_is_answered_before_any_photo_work(world, monkeypatch):
    client, lon, lat = world["client"], world["lon"], world["lat"]
    monkeypatch.setattr(get_settings(), "public_reports_per_ip", 1)
    ordinary, damaged, strip = jpeg(), b"\xff\xd8\xff broken", lossless_webp(16383, 3000)
    assert post_report(client, lon, lat, photos=[ordinary]).status_code == 201

    made = images_made()
    for photos in ([ordinary], [damaged], [strip, ordinary]):
        answer = post_report(client, lon, lat, photos=photos)
        assert answer.status_code == 429, answer.text
        assert int(answer.headers["Retry-After"]) > 0
    assert images_made() == made  # not one photo was decoded


def test_photos_find_the_pixel_work_busy_and_are_asked_to_come_back(world, monkeypatch):
    client, db = world["client"], world["db"]
    monkeypatch.setattr(get_settings(), "photo_work_wait_seconds", 0.05)
    ordinary = jpeg()
    slots, held = work_slots(), 0
    try:
        while slots.acquire(blocking=False):  # other photos hold every slot of this process
            held += 1
        answer = post_report(client, world["lon"], world["lat"], photos=[ordinary])
    finally:
        for _ in range(held):
            slots.release()
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["Retry-After"]) >= 1
    assert answer.json()["code"] == "photo.busy"
    assert cases(db) == 0
    assert post_report(client, world["lon"], world["lat"], photos=[ordinary]).status_code == 201


def test_the_report_limit_counts_the_address_a_trusted_proxy_forwards(world, monkeypatch):
    proxy = from_address(world["client"], "10.0.0.5")
    forwarded = {"X-Forwarded-For": "198.51.100.20"}
    data = {"category": "E06010", "lon": world["lon"], "lat": world["lat"]}

    def reported_from() -> str:
        answer = proxy.post(
            "/api/public/reports",
            data={**data, "client_uuid": str(uuid.uuid4())},
            files=[("photos", ("p.jpg", jpeg(), "image/jpeg"))],
            headers=forwarded,
        )
        assert answer.status_code == 201, answer.text
        case = world["db"].scalar(select(Case.id).where(Case.code == answer.json()["code"]))
        return world["db"].scalar(select(PublicReport.ip).where(PublicReport.case_id == case))

    assert reported_from() == "10.0.0.5"  # not a trusted proxy: its header is ignored
    monkeypatch.setattr(get_settings(), "trusted_proxies", "10.0.0.0/8")
    assert reported_from() == "198.51.100.20"


# -- voided and merged cases ------------------------------------------------------------------------


def test_a_voided_case_says_it_will_not_be_handled_and_only_its_public_reason(world):
    client, db = world["client"], world["db"]
    code = post_report(client, world["lon"], world["lat"]).json()["code"]
    case = db.scalar(select(Case).where(Case.code == code))
    note = "该处不属于城市管理范围"
    act(db, world["lead"], case, "void", reason="内部：来电人说错了地址", public_note=note)
    answer = client.get(f"/api/public/cases/{code}")
    assert answer.status_code == 404
    assert answer.json()["code"] == "public.voided_with_note"
    assert answer.json()["detail"] == messages.text("public.voided_with_note", case=code, note=note)
    assert "内部" not in answer.text and "受理中" not in answer.text

    silent = post_report(client, world["lon"], world["lat"], description="另一处垃圾").json()["code"]
    act(db, world["lead"], db.scalar(select(Case).where(Case.code == silent)), "void", reason="内部：重复")
    answer = client.get(f"/api/public/cases/{silent}")
    assert answer.status_code == 404 and answer.json()["code"] == "public.voided"
    assert answer.json()["detail"] == messages.text("public.voided", case=silent)
    assert "内部" not in answer.text


def test_a_merged_case_says_so_and_points_to_the_case_it_joined(world):
    client, db = world["client"], world["db"]
    master = post_report(client, world["lon"], world["lat"]).json()["code"]
    duplicate = post_report(client, world["lon"], world["lat"], description="同一堆垃圾").json()["code"]
    merged = db.scalar(select(Case).where(Case.code == duplicate))
    act(db, world["acceptor"], merged, "merge", master=master, public_note="与先前的上报一并处理")
    close_it(world, master)

    answer = client.get(f"/api/public/cases/{duplicate}")
    assert answer.status_code == 200, answer.text
    item = answer.json()
    assert item["state_label"] == "已合并"
    assert item["merged_into"] == {"code": master, "track_url": f"/track/{master}"}
    assert item["stages"] == [] and item["deadline"] is None
    assert item["timeline"][-1]["label"] == "合并"
    assert item["timeline"][-1]["note"] == "与先前的上报一并处理"
    # merged before anyone verified it: its words and photos are not shown, nor served by their number
    assert item["description"] == "" and item["before"] == [] and item["after"] == []
    (photo_id,) = db.scalars(select(CasePhoto.id).where(CasePhoto.case_id == merged.id))
    assert client.get(f"/api/public/photos/{photo_id}.jpg").status_code == 404
    followed = client.get(item["merged_into"]["track_url"].replace("/track/", "/api/public/cases/"))
    assert followed.status_code == 200 and followed.json()["state_label"] == "已结案"
    assert followed.json()["merged_into"] is None
