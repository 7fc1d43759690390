"""Callers (server/case/callers.py) on the demo city: everyone sees a case's caller masked; the full name and
phone are shown on request to those who contact the caller (acceptors, shift leads, the department leading
the case now), each showing recorded and listed for leaders and administrators; the caller's other cases;
repeat complaints tagged and linked at intake; special reporters kept by administrators (API and command
line), their calls tagged and queued first; and nothing of a caller on the public pages or Open311."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from server import messages
from server.case.callers import mask_name, mask_phone
from server.case.models import CallerReveal, Case
from server.case.states import State
from server.category.models import Department
from tests.server.case_world import OTHER_DISTRICT, act, make_user, report, team, village_point
from tests.server.test_case_http import login
from tests.server.test_case_transitions import LEAD_DEPARTMENT, T0, advance
from tests.server.test_cli import gridops, said

PHONE, NAME = "13855550000", "李秀英"
MASKED_PHONE, MASKED_NAME = "138****0000", "李**"
REPEAT = "repeat_complaint"
CONTACTS = ("acceptor", "lead", "department")  # acceptor, shift lead, the lead department's user
OTHERS = ("dispatcher", "inspector", "leader", "admin")


@pytest.fixture
def world(demo_db, demo_client):
    """The team of a village of 历下区 (its inspector, the district's acceptor, shift lead and dispatcher, a
    user of the department of exposed garbage there), a leader and an administrator."""
    db = demo_db
    return {
        **team(db),
        "leader": make_user(db, ["leader"]),
        "admin": make_user(db, ["admin"]),
        "client": demo_client,
    }


def call(w, phone: str = PHONE, *, east: float = 0.0, north: float = 0.0, category="E06010", at=None) -> Case:
    """A hotline call in the team's village (moved ``east``/``north`` degrees), registered by the acceptor."""
    return report(
        w["db"], w["acceptor"], w["lon"] + east, w["lat"] + north, category=category, channel="hotline",
        reporter_name=NAME, reporter_phone=phone, at=at,
    )  # fmt: skip


def reveal(w, case: Case, who: str):
    return w["client"].post(f"/api/cases/{case.code}/caller", headers=login(w["client"], w[who]))


def test_a_caller_is_masked_the_same_way_everywhere():
    assert mask_phone("13800000000") == "138****0000"
    assert mask_phone("+8613912345678") == "+86139****5678"
    assert mask_phone("053188881234") == "053*****1234"  # a landline with its area code
    assert mask_phone("12345") == "***45"
    assert (mask_name("张三"), mask_name("王先生"), mask_name("张"), mask_name(" ")) == (
        "张*",
        "王**",
        "*",
        None,
    )
    assert mask_phone(None) is None and mask_name(None) is None


def test_everyone_sees_the_caller_masked(world):
    db, client = world["db"], world["client"]
    case = advance(db, call(world), State.DISPATCHED)
    for who in CONTACTS + OTHERS:
        headers = login(client, world[who])
        shown = client.get(f"/api/cases/{case.code}", headers=headers)
        assert shown.status_code == 200, (who, shown.text)
        body = shown.json()
        assert (body["reporter_name"], body["reporter_phone"]) == (MASKED_NAME, MASKED_PHONE), who
        assert body["may_reveal_caller"] is (who in CONTACTS), who
        listed = client.get("/api/cases", headers=headers)
        assert case.code in listed.text and MASKED_PHONE in listed.text, who
        for answer in (shown, listed):
            assert PHONE not in answer.text and NAME not in answer.text, who


def test_the_full_caller_is_for_those_who_contact_them_and_each_showing_is_recorded(world, admin_headers):
    db, client = world["db"], world["client"]
    case = advance(db, call(world), State.DISPATCHED)
    for who in CONTACTS:
        shown = reveal(world, case, who)
        assert shown.status_code == 200, (who, shown.text)
        assert shown.json() == {"name": NAME, "phone": PHONE}
    for who in OTHERS:
        refused = reveal(world, case, who)
        assert refused.status_code == 403 and refused.json()["code"] == "callers.contact_only", who
        assert PHONE not in refused.text and refused.json()["detail"] == messages.text("callers.contact_only")
    refused = client.post(f"/api/cases/{case.code}/caller", headers=admin_headers)  # the admin token
    assert refused.status_code == 403

    rows = db.scalars(select(CallerReveal).where(CallerReveal.case_id == case.id).order_by(CallerReveal.id))
    expected = [
        (world["acceptor"], "acceptor"),
        (world["lead"], "shift_lead"),
        (world["department"], "department"),
    ]
    assert [(r.user_id, r.role, r.ip) for r in rows] == [
        (p.user_id, role, "testclient") for p, role in expected
    ]

    listed = client.get(f"/api/cases/{case.code}/caller/reveals", headers=login(client, world["leader"]))
    assert listed.status_code == 200, listed.text
    assert [(r["user"], r["role_label"]) for r in listed.json()] == [
        (p.user.name, messages.role_name(role)) for p, role in expected
    ]
    assert len(client.get(f"/api/cases/{case.code}/caller/reveals", headers=admin_headers).json()) == 3
    for who in ("acceptor", "department"):
        refused = client.get(f"/api/cases/{case.code}/caller/reveals", headers=login(client, world[who]))
        assert refused.status_code == 403 and refused.json()["code"] == "auth.role_required"


def test_a_department_the_case_was_taken_from_no_longer_sees_the_caller(world):
    db, client = world["db"], world["client"]
    case = advance(db, call(world), State.DISPATCHED)
    assert reveal(world, case, "department").status_code == 200
    act(db, world["department"], case, "return", reason="不属于本部门职责")
    refused = reveal(world, case, "department")
    assert refused.status_code == 403 and refused.json()["code"] == "callers.not_lead_department"

    other = db.scalar(
        select(Department)
        .where(Department.code != LEAD_DEPARTMENT, Department.active)
        .order_by(Department.id)
    )
    act(db, world["dispatcher"], case, "dispatch", lead_department=other.code, reason="属于其他部门职责")
    # the first department still sees the case, not its caller; the one leading it now does
    assert (
        client.get(f"/api/cases/{case.code}", headers=login(client, world["department"])).status_code == 200
    )
    assert reveal(world, case, "department").json()["code"] == "callers.not_lead_department"
    world["now_leading"] = make_user(db, ["department"], department=other.code)
    assert reveal(world, case, "now_leading").json() == {"name": NAME, "phone": PHONE}


def test_an_inspectors_own_report_has_no_caller(world):
    db = world["db"]
    own = report(db, world["inspector"], world["lon"], world["lat"])
    assert own.reporter_phone == world["inspector"].user.phone  # kept, and never a caller
    refused = reveal(world, own, "acceptor")
    assert refused.status_code == 409 and refused.json()["code"] == "callers.no_caller"
    assert db.scalar(select(CallerReveal).where(CallerReveal.case_id == own.id)) is None


def test_the_callers_other_cases_within_the_scope_newest_first(world):
    db, client = world["db"], world["client"]
    days = [T0 + timedelta(days=n) for n in range(5)]
    first = call(world, category="E09009", at=days[0])
    second = call(world, "+86" + PHONE, east=0.02, at=days[1])  # the same number, written with +86
    call(world, "13855551111", at=days[2])  # another caller
    everywhere = make_user(db, ["acceptor"])  # the city's acceptor, not bound to 历下区
    _, lon, lat = village_point(db, OTHER_DISTRICT)
    away = report(db, everywhere, lon, lat, channel="hotline", reporter_phone=PHONE, at=days[3])
    case = call(world, at=days[4])

    found = client.get(f"/api/cases/{case.code}/caller/cases", headers=login(client, world["acceptor"]))
    assert found.status_code == 200, found.text
    # the acceptor of 历下区 does not see the call in 市中区
    assert [c["code"] for c in found.json()] == [second.code, first.code]
    assert {c["reporter_phone"] for c in found.json()} == {MASKED_PHONE, "+86138****0000"}
    assert PHONE not in found.text
    found = client.get(f"/api/cases/{case.code}/caller/cases", headers=login(client, everywhere))
    assert [c["code"] for c in found.json()] == [away.code, second.code, first.code]
    refused = client.get(f"/api/cases/{case.code}/caller/cases", headers=login(client, world["dispatcher"]))
    assert refused.status_code == 403 and refused.json()["code"] == "callers.contact_only"


def test_a_call_again_about_the_same_place_and_category_is_a_repeat_complaint(world):
    client = world["client"]
    first = call(world, at=T0)
    again = call(world, east=0.0005, at=T0 + timedelta(days=29))  # about 45 m away
    assert (again.repeat_of_id, again.tags) == (first.id, [REPEAT])
    latest = call(world, north=0.0015, at=T0 + timedelta(days=30))  # about 170 m away: the latest one counts
    assert latest.repeat_of_id == again.id
    shown = client.get(f"/api/cases/{latest.code}", headers=login(client, world["acceptor"])).json()
    assert shown["repeat_of"] == again.code and REPEAT in shown["tags"]
    assert first.repeat_of_id is None and REPEAT not in first.tags

    # the intake's own answer says it too
    body = {
        "client_uuid": "5b0f3c9e-1f7a-4c55-9a57-2f1d7b8c9e01",
        "category": "E06010",
        "lon": world["lon"],
        "lat": world["lat"],
        "channel": "hotline",
        "reporter_phone": PHONE,
    }
    recent = call(world, at=datetime.now(UTC) - timedelta(days=1))
    answer = client.post("/api/cases", json=body, headers=login(client, world["acceptor"]))
    assert answer.status_code == 201, answer.text
    assert answer.json()["repeat_of"] == recent.code and REPEAT in answer.json()["tags"]


@pytest.mark.parametrize(
    ("phone", "east", "category", "days"),
    [
        (PHONE, 0.0, "E06010", 31),  # past the window (30 days)
        (PHONE, 0.0, "E09009", 1),  # another category
        ("13855551111", 0.02, "E06010", 1),  # another caller, about 1.8 km away in another grid
    ],
)
def test_not_a_repeat_complaint(world, phone, east, category, days):
    first = call(world, at=T0)
    other = call(world, phone, east=east, category=category, at=T0 + timedelta(days=days))
    assert (other.repeat_of_id, other.tags) == (None, [])
    assert first.tags == []


def test_the_same_caller_anywhere_is_a_repeat_complaint(world):
    first = call(world, at=T0)
    far = call(world, east=0.02, at=T0 + timedelta(days=3))  # about 1.8 km away, in another grid
    assert (far.repeat_of_id, far.tags) == (first.id, [REPEAT])


def test_another_caller_at_the_same_place_is_a_repeat_complaint(world):
    db = world["db"]
    first = call(world, at=T0)
    neighbour = call(world, "13855551111", east=0.0005, at=T0 + timedelta(days=2))  # about 45 m away
    assert (neighbour.repeat_of_id, neighbour.tags) == (first.id, [REPEAT])
    # a report without a phone (an Open311 request, a public report without one) at the place repeats too
    nameless = report(
        db, world["acceptor"], world["lon"], world["lat"], channel="open311", at=T0 + timedelta(days=4)
    )
    assert (nameless.repeat_of_id, nameless.tags) == (neighbour.id, [REPEAT])


def test_inspectors_own_reports_are_no_repeat_complaints(world):
    db, inspector = world["db"], world["inspector"]
    report(db, inspector, world["lon"], world["lat"], at=T0)
    again = report(db, inspector, world["lon"], world["lat"], at=T0 + timedelta(days=1))
    assert (again.repeat_of_id, again.tags) == (None, [])
    # a call from the same number, and another caller's, at the place of the inspector's reports
    called = call(world, inspector.user.phone, at=T0 + timedelta(days=2))
    assert (called.repeat_of_id, called.tags) == (None, [])
    # nor is an inspector's report after a call at the same place a repeat of it
    seen = report(db, inspector, world["lon"], world["lat"], at=T0 + timedelta(days=3))
    assert (seen.repeat_of_id, seen.tags) == (None, [])


def test_administrators_keep_the_special_reporters(world, admin_headers):
    client = world["client"]
    body = {"phone": "+8613866660000", "name": "张代表", "kind": "deputy", "note": "市人大代表"}
    added = client.post("/api/special-reporters", json=body, headers=admin_headers)
    assert added.status_code == 201, added.text
    reporter = added.json()
    assert reporter["phone"] == "13866660000" and reporter["kind_label"] == "人大代表" and reporter["active"]
    again = client.post(
        "/api/special-reporters", json={**body, "phone": "13866660000"}, headers=admin_headers
    )
    assert again.status_code == 409 and again.json()["code"] == "callers.special_exists"

    url = f"/api/special-reporters/{reporter['id']}"
    changed = client.patch(url, json={"kind": "cppcc", "note": None}, headers=admin_headers).json()
    assert (changed["name"], changed["kind_label"], changed["note"]) == ("张代表", "政协委员", None)
    assert client.post(f"{url}/deactivate", headers=admin_headers).json()["active"] is False
    assert reporter["id"] not in {
        r["id"] for r in client.get("/api/special-reporters", headers=admin_headers).json()
    }
    every = client.get("/api/special-reporters", params={"include_inactive": "true"}, headers=admin_headers)
    assert reporter["id"] in {r["id"] for r in every.json()}
    back = client.post("/api/special-reporters", json=body, headers=admin_headers)  # active again
    assert back.status_code == 200 and back.json()["id"] == reporter["id"] and back.json()["kind"] == "deputy"

    missing = client.post("/api/special-reporters/999999999/deactivate", headers=admin_headers)
    assert missing.status_code == 404 and missing.json()["code"] == "callers.special_not_found"
    refused = client.get("/api/special-reporters", headers=login(client, world["acceptor"]))
    assert refused.status_code == 403
    wrong = client.post("/api/special-reporters", json={**body, "kind": "mayor"}, headers=admin_headers)
    assert wrong.status_code == 422


def test_special_reporters_calls_are_tagged_and_queued_first(world, admin_headers):
    db, client = world["db"], world["client"]
    for phone, kind in (
        ("+8613866660000", "deputy"),
        ("13877770000", "vulnerable"),
        ("13888880000", "cppcc"),
    ):
        body = {"phone": phone, "name": "来电人", "kind": kind}
        assert client.post("/api/special-reporters", json=body, headers=admin_headers).status_code == 201
    gone = client.get("/api/special-reporters", headers=admin_headers).json()[-1]
    client.post(f"/api/special-reporters/{gone['id']}/deactivate", headers=admin_headers)

    deputy = call(world, "13866660000")
    vulnerable = call(world, "+8613877770000", category="E09009")
    # other categories at the same place: no repeat complaints among them
    former = call(world, "13888880000", category="E09010")
    plain = call(world, "13899990000", category="E06012")
    assert (deputy.tags, vulnerable.tags, former.tags, plain.tags) == (
        ["deputy_concern"], ["special_reporter"], [], []
    )  # fmt: skip
    own = report(db, make_user(db, ["inspector"], inspects=world["village"]), world["lon"], world["lat"])
    assert own.tags == []

    headers = login(client, world["acceptor"])
    queues = client.get("/api/cases/queues", headers=headers).json()
    assert (queues[0]["name"], queues[0]["label"], queues[0]["count"]) == ("special", "重点来电", 2)
    listed = client.get("/api/cases", params={"queue": "special"}, headers=headers).json()["items"]
    assert {c["code"] for c in listed} == {deputy.code, vulnerable.code}
    for who in ("lead", "dispatcher"):
        assert (
            client.get("/api/cases/queues", headers=login(client, world[who])).json()[0]["name"] == "special"
        )
    for who in ("leader", "department", "inspector"):
        names = {q["name"] for q in client.get("/api/cases/queues", headers=login(client, world[who])).json()}
        assert "special" not in names, who

    act(db, world["lead"], deputy, "void", reason="重复来电")  # over: out of the queue
    assert client.get("/api/cases/queues", headers=headers).json()[0]["count"] == 1


def test_no_caller_on_the_public_pages_nor_open311(world):
    db, client = world["db"], world["client"]
    case = advance(db, call(world), State.FILED)  # the public sees filed cases
    for url in (
        f"/api/public/cases/{case.code}",
        f"/open311/v2/requests/{case.code}.json",
        f"/open311/v2/requests/{case.code}.xml",
        "/open311/v2/requests.json",
    ):
        answer = client.get(url)
        assert answer.status_code == 200 and case.code in answer.text, url
        for secret in (PHONE, NAME, MASKED_PHONE, MASKED_NAME, "reporter_name", "reporter_phone"):
            assert secret not in answer.text, (url, secret)


@pytest.fixture
def env(fresh_db_url) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": fresh_db_url, "COLUMNS": "200"}


def test_the_special_reporters_command(env):
    assert "重点来电人" in gridops("callers", "special", "--help", env=env).stdout
    added = gridops(
        "callers",
        "special",
        "add",
        "+8613866660000",
        "张代表",
        "--kind",
        "deputy",
        "--note",
        "市人大代表",
        env=env,
    )
    assert "已添加重点来电人" in added.stderr and "人大代表" in added.stderr
    listed = gridops("callers", "special", "list", env=env).stdout
    assert "\t13866660000\t张代表\t人大代表\t在用\t市人大代表" in listed
    reporter_id = listed.split("\t")[0]

    again = gridops(
        "callers", "special", "add", "13866660000", "张代表", "--kind", "deputy", env=env, check=False
    )
    exists = messages.text("callers.special_exists", phone="13866660000", name="张代表")
    assert again.returncode == 1 and said(exists, again.stderr), again.stderr
    wrong = gridops("callers", "special", "add", "13866661111", "王", "--kind", "mayor", env=env, check=False)
    assert wrong.returncode == 1 and "类型" in wrong.stderr, wrong.stderr

    updated = gridops("callers", "special", "update", reporter_id, "--kind", "cppcc", env=env)
    assert "\t张代表\t政协委员\t在用\t" in updated.stdout
    assert "已停用" in gridops("callers", "special", "deactivate", reporter_id, env=env).stderr
    assert "13866660000" not in gridops("callers", "special", "list", env=env).stdout
    assert "已停用" in gridops("callers", "special", "list", "--all", env=env).stdout
    back = gridops("callers", "special", "add", "13866660000", "张代表", "--kind", "deputy", env=env)
    assert "已重新启用" in back.stderr
    missing = gridops("callers", "special", "deactivate", "999999", env=env, check=False)
    assert missing.returncode == 1 and said(
        messages.text("callers.special_not_found", reporter_id=999999), missing.stderr
    )
