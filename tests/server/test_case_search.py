"""The desk's search box and list filters on the demo city (``GET /api/cases/search``, ``GET /api/cases``):
codes and their tails, callers' phones and names only for those who may see callers, Chinese words of two
characters and several words in any order, addresses, the ranking, the user's scope, and the input limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from server import messages
from server.case.models import Case
from server.grid.models import today as city_today
from tests.server.case_world import DISTRICT, OTHER_DISTRICT, act, make_user, report, team, village_point
from tests.server.test_case_http import login

PHONE = "13711112468"
NAME = "欧阳娜娜"


@pytest.fixture
def world(demo_db, demo_client):
    """The district's team, a city-wide acceptor and a leader, and cases about 山大路 and elsewhere."""
    db = demo_db
    people = team(db)
    lon, lat = people["lon"], people["lat"]
    city = make_user(db, ["acceptor"])
    _, other_lon, other_lat = village_point(db, OTHER_DISTRICT)
    hotline = {"channel": "hotline", "reporter_name": NAME, "reporter_phone": PHONE}
    cases = {
        "garbage": report(
            db, people["acceptor"], lon, lat, description="北口垃圾堆放三天无人清运", address="山大路 188 号",
            **hotline,
        ),
        # 山东大学 holds 山 and 大 but not 山大
        "campus": report(
            db, people["acceptor"], lon, lat, "E01002", channel="hotline", description="山东大学西门井盖松动",
            address="洪家楼南路",
        ),
        "bins": report(
            db, people["inspector"], lon, lat, "E06011", description="垃圾桶满溢", address="文化东路"
        ),
        "far": report(
            db, city, other_lon, other_lat, channel="hotline", description="山大路口垃圾", address="市中区",
            reporter_phone=PHONE,
        ),
    }  # fmt: skip
    client = demo_client
    return {
        **people,
        **{name: case.code for name, case in cases.items()},
        "cases": cases,
        "client": client,
        "city": city,
        "h": {
            "acceptor": login(client, people["acceptor"]),
            "city": login(client, city),
            "inspector": login(client, people["inspector"]),
            "dispatcher": login(client, people["dispatcher"]),
            "department": login(client, people["department"]),
            "leader": login(client, make_user(db, ["leader"])),
        },
    }


def dispatch(world, case: Case, department: str = "sanitation_lx") -> None:
    """A caller's case verified, filed and dispatched to ``department``."""
    db = world["db"]
    act(db, world["acceptor"], case, "request_verification", inspector_id=world["inspector"].user_id)
    act(db, world["inspector"], case, "reply_verification", result="confirmed")
    act(db, world["lead"], case, "file")
    act(db, world["dispatcher"], case, "dispatch", lead_department=department)


def found(world, who: str, q: str, **params) -> list[str]:
    resp = world["client"].get("/api/cases/search", params={"q": q, **params}, headers=world["h"][who])
    assert resp.status_code == 200, resp.text
    return [c["code"] for c in resp.json()]


def test_chinese_words_of_two_characters_in_any_order_and_addresses(world):
    garbage, campus, bins, far = world["garbage"], world["campus"], world["bins"], world["far"]
    two = found(world, "acceptor", "山大")
    assert garbage in two and campus not in two and far not in two  # far: outside the district
    assert garbage in found(world, "city", "山大") and far in found(world, "city", "山大")
    both = found(world, "acceptor", "垃圾 山大")
    assert garbage in both and bins not in both and campus not in both
    assert set(found(world, "city", "山大 垃圾")) >= {garbage, far}
    assert found(world, "city", "山大，垃圾") == found(world, "city", "垃圾 山大")  # punctuation splits too
    assert garbage in found(world, "acceptor", "山大路 188")  # the address
    assert found(world, "acceptor", "井盖松动") == [campus]  # four characters of the description
    assert found(world, "acceptor", "洪家楼") == [campus]
    assert bins in found(world, "acceptor", "垃圾桶")
    assert found(world, "acceptor", "大学 垃圾") == []  # every word must be there


def test_a_code_whole_or_by_its_tail(world):
    garbage = world["garbage"]
    assert found(world, "acceptor", garbage)[0] == garbage
    tail = garbage.rsplit("-", 1)[1]
    by_tail = found(world, "acceptor", tail, limit=50)
    assert garbage in by_tail and all(code.endswith(tail) for code in by_tail)
    full_width = tail.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert found(world, "acceptor", full_width, limit=50) == by_tail
    assert found(world, "acceptor", garbage.split("-", 1)[1])[0] == garbage  # the day and number


def test_a_phone_or_a_name_only_for_those_who_may_see_callers(world):
    garbage, far = world["garbage"], world["far"]
    for query in (PHONE, PHONE[-4:], "137-1111-2468", f"+86 {PHONE}", NAME, "娜娜"):
        assert garbage in found(world, "acceptor", query), query
    assert {garbage, far} <= set(found(world, "city", PHONE[-4:]))  # far: no name, the same phone
    answer = world["client"].get("/api/cases/search", params={"q": PHONE}, headers=world["h"]["acceptor"])
    assert PHONE not in answer.text  # the answer never holds the number
    # a leader, a dispatcher, an inspector: a phone or a name finds nothing of the caller
    for who in ("leader", "dispatcher", "inspector"):
        for query in (PHONE, PHONE[-4:], NAME):
            assert found(world, who, query) == [], (who, query)
    # a department's user: the callers of the cases it leads now
    assert found(world, "department", PHONE) == []
    case = world["cases"]["garbage"]
    dispatch(world, case)
    assert found(world, "department", PHONE) == [garbage]
    assert found(world, "department", NAME) == [garbage]
    act(world["db"], world["department"], case, "return", reason="不是本部门的事")
    assert found(world, "department", PHONE) == []  # it no longer leads the case
    assert found(world, "department", "垃圾 山大") == [garbage]  # yet still sees the case itself


def test_scope_bounds_every_search(world):
    garbage, far = world["garbage"], world["far"]
    # the inspector sees its village: the 山大 case there, never the one in another district
    assert garbage in found(world, "inspector", "山大") and far not in found(world, "inspector", "山大")
    assert found(world, "inspector", far) == []  # not even by its whole code
    assert found(world, "acceptor", far) == [] and found(world, "acceptor", PHONE[-4:]).count(far) == 0
    # a department sees nothing until a case is dispatched to it
    assert found(world, "department", "山大") == [] and found(world, "department", garbage) == []
    dispatch(world, world["cases"]["garbage"])
    assert found(world, "department", "山大") == [garbage]
    assert found(world, "department", garbage) == [garbage]


def test_ranking(world):
    db, people = world["db"], world
    lon, lat = people["lon"], people["lat"]
    hour_ago = db.scalar(select(func.now())) - timedelta(hours=1)
    newer = report(db, people["inspector"], lon, lat, description="鹊华秋色亭边积水").code
    older = report(db, people["inspector"], lon, lat, description="积水", address="鹊华路", at=hour_ago).code
    newest = report(db, people["inspector"], lon, lat, description="鹊华桥下积水").code
    # a word in the address counts more than in the description; the newest first among equals
    assert found(world, "acceptor", "鹊华") == [older, newest, newer]
    # the exact code first, then the tails, then phones (a tail number may be all three)
    garbage = world["garbage"]
    assert found(world, "acceptor", garbage) == [garbage]


@pytest.mark.parametrize(
    ("q", "code", "params"),
    [
        ("   ", "case.search_empty", {}),
        ("路" * 51, "case.search_too_long", {"most": 50}),
        ("垃圾 山大 井盖 路灯 积水 广告", "case.search_too_many_words", {"most": 5}),
        ("垃 圾", "case.search_too_short", {}),
        ("42", None, {}),  # a short number is a word
    ],
)
def test_input_limits(world, q, code, params):
    resp = world["client"].get("/api/cases/search", params={"q": q}, headers=world["h"]["acceptor"])
    if code is None:
        assert resp.status_code == 200, resp.text
        return
    assert resp.status_code == 422
    assert resp.json() == {"detail": messages.text(code, **params), "code": code, "params": params}


def test_limit_and_a_missing_query(world):
    client, h = world["client"], world["h"]["city"]
    assert len(found(world, "city", "垃圾", limit=1)) == 1
    for params in ({}, {"q": "垃圾", "limit": 0}, {"q": "垃圾", "limit": 51}):
        resp = client.get("/api/cases/search", params=params, headers=h)
        assert resp.status_code == 422 and resp.json()["code"] == "validation.request", params


def test_desk_list_filters(world):
    """Period, district or street, category, current lead department, channel, request type, tag, light
    and supervision narrow the desk's lists (within the scope)."""
    db, client, h = world["db"], world["client"], world["h"]["city"]
    lon, lat = world["lon"], world["lat"]
    now = db.scalar(select(func.now()))
    old = report(
        db, world["inspector"], lon, lat, "E06011", description="筛选测试 旧", at=now - timedelta(days=10)
    )  # its filing step is long overdue: red
    consult = report(
        db,
        world["acceptor"],
        lon,
        lat,
        channel="hotline",
        request_type="consult",
        description="筛选测试 咨询",
    )
    led = report(db, world["inspector"], lon, lat, "E01002", description="筛选测试 派遣")
    act(db, world["lead"], led, "file")
    act(db, world["dispatcher"], led, "dispatch", lead_department="enforcement")
    act(db, world["lead"], consult, "tag", tag="key_supervision")
    db.execute(update(Case).where(Case.id == old.id).values(supervision_level=2))
    db.commit()
    mine = {old.code, consult.code, led.code}

    def listed(**params) -> set[str]:
        resp = client.get("/api/cases", params={"q": "筛选测试", "limit": 500, **params}, headers=h)
        assert resp.status_code == 200, resp.text
        return {c["code"] for c in resp.json()["items"]}

    assert listed() == mine
    today = city_today()
    assert listed(since=str(today - timedelta(days=1))) == {consult.code, led.code}
    assert listed(until=str(today - timedelta(days=9))) == {old.code}
    assert listed(grid=DISTRICT) == mine and listed(grid=OTHER_DISTRICT) == set()
    assert listed(grid=world["village"]) == mine
    assert listed(category="E06011") == {old.code}
    assert listed(department="enforcement") == {led.code}
    assert led.code not in listed(department="sanitation_lx")
    assert listed(channel="hotline") == {consult.code}
    assert listed(request_type="consult") == {consult.code}
    assert listed(request_type="complaint") == {old.code, led.code}
    assert listed(tag="key_supervision") == {consult.code}
    assert listed(light="red") == {old.code}
    assert listed(light="green") == {consult.code, led.code}
    assert listed(supervised="true") == {old.code}
    assert listed(supervised="false") == {consult.code, led.code}
    bad = client.get("/api/cases", params={"light": "blue"}, headers=h)
    assert bad.status_code == 422 and bad.json()["code"] == "validation.request"
