"""Dispatch in two tiers on the demo city (docs/DOMAIN.md section 5, "Two tiers and the simple flow"): where a
filed case goes among nested and deactivated dispatch centers, whose 待派遣 and 已回退 queues hold it, who may
dispatch it and send it up (上报上级), the street teams kept inside their street, and the co-handling (协办)
departments of a dispatch."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from server import messages
from server.auth.principal import ADMINISTRATOR, Principal
from server.case import queries, tiers
from server.case.scope import scope_of
from server.case.states import State
from server.category import service as category_service
from server.category.schemas import DepartmentIn, DispatchCenterEdit, DispatchCenterIn
from server.errors import Conflict, DomainError, Forbidden, Invalid
from server.grid.models import CURRENT, Grid
from tests.server.case_world import DISTRICT, act, make_user, village_point
from tests.server.test_case_http import login
from tests.server.test_case_transitions import case_in, last_event

DISTRICT_CENTER = "历下区指挥分中心"


@dataclass
class Street:
    code: str
    name: str
    point: tuple[float, float]  # well inside one of its villages
    team: str  # the code of its own team (街道队伍)
    inspector: Principal  # patrols that village: it verifies the reports there


@dataclass
class World:
    db: Session
    here: Street  # it has a sub-center (分中心) and a dispatcher there
    there: Street  # no sub-center: the top dispatches its cases
    street_dispatcher: Principal  # home grid: ``here``
    district_dispatcher: Principal  # home grid: the district (a center only where a test makes it one)
    city_dispatcher: Principal  # no home grid


def _center(db: Session, grid_code: str, name: str) -> None:
    category_service.create_dispatch_center(db=db, data=DispatchCenterIn(grid_code=grid_code, name=name))


def _deactivate(db: Session, grid_code: str) -> None:
    category_service.edit_dispatch_center(db=db, grid_code=grid_code, data=DispatchCenterEdit(active=False))


@pytest.fixture
def world(demo_db) -> World:
    db = demo_db
    rows = db.scalars(
        select(Grid).where(CURRENT, Grid.level == "street", Grid.parent_code == DISTRICT).order_by(Grid.code)
    ).all()[:2]
    streets = []
    for n, row in enumerate(rows):
        team = f"team_tiers_{n}"
        data = DepartmentIn(code=team, name=f"{row.name}综合执法队", grid_code=row.code)
        category_service.create_department(db=db, data=data)
        village, lon, lat = village_point(db, row.code)
        inspector = make_user(db, ["inspector"], inspects=village)
        streets.append(Street(row.code, row.name, (lon, lat), team, inspector))
    here, there = streets
    _center(db, here.code, f"{here.name}分中心")
    return World(
        db=db,
        here=here,
        there=there,
        street_dispatcher=make_user(db, ["dispatcher"], grid=here.code),
        district_dispatcher=make_user(db, ["dispatcher"], grid=DISTRICT),
        city_dispatcher=make_user(db, ["dispatcher"]),
    )


def filed(w: World, street: Street, state: State = State.FILED):
    return case_in(w.db, state, where=street.point, inspector=street.inspector)


def queue(db: Session, who: Principal, name: str, cases) -> set[str]:
    """Which of ``cases`` the queue ``name`` holds for ``who``."""
    scope = scope_of(db=db, principal=who)
    listed, _ = queries.list_cases(db=db, scope=scope, filters=queries.CaseFilter(queue=name), limit=500)
    return {c.code for c in listed} & {c.code for c in cases}


def refused(exc: pytest.ExceptionInfo, code: str, **params) -> None:
    error: DomainError = exc.value
    assert (error.code, error.params) == (code, params)
    assert error.message == messages.text(code, **params)


# -- where a filed case goes ------------------------------------------------------------------------------


def test_a_filed_case_goes_to_the_deepest_active_center_holding_it(world):
    w, db = world, world.db
    assert filed(w, w.here).dispatch_center == w.here.code
    assert filed(w, w.there).dispatch_center is None  # no center below the top holds it
    _center(db, DISTRICT, DISTRICT_CENTER)  # nested: the district's center above the street's
    case = filed(w, w.here)
    assert case.dispatch_center == w.here.code
    assert last_event(db, case).data["dispatch_center"] == w.here.code
    assert filed(w, w.there).dispatch_center == DISTRICT
    _deactivate(db, w.here.code)
    assert filed(w, w.here).dispatch_center == DISTRICT
    _deactivate(db, DISTRICT)
    assert filed(w, w.here).dispatch_center is None
    registered = case_in(db, State.REGISTERED, where=w.here.point, inspector=w.here.inspector)
    assert registered.dispatch_center is None  # only filing sets it


def test_the_dispatch_queues_hold_the_cases_of_the_dispatchers_center(world):
    w, db = world, world.db
    mine, top = filed(w, w.here), filed(w, w.there)
    returned = filed(w, w.here, State.RETURNED)
    cases = [mine, top, returned]
    assert queue(db, w.street_dispatcher, "dispatch", cases) == {mine.code}
    assert queue(db, w.street_dispatcher, "returned", cases) == {returned.code}
    for dispatcher in (w.district_dispatcher, w.city_dispatcher):
        assert queue(db, dispatcher, "dispatch", cases) == {top.code}
        assert queue(db, dispatcher, "returned", cases) == set()
    assert queue(db, ADMINISTRATOR, "dispatch", cases) == {mine.code, top.code}
    # A center deactivated with cases waiting: the top takes them, and its dispatcher works for the top.
    _deactivate(db, w.here.code)
    assert queue(db, w.city_dispatcher, "dispatch", cases) == {mine.code, top.code}
    assert queue(db, w.city_dispatcher, "returned", cases) == {returned.code}
    assert queue(db, w.street_dispatcher, "dispatch", cases) == {mine.code}  # its scope: the street


def test_only_the_center_holding_a_case_dispatches_it(world):
    w, db = world, world.db
    _deactivate(db, w.here.code)
    early = filed(w, w.here)  # filed while the street's center was out of use: the top's
    category_service.edit_dispatch_center(db=db, grid_code=w.here.code, data=DispatchCenterEdit(active=True))
    case = filed(w, w.here)
    assert (early.dispatch_center, case.dispatch_center) == (None, w.here.code)

    for dispatcher in (w.district_dispatcher, w.city_dispatcher):
        with pytest.raises(Forbidden) as exc:
            act(db, dispatcher, case, "dispatch")
        refused(exc, "case.other_center", center=f"{w.here.name}分中心")
    with pytest.raises(Forbidden) as exc:
        act(db, w.street_dispatcher, early, "dispatch")
    refused(exc, "case.other_center", center=tiers.TOP)

    act(db, w.street_dispatcher, case, "dispatch")
    act(db, w.city_dispatcher, early, "dispatch")
    assert (case.state, early.state) == (State.DISPATCHED, State.DISPATCHED)


def test_escalate_sends_a_case_up_one_center_at_a_time(world):
    w, db = world, world.db
    _center(db, DISTRICT, DISTRICT_CENTER)
    case = filed(w, w.here)
    version = case.version
    with pytest.raises(Forbidden) as exc:  # the district's center does not hold it yet
        act(db, w.district_dispatcher, case, "escalate", reason="跨街道")
    refused(exc, "case.other_center", center=f"{w.here.name}分中心")
    with pytest.raises(Invalid) as exc:
        act(db, w.street_dispatcher, case, "escalate")
    refused(exc, "case.field_required", action="上报上级", field="原因")

    act(db, w.street_dispatcher, case, "escalate", reason="涉及两个街道，需区级协调")
    assert (case.state, case.version, case.dispatch_center) == (State.FILED, version + 1, DISTRICT)
    event = last_event(db, case)
    assert (event.action, event.state_before, event.state_after) == ("escalate", "filed", "filed")
    assert (
        event.data.items()
        >= {
            "reason": "涉及两个街道，需区级协调",
            "from": w.here.code,
            "from_name": f"{w.here.name}分中心",
            "to": DISTRICT,
            "to_name": DISTRICT_CENTER,
        }.items()
    )
    with pytest.raises(Forbidden) as exc:
        act(db, w.street_dispatcher, case, "dispatch")
    refused(exc, "case.other_center", center=DISTRICT_CENTER)

    act(db, w.district_dispatcher, case, "escalate", reason="需市级协调")
    assert case.dispatch_center is None
    assert (last_event(db, case).data["to"], last_event(db, case).data["to_name"]) == (None, tiers.TOP)
    with pytest.raises(Conflict) as exc:
        act(db, w.city_dispatcher, case, "escalate", reason="再上报")
    refused(exc, "case.top_center")
    act(db, w.city_dispatcher, case, "dispatch")
    assert case.state == State.DISPATCHED


def test_a_returned_case_goes_back_to_its_center_which_may_send_it_up(world):
    w, db = world, world.db
    case = filed(w, w.here, State.RETURNED)
    assert case.dispatch_center == w.here.code
    act(db, w.street_dispatcher, case, "escalate", reason="街道无力处置")
    assert (case.state, case.dispatch_center) == (State.RETURNED, None)
    assert queue(db, w.city_dispatcher, "returned", [case]) == {case.code}
    assert queue(db, w.street_dispatcher, "returned", [case]) == set()


def test_a_street_team_handles_only_the_cases_inside_its_street(world):
    w, db = world, world.db
    outside = filed(w, w.there)
    team = category_service.get_department(db=db, code=w.here.team)
    for fields in ({"lead_department": w.here.team}, {"parallel_departments": [w.here.team]}):
        with pytest.raises(Invalid) as exc:
            act(db, w.city_dispatcher, outside, "dispatch", **fields)
        refused(exc, "case.team_outside_street", department=team.name, street=w.here.name)
    assert outside.state == State.FILED

    # inside its street: the street's dispatcher sends it to its own team, with a co-handling department
    case = filed(w, w.here)
    act(
        db,
        w.street_dispatcher,
        case,
        "dispatch",
        lead_department=w.here.team,
        parallel_departments=["enforcement"],
    )
    rows = [(d.code, x.lead, x.ended_at) for x, d in queries.dispatches(db=db, case=case)]
    assert rows == [(w.here.team, True, None), ("enforcement", False, None)]
    assert last_event(db, case).data["departments"] == {"lead": w.here.team, "parallel": ["enforcement"]}


# -- over HTTP ----------------------------------------------------------------------------------------------


def test_http_the_form_offers_the_departments_the_case_may_go_to(world, demo_client):
    w = world
    headers = login(demo_client, w.street_dispatcher)
    case = filed(w, w.here)
    resp = demo_client.get(f"/api/cases/{case.code}/departments", headers=headers)
    assert resp.status_code == 200, resp.text
    offered = {d["code"]: d["street"] for d in resp.json()}
    assert offered[w.here.team] == w.here.name  # its own street's team, with the street's name
    assert w.there.team not in offered
    assert offered["enforcement"] is None and offered["sanitation_lx"] is None
    city_headers = login(demo_client, w.city_dispatcher)
    other = filed(w, w.there)
    offered = {
        d["code"]
        for d in demo_client.get(f"/api/cases/{other.code}/departments", headers=city_headers).json()
    }
    assert w.there.team in offered and w.here.team not in offered

    flow = demo_client.get("/api/cases/workflow", headers=headers).json()
    forms = {a["name"]: {f["name"]: f for f in a["fields"]} for a in flow["actions"]}
    assert forms["dispatch"]["parallel_departments"]["kind"] == "departments"
    assert forms["dispatch"]["parallel_departments"]["label"] == "协办部门"
    assert forms["escalate"]["reason"]["required"]


def test_http_the_wrong_center_is_told_which_center_dispatches(world, demo_client):
    w = world
    case = filed(w, w.here)
    headers = login(demo_client, w.city_dispatcher)
    center = f"{w.here.name}分中心"
    detail = demo_client.get(f"/api/cases/{case.code}", headers=headers).json()
    assert detail["actions"]["dispatch"] == messages.text("case.other_center", center=center)
    assert detail["actions"]["escalate"] == messages.text("case.other_center", center=center)
    resp = demo_client.post(
        f"/api/cases/{case.code}/actions/dispatch", json={"version": case.version}, headers=headers
    )
    assert resp.status_code == 403
    assert resp.json() == {
        "detail": messages.text("case.other_center", center=center),
        "code": "case.other_center",
        "params": {"center": center},
    }
    street = login(demo_client, w.street_dispatcher)
    listed = demo_client.get("/api/cases", params={"queue": "dispatch"}, headers=street).json()
    assert case.code in {c["code"] for c in listed["items"]}
    detail = demo_client.get(f"/api/cases/{case.code}", headers=street).json()
    assert detail["actions"]["dispatch"] is None and detail["actions"]["escalate"] is None
