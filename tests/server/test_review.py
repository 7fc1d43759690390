"""The grid heads' review on the demo city (历下区's first street), through the service, HTTP and the CLI:
coverage against shapely on the same points in the same projection, staffing and unstaffed grids, each
inspector's work equal to the patrol service's figures and the case trail, open and overdue cases against
direct SQL, moving inspectors with their history, refusals and scope."""

from __future__ import annotations

import itertools
import uuid
from datetime import date, datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import pytest
import shapely
from geoalchemy2.shape import to_shape
from shapely.geometry import LineString
from sqlalchemy import select, text, update
from typer.testing import CliRunner

from gis.crs import gk_epsg, to_metric
from server.auth.passwords import DEMO_PASSWORD
from server.auth.principal import ADMINISTRATOR
from server.case.scope import scope_of
from server.case.states import OPEN_STATES
from server.grid import people as grid_people
from server.grid.models import CURRENT, Grid, GridAssignment, in_force, today
from server.patrol import service as patrol_service
from server.patrol.schemas import PointIn, ShiftIn
from server.review import service
from server.users.demo import DISTRICT
from tests.server.case_world import act, make_user, photo, report, team

TZ = ZoneInfo("Asia/Shanghai")  # the settings' time zone
WEDNESDAY = today() - timedelta(days=today().weekday() + 5)  # last week's: always in the past
MONDAY, SUNDAY = WEDNESDAY - timedelta(days=2), WEDNESDAY - timedelta(days=3)
AT = datetime.combine(WEDNESDAY, time(15), TZ)  # the review's clock
INSPECTOR = "13900000001"  # 张伟, the demo's inspector of the street's first village
STREET_HEAD = "chenjing"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), TZ)


def children(db, code: str) -> list[Grid]:
    return list(db.scalars(select(Grid).where(CURRENT, Grid.parent_code == code).order_by(Grid.code)))


def walk(db, user, day: date, corners: list[tuple[float, float]], poor: tuple[float, float] | None = None):
    """A shift on ``day`` from 09:00: ten fixes between each pair of ``corners`` (a fix every 10 s), then a
    fix at ``poor`` with a 80 m accuracy radius; returns the shift."""
    points = []
    for (x0, y0), (x1, y1) in itertools.pairwise(corners):
        points += [(x0 + (x1 - x0) * k / 10, y0 + (y1 - y0) * k / 10) for k in range(11)]
    start = at(day, 9)
    fixes = [
        PointIn(recorded_at=start + timedelta(seconds=10 * i), lon=x, lat=y, accuracy_m=5.0)
        for i, (x, y) in enumerate(points)
    ]
    if poor:
        recorded = start + timedelta(seconds=10 * len(points))
        fixes.append(PointIn(recorded_at=recorded, lon=poor[0], lat=poor[1], accuracy_m=80.0))
    shift, _ = patrol_service.start_shift(
        db=db, user=user, data=ShiftIn(client_uuid=uuid.uuid4(), started_at=start), at=AT
    )
    patrol_service.add_points(db=db, user=user, client_uuid=shift.client_uuid, points=fixes, at=AT)
    patrol_service.end_shift(
        db=db, user=user, client_uuid=shift.client_uuid, ended_at=start + timedelta(minutes=30), at=AT
    )
    return shift


def share(grid_shape, lines: list[list[tuple[float, float]]], epsg: int) -> float:
    """Independently: the share of the grid within 30 m of the lines, in shapely, in the same projection."""
    area, _ = to_metric(grid_shape, epsg)
    if not lines:
        return 0.0
    band = shapely.union_all([to_metric(LineString(line), epsg)[0].buffer(30) for line in lines])
    return area.intersection(band).area / area.area


@pytest.fixture
def world(demo_db):
    """The demo's first street of 历下区 (its heads in force since a month before last week's Wednesday); in
    its second village a rectangular unit patrolled by a new inspector (assigned then too): along its south
    edge on Wednesday (with one poor fix in its middle), its north edge on Monday, its west edge on the
    Sunday before."""
    db = demo_db
    # The demo's heads were assigned when it was loaded: in force at the review's clock too.
    db.execute(
        update(GridAssignment)
        .where(GridAssignment.role == "head")
        .values(starts_on=WEDNESDAY - timedelta(30))
    )
    street = children(db, DISTRICT)[0]
    villages = children(db, street.code)
    village = villages[1]
    units = children(db, village.code)
    unit = next(u for u in units if to_shape(u.geom).area > 0.99 * to_shape(u.geom).envelope.area)
    inspector = make_user(db, ["inspector"], name="巡查员甲")
    grid_people.assign(
        db=db, grid_code=unit.code, user=inspector.user, role="inspector", starts_on=WEDNESDAY - timedelta(30)
    )
    x0, y0, x1, y1 = to_shape(unit.geom).bounds
    south, north, west = [(x0, y0), (x1, y0)], [(x1, y1), (x0, y1)], [(x0, y1), (x0, y0)]
    shifts = {
        "wednesday": walk(db, inspector.user, WEDNESDAY, south, poor=((x0 + x1) / 2, (y0 + y1) / 2)),
        "monday": walk(db, inspector.user, MONDAY, north),
        "sunday": walk(db, inspector.user, SUNDAY, west),
    }
    return {
        "db": db,
        "street": street,
        "villages": villages,
        "village": village,
        "unit": unit,
        "units": units,
        "inspector": inspector,
        "shifts": shifts,
        "south": [(x0 + (x1 - x0) * k / 10, y0) for k in range(11)],
        "north": [(x1 - (x1 - x0) * k / 10, y1) for k in range(11)],
    }


def admin_review(db, code: str, **kw):
    return service.review(db=db, scope=scope_of(db=db, principal=ADMINISTRATOR), code=code, at=AT, **kw)


def row_of(found, code: str):
    return next(row for row in found.grids if row.code == code)


def test_coverage_equals_shapely_on_the_same_points_poor_fixes_and_other_weeks_left_out(world):
    db, village, unit = world["db"], world["village"], world["unit"]
    found = admin_review(db, village.code)
    assert found.day == WEDNESDAY and found.week_from == MONDAY and found.coverage_m == 30
    epsg = gk_epsg(to_shape(village.geom).envelope.centroid.x)
    assert found.epsg == epsg == 4548  # Jinan: CGCS2000 3-degree zone, central meridian 117E
    unit_shape, village_shape = to_shape(unit.geom), to_shape(village.geom)

    row = row_of(found, unit.code)
    assert row.coverage_today == pytest.approx(share(unit_shape, [world["south"]], epsg), abs=0.002)
    week = share(unit_shape, [world["south"], world["north"]], epsg)
    assert row.coverage_week == pytest.approx(week, abs=0.002)
    # About what a 30 m band along one edge of a rectangle should be: 30 m over its height.
    metric, _ = to_metric(unit_shape, epsg)
    _, south, _, north = metric.bounds
    assert row.coverage_today == pytest.approx(30 / (north - south), rel=0.05)
    assert 0.1 < row.coverage_today < row.coverage_week < 1

    top = row_of(found, village.code)
    assert top.coverage_today == pytest.approx(share(village_shape, [world["south"]], epsg), abs=0.001)
    assert top.coverage_week == pytest.approx(
        share(village_shape, [world["south"], world["north"]], epsg), abs=0.001
    )
    # A unit nobody walked: 0; the first village (its inspector assigned only today): 0.
    other = next(u for u in world["units"] if u.code != unit.code)
    assert row_of(found, other.code).coverage_today == row_of(found, other.code).coverage_week == 0
    first = admin_review(db, world["street"].code)
    assert row_of(first, world["villages"][0].code).coverage_week == 0
    assert row_of(first, village.code).coverage_week == pytest.approx(top.coverage_week, abs=1e-4)

    # The Sunday before belongs to the week before: reviewed on that day, only its west edge counts.
    sunday = admin_review(db, village.code, day=SUNDAY)
    west = [world["south"][0], (world["south"][0][0], world["north"][0][1])]
    assert sunday.week_from == SUNDAY - timedelta(days=6)
    assert row_of(sunday, unit.code).coverage_today == pytest.approx(
        share(unit_shape, [west], epsg), abs=0.002
    )


def test_who_looks_after_which_grid_and_the_grids_with_nobody(world):
    db, street, village, unit = world["db"], world["street"], world["village"], world["unit"]
    found = admin_review(db, village.code)
    assert [row.code for row in found.grids] == [village.code] + [u.code for u in world["units"]]
    assert found.levels == ["village", "unit"]
    assert row_of(found, village.code).inspectors == ["巡查员甲"] and not row_of(found, village.code).nobody
    assert row_of(found, unit.code).inspectors == ["巡查员甲"] and not row_of(found, unit.code).nobody
    others = [u.code for u in world["units"] if u.code != unit.code]
    assert all(row_of(found, code).nobody and not row_of(found, code).inspectors for code in others)
    assert [g.code for g in found.unstaffed] == others and found.unstaffed_total == len(others)
    assert [(i.name, [g.code for g in i.grids]) for i in found.inspectors] == [("巡查员甲", [unit.code])]

    # The street: its head, the villages nobody looks after on that day (the demo's inspectors came
    # today), each standing for its units, and the unwalked units of the patrolled village.
    whole = admin_review(db, street.code)
    assert row_of(whole, street.code).head == "陈静" and not row_of(whole, street.code).nobody
    villages = [v.code for v in world["villages"] if v.code != village.code]
    assert [g.code for g in whole.unstaffed] == sorted(villages + others)
    assert whole.unstaffed_total == len(villages) + len(others)
    assert [row.code for row in whole.grids if row.nobody] == villages
    assert [g.code for g in whole.trail] == ["370100", DISTRICT]  # the administrator reviews the city
    assert [g.code for g in found.trail] == ["370100", DISTRICT, street.code]

    # Today the demo's inspectors are on the roster: the first village is looked after.
    now = service.review(db=db, scope=scope_of(db=db, principal=ADMINISTRATOR), code=street.code)
    first = world["villages"][0].code
    assert not row_of(now, first).nobody and "张伟" in row_of(now, first).inspectors


def test_each_inspectors_work_equals_the_patrol_service_and_the_case_trail(world):
    db, unit, who = world["db"], world["unit"], world["inspector"]
    shape = to_shape(unit.geom).representative_point()
    staff = team(db)
    report(db, who, shape.x, shape.y, at=at(MONDAY, 10))
    report(db, who, shape.x + 0.0001, shape.y, category="E06012", at=at(WEDNESDAY, 11))
    case = report(
        db, staff["acceptor"], shape.x, shape.y, category="E07001", channel="hotline", at=at(WEDNESDAY, 10)
    )
    act(db, staff["acceptor"], case, "request_verification", at=at(WEDNESDAY, 10, 5))
    act(db, who, case, "reply_verification", at=at(WEDNESDAY, 10, 10), result="confirmed")
    act(db, staff["lead"], case, "file", at=at(WEDNESDAY, 10, 15))
    act(db, staff["dispatcher"], case, "dispatch", at=at(WEDNESDAY, 10, 20), lead_department="sanitation_lx")
    photo(db, staff["department"], case, "after")
    act(db, staff["department"], case, "report_handling", at=at(WEDNESDAY, 10, 30))
    act(db, staff["acceptor"], case, "request_check", at=at(WEDNESDAY, 10, 35))
    act(db, who, case, "reply_check", at=at(WEDNESDAY, 10, 40), result="rework")

    found = admin_review(db, world["village"].code)
    (person,) = found.inspectors
    shifts = world["shifts"]
    (wednesday,) = patrol_service.describe(db=db, shifts=[shifts["wednesday"]], at=AT)
    (monday,) = patrol_service.describe(db=db, shifts=[shifts["monday"]], at=AT)
    assert wednesday.distance_m > 0 and wednesday.duration_s == 1800
    assert person.today.model_dump() == {
        "shifts": 1,
        "distance_m": wednesday.distance_m,
        "duration_s": wednesday.duration_s,
        "reports": 1,
        "verifications": 1,
        "checks": 1,
    }
    assert person.week.model_dump() == {
        "shifts": 2,
        "distance_m": pytest.approx(wednesday.distance_m + monday.distance_m),
        "duration_s": wednesday.duration_s + monday.duration_s,
        "reports": 2,
        "verifications": 1,
        "checks": 1,
    }

    # Open and overdue cases: direct SQL over the raw cases.
    for code in (world["village"].code, unit.code):
        path = db.scalar(select(Grid.path).where(CURRENT, Grid.code == code))
        expected = db.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE step_due_at <= :at) FROM case_file "
                "WHERE grid_path <@ CAST(:path AS ltree) AND state = ANY(:open)"
            ),
            {"at": AT, "path": path, "open": list(OPEN_STATES)},
        ).one()
        row = row_of(found, code)
        assert (row.open, row.overdue) == tuple(expected)
    assert row_of(found, unit.code).open == 3 and row_of(found, unit.code).overdue >= 1


def test_a_move_ends_the_day_before_and_tracks_count_for_the_grid_of_their_day(world):
    db, unit, who = world["db"], world["unit"], world["inspector"]
    other = next(u for u in world["units"] if u.code != unit.code)
    scope = scope_of(db=db, principal=ADMINISTRATOR)
    tuesday = MONDAY + timedelta(days=1)
    ended, started = service.reassign(
        db=db, scope=scope, user_id=who.user_id, from_grid=unit.code, to_grid=other.code, on=tuesday, at=AT
    )
    assert (ended.grid_code, ended.ends_on) == (unit.code, MONDAY)
    assert (started.grid_code, started.starts_on, started.ends_on) == (other.code, tuesday, None)
    history = service.history(db=db, scope=scope, code=unit.code)
    assert [(a.role, u.name, a.ends_on) for a, u in history if u.id == who.user_id] == [
        ("inspector", "巡查员甲", MONDAY)
    ]

    found = admin_review(db, world["village"].code)
    epsg, unit_shape = found.epsg, to_shape(unit.geom)
    row = row_of(found, unit.code)
    assert row.coverage_today == 0  # Wednesday's walk was the other unit's inspector's
    assert row.coverage_week == pytest.approx(share(unit_shape, [world["north"]], epsg), abs=0.002)
    assert row.nobody and not row_of(found, other.code).nobody
    assert row_of(found, other.code).coverage_today == pytest.approx(
        share(to_shape(other.geom), [world["south"]], epsg), abs=0.002
    )

    # Back on the day the new assignment started: it ends the day before it started, never in force, so on
    # that day only the grid moved back to has the inspector.
    back, again = service.reassign(
        db=db, scope=scope, user_id=who.user_id, from_grid=other.code, to_grid=unit.code, on=tuesday, at=AT
    )
    assert back.starts_on == tuesday and back.ends_on == tuesday - timedelta(days=1)
    assert again.starts_on == tuesday
    in_force_tuesday = db.scalars(
        select(GridAssignment.grid_code).where(GridAssignment.user_id == who.user_id, in_force(tuesday))
    ).all()
    assert in_force_tuesday == [unit.code]


def login(client, login: str) -> dict[str, str]:
    body = {"login": login, "password": DEMO_PASSWORD, "device_id": f"t-{uuid.uuid4()}", "device_name": "t"}
    answer = client.post("/api/auth/login", json=body)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_scope_roles_and_the_page_routes(demo_client, demo_db):
    street = children(demo_db, DISTRICT)[0]
    village = children(demo_db, street.code)[0]
    head = login(demo_client, STREET_HEAD)
    answer = demo_client.get("/api/review", headers=head)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["grid"]["code"] == street.code and body["trail"] == [] and body["day"] == today().isoformat()
    assert demo_client.get("/api/review/grids", headers=head).json() == [body["grid"]]
    inside = demo_client.get("/api/review", params={"grid": village.code}, headers=head).json()
    assert [g["code"] for g in inside["trail"]] == [street.code]
    assert inside["grids"][0]["code"] == village.code

    outside = demo_client.get("/api/review", params={"grid": "370103"}, headers=head)
    assert outside.status_code == 403 and outside.json()["code"] == "review.grid_outside"
    assert outside.json()["detail"] == "网格 370103（市中区）不在你负责的范围内，请选择你负责的网格"
    missing = demo_client.get("/api/review", params={"grid": "370102999"}, headers=head)
    assert missing.status_code == 404 and missing.json()["code"] == "grid.not_found"
    assert "370102999" in missing.json()["detail"]
    later = demo_client.get(
        "/api/review", params={"day": (today() + timedelta(days=1)).isoformat()}, headers=head
    )
    assert later.status_code == 422 and later.json()["code"] == "review.day_in_future"
    inspector = demo_client.get("/api/review", headers=login(demo_client, INSPECTOR))
    assert inspector.status_code == 403 and inspector.json()["code"] == "auth.role_required"
    assert "网格长" in inspector.json()["detail"]
    assert demo_client.get("/api/review").status_code == 401

    leader = demo_client.get("/api/review/grids", headers=login(demo_client, "wangjg")).json()
    assert [g["level"] for g in leader] == ["city"]
    assert (
        demo_client.get(
            "/api/review", params={"grid": "370103"}, headers=login(demo_client, "zhaomin")
        ).status_code
        == 200
    )

    paths = demo_client.get("/openapi.json").json()["paths"]
    for path in ("/api/review", "/api/review/grids", "/api/review/assignments", "/api/review/reassign"):
        for operation in paths[path].values():
            assert operation["summary"]


def test_reassign_over_http_with_history_and_refusals(demo_client, demo_db):
    street = children(demo_db, DISTRICT)[0]
    first, second, third = children(demo_db, street.code)[:3]
    elsewhere = children(demo_db, children(demo_db, DISTRICT)[1].code)[0]
    head = login(demo_client, STREET_HEAD)
    zhang = demo_client.get("/api/review", params={"grid": first.code}, headers=head).json()["inspectors"]
    (user_id,) = [i["user_id"] for i in zhang if i["name"] == "张伟"]
    started_on = demo_db.scalar(
        select(GridAssignment.starts_on).where(
            GridAssignment.user_id == user_id, GridAssignment.grid_code == first.code
        )
    )

    def move(**body):
        body = {"user_id": user_id, "from_grid": first.code, "to_grid": second.code, **body}
        return demo_client.post("/api/review/reassign", json=body, headers=head)

    refusals = [
        (move(user_id=login_id(demo_db, "chenjing")), 422, "review.not_an_inspector"),
        (move(from_grid=third.code), 409, "review.not_inspecting"),
        (move(to_grid=elsewhere.code), 403, "review.grid_outside"),
        (move(to_grid="370102001999"), 404, "grid.not_found"),
        (move(to_grid=first.code), 422, "review.same_grid"),
        (move(on=(today() + timedelta(days=1)).isoformat()), 422, "review.move_in_future"),
        (move(on=(started_on - timedelta(days=1)).isoformat()), 422, "review.move_before_start"),
    ]
    for answer, status, code in refusals:
        assert answer.status_code == status and answer.json()["code"] == code, answer.text
    assert refusals[-1][0].json()["params"] == {
        "name": "张伟",
        "grid": first.code,
        "starts_on": started_on.isoformat(),
        "on": (started_on - timedelta(days=1)).isoformat(),
    }

    answer = move()
    assert answer.status_code == 200, answer.text
    moved = answer.json()
    # The day before the move (before its start, if it began today).
    expected_end = today() - timedelta(days=1)
    assert moved["ended"]["grid_code"] == first.code and moved["ended"]["ends_on"] == expected_end.isoformat()
    assert (
        moved["started"]["grid_code"] == second.code and moved["started"]["starts_on"] == today().isoformat()
    )
    assert move().status_code == 409  # no longer on the first village

    history = demo_client.get("/api/review/assignments", params={"grid": first.code}, headers=head).json()
    assert [(h["name"], h["ends_on"]) for h in history if h["user_id"] == user_id] == [
        ("张伟", expected_end.isoformat())
    ]
    history = demo_client.get("/api/review/assignments", params={"grid": second.code}, headers=head).json()
    mine = [h for h in history if h["user_id"] == user_id]
    assert [(h["starts_on"], h["ends_on"]) for h in mine] == [(today().isoformat(), None)]
    after = demo_client.get("/api/review", params={"grid": street.code}, headers=head).json()
    assert "张伟" in next(r for r in after["grids"] if r["code"] == second.code)["inspectors"]
    assert (
        demo_client.get("/api/review/assignments", params={"grid": elsewhere.code}, headers=head).status_code
        == 403
    )


def login_id(db, username: str) -> int:
    from server.auth.models import User

    return db.scalar(select(User.id).where(User.username == username))


def test_cli_shows_a_review_and_moves_an_inspector(demo_clone_url, monkeypatch):
    from server.cli import app
    from server.database import new_session

    monkeypatch.setattr("server.cli_common.new_session", partial(new_session, demo_clone_url))
    with new_session(demo_clone_url) as db:
        street = children(db, DISTRICT)[0]
        first, second = children(db, street.code)[:2]
    runner = CliRunner()

    def gridops(*args):
        result = runner.invoke(app, list(args), env={"COLUMNS": "240"})
        return result.exit_code, result.stdout, result.stderr + str(result.exception or "")

    code, out, err = gridops("review", "show", "--grid", street.code)
    assert code == 0, err
    assert (
        street.name in out
        and "陈静" in out
        and "张伟" in out
        and "社区村、单元网格中有 0 个网格无人负责" in out
    )
    code, out, err = gridops("review", "reassign", INSPECTOR, "--from", first.code, "--to", second.code)
    assert code == 0, err
    assert f"张伟：网格 {first.code} 的网格员任职到" in err and f"自 {today()} 起任网格 {second.code}" in err
    code, out, err = gridops("review", "reassign", INSPECTOR, "--from", first.code, "--to", second.code)
    assert code == 1 and f"现在不是网格 {first.code}" in err  # moved already
    code, out, err = gridops("review", "show", "--grid", "370103", "--day", today().isoformat())
    assert code == 0 and "市中区" in out
    assert "把网格员调到另一个网格" in runner.invoke(app, ["review", "reassign", "--help"]).stdout
