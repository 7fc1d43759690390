"""The case workflow through HTTP alone, on the demo city: every actor logs in at /api/auth/login, an
inspector's report goes from intake to closing, and the detail, photos, lists, sync routes and the OpenAPI
document show it as a client sees it."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from PIL import ExifTags, Image
from sqlalchemy import event, func, select

from gis.crs import distance_m, wgs84_to_gcj02
from server import messages
from server.auth.principal import Principal
from server.case.flows import ACTIONS
from server.case.models import Case
from server.config import get_settings
from server.grid.models import CURRENT, Grid
from tests.server.case_world import (
    DISTRICT,
    OTHER_DISTRICT,
    PASSWORD,
    jpeg,
    make_user,
    report,
    team,
    village_point,
)
from tests.server.case_world import act as case_act

OUTSIDE = (100.0, 30.0)  # a valid position far from the demo city


def login(client: TestClient, who: Principal) -> dict[str, str]:
    """The Authorization header of ``who``, logged in over HTTP with the password."""
    body = {
        "login": who.user.phone,
        "password": PASSWORD,
        "device_id": f"test-device-{who.user.id}",
        "device_name": "pytest",
    }
    resp = client.post("/api/auth/login", json=body)
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def upload(client: TestClient, headers: dict, code: str, role: str, data: bytes, name: str = "photo.jpg"):
    """POST a photo file to a case, as a phone does (multipart)."""
    return client.post(
        f"/api/cases/{code}/photos",
        params={"role": role},
        files={"file": (name, data, "image/jpeg")},
        headers=headers,
    )


def act(client: TestClient, headers: dict, code: str, action: str, version: int, **fields) -> dict:
    resp = client.post(
        f"/api/cases/{code}/actions/{action}", json={"version": version, **fields}, headers=headers
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def new_report(lon: float, lat: float, category: str = "E06010", **fields) -> dict:
    return {"client_uuid": str(uuid.uuid4()), "category": category, "lon": lon, "lat": lat, **fields}


def gps_of(data: bytes) -> dict:
    return dict(Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo))


@pytest.fixture
def world(demo_db, demo_client):
    people = team(demo_db)
    roles = ("inspector", "acceptor", "lead", "dispatcher", "department")
    return {**people, "client": demo_client, "h": {name: login(demo_client, people[name]) for name in roles}}


def test_report_to_closed_over_http(world):
    client, h, lon, lat = world["client"], world["h"], world["lon"], world["lat"]

    # Collection: the inspector reports from the field with a geotagged photo.
    resp = client.post(
        "/api/cases",
        json=new_report(lon, lat, description="路边暴露垃圾", address="历下区"),
        headers=h["inspector"],
    )
    assert resp.status_code == 201, resp.text
    case = resp.json()
    code = case["code"]
    assert code.startswith(f"{DISTRICT}-")
    assert (case["state"], case["channel"], case["light"]) == ("registered", "inspector", "green")
    assert case["grid_code"].startswith(world["village"]) and len(case["grid_code"]) == 15
    grid = client.get(f"/api/grids/{case['grid_code']}", headers=h["lead"]).json()
    assert case["grid_name"] == grid["name"]  # the unit grid's name, for people
    assert case["position_source"] is None  # the report did not say how it placed itself
    before = jpeg(lon, lat)
    resp = upload(client, h["inspector"], code, "before", before)
    assert resp.status_code == 201, resp.text
    assert resp.json()["distance_m"] < 5 and resp.json()["far_from_report"] is False

    # The department sees nothing of it before it is dispatched there.
    assert client.get(f"/api/cases/{code}", headers=h["department"]).status_code == 404

    # Filing and dispatch: the department is the category's, with 历下区's override.
    filed = act(client, h["lead"], code, "file", case["version"])
    assert filed["state"] == "filed"
    dispatched = act(client, h["dispatcher"], code, "dispatch", filed["version"])
    category = client.get("/api/categories/E06010", headers=h["dispatcher"]).json()
    assert category["department"]["code"] == "sanitation"
    overrides = {o["district_code"]: o["department"]["code"] for o in category["district_overrides"]}
    assert overrides[DISTRICT] == "sanitation_lx"
    assert dispatched["state"] == "dispatched"
    assert dispatched["department"]["code"] == "sanitation_lx"
    assert [(d["department"]["code"], d["lead"]) for d in dispatched["dispatches"]] == [
        ("sanitation_lx", True)
    ]
    assert dispatched["handle_due_at"] == dispatched["due_at"]

    # Handling with an after-photo, then the check by the reporting inspector.
    seen = client.get(f"/api/cases/{code}", headers=h["department"]).json()
    after = jpeg(lon, lat, color=(40, 160, 90))
    assert upload(client, h["department"], code, "after", after).status_code == 201
    received = act(client, h["department"], code, "receive", seen["version"])
    assert received["received_by_department_at"] is not None
    assert received["receipt_light"] is None  # the receipt clock stops once the department signs
    handled = act(client, h["department"], code, "report_handling", received["version"], note="已清运完毕")
    assert handled["state"] == "handled"
    checking = act(client, h["acceptor"], code, "request_check", handled["version"])
    assert checking["task_assignee"] == world["inspector"].name

    tasks = client.get("/api/sync/tasks", params={"since": 0}, headers=h["inspector"]).json()
    (task,) = tasks["items"]
    assert (task["code"], task["kind"], task["active"]) == (code, "check", True)
    assert tasks["more"] is False
    assert {p["role"] for p in task["photos"]} == {"before", "after"}
    assert task["handling_note"] == "已清运完毕"  # what the department says it did, for the check
    assert tasks["photo_far_m"] == get_settings().photo_geotag_max_m

    check = jpeg(lon, lat, color=(90, 90, 200))
    assert upload(client, h["inspector"], code, "check", check).status_code == 201
    checked = act(client, h["inspector"], code, "reply_check", checking["version"], result="pass")
    assert checked["state"] == "checked"

    later = client.get("/api/sync/tasks", params={"since": tasks["cursor"]}, headers=h["inspector"]).json()
    (task,) = later["items"]
    assert (task["code"], task["state"], task["kind"], task["active"]) == (code, "checked", None, False)
    assert later["cursor"] > tasks["cursor"]
    reports = client.get("/api/sync/reports", params={"since": 0}, headers=h["inspector"]).json()
    assert [r["code"] for r in reports["items"]] == [code]

    # What the shift lead may do now: close, tag and untag, supervise (督办, 催办); of the others the state
    # allows to a shift lead, why not; nothing the state or the role rules out is offered.
    shown = client.get(f"/api/cases/{code}", headers=h["lead"]).json()
    assert shown["actions"] == {
        "close": None,
        "tag": None,
        "untag": None,
        "supervise": None,
        "urge": None,
        "keep_apart": messages.text("case.not_duplicate"),
    }
    assert shown["held_by"] == "由值班长办理"
    closed = act(client, h["lead"], code, "close", checked["version"])
    assert (closed["state"], closed["close_kind"], closed["light"], closed["due_at"]) == (
        "closed",
        "normal",
        None,
        None,
    )

    # The whole trail, in order.
    detail = client.get(f"/api/cases/{code}", headers=h["lead"]).json()
    assert (detail["actions"], detail["held_by"]) == ({}, None)  # over: nothing left for a shift lead
    inspector, lead, dispatcher = world["inspector"].name, world["lead"].name, world["dispatcher"].name
    department, acceptor = world["department"].name, world["acceptor"].name
    steps = [
        (e["action"], e["actor"], e["role"], e["state_before"], e["state_after"]) for e in detail["timeline"]
    ]
    assert steps == [
        ("report", inspector, "inspector", None, "registered"),
        ("add_photo", inspector, "inspector", "registered", "registered"),
        ("file", lead, "shift_lead", "registered", "filed"),
        ("dispatch", dispatcher, "dispatcher", "filed", "dispatched"),
        ("add_photo", department, "department", "dispatched", "dispatched"),
        ("receive", department, "department", "dispatched", "dispatched"),
        ("report_handling", department, "department", "dispatched", "handled"),
        ("request_check", acceptor, "acceptor", "handled", "checking"),
        ("add_photo", inspector, "inspector", "checking", "checking"),
        ("reply_check", inspector, "inspector", "checking", "checked"),
        ("close", lead, "shift_lead", "checked", "closed"),
    ]
    events = {e["action"]: e for e in detail["timeline"]}
    times = [e["at"] for e in detail["timeline"]]
    assert times == sorted(times)
    assert [e["due_at"] is None for e in detail["timeline"]] == [False] * 10 + [True]
    assert events["file"]["due_at"] == events["report"]["due_at"]  # filing and dispatch share one clock
    assert events["dispatch"]["due_at"] == detail["handle_due_at"]
    assert events["dispatch"]["data"]["departments"] == {"lead": "sanitation_lx", "parallel": []}
    lights = {e["action"]: e["data"].get("light") for e in detail["timeline"]}
    assert lights == {"report": None, "add_photo": None} | {
        name: "green"
        for name in (
            "file",
            "dispatch",
            "receive",
            "report_handling",
            "request_check",
            "reply_check",
            "close",
        )
    }
    assert events["report"]["lon"] == pytest.approx(lon) and events["report"]["lat"] == pytest.approx(lat)
    assert events["reply_check"]["data"]["result"] == "pass"

    # The photos: the original keeps its GPS, the public copy and the thumbnail carry none.
    assert [p["role"] for p in detail["photos"]] == ["before", "after", "check"]
    assert [e["photo_ids"] for e in detail["timeline"] if e["action"] == "add_photo"] == [
        [p["id"]] for p in detail["photos"]
    ]
    assert events["report_handling"]["photo_ids"] == [detail["photos"][1]["id"]]
    for photo, data in zip(detail["photos"], (before, after, check), strict=True):
        original = client.get(photo["url"], headers=h["lead"])
        assert original.status_code == 200 and original.headers["content-type"] == "image/jpeg"
        assert original.content == data
        assert gps_of(original.content)[ExifTags.GPS.GPSLatitudeRef] == "N"
        assert (photo["exif_lon"], photo["exif_lat"]) == pytest.approx((lon, lat), abs=1e-6)
        public = client.get(photo["public_url"], headers=h["lead"])
        assert public.headers["content-type"] == "image/jpeg"
        assert dict(Image.open(io.BytesIO(public.content)).getexif()) == {}
        thumbnail = Image.open(io.BytesIO(client.get(photo["thumbnail_url"], headers=h["lead"]).content))
        assert thumbnail.format == "JPEG" and max(thumbnail.size) <= 320


def test_intake_is_idempotent_and_checks_the_position(world):
    client, h, db = world["client"], world["h"], world["db"]
    body = new_report(world["lon"], world["lat"], description="垃圾")
    first = client.post("/api/cases", json=body, headers=h["inspector"])
    assert first.status_code == 201, first.text
    again = client.post("/api/cases", json=body, headers=h["inspector"])
    assert again.status_code == 200 and again.json()["code"] == first.json()["code"]
    assert again.json()["version"] == first.json()["version"]

    other = client.post("/api/cases", json={**body, "description": "别的内容"}, headers=h["inspector"])
    assert other.status_code == 409
    assert other.json() == {  # nothing of the case it made
        "detail": messages.text("case.client_uuid_taken"),
        "code": "case.client_uuid_taken",
        "params": {},
    }

    outside = client.post("/api/cases", json=new_report(*OUTSIDE), headers=h["inspector"])
    assert outside.status_code == 422
    assert outside.json() == {
        "detail": "这个位置不在本市任何网格内：请检查位置和坐标系",
        "code": "case.outside_city",
        "params": {"lon": 100.0, "lat": 30.0, "crs": "wgs84"},
    }
    assert db.scalar(select(func.count()).select_from(Case)) == 1

    # A position read off a Chinese consumer map (GCJ-02) is stored in WGS 84.
    _, lon, lat = village_point(db, DISTRICT, 1)
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    assert distance_m(lon, lat, gcj_lon, gcj_lat) > 100
    resp = client.post("/api/cases", json=new_report(gcj_lon, gcj_lat, crs="gcj02"), headers=h["inspector"])
    assert resp.status_code == 201, resp.text
    assert (resp.json()["lon"], resp.json()["lat"]) == pytest.approx((lon, lat), abs=1e-6)
    stored = db.scalar(select(Case).where(Case.code == resp.json()["code"]))
    x, y = db.execute(select(func.ST_X(stored.location), func.ST_Y(stored.location))).one()
    assert (x, y) == pytest.approx((lon, lat), abs=1e-6)
    assert (stored.reported_crs, db.scalar(select(func.ST_SRID(stored.location)))) == ("gcj02", 4326)


def test_list_filters_and_scope(world):
    client, h, db, lon, lat = world["client"], world["h"], world["db"], world["lon"], world["lat"]
    city_acceptor = make_user(db, ["acceptor"])  # bound to no grid: the whole city
    city = login(client, city_acceptor)

    def post(headers, body) -> str:
        resp = client.post("/api/cases", json=body, headers=headers)
        assert resp.status_code == 201, resp.text
        return resp.json()["code"]

    garbage = post(h["inspector"], new_report(lon, lat, description="marker-alpha 垃圾"))
    manhole = post(h["inspector"], new_report(lon, lat, category="E01002", description="井盖缺失"))
    _, other_lon, other_lat = village_point(db, OTHER_DISTRICT)
    elsewhere = post(city, new_report(other_lon, other_lat, channel="hotline", description="市中区来电"))
    # A report from ten days ago: its filing-and-dispatch step is long overdue.
    past = db.scalar(select(func.now())) - timedelta(days=10)
    overdue = report(db, world["inspector"], lon, lat, category="E06011", at=past).code
    tagged = client.get(f"/api/cases/{garbage}", headers=h["lead"]).json()
    act(client, h["lead"], garbage, "tag", tagged["version"], tag="key_supervision")

    def codes(headers, **params) -> set[str]:
        resp = client.get("/api/cases", params=params, headers=headers)
        assert resp.status_code == 200, resp.text
        answer = resp.json()
        assert answer["total"] == len(answer["items"])
        return {c["code"] for c in answer["items"]}

    # Scope: the inspector sees its village, the district's command center its district, the city-wide
    # acceptor everything, the department what was dispatched to it (nothing yet).
    assert codes(h["inspector"]) == {garbage, manhole, overdue}
    assert codes(h["lead"]) == {garbage, manhole, overdue}
    assert codes(city) == {garbage, manhole, overdue, elsewhere}
    assert codes(h["department"]) == set()
    assert client.get(f"/api/cases/{elsewhere}", headers=h["inspector"]).status_code == 404

    assert codes(city, state="reported") == {elsewhere}
    assert codes(city, state=["registered", "reported"]) == {garbage, manhole, overdue, elsewhere}
    assert codes(city, category="E01002") == {manhole}
    assert codes(city, grid=world["village"]) == {garbage, manhole, overdue}
    assert codes(city, grid=OTHER_DISTRICT) == {elsewhere}
    assert codes(city, overdue="true") == {overdue}
    assert codes(city, overdue="false") == {garbage, manhole, elsewhere}
    assert codes(city, tag="key_supervision") == {garbage}
    assert codes(city, q="marker-alpha") == {garbage}
    assert codes(city, q=elsewhere) == {elsewhere}
    assert codes(h["inspector"], grid=OTHER_DISTRICT) == set()  # a filter never widens the scope

    # The most urgent first: the manhole cover (urgent), the garbage (important), the old report (normal).
    order = [c["code"] for c in client.get("/api/cases", headers=h["inspector"]).json()["items"]]
    assert order == [manhole, garbage, overdue]
    listed = {c["code"]: c for c in client.get("/api/cases", headers=city).json()["items"]}
    assert listed[overdue]["light"] == "red" and listed[garbage]["light"] == "green"
    assert listed[garbage]["tags"] == ["key_supervision"]


def test_sync_grids(world):
    client, h, db = world["client"], world["h"], world["db"]
    village = db.scalar(select(Grid).where(CURRENT, Grid.code == world["village"]))
    expected = set(db.scalars(select(Grid.code).where(CURRENT, Grid.path.op("<@")(village.path))))
    assert len(expected) > 1  # the village and its unit grids

    first = client.get("/api/sync/grids", headers=h["inspector"])
    assert first.status_code == 200, first.text
    answer = first.json()
    assert set(answer["codes"]) == expected
    assert {f["id"] for f in answer["features"]} == expected
    for feature in answer["features"]:
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
        assert feature["properties"]["code"] == feature["id"]
        assert feature["id"] == world["village"] or feature["properties"]["parent_code"] == world["village"]
    assert answer["cursor"] is not None

    second = client.get("/api/sync/grids", params={"since": answer["cursor"]}, headers=h["inspector"]).json()
    assert second["features"] == []
    assert set(second["codes"]) == expected
    assert second["cursor"] == answer["cursor"]


def test_openapi_documents_every_case_route(demo_client):
    paths = demo_client.get("/openapi.json").json()["paths"]
    case_routes = {
        (path, method): operation
        for path, operations in paths.items()
        if path.startswith(("/api/cases", "/api/photos", "/api/sync"))
        for method, operation in operations.items()
    }
    assert set(case_routes) == {
        ("/api/cases", "post"),
        ("/api/cases", "get"),
        ("/api/cases/sweep", "post"),
        ("/api/cases/workflow", "get"),
        ("/api/cases/queues", "get"),
        ("/api/cases/returns", "get"),
        ("/api/cases/search", "get"),
        ("/api/cases/bbox", "get"),
        ("/api/cases/{code}", "get"),
        ("/api/cases/{code}/duplicates", "get"),
        ("/api/cases/{code}/departments", "get"),
        ("/api/cases/{code}/dispatch-advice", "get"),
        ("/api/cases/{code}/caller", "post"),
        ("/api/cases/{code}/caller/cases", "get"),
        ("/api/cases/{code}/caller/reveals", "get"),
        *((f"/api/cases/{{code}}/actions/{name}", "post") for name in ACTIONS),
        ("/api/cases/{code}/photos", "post"),
        ("/api/photos/{photo_id}/{variant}", "get"),
        ("/api/sync/grids", "get"),
        ("/api/sync/addresses", "get"),
        ("/api/sync/{kind}", "get"),
    }
    for (path, method), operation in case_routes.items():
        assert operation.get("summary"), f"{method.upper()} {path} has no summary"
        success = next(status for status in operation["responses"] if status.startswith("2"))
        assert operation["responses"][success].get("content"), f"{method.upper()} {path} documents no answer"
    # each action documents its own fields: its input model, not one shared by all
    for name, spec in ACTIONS.items():
        body = case_routes[f"/api/cases/{{code}}/actions/{name}", "post"]["requestBody"]
        assert body["content"]["application/json"]["schema"]["$ref"].endswith(f"/{spec.form.__name__}"), name
    dispatch = demo_client.get("/openapi.json").json()["components"]["schemas"]["DispatchIn"]["properties"]
    assert {"version", "lead_department", "parallel_departments"} <= set(dispatch)
    assert not {"result", "master", "close_kind"} & set(dispatch)


def test_the_workflow_sends_each_actions_form(demo_client):
    """The web's action forms come from the server: each action's fields with labels, kinds and choices."""
    actions = {a["name"]: a for a in demo_client.get("/api/cases/workflow").json()["actions"]}
    assert set(actions) == set(ACTIONS)
    reply = {f["name"]: f for f in actions["reply_check"]["fields"]}
    assert reply["result"]["kind"] == "choice"
    assert [c["value"] for c in reply["result"]["choices"]] == ["pass", "rework"]
    assert (reply["photo_ids"]["kind"], reply["photo_ids"]["role"]) == ("photos", "check")
    void = actions["void"]["fields"]
    assert [(f["name"], f["kind"], f["required"], f["max_length"]) for f in void] == [
        ("reason", "text", True, 500)
    ]
    assert actions["dispatch"]["fields"][0]["kind"] == "department"
    reclassify = actions["reclassify"]["fields"]
    assert [(f["name"], f["kind"], f["required"]) for f in reclassify] == [
        ("category", "category", True),
        ("reason", "text", True),
    ]
    assert actions["resume"]["fields"] == [] and actions["merge"]["fields"] == []
    assert all(f["label"] for a in actions.values() for f in a["fields"])
    # what every action's form takes besides its own fields, with the most characters each takes
    common = demo_client.get("/api/cases/workflow").json()["common"]
    assert [(f["name"], f["kind"], f["max_length"]) for f in common] == [
        ("note", "text", 500),
        ("public_note", "text", 500),
    ]
    extension = {f["name"]: f for f in actions["request_extension"]["fields"]}["extension"]
    assert extension["max_length"] == 20 and reply["result"]["max_length"] is None


def test_only_inspectors_acceptors_and_administrators_report(world):
    client, db = world["client"], world["db"]
    leader = login(client, make_user(db, ["leader", "grid_head"]))
    resp = client.post("/api/cases", json=new_report(world["lon"], world["lat"]), headers=leader)
    assert resp.status_code == 403
    assert resp.json()["code"] == "auth.role_required"
    assert resp.json()["detail"] == messages.text("auth.role_required", roles="网格员或受理员")
    hotline = new_report(world["lon"], world["lat"], channel="hotline")
    refused = client.post("/api/cases", json=hotline, headers=world["h"]["inspector"])
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "你不能登记“热线”渠道的上报：你可以登记的渠道是网格员上报",
        "code": "case.channel_not_allowed",
        "params": {"channel": "热线", "allowed": "网格员上报", "requested": "hotline"},
    }
    taken = client.post("/api/cases", json=hotline, headers=world["h"]["acceptor"])
    assert taken.status_code == 201 and taken.json()["state"] == "reported"


def test_the_panel_offers_each_user_only_the_actions_it_may_hold(world):
    """An overdue dispatched case: a grid head watching it is offered nothing and told who works it; the
    lead department its own actions, a parallel one the same with why not; the dispatcher the extension
    decisions with why not (none asked) until one is asked."""
    client, db, h = world["client"], world["db"], world["h"]
    past = db.scalar(select(func.now())) - timedelta(days=10)
    case = report(db, world["inspector"], world["lon"], world["lat"], at=past)
    case_act(db, world["lead"], case, "file", at=past + timedelta(minutes=5))
    later = past + timedelta(minutes=10)
    case_act(db, world["dispatcher"], case, "dispatch", at=later, parallel_departments=["enforcement"])
    grid_head = login(client, make_user(db, ["grid_head"], grid=DISTRICT))
    parallel = login(client, make_user(db, ["department"], department="enforcement"))

    def shown(headers) -> dict:
        resp = client.get(f"/api/cases/{case.code}", headers=headers)
        assert resp.status_code == 200, resp.text
        return resp.json()

    watched = shown(grid_head)
    assert (watched["state"], watched["light"]) == ("dispatched", "red")
    assert (watched["actions"], watched["held_by"]) == ({}, "由处置部门办理")
    sign_first = messages.text("case.receipt_first")
    no_supervision = messages.text("case.no_open_supervision")
    own = {"receive": None, "return": None, "request_extension": sign_first, "report_handling": sign_first}
    own |= {"acknowledge_supervision": no_supervision, "answer_supervision": no_supervision}
    assert shown(h["department"])["actions"] == own
    lead_only = messages.text("case.lead_department_only")
    assert lead_only.startswith("由主办部门办理")
    assert shown(parallel)["actions"] == dict.fromkeys(own, lead_only)
    waiting = messages.text("case.no_extension_request")
    assert shown(h["dispatcher"])["actions"] == {
        "approve_extension": waiting,
        "refuse_extension": waiting,
        "suspend": None,
        "tag": None,
        "untag": None,
        "supervise": None,
        "urge": None,
    }

    signed = act(client, h["department"], case.code, "receive", watched["version"])
    assert (signed["actions"]["receive"], signed["actions"]["request_extension"]) == (
        messages.text("case.already_received"),
        None,
    )
    asked = act(
        client,
        h["department"],
        case.code,
        "request_extension",
        signed["version"],
        extension="2h",
        reason="待协调",
    )
    assert asked["actions"]["request_extension"] == messages.text("case.extension_waiting")
    assert asked["actions"]["request_extension"].startswith("已有延期申请在等派遣员审批")
    assert shown(h["dispatcher"])["actions"]["approve_extension"] is None


def test_free_text_is_bounded_and_refused_in_chinese(world):
    client, db, h = world["client"], world["db"], world["h"]
    case = report(db, world["inspector"], world["lon"], world["lat"])
    resp = client.post(
        f"/api/cases/{case.code}/actions/void",
        json={"version": case.version, "reason": "重" * 12_000},
        headers=h["lead"],
    )
    assert resp.status_code == 422
    body = resp.json()
    assert (body["code"], body["detail"]) == ("validation.request", "原因太长：最多 500 个字符，请删减")
    assert [(e["loc"], e["type"]) for e in body["errors"]] == [(["body", "reason"], "string_too_long")]
    db.refresh(case)
    assert case.state == "registered"


def test_an_extension_is_bounded_by_the_categorys_limit_and_handling_needs_an_after_photo(world):
    client, db, h = world["client"], world["db"], world["h"]
    case = report(db, world["inspector"], world["lon"], world["lat"])  # E06010: handled within 4 h
    case_act(db, world["lead"], case, "file")
    case_act(db, world["dispatcher"], case, "dispatch")
    case_act(db, world["department"], case, "receive")

    def request(extension: str):
        body = {"version": case.version, "extension": extension, "reason": "待协调"}
        return client.post(
            f"/api/cases/{case.code}/actions/request_extension", json=body, headers=h["department"]
        )

    too_long = request("999d")
    assert too_long.status_code == 422
    assert too_long.json() == {
        "detail": "延期时长太长：这类问题最多可延期 4 小时，请缩短后再提交",
        "code": "case.extension_too_long",
        "params": {"most": "4 小时", "max_minutes": 240},
    }
    unreadable = request("soon")
    assert (unreadable.status_code, unreadable.json()["code"]) == (422, "case.extension_unreadable")
    accepted = request("4h")
    assert accepted.status_code == 200, accepted.text

    handled = client.post(
        f"/api/cases/{case.code}/actions/report_handling",
        json={"version": accepted.json()["version"]},
        headers=h["department"],
    )
    assert handled.status_code == 422
    assert handled.json() == {
        "detail": "处置反馈需要至少一张处置后照片：请先上传处置后照片，再提交处置反馈",
        "code": "case.after_photo_required",
        "params": {},
    }


def test_supervised_and_channel_filters(world, admin_headers):
    client, db, h = world["client"], world["db"], world["h"]["acceptor"]
    long_ago = db.scalar(select(func.now())) - timedelta(days=10)
    late = report(db, world["inspector"], world["lon"], world["lat"], at=long_ago).code
    called = client.post(
        "/api/cases", json=new_report(world["lon"], world["lat"], "E09009", channel="hotline"), headers=h
    )
    hotline = called.json()["code"]
    assert client.post("/api/cases/sweep", headers=admin_headers).json()["flagged"] == [late]

    def codes(**params) -> set[str]:
        return {c["code"] for c in client.get("/api/cases", params=params, headers=h).json()["items"]}

    assert late in codes(supervised="true") and hotline not in codes(supervised="true")
    assert hotline in codes(supervised="false") and late not in codes(supervised="false")
    assert hotline in codes(channel="hotline") and late not in codes(channel="hotline")
    assert late in codes(channel="inspector")


def test_a_report_is_answered_inside_its_own_transaction(world):
    """The answer is described before the commit: nothing reaches the database after it (no second
    transaction, no second connection check-out per report)."""
    client, h, db = world["client"], world["h"], world["db"]
    statements: list[str] = []
    committed_at: list[int] = []
    connection = db.connection()
    listen = [
        (connection, "before_cursor_execute", lambda *args: statements.append(args[2])),
        (db, "after_commit", lambda session: committed_at.append(len(statements))),
    ]
    for target, name, fn in listen:
        event.listen(target, name, fn)
    try:
        resp = client.post("/api/cases", json=new_report(world["lon"], world["lat"]), headers=h["inspector"])
    finally:
        for target, name, fn in listen:
            event.remove(target, name, fn)
    assert resp.status_code == 201, resp.text
    assert len(committed_at) == 1
    assert statements[committed_at[0] :] == []


def test_a_pin_placed_by_hand_is_kept_and_flagged(world):
    """With no fix, or a poor one, the inspector places the pin on the map: the case says so, and a retry of
    the same report is the same case; a source the server does not know is refused in words."""
    client, h, lon, lat = world["client"], world["h"], world["lon"], world["lat"]
    body = new_report(lon, lat, position_source="manual")
    first = client.post("/api/cases", json=body, headers=h["inspector"])
    assert first.status_code == 201, first.text
    assert (first.json()["position_source"], first.json()["accuracy_m"]) == ("manual", None)
    again = client.post("/api/cases", json=body, headers=h["inspector"])
    assert again.status_code == 200 and again.json()["code"] == first.json()["code"]
    shown = client.get(f"/api/cases/{first.json()['code']}", headers=h["lead"]).json()
    assert shown["position_source"] == "manual"
    wifi = new_report(lon, lat, position_source="wifi")
    wrong = client.post("/api/cases", json=wifi, headers=h["inspector"])
    assert wrong.status_code == 422 and wrong.json()["code"] == "validation.request"
