"""Scope follows the assignments' validity dates exactly, and city-wide scope comes only from a role.

An assignment is in force from ``starts_on`` to ``ends_on`` inclusive (the last day), on the city's local
date. A grid head or an inspector sees a grid's cases while an assignment to it is in force, and nothing of
it before or after: never the whole city for want of an assignment. The probe's reproduction: end a grid
head's assignment at a future date over the API, log in as that head, list cases."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from server.auth.principal import Principal
from server.case import queries
from server.case.models import Case
from server.case.scope import scope_of
from server.errors import Conflict
from server.grid import people as grid_people
from server.grid.models import GridAssignment, today
from tests.server.case_world import DISTRICT, OTHER_DISTRICT, PASSWORD, make_user, report, village_point
from tests.server.test_case_transitions import ADMIN

CALLER = "来电市民钱多多"  # citizen callers' names: only those who see the case may read them
OTHER_CALLER = "来电市民孙有余"
LATER = 208  # days ahead: the probe ended an assignment on 2027-06-30, months ahead
BEFORE = -30


def days(n: int) -> date:
    """The city's date (settings.timezone) ``n`` days from today, read when the test runs (a run may
    cross midnight)."""
    return today() + timedelta(days=n)


@pytest.fixture
def world(demo_db):
    """A case in each of two districts, each with its caller's name."""
    db = demo_db
    here = report(db, ADMIN, *village_point(db, OTHER_DISTRICT)[1:], reporter_name=CALLER)
    there = report(db, ADMIN, *village_point(db, DISTRICT)[1:], reporter_name=OTHER_CALLER)
    return {"db": db, "here": here, "there": there}


def login(client, who: Principal) -> dict[str, str]:
    body = {"login": who.user.phone, "password": PASSWORD, "device_id": f"test-{who.user_id}"}
    resp = client.post("/api/auth/login", json=body)
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def assign(client, admin_headers, code: str, who: Principal, role: str, starts_on: date) -> int:
    body = {"user": str(who.user_id), "role": role, "starts_on": starts_on.isoformat()}
    resp = client.post(f"/api/grids/{code}/assignments", json=body, headers=admin_headers)
    assert resp.status_code == 201, resp.text
    return resp.json()["assignment_id"]


def end(client, admin_headers, assignment_id: int, ends_on: date) -> None:
    body = {"ends_on": ends_on.isoformat()}
    resp = client.post(f"/api/assignments/{assignment_id}/end", json=body, headers=admin_headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["ends_on"] == ends_on.isoformat()


def listed(client, headers) -> tuple[set[str], str]:
    """The codes of the cases a user lists (every one of them), and the raw answer."""
    resp = client.get("/api/cases", params={"limit": 500}, headers=headers)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["total"] == len(body["items"]) < 500
    return {item["code"] for item in body["items"]}, resp.text


def in_subtree(db, district: str) -> set[str]:
    path = f"370100.{district}"
    return set(db.scalars(select(Case.code).where(Case.grid_path.op("<@")(path))))


def test_a_head_whose_end_is_scheduled_sees_only_the_grid_until_that_day(demo_client, world, admin_headers):
    """The probe's reproduction: a future end date gave the head the whole city."""
    db, here, there = world["db"], world["here"], world["there"]
    head = make_user(db, ["grid_head"])
    assignment = assign(demo_client, admin_headers, OTHER_DISTRICT, head, "head", days(BEFORE))
    headers = login(demo_client, head)
    before, _ = listed(demo_client, headers)

    end(demo_client, admin_headers, assignment, days(LATER))
    codes, text = listed(demo_client, headers)
    assert codes == before == in_subtree(db, OTHER_DISTRICT)
    assert here.code in codes and there.code not in codes and OTHER_CALLER not in text
    shown = demo_client.get(f"/api/cases/{here.code}", headers=headers)
    assert shown.status_code == 200 and shown.json()["reporter_name"] == "来******"  # its caller, masked
    assert demo_client.get(f"/api/cases/{there.code}", headers=headers).status_code == 404


def test_a_head_whose_assignment_ended_sees_nothing_of_the_grid_nor_the_city(
    demo_client, world, admin_headers
):
    db, here, there = world["db"], world["here"], world["there"]
    head = make_user(db, ["grid_head"])
    assignment = assign(demo_client, admin_headers, OTHER_DISTRICT, head, "head", days(BEFORE))
    end(demo_client, admin_headers, assignment, days(-1))
    headers = login(demo_client, head)

    codes, text = listed(demo_client, headers)
    assert codes == set() and CALLER not in text and OTHER_CALLER not in text
    for case in (here, there):
        shown = demo_client.get(f"/api/cases/{case.code}", headers=headers)
        assert shown.status_code == 404 and CALLER not in shown.text and OTHER_CALLER not in shown.text
    assert scope_of(db=db, principal=head).everything is False


def test_the_last_day_is_in_force_and_the_day_after_is_not(demo_db):
    """``ends_on`` is the last day, inclusive; ``starts_on`` the first."""
    db = demo_db
    inspector = make_user(db, ["inspector"])
    assignment = grid_people.assign(
        db=db, grid_code=village_point(db, OTHER_DISTRICT)[0], user=inspector.user, role="inspector",
        starts_on=days(BEFORE),
    )  # fmt: skip
    for first_day, last_day, in_force in (
        (days(BEFORE), days(LATER), True),
        (days(BEFORE), days(0), True),
        (days(0), days(0), True),
        (days(BEFORE), days(-1), False),
        (days(1), None, False),
    ):
        assignment.starts_on, assignment.ends_on = first_day, last_day
        db.flush()
        assert bool(scope_of(db=db, principal=inspector).grid_paths) is in_force, (first_day, last_day)


def test_an_inspector_with_a_future_end_keeps_the_grid_today(demo_client, world, admin_headers):
    db, here, there = world["db"], world["here"], world["there"]
    village = village_point(db, OTHER_DISTRICT)[0]
    inspector = make_user(db, ["inspector"])
    assignment = assign(demo_client, admin_headers, village, inspector, "inspector", days(BEFORE))
    end(demo_client, admin_headers, assignment, days(0) + timedelta(days=10))
    headers = login(demo_client, inspector)

    codes, _ = listed(demo_client, headers)
    assert here.code in codes and there.code not in codes
    assert demo_client.get(f"/api/cases/{here.code}", headers=headers).status_code == 200


def test_an_assignment_starting_tomorrow_gives_no_scope_today(demo_client, world, admin_headers):
    db, here = world["db"], world["here"]
    head = make_user(db, ["grid_head"])
    inspector = make_user(db, ["inspector"])
    assign(demo_client, admin_headers, OTHER_DISTRICT, head, "head", days(1))
    assign(demo_client, admin_headers, village_point(db, OTHER_DISTRICT)[0], inspector, "inspector", days(1))
    for who in (head, inspector):
        codes, text = listed(demo_client, login(demo_client, who))
        assert codes == set() and CALLER not in text and OTHER_CALLER not in text
        assert demo_client.get(f"/api/cases/{here.code}", headers=login(demo_client, who)).status_code == 404


def test_city_wide_scope_comes_from_a_role_never_from_a_missing_assignment(demo_db, world):
    db, here, there = world["db"], world["here"], world["there"]

    def sees(who: Principal) -> set[str]:
        cases, _ = queries.list_cases(
            db=db, scope=scope_of(db=db, principal=who), filters=queries.CaseFilter(), limit=500
        )
        return {case.code for case in cases} & {here.code, there.code}

    assert sees(make_user(db, ["grid_head"])) == set()  # a head heading nothing sees nothing
    assert sees(make_user(db, ["inspector"])) == set()
    for role in ("acceptor", "shift_lead", "dispatcher", "leader"):
        assert sees(make_user(db, [role])) == {here.code, there.code}, role  # no home grid: the city
        assert sees(make_user(db, [role], grid=DISTRICT)) == {there.code}, role  # narrowed to its district
    # A leader who also heads a grid keeps the city: an assignment never narrows a city-wide role.
    leader = make_user(db, ["leader", "grid_head"])
    grid_people.assign(db=db, grid_code=OTHER_DISTRICT, user=leader.user, role="head", starts_on=days(BEFORE))
    assert sees(leader) == {here.code, there.code}
    # Their own reports they see whatever their scope.
    nobody = make_user(db, ["grid_head", "inspector"])
    mine = report(db, nobody, *village_point(db, DISTRICT, 1)[1:])
    assert queries.get_case(db=db, scope=scope_of(db=db, principal=nobody), code=mine.code) is mine


def test_a_new_head_replaces_the_current_one_from_its_first_day(demo_db):
    db = demo_db
    grid, other_grid = village_point(db, OTHER_DISTRICT)[0], village_point(db, OTHER_DISTRICT, 1)[0]
    first, second, third, fourth = (make_user(db, ["grid_head"]) for _ in range(4))

    def heads_today(code: str) -> list[int]:
        return [a.user_id for a, _ in grid_people.assignments(db=db, grid_code=code) if a.role == "head"]

    a = grid_people.assign(db=db, grid_code=grid, user=first.user, role="head", starts_on=days(BEFORE))
    grid_people.end_assignment(db=db, assignment_id=a.id, ends_on=days(LATER))
    # The next head scheduled after the first one's last day: neither blocks nor ends the other.
    after = days(LATER) + timedelta(days=1)
    b = grid_people.assign(db=db, grid_code=grid, user=second.user, role="head", starts_on=after)
    assert (a.ends_on, b.starts_on, b.ends_on) == (days(LATER), after, None)
    assert heads_today(grid) == [first.user_id]
    assert scope_of(db=db, principal=first).grid_paths != ()
    assert scope_of(db=db, principal=second).grid_paths == ()  # not in force yet
    # A head from today while another is scheduled to start later: refused, nothing changed.
    with pytest.raises(Conflict) as scheduled:
        grid_people.assign(db=db, grid_code=grid, user=third.user, role="head", starts_on=days(0))
    assert scheduled.value.code == "grid.head_scheduled"
    assert scheduled.value.params == {"grid": grid, "starts_on": after}
    db.refresh(a)
    assert a.ends_on == days(LATER)

    # A head from today ends the head in force (open-ended or with an end still ahead) the day before.
    c = grid_people.assign(db=db, grid_code=other_grid, user=third.user, role="head", starts_on=days(BEFORE))
    grid_people.end_assignment(db=db, assignment_id=c.id, ends_on=days(LATER))
    d = grid_people.assign(db=db, grid_code=other_grid, user=fourth.user, role="head", starts_on=days(0))
    assert (c.ends_on, d.ends_on) == (days(-1), None)
    assert heads_today(other_grid) == [fourth.user_id]
    assert scope_of(db=db, principal=third).grid_paths == ()
    assert len(scope_of(db=db, principal=fourth).grid_paths) == 1
    open_heads = select(func.count()).where(
        GridAssignment.grid_code == other_grid,
        GridAssignment.role == "head",
        GridAssignment.ends_on.is_(None),
    )
    assert db.scalar(open_heads) == 1


def test_an_end_already_set_can_be_brought_forward_never_put_off(demo_client, world, admin_headers):
    db, here = world["db"], world["here"]
    head = make_user(db, ["grid_head"])
    assignment = assign(demo_client, admin_headers, OTHER_DISTRICT, head, "head", days(BEFORE))
    end(demo_client, admin_headers, assignment, days(LATER))

    def end_on(day: date):
        body = {"ends_on": day.isoformat()}
        return demo_client.post(f"/api/assignments/{assignment}/end", json=body, headers=admin_headers)

    put_off = end_on(days(LATER) + timedelta(days=1))
    assert put_off.status_code == 409 and put_off.json()["code"] == "grid.assignment_end_fixed"
    assert put_off.json()["params"] == {"ends_on": days(LATER).isoformat()}
    assert days(LATER).isoformat() in put_off.json()["detail"]
    end(demo_client, admin_headers, assignment, days(-1))  # the head leaves at once
    codes, text = listed(demo_client, login(demo_client, head))
    assert here.code not in codes and CALLER not in text
    assert end_on(days(-1)).status_code == 409  # it has ended
