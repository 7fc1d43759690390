"""The simple flow (简易流程 / 即报即处) on the demo city (docs/DOMAIN.md section 5, "Two tiers and the simple
flow"): an inspector who fixed a small problem on the spot reports it so, only in a category that allows it;
the case waits only for the shift lead's closing, which needs the inspector's before and after photos; a
retried report stays the same case."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from server import messages
from server.case import intake
from server.case.schemas import ReportIn
from server.case.states import State
from server.errors import Conflict, DomainError, Forbidden, Invalid
from tests.server.case_world import DISTRICT, act, jpeg, make_user, photo, report, village_point
from tests.server.test_case_http import login
from tests.server.test_case_transitions import last_event

SPOT = "E07002"  # 违规张贴悬挂宣传品 (small adverts): may be fixed on the spot
NOT_SPOT = "E06010"  # exposed garbage: may not


@pytest.fixture
def people(demo_db) -> dict:
    village, lon, lat = village_point(demo_db)
    return {
        "db": demo_db,
        "lon": lon,
        "lat": lat,
        "inspector": make_user(demo_db, ["inspector"], inspects=village),
        "colleague": make_user(demo_db, ["inspector"], inspects=village),
        "acceptor": make_user(demo_db, ["acceptor"], grid=DISTRICT),
        "lead": make_user(demo_db, ["shift_lead"], grid=DISTRICT),
    }


def refused(exc: pytest.ExceptionInfo, code: str, **params) -> None:
    error: DomainError = exc.value
    assert (error.code, error.params) == (code, params)
    assert error.message == messages.text(code, **params)


def test_a_problem_fixed_on_the_spot_waits_only_for_closing(people):
    db, inspector = people["db"], people["inspector"]
    case = report(db, inspector, people["lon"], people["lat"], category=SPOT, fixed_on_site=True)
    assert (case.state, case.channel) == (State.CHECKED, "inspector")
    assert case.dispatched_at is None and case.dispatch_center is None
    assert case.step_due_at is not None  # the shift lead's step runs on its clock
    event = last_event(db, case)
    assert (event.action, event.state_after, event.data["simple_flow"]) == ("report", "checked", True)
    plain = report(db, inspector, people["lon"], people["lat"], category=SPOT)
    assert plain.state == State.REGISTERED and "simple_flow" not in last_event(db, plain).data


def test_only_an_inspector_and_only_in_a_category_that_allows_it(people):
    db = people["db"]
    with pytest.raises(Invalid) as exc:
        report(db, people["inspector"], people["lon"], people["lat"], category=NOT_SPOT, fixed_on_site=True)
    refused(exc, "case.simple_flow_category", category=NOT_SPOT, name="暴露垃圾")
    with pytest.raises(Invalid) as exc:
        report(
            db, people["acceptor"], people["lon"], people["lat"], category=SPOT, channel="hotline",
            fixed_on_site=True,
        )  # fmt: skip
    refused(exc, "case.simple_flow_channel")


def test_closing_needs_the_inspectors_before_and_after_photos(people):
    db, inspector, lead = people["db"], people["inspector"], people["lead"]
    case = report(db, inspector, people["lon"], people["lat"], category=SPOT, fixed_on_site=True)
    with pytest.raises(Conflict) as exc:
        act(db, lead, case, "close")
    refused(exc, "case.simple_flow_photos", missing="处置前和处置后")
    before = photo(db, inspector, case, "before")
    with pytest.raises(Conflict) as exc:
        act(db, lead, case, "close")
    refused(exc, "case.simple_flow_photos", missing="处置后")
    with pytest.raises(Forbidden) as exc:  # after-photos are the reporter's own, here
        photo(db, people["colleague"], case, "after")
    assert exc.value.code == "case.photo_role_required"
    after = photo(db, inspector, case, "after")
    assert (before.role, after.role) == ("before", "after")

    act(db, lead, case, "close")
    assert (case.state, case.close_kind) == (State.CLOSED, "normal")
    event = last_event(db, case)
    assert (event.action, event.data["simple_flow"], event.data["kind"]) == ("close", True, "normal")


def test_a_reporter_adds_after_photos_only_to_a_problem_it_fixed_on_the_spot(people):
    db, inspector = people["db"], people["inspector"]
    case = report(db, inspector, people["lon"], people["lat"], category=SPOT)
    with pytest.raises(Forbidden) as exc:
        photo(db, inspector, case, "after")
    assert exc.value.code == "case.photo_role_required"


def test_a_retry_is_the_same_case_and_old_reports_keep_their_hash(people):
    db, inspector = people["db"], people["inspector"]
    data = ReportIn(
        client_uuid=uuid.uuid4(), category=SPOT, lon=people["lon"], lat=people["lat"], fixed_on_site=True
    )
    case, created = intake.accept(db=db, principal=inspector, data=data)
    again, created_again = intake.accept(db=db, principal=inspector, data=data.model_copy())
    assert (created, created_again, again.id, again.state) == (True, False, case.id, State.CHECKED)
    with pytest.raises(Conflict) as exc:  # the same UUID, not fixed on the spot: another report
        intake.accept(db=db, principal=inspector, data=data.model_copy(update={"fixed_on_site": False}))
    assert exc.value.code == "case.client_uuid_taken"

    # A report queued before the field existed hashes as it did then.
    plain = ReportIn(client_uuid=uuid.uuid4(), category=SPOT, lon=people["lon"], lat=people["lat"])
    old = plain.model_dump(
        mode="json", exclude={"client_uuid", "fixed_on_site", "position_source", "request_type"}
    )
    old["reporter_id"] = inspector.user_id
    digest = hashlib.sha256(json.dumps(old, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    assert intake.content_hash(plain, inspector.user_id) == digest


def test_http_report_and_close_with_the_reason_shown(people, demo_client):
    inspector = people["inspector"]
    headers = login(demo_client, inspector)
    body = {"client_uuid": str(uuid.uuid4()), "category": SPOT, "lon": people["lon"], "lat": people["lat"]}
    resp = demo_client.post("/api/cases", json={**body, "fixed_on_site": True}, headers=headers)
    assert resp.status_code == 201, resp.text
    case = resp.json()
    assert (case["state"], case["state_label"]) == ("checked", "待结案")
    refusal = demo_client.post(
        "/api/cases",
        json={**body, "client_uuid": str(uuid.uuid4()), "category": NOT_SPOT, "fixed_on_site": True},
        headers=headers,
    )
    assert (refusal.status_code, refusal.json()["code"]) == (422, "case.simple_flow_category")

    lead = login(demo_client, people["lead"])
    detail = demo_client.get(f"/api/cases/{case['code']}", headers=lead).json()
    assert detail["actions"]["close"] == messages.text("case.simple_flow_photos", missing="处置前和处置后")
    for role, color in (("before", (200, 80, 40)), ("after", (40, 160, 80))):
        files = {"file": (f"{role}.jpg", jpeg(people["lon"], people["lat"], color=color), "image/jpeg")}
        resp = demo_client.post(
            f"/api/cases/{case['code']}/photos", params={"role": role}, files=files, headers=headers
        )
        assert resp.status_code == 201, resp.text
    detail = demo_client.get(f"/api/cases/{case['code']}", headers=lead).json()
    assert detail["actions"]["close"] is None
    resp = demo_client.post(
        f"/api/cases/{case['code']}/actions/close", json={"version": detail["version"]}, headers=lead
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["state"] == "closed"
