"""The case desk's server side on the demo city: queues by role with their counts and lists, duplicate
candidates, and cases in a bounding box as GeoJSON, each within the user's scope."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from server.case.models import Case
from tests.server.case_world import OTHER_DISTRICT, act, make_user, report, team, village_point
from tests.server.test_case_http import login


@pytest.fixture
def world(demo_db, demo_client):
    people = team(demo_db)
    return {**people, "client": demo_client}


def counts(client, headers) -> dict[str, tuple[int, int]]:
    resp = client.get("/api/cases/queues", headers=headers)
    assert resp.status_code == 200, resp.text
    return {q["name"]: (q["count"], q["overdue"]) for q in resp.json()}


def queue(client, headers, name: str) -> list[str]:
    resp = client.get("/api/cases", params={"queue": name}, headers=headers)
    assert resp.status_code == 200, resp.text
    return [c["code"] for c in resp.json()["items"]]


def test_queues_follow_the_workflow_by_role(world):
    db, client = world["db"], world["client"]
    lon, lat = world["lon"], world["lat"]
    hotline = report(db, world["acceptor"], lon, lat, channel="hotline")
    own = report(db, world["inspector"], lon + 0.0005, lat, category="E09009")
    filed = report(db, world["inspector"], lon, lat + 0.0005)
    act(db, world["lead"], filed, "file")
    h = {name: login(client, world[name]) for name in ("acceptor", "lead", "dispatcher", "department")}

    acceptor = counts(client, h["acceptor"])
    assert set(acceptor) == {"special", "register", "verify", "check", "checking", "due_soon", "overdue"}
    assert acceptor["register"] == (1, 0)
    assert queue(client, h["acceptor"], "register") == [hotline.code]
    lead = counts(client, h["lead"])
    assert lead["file"] == (1, 0) and queue(client, h["lead"], "file") == [own.code]
    assert "dispatch" not in lead
    assert counts(client, h["dispatcher"])["dispatch"] == (1, 0)
    assert queue(client, h["dispatcher"], "dispatch") == [filed.code]
    # the department sees nothing until a case is dispatched to it
    assert counts(client, h["department"]) == {
        "receive": (0, 0), "handle": (0, 0), "supervision": (0, 0), "due_soon": (0, 0), "overdue": (0, 0)
    }  # fmt: skip

    act(db, world["dispatcher"], filed, "dispatch")
    assert counts(client, h["department"])["receive"] == (1, 0)  # 待签收 until it signs
    act(db, world["department"], filed, "request_extension", extension="4h", reason="材料未到")
    assert counts(client, h["department"])["receive"] == (0, 0)
    assert counts(client, h["dispatcher"])["extension"] == (1, 0)
    assert counts(client, h["department"])["handle"] == (1, 0)
    assert queue(client, h["dispatcher"], "extension") == [filed.code]

    # overdue and due soon follow the step's deadline and yellow instant
    db.execute(
        update(Case)
        .where(Case.id == hotline.id)
        .values(step_due_at=func.now() - timedelta(minutes=1), step_yellow_at=func.now() - timedelta(hours=1))
    )
    db.execute(
        update(Case)
        .where(Case.id == own.id)
        .values(step_due_at=func.now() + timedelta(hours=1), step_yellow_at=func.now() - timedelta(minutes=1))
    )
    db.commit()
    acceptor = counts(client, h["acceptor"])
    assert acceptor["register"] == (1, 1)
    assert acceptor["overdue"][0] == 1 and queue(client, h["acceptor"], "overdue") == [hotline.code]
    assert queue(client, h["acceptor"], "due_soon") == [own.code]

    # a user of another district sees none of it
    other = make_user(db, ["acceptor", "shift_lead", "dispatcher"], grid=OTHER_DISTRICT)
    assert all(n == (0, 0) for n in counts(client, login(client, other)).values())
    assert client.get("/api/cases", params={"queue": "nonsense"}, headers=h["acceptor"]).status_code == 422


def test_a_department_queue_holds_only_the_cases_it_leads_now(world):
    """A case returned by a department and dispatched to another leaves the first department's open-work
    queues (处置中, 已超时): it still sees the case in its history, but no longer works it."""
    db, client = world["db"], world["client"]
    case = report(db, world["inspector"], world["lon"], world["lat"])
    act(db, world["lead"], case, "file")
    act(db, world["dispatcher"], case, "dispatch")
    first = login(client, world["department"])
    assert queue(client, first, "handle") == [case.code]
    act(db, world["department"], case, "return", reason="属于执法部门")
    act(db, world["dispatcher"], case, "dispatch", lead_department="enforcement", reason="属于执法部门")
    db.execute(update(Case).where(Case.id == case.id).values(step_due_at=func.now() - timedelta(minutes=1)))
    db.commit()
    assert queue(client, first, "handle") == [] and queue(client, first, "overdue") == []
    assert counts(client, first) == {
        "receive": (0, 0), "handle": (0, 0), "supervision": (0, 0), "due_soon": (0, 0), "overdue": (0, 0)
    }  # fmt: skip
    assert client.get(f"/api/cases/{case.code}", headers=first).status_code == 200  # its history stays
    enforcement = login(client, make_user(db, ["department"], department="enforcement"))
    assert queue(client, enforcement, "handle") == [case.code] == queue(client, enforcement, "overdue")
    assert counts(client, enforcement)["handle"] == (1, 1)
    dispatcher = login(client, world["dispatcher"])
    assert case.code in queue(client, dispatcher, "handle")


def test_queues_sort_by_urgency_then_deadline(world):
    db, client = world["db"], world["client"]
    lon, lat = world["lon"], world["lat"]
    normal = report(db, world["acceptor"], lon, lat, channel="hotline", urgency="normal")
    urgent = report(
        db, world["acceptor"], lon, lat + 0.001, channel="hotline", urgency="urgent", category="E07001"
    )
    later = report(
        db, world["acceptor"], lon + 0.001, lat, channel="hotline", urgency="normal", category="E09009"
    )
    db.execute(
        update(Case).where(Case.id == later.id).values(step_due_at=normal.step_due_at + timedelta(hours=1))
    )
    db.commit()
    assert queue(client, login(client, world["acceptor"]), "register") == [
        urgent.code,
        normal.code,
        later.code,
    ]


def test_duplicate_candidates_nearest_first_within_scope(world):
    db, client = world["db"], world["client"]
    lon, lat = world["lon"], world["lat"]
    first = report(db, world["acceptor"], lon, lat, channel="hotline")
    near = report(db, world["acceptor"], lon + 0.0002, lat, channel="hotline")
    other_kind = report(db, world["acceptor"], lon, lat, category="E09009", channel="hotline")
    h = login(client, world["acceptor"])
    resp = client.get(f"/api/cases/{near.code}/duplicates", headers=h)
    assert resp.status_code == 200, resp.text
    found = resp.json()
    assert [c["code"] for c in found] == [first.code]
    assert 10 < found[0]["distance_m"] < 30
    assert near.duplicate_of_id == first.id  # intake flagged the same candidate
    assert client.get(f"/api/cases/{other_kind.code}/duplicates", headers=h).json() == []
    # merged into the candidate, the case is gone from the candidates of the others
    act(db, world["acceptor"], near, "merge", master=first.code)
    assert client.get(f"/api/cases/{first.code}/duplicates", headers=h).json() == []
    other = make_user(db, ["acceptor"], grid=OTHER_DISTRICT)
    assert client.get(f"/api/cases/{first.code}/duplicates", headers=login(client, other)).status_code == 404


def test_cases_in_a_bounding_box_as_geojson(world):
    db, client = world["db"], world["client"]
    lon, lat = world["lon"], world["lat"]
    inside = report(db, world["acceptor"], lon, lat, channel="hotline")
    _, far_lon, far_lat = village_point(db, index=5)
    outside = report(db, world["acceptor"], far_lon, far_lat, channel="hotline", category="E09009")
    h = login(client, world["acceptor"])
    bbox = f"{lon - 0.001},{lat - 0.001},{lon + 0.001},{lat + 0.001}"
    resp = client.get("/api/cases/bbox", params={"bbox": bbox}, headers=h)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/geo+json")
    body = resp.json()
    assert body["type"] == "FeatureCollection" and body["total"] == 1
    (feature,) = body["features"]
    assert feature["id"] == inside.code and feature["properties"]["state"] == "reported"
    assert feature["geometry"]["coordinates"] == pytest.approx([lon, lat])
    assert outside.code not in {f["id"] for f in body["features"]}
    assert (
        client.get("/api/cases/bbox", params={"bbox": bbox, "state": "closed"}, headers=h).json()["total"]
        == 0
    )
    other = make_user(db, ["acceptor"], grid=OTHER_DISTRICT)
    assert (
        client.get("/api/cases/bbox", params={"bbox": bbox}, headers=login(client, other)).json()["total"]
        == 0
    )
    bad = client.get("/api/cases/bbox", params={"bbox": "1,2,3"}, headers=h)
    assert bad.status_code == 422 and "西,南,东,北" in bad.json()["detail"]
    assert db.scalar(select(func.count()).select_from(Case)) == 2


def test_workflow_lists_states_and_actions_with_labels(world):
    body = world["client"].get("/api/cases/workflow").json()
    states = {s["name"]: s for s in body["states"]}
    assert states["filed"]["label"] == "待派遣" and not states["filed"]["terminal"]
    assert states["closed"]["terminal"]
    actions = {a["name"]: a for a in body["actions"]}
    dispatch = {"label": "派遣", "sources": ["filed", "returned"], "roles": ["admin", "dispatcher"]}
    fields = [{"name": "lead_department", "label": "主办部门", "kind": "department", "required": False}]
    fields[0] |= {"choices": [], "empty": "按类别默认", "role": None, "max_length": None}
    fields.append({"name": "parallel_departments", "label": "协办部门", "kind": "departments"})
    fields[1] |= {"required": False, "choices": [], "empty": None, "role": None, "max_length": None}
    fields.append({"name": "reason", "label": "改派理由（改派给首办部门以外的部门时必填）", "kind": "text"})
    fields[2] |= {"required": False, "choices": [], "empty": None, "role": None, "max_length": 500}
    assert actions["dispatch"] == {"name": "dispatch", **dispatch, "fields": fields}


def test_an_inspector_works_the_tasks_assigned_to_them(world):
    db, client = world["db"], world["client"]
    case = report(db, world["acceptor"], world["lon"], world["lat"], channel="hotline")
    other = make_user(db, ["inspector"], inspects=world["village"])
    h = login(client, world["inspector"])
    assert counts(client, h) == {"tasks": (0, 0)}
    act(db, world["acceptor"], case, "request_verification", inspector_id=world["inspector"].user_id)
    assert counts(client, h) == {"tasks": (1, 0)} and queue(client, h, "tasks") == [case.code]
    assert counts(client, login(client, other)) == {"tasks": (0, 0)}
