"""Patrol shifts and track uploads through HTTP, the CLI and the migration, on the real PostGIS: idempotent
clock-in, clock-out and uploads, one open shift per user, the distance rules, late uploads, points outside
a shift, who sees whose shifts, and the command center's latest positions and today's tracks by scope."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import pytest
from pyproj import Geod
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from gis.crs import wgs84_to_gcj02
from server import messages, migrate
from server.category import service as category_service
from server.errors import NotFound
from server.grid import people as grid_people
from server.localdb import OWNER_ROLE
from server.patrol import service
from server.patrol.models import PatrolShift, TrackPoint
from server.patrol.schemas import PointIn, ShiftIn
from tests.server.case_world import make_user
from tests.server.test_case_http import login
from tests.server.test_people import setup_city

TZ = ZoneInfo("Asia/Shanghai")  # the settings' time zone
LON, LAT = 117.02, 36.66  # in 历下区
GEOD = Geod(ellps="WGS84")
# Yesterday 09:00 local: in the past whenever the tests run, with the whole working day on the same date.
T0 = datetime.combine(datetime.now(TZ).date() - timedelta(days=1), time(9), TZ)


def east(metres: float, north: float = 0.0) -> tuple[float, float]:
    """The position ``metres`` east of (LON, LAT) along a geodesic, then ``north`` metres north."""
    lon, lat, _ = GEOD.fwd(LON, LAT, 90, metres)
    lon, lat, _ = GEOD.fwd(lon, lat, 0, north)
    return lon, lat


def point(seconds: float, metres: float, north: float = 0.0, start: datetime = T0, **extra) -> dict:
    lon, lat = east(metres, north)
    recorded = (start + timedelta(seconds=seconds)).isoformat()
    return {"recorded_at": recorded, "lon": lon, "lat": lat, "accuracy_m": 5.0, **extra}


def walk(count: int, start: datetime = T0) -> list[dict]:
    """An inspector walking east: a fix every 5 s, 10 m apart (2 m/s)."""
    return [point(5 * i, 10 * i, start=start) for i in range(count)]


def start(client, headers, shift: uuid.UUID, at: datetime = T0, **extra):
    body = {"client_uuid": str(shift), "started_at": at.isoformat(), **extra}
    return client.post("/api/patrol/shifts", json=body, headers=headers)


def end(client, headers, shift: uuid.UUID, at: datetime):
    return client.post(f"/api/patrol/shifts/{shift}/end", json={"ended_at": at.isoformat()}, headers=headers)


def upload(client, headers, shift: uuid.UUID, points: list[dict]):
    return client.post(f"/api/patrol/shifts/{shift}/points", json={"points": points}, headers=headers)


def shifts(client, headers, **params) -> list[dict]:
    resp = client.get("/api/patrol/shifts", params=params, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.fixture
def inspector(db, client):
    who = make_user(db, ["inspector"])
    return who, login(client, who)


# -- clock in and out ---------------------------------------------------------------------------------


def test_clock_in_is_idempotent_and_a_uuid_belongs_to_one_user(db, client, inspector, admin_headers):
    who, headers = inspector
    shift = uuid.uuid4()
    first = start(client, headers, shift, device_id="phone-7")
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["client_uuid"] == str(shift) and body["user_id"] == who.user_id
    assert body["user_name"] == who.user.name and body["on_shift"] and body["ended_at"] is None
    assert (body["points"], body["distance_m"]) == (0, 0.0)
    assert datetime.fromisoformat(body["started_at"]) == T0

    again = start(client, headers, shift, at=T0 + timedelta(minutes=3))  # a retry answers the stored shift
    assert again.status_code == 200
    assert datetime.fromisoformat(again.json()["started_at"]) == T0
    assert db.scalar(select(func.count()).where(PatrolShift.client_uuid == shift)) == 1
    assert db.scalar(select(PatrolShift.device_id).where(PatrolShift.client_uuid == shift)) == "phone-7"

    other = login(client, make_user(db, ["inspector"]))
    taken = start(client, other, shift)
    assert taken.status_code == 409 and taken.json()["code"] == "patrol.shift_of_another"

    acceptor = login(client, make_user(db, ["acceptor"]))
    refused = start(client, acceptor, uuid.uuid4())
    assert refused.status_code == 403
    assert refused.json()["code"] == "auth.role_required" and refused.json()["params"] == {
        "roles": "网格员或网格长"
    }
    assert start(client, login(client, make_user(db, ["grid_head"])), uuid.uuid4()).status_code == 201
    token = start(client, admin_headers, uuid.uuid4())
    assert token.status_code == 422 and token.json()["code"] == "auth.admin_token_has_no_user"
    assert start(client, {}, uuid.uuid4()).status_code == 401

    future = start(client, other, uuid.uuid4(), at=datetime.now(TZ) + timedelta(hours=1))
    assert future.status_code == 422 and future.json()["code"] == "patrol.starts_in_future"
    naive = client.post(
        "/api/patrol/shifts",
        json={"client_uuid": str(uuid.uuid4()), "started_at": "2026-11-20T09:00:00"},
        headers=other,
    )
    assert naive.status_code == 422 and naive.json()["errors"][0]["loc"] == ["body", "started_at"]
    assert naive.json()["detail"] == "开始时间应带时区（如 +08:00）"


def test_clock_out_is_idempotent_and_never_before_the_start(db, client, inspector):
    _, headers = inspector
    shift = uuid.uuid4()
    start(client, headers, shift)
    ended = end(client, headers, shift, T0 + timedelta(hours=2))
    assert ended.status_code == 200, ended.text
    body = ended.json()
    assert not body["on_shift"] and datetime.fromisoformat(body["ended_at"]) == T0 + timedelta(hours=2)
    assert body["duration_s"] == 7200.0

    assert end(client, headers, shift, T0 + timedelta(hours=2)).json() == body  # the retry
    assert end(client, headers, shift, T0 + timedelta(hours=3)).json() == body  # a later end changes nothing
    earlier = end(client, headers, shift, T0 + timedelta(hours=1)).json()  # the earliest end given stays
    assert datetime.fromisoformat(earlier["ended_at"]) == T0 + timedelta(hours=1)
    assert earlier["duration_s"] == 3600.0

    before = end(client, headers, shift, T0 - timedelta(minutes=1))
    assert before.status_code == 422
    assert before.json()["code"] == "patrol.ends_before_start"
    assert before.json()["detail"] == (
        f"巡查的结束时间（{(T0 - timedelta(minutes=1)):%Y-%m-%d} 08:59:00）"
        f"不能早于开始时间（{T0:%Y-%m-%d} 09:00:00）：请检查手机的时间设置后重试"
    )
    assert end(client, headers, shift, T0).status_code == 422
    future = end(client, headers, shift, datetime.now(TZ) + timedelta(hours=1))
    assert future.status_code == 422 and future.json()["code"] == "patrol.ends_in_future"

    stranger = login(client, make_user(db, ["inspector"]))
    missing = end(client, stranger, shift, T0 + timedelta(hours=1))
    assert missing.status_code == 404 and missing.json()["code"] == "patrol.no_shift"
    assert missing.json()["params"] == {"client_uuid": str(shift)}
    assert end(client, headers, uuid.uuid4(), T0 + timedelta(hours=1)).status_code == 404


def test_one_open_shift_per_user(db, client, inspector):
    who, headers = inspector
    morning, afternoon, late, same = (uuid.uuid4() for _ in range(4))
    start(client, headers, morning)
    assert start(client, headers, afternoon, at=T0 + timedelta(hours=4)).status_code == 201

    def state(shift: uuid.UUID) -> tuple[datetime, datetime | None]:
        row = db.execute(
            select(PatrolShift.started_at, PatrolShift.ended_at).where(PatrolShift.client_uuid == shift)
        ).one()
        return tuple(row)

    assert state(morning) == (T0, T0 + timedelta(hours=4))  # its clock-out was lost: ended by the next start
    assert state(afternoon) == (T0 + timedelta(hours=4), None)
    # The morning's clock-out arrives after all: it is earlier, so it stands.
    end(client, headers, morning, T0 + timedelta(hours=3))
    assert state(morning) == (T0, T0 + timedelta(hours=3))
    # A shift that started before the open one arrives late: it ended when the open one started.
    assert start(client, headers, late, at=T0 + timedelta(hours=3, minutes=30)).status_code == 201
    assert state(late) == (T0 + timedelta(hours=3, minutes=30), T0 + timedelta(hours=4))
    assert state(afternoon) == (T0 + timedelta(hours=4), None)
    clash = start(client, headers, same, at=T0 + timedelta(hours=4))
    assert clash.status_code == 409 and clash.json()["code"] == "patrol.same_start"

    open_shifts = select(func.count()).where(
        PatrolShift.user_id == who.user_id, PatrolShift.ended_at.is_(None)
    )
    assert db.scalar(open_shifts) == 1
    with pytest.raises(IntegrityError, match="uq_patrol_shift_user_id_open"), db.begin_nested():
        db.add(PatrolShift(client_uuid=uuid.uuid4(), user_id=who.user_id, started_at=T0 + timedelta(hours=5)))
        db.flush()
    with pytest.raises(IntegrityError, match="ck_patrol_shift_span"), db.begin_nested():
        db.add(PatrolShift(client_uuid=uuid.uuid4(), user_id=who.user_id, started_at=T0, ended_at=T0))
        db.flush()


# -- uploads ------------------------------------------------------------------------------------------


def stored_points(db, shift: uuid.UUID) -> int:
    return db.scalar(
        select(func.count())
        .select_from(TrackPoint)
        .join(PatrolShift, PatrolShift.id == TrackPoint.shift_id)
        .where(PatrolShift.client_uuid == shift)
    )


def test_a_batch_sent_again_stores_nothing_twice(db, client, inspector):
    _, headers = inspector
    shift = uuid.uuid4()
    start(client, headers, shift)
    batch = walk(20)
    first = upload(client, headers, shift, batch)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["received"], body["stored"], body["shift"]["points"]) == (20, 20, 20)
    assert body["shift"]["distance_m"] == 190.0

    again = upload(client, headers, shift, batch).json()  # the answer was lost: the phone sends it again
    assert (again["received"], again["stored"], again["shift"]["points"]) == (20, 0, 20)
    overlapping = walk(25)[15:]
    assert upload(client, headers, shift, overlapping).json()["stored"] == 5
    twice_in_one = [point(200, 250), point(200, 250)]
    assert upload(client, headers, shift, twice_in_one).json()["stored"] == 1
    assert stored_points(db, shift) == 26

    too_many = upload(client, headers, shift, walk(1001))
    assert too_many.status_code == 422 and "最多 1000 项" in too_many.json()["detail"]
    assert stored_points(db, shift) == 26


def test_positions_in_gcj02_are_stored_in_wgs84(db, client, inspector):
    _, headers = inspector
    shift = uuid.uuid4()
    start(client, headers, shift)
    lon, lat = east(30)
    shown_lon, shown_lat = wgs84_to_gcj02(lon, lat)  # what a phone showing AMap tiles reports
    sent = point(5, 0) | {"lon": shown_lon, "lat": shown_lat, "crs": "gcj02"}
    assert upload(client, headers, shift, [sent]).json()["stored"] == 1
    x, y = db.execute(select(func.ST_X(TrackPoint.location), func.ST_Y(TrackPoint.location))).one()
    assert x == pytest.approx(lon, abs=1e-6) and y == pytest.approx(lat, abs=1e-6)


def test_the_distance_leaves_out_inaccurate_fixes_and_glitches(db, client, inspector):
    _, headers = inspector
    shift = uuid.uuid4()
    start(client, headers, shift)
    points = walk(11)  # 100 m in 50 s
    points[8]["accuracy_m"] = 50.0  # just accurate enough: counted
    points += [
        point(12, 25, north=300, accuracy_m=80.0),  # accuracy worse than 50 m: left out
        point(27, 50, north=400),  # 400 m off in 2 s, though accurate: a glitch, left out
        point(150, 1100),  # 1000 m in 100 s (10 m/s): fast, but possible
        point(160, 1250),  # 150 m in 10 s (15 m/s): left out
    ]
    assert upload(client, headers, shift, points).json()["stored"] == 15

    resp = client.get(f"/api/patrol/shifts/{shift}/track", headers=headers)
    assert resp.status_code == 200, resp.text
    feature = resp.json()
    assert feature["type"] == "Feature" and feature["id"] == str(shift)
    props = feature["properties"]
    assert props["distance_m"] == 1100.0
    # In time order: 0-2 walk, 3 inaccurate, 4-6 walk, 7 glitch, 8-12 walk, 13 fast, 14 too fast.
    assert props["skipped"] == [3, 7, 14]
    times = [datetime.fromisoformat(t) for t in props["times"]]
    assert times == sorted(times) and len(times) == props["points"] == 15
    coordinates = feature["geometry"]["coordinates"]
    assert feature["geometry"]["type"] == "LineString" and len(coordinates) == 15
    assert coordinates[13] == pytest.approx(east(1100), abs=1e-7)

    # PostGIS's geography agrees on the points kept, and counts far more over all of them.
    line = (
        "SELECT ST_Length(ST_MakeLine(p.location ORDER BY p.recorded_at)::geography) FROM track_point p "
        "JOIN patrol_shift s ON s.id = p.shift_id WHERE s.client_uuid = :shift"
    )
    everything = db.scalar(text(line), {"shift": shift})
    skipped = [times[i] for i in props["skipped"]]
    kept = db.scalar(text(line + " AND p.recorded_at <> ALL(:skipped)"), {"shift": shift, "skipped": skipped})
    assert kept == pytest.approx(1100.0, abs=0.01)
    assert everything > kept + 1500


def test_a_late_upload_into_an_ended_shift_and_points_outside_refused(db, client, inspector):
    _, headers = inspector
    shift = uuid.uuid4()
    start(client, headers, shift)
    end(client, headers, shift, T0 + timedelta(minutes=1))
    late = upload(client, headers, shift, [*walk(12), point(60, 120)])  # the last at the very end
    assert late.status_code == 200, late.text
    assert late.json()["stored"] == 13 and late.json()["shift"]["distance_m"] == 120.0

    early = upload(client, headers, shift, [point(32, 62), point(-60, 0)])
    assert early.status_code == 422
    assert early.json()["detail"] == (
        f"第 2 个轨迹点的记录时间（{T0:%Y-%m-%d} 08:59:00）不在这次巡查的时间内（{T0:%Y-%m-%d} 09:00:00 至 "
        f"{T0:%Y-%m-%d} 09:01:00），这批轨迹点都没有保存：请检查手机的时间设置后重新上传"
    )
    assert early.json()["code"] == "patrol.point_outside_shift" and early.json()["params"]["point"] == 1
    after = upload(client, headers, shift, [point(61, 130)])
    assert after.status_code == 422 and after.json()["params"]["point"] == 0
    assert stored_points(db, shift) == 13

    now = datetime.now(TZ)
    current = uuid.uuid4()
    start(client, headers, current, at=now - timedelta(minutes=10))
    ahead = upload(client, headers, current, [point(0, 0, start=now + timedelta(minutes=10))])
    assert ahead.status_code == 422 and "至 现在（巡查尚未结束）" in ahead.json()["detail"]
    assert (
        upload(client, headers, current, [point(0, 0, start=now + timedelta(minutes=1))]).status_code == 200
    )

    stranger = login(client, make_user(db, ["inspector"]))
    assert upload(client, stranger, current, [point(0, 0, start=now)]).status_code == 404


# -- reading ------------------------------------------------------------------------------------------


def test_who_sees_whose_shifts(db, client, admin_headers):
    setup_city(client, admin_headers)
    west = make_user(db, ["inspector"], inspects="370102001")
    east_side = make_user(db, ["inspector"], inspects="370103001")
    head = make_user(db, ["grid_head"])
    grid_people.assign(db=db, grid_code="370102", user=head.user, role="head")
    other_head = make_user(db, ["grid_head"])
    grid_people.assign(db=db, grid_code="370103002", user=other_head.user, role="head")
    leader = make_user(db, ["leader"])
    # A district's leader and command center see the shifts of their home grid's subtree only.
    district_leader = make_user(db, ["leader"], grid="370102")
    district_desk = make_user(db, ["acceptor", "shift_lead", "dispatcher"], grid="370103")
    everyone = (west, east_side, head, other_head, leader, district_leader, district_desk)
    headers = {who: login(client, who) for who in everyone}
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    start(client, headers[west], mine)
    start(client, headers[east_side], theirs, at=T0 + timedelta(minutes=5))
    day = T0.date().isoformat()

    def seen(who_headers, **params) -> list[str]:
        return [s["client_uuid"] for s in shifts(client, who_headers, day=day, **params)]

    assert seen(headers[west]) == [str(mine)]
    assert seen(headers[east_side]) == [str(theirs)]
    assert seen(headers[head]) == [str(mine)]  # the subtree of 370102 holds the west inspector's grid
    assert seen(headers[other_head]) == []  # 370103002 holds neither
    assert seen(headers[leader]) == seen(admin_headers) == [str(mine), str(theirs)]
    assert seen(headers[district_leader]) == [str(mine)]
    assert seen(headers[district_desk]) == [str(theirs)]
    assert seen(admin_headers, user_id=east_side.user_id) == [str(theirs)]
    assert seen(headers[head], user_id=east_side.user_id) == []
    assert shifts(client, admin_headers) == []  # today: none yet

    def track(who_headers, shift: uuid.UUID) -> int:
        return client.get(f"/api/patrol/shifts/{shift}/track", headers=who_headers).status_code

    assert track(headers[west], mine) == track(headers[head], mine) == track(headers[leader], mine) == 200
    assert track(admin_headers, theirs) == 200
    refused = client.get(f"/api/patrol/shifts/{mine}/track", headers=headers[east_side])
    assert refused.status_code == 404
    assert refused.json()["code"] == "patrol.no_shift_visible"
    assert track(headers[head], theirs) == track(headers[other_head], mine) == 404
    assert track(headers[district_leader], theirs) == track(headers[district_desk], mine) == 404


def test_today_sums_my_shifts_of_the_day(db, client, inspector):
    who, headers = inspector
    now = datetime.now(TZ)
    began = max(now - timedelta(hours=1), datetime.combine(now.date(), time(), TZ))
    yesterday, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    start(client, headers, yesterday)
    upload(client, headers, yesterday, walk(5))
    start(client, headers, first, at=began)
    upload(client, headers, first, walk(4, start=began))  # 30 m
    end(client, headers, first, began + timedelta(seconds=20))
    start(client, headers, second, at=began + timedelta(seconds=30))
    upload(client, headers, second, walk(3, start=began + timedelta(seconds=30)))  # 20 m
    end(client, headers, second, began + timedelta(seconds=40))

    resp = client.get("/api/patrol/today", headers=headers)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["day"] == now.date().isoformat()
    assert [s["client_uuid"] for s in body["shifts"]] == [str(first), str(second)]
    assert (body["distance_m"], body["duration_s"]) == (50.0, 30.0)
    assert all(s["user_id"] == who.user_id for s in body["shifts"])


def test_latest_positions_and_todays_tracks_by_scope(db, client, admin_headers):
    setup_city(client, admin_headers)
    category_service.load_starter(db=db)
    west = make_user(db, ["inspector"], inspects="370102001", name="西巡查")
    east_side = make_user(db, ["inspector"], inspects="370103001", name="东巡查")
    stale = make_user(db, ["inspector"], inspects="370102002", name="昨巡查")
    head = make_user(db, ["grid_head"])
    grid_people.assign(db=db, grid_code="370102", user=head.user, role="head")
    other_head = make_user(db, ["grid_head"])
    grid_people.assign(db=db, grid_code="370103", user=other_head.user, role="head")
    viewers = {
        "leader": make_user(db, ["leader"]),
        "head": head,
        "other_head": other_head,
        "department": make_user(db, ["department"], department="sanitation_lx"),
    }
    headers = {name: login(client, who) for name, who in viewers.items()}
    headers["admin"] = admin_headers

    now = datetime.now(TZ)
    began = max(now - timedelta(hours=1), datetime.combine(now.date(), time(), TZ))
    on_shift, ended, yesterday = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    west_headers = login(client, west)
    start(client, west_headers, on_shift, at=began)
    upload(client, west_headers, on_shift, walk(6, start=began))
    late = upload(client, west_headers, on_shift, walk(3, start=began))  # older points: the newest stays
    assert late.status_code == 200 and late.json()["stored"] == 0
    east_headers = login(client, east_side)
    start(client, east_headers, ended, at=began)
    upload(
        client, east_headers, ended, [point(0, 0, north=50, start=began), point(5, 10, north=50, start=began)]
    )
    end(client, east_headers, ended, began + timedelta(seconds=10))
    stale_headers = login(client, stale)
    start(client, stale_headers, yesterday)  # still open, but its points are from yesterday
    upload(client, stale_headers, yesterday, walk(3))

    def positions(name: str) -> list[dict]:
        resp = client.get("/api/patrol/positions", headers=headers[name])
        assert resp.status_code == 200, resp.text
        assert resp.json()["type"] == "FeatureCollection"
        return resp.json()["features"]

    (seen,) = positions("leader")
    assert seen["id"] == west.user_id and seen["geometry"]["coordinates"] == pytest.approx(east(50), abs=1e-7)
    assert seen["properties"]["user_name"] == "西巡查" and seen["properties"]["client_uuid"] == str(on_shift)
    assert datetime.fromisoformat(seen["properties"]["recorded_at"]) == began + timedelta(seconds=25)
    assert positions("admin") == positions("head") == [seen]
    assert positions("other_head") == positions("department") == []

    box = f"{LON - 0.01},{LAT - 0.01},{LON + 0.01},{LAT + 0.01}"

    def tracks(name: str, bbox: str = box) -> list[tuple[str, bool, int]]:
        resp = client.get("/api/patrol/tracks/today", params={"bbox": bbox}, headers=headers[name])
        assert resp.status_code == 200, resp.text
        features = resp.json()["features"]
        assert all(f["geometry"]["type"] == "LineString" for f in features)
        return [
            (f["properties"]["user_name"], f["properties"]["on_shift"], f["properties"]["points"])
            for f in features
        ]

    assert tracks("leader") == tracks("admin") == [("西巡查", True, 6), ("东巡查", False, 2)]
    assert tracks("head") == [("西巡查", True, 6)]
    assert tracks("other_head") == [("东巡查", False, 2)]
    assert tracks("department") == []
    assert tracks("leader", f"{LON + 1},{LAT},{LON + 2},{LAT + 1}") == []  # nothing crosses that box
    line = client.get("/api/patrol/tracks/today", params={"bbox": box}, headers=admin_headers).json()
    coordinates = line["features"][0]["geometry"]["coordinates"]
    assert [c for xy in coordinates for c in xy] == pytest.approx(
        [c for i in range(6) for c in east(10 * i)], abs=1e-7
    )

    for bad, code in (
        ("1,2,3", "request.bbox_format"),
        ("117.1,36.6,117.0,36.7", "request.bbox_west_east"),
        ("117.0,36.6,117.1,95", "request.bbox_lat_range"),
    ):
        resp = client.get("/api/patrol/tracks/today", params={"bbox": bad}, headers=admin_headers)
        assert resp.status_code == 422 and resp.json()["code"] == code
        assert resp.json()["detail"] == messages.text(code)
    assert client.get("/api/patrol/tracks/today", headers=admin_headers).status_code == 422
    assert client.get("/api/patrol/positions").status_code == 401


def test_an_open_shift_lasts_until_now_or_its_last_point(db, inspector):
    who, _ = inspector
    data = ShiftIn(client_uuid=uuid.uuid4(), started_at=T0)
    shift, _ = service.start_shift(db=db, user=who.user, data=data, at=T0)
    later = [PointIn(recorded_at=T0 + timedelta(minutes=4), lon=LON, lat=LAT)]
    service.add_points(db=db, user=who.user, client_uuid=data.client_uuid, points=later, at=T0)
    (ahead,) = service.describe(db=db, shifts=[shift], at=T0 + timedelta(minutes=1))
    assert ahead.on_shift and ahead.duration_s == 240.0  # the phone's clock runs ahead of the server's
    (behind,) = service.describe(db=db, shifts=[shift], at=T0 + timedelta(minutes=30))
    assert behind.duration_s == 1800.0


def test_every_patrol_route_is_documented(client):
    paths = client.get("/openapi.json").json()["paths"]
    operations = [op for path, ops in paths.items() if path.startswith("/api/patrol/") for op in ops.values()]
    assert len(operations) == 12  # shifts, tracks, positions; proactive patrol tasks
    for operation in operations:
        assert operation["summary"] and operation["tags"] == ["patrol"]
        ok = next(r for code, r in operation["responses"].items() if code in ("200", "201"))
        assert "$ref" in json.dumps(ok["content"]["application/json"]["schema"])


# -- the command line and the migration ---------------------------------------------------------------


@pytest.fixture
def gridops(fresh_db_url, monkeypatch):
    """``gridops`` in-process on a fresh database: ``(exit code, stdout, stderr, exception)``."""
    from server.cli import app
    from server.database import new_session

    monkeypatch.setattr("server.cli_common.new_session", partial(new_session, fresh_db_url))
    runner = CliRunner()

    def run(*args: str):
        result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
        return result.exit_code, result.stdout, result.stderr, result.exception

    return run


def test_cli_lists_shifts_and_prints_tracks(gridops, fresh_db_url):
    from server.database import new_session

    shift = uuid.uuid4()
    with new_session(fresh_db_url) as db:
        who = make_user(db, ["inspector"], name="巡查员甲")
        service.start_shift(db=db, user=who.user, data=ShiftIn(client_uuid=shift, started_at=T0))
        points = [PointIn(**p) for p in walk(4)] + [PointIn(**point(20, 40, north=500))]
        service.add_points(db=db, user=who.user, client_uuid=shift, points=points)
        service.end_shift(db=db, user=who.user, client_uuid=shift, ended_at=T0 + timedelta(hours=1))
        phone = who.user.phone

    code, out, err, _ = gridops("patrol", "shifts", "--user", phone, "--day", T0.date().isoformat())
    assert code == 0, err
    row = next(line for line in out.splitlines() if str(shift) in line)
    assert "巡查员甲" in row and f"{T0:%Y-%m-%d} 09:00:00" in row and " 5 " in row and "30.0" in row
    assert "1:00:00" in row and "共 1 个班次" in err
    code, out, err, _ = gridops("patrol", "shifts", "--day", (T0 - timedelta(days=1)).date().isoformat())
    assert code == 0 and str(shift) not in out and "共 0 个班次" in err

    code, out, _, _ = gridops("patrol", "track", str(shift))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"{shift}  巡查员甲") and lines[1] == "5 个轨迹点，里程 30.0 米，在岗 1:00:00"
    rows = [line for line in lines[2:] if f"{T0:%Y-%m-%d} 09:00:" in line]
    assert [row.split()[-2] for row in rows] == ["是", "是", "是", "是", "否"]  # the counted column

    code, out, _, _ = gridops("patrol", "track", str(shift), "--geojson")
    feature = json.loads(out)
    assert feature["type"] == "Feature" and len(feature["geometry"]["coordinates"]) == 5
    assert feature["properties"]["distance_m"] == 30.0 and feature["properties"]["skipped"] == [4]

    code, _, _, exc = gridops("patrol", "track", str(uuid.uuid4()))
    assert code == 1 and isinstance(exc, NotFound)
    assert "--geojson" in gridops("patrol", "track", "--help")[1]


def test_the_migration_goes_down_and_up(pg_cluster):
    name = f"patrol_{uuid.uuid4().hex[:8]}"
    pg_cluster.ensure_database(name)
    url = pg_cluster.url(name, user=OWNER_ROLE)
    engine = create_engine(url)
    try:
        migrate.upgrade(url)
        assert {"patrol_shift", "track_point"} <= set(inspect(engine).get_table_names())
        migrate.downgrade(url, "0004")
        tables = set(inspect(engine).get_table_names())
        assert "case_file" in tables and not tables & {"patrol_shift", "track_point"}
        migrate.upgrade(url)
        indexes = {i["name"] for i in inspect(engine).get_indexes("track_point")}
        assert "ix_track_point_location" in indexes
    finally:
        engine.dispose()
        pg_cluster.drop_database(name)
