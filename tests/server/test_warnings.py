"""Warnings' life on the demo city: raised from signals made here (one open warning per kind x area x
category), seen, the reminder letter (numbered, addressed, rendered and kept as sent), acknowledged by its
addressee only, closed by the command center with a reason; who sees which; and the live stream."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from server.anticipate.signals import PERSISTENT, SURGE, Signal
from server.case.scope import scope_of
from server.category import service as category_service
from server.category.models import Category
from server.database import get_engine, new_session
from server.grid import people as grid_people
from server.grid.models import CURRENT, Grid
from server.warning import service
from server.warning.models import WarningEvent
from tests.server.case_world import make_user
from tests.server.test_case_http import login
from tests.server.test_cli import gridops
from tests.server.test_events import bearer, client, opened, serving, setup_city
from tests.server.test_events import login as stream_login

CATEGORY = "E09006"  # 占道经营: handled by a department in 历下区
WEEK = date(2026, 11, 16)


def grids(db, parent: str) -> list[Grid]:
    return list(db.scalars(select(Grid).where(CURRENT, Grid.parent_code == parent).order_by(Grid.code)))


def signal(db, area: str, *, observed: int = 21, kind: str = SURGE, category: str = CATEGORY) -> Signal:
    grid = db.scalar(select(Grid).where(CURRENT, Grid.code == area))
    cat = db.scalar(select(Category).where(Category.code == category))
    return Signal(
        kind=kind,
        level=grid.level,
        area_code=grid.code,
        area_name=grid.name,
        category_id=cat.id,
        category_code=cat.code,
        category_name=cat.name,
        period_start=WEEK,
        period_end=WEEK + timedelta(days=6),
        observed=observed,
        expected=3.5,
        p_value=1e-6,
        message=f"{grid.name}「{cat.name}」本周 {observed} 件，远高于预期的 3.5 件",
    )


def street_and_village(db) -> tuple[Grid, Grid]:
    street = grids(db, "370102")[1]
    return street, grids(db, street.code)[0]


def post(client, path: str, headers, body=None):
    return client.post(f"/api/warnings{path}", json=body or {}, headers=headers)


def test_a_new_signal_updates_the_open_warning_and_never_makes_a_second(demo_db):
    db = demo_db
    _, village = street_and_village(db)
    (first,) = service.raise_signals(db, [signal(db, village.code)])
    assert (first.state, first.observed, first.resignalled, first.area_path) == (
        "raised",
        21,
        0,
        village.path,
    )
    (again,) = service.raise_signals(db, [signal(db, village.code, observed=30)])
    assert again.id == first.id and (again.observed, again.resignalled) == (30, 1)
    (other,) = service.raise_signals(db, [signal(db, village.code, kind=PERSISTENT)])
    assert other.id != first.id  # 长期高频 kept apart from 突增高频
    trail = db.scalars(select(WarningEvent.action).where(WarningEvent.warning_id == first.id)).all()
    assert trail == ["raise", "resignal"]
    shift_lead = make_user(db, ["shift_lead"])
    service.close(db, shift_lead, service_scope(db, shift_lead), first.id, reason="已整治")
    (new,) = service.raise_signals(db, [signal(db, village.code)])
    assert new.id not in (first.id, other.id) and new.state == "raised"


def service_scope(db, who):
    return scope_of(db=db, principal=who)


def test_the_life_of_a_warning_and_who_may_act(demo_db, demo_client):
    db, http = demo_db, demo_client
    _, village = street_and_village(db)
    (warning,) = service.raise_signals(db, [signal(db, village.code)])
    cat = db.scalar(select(Category).where(Category.code == CATEGORY))
    department = category_service.responsible_department(db=db, category=cat, district_code=village.code)
    other = next(
        d for d in category_service.list_departments(db=db) if d.id != department.id and d.grid_code is None
    )
    center = login(http, make_user(db, ["acceptor", "dispatcher"]))
    lead = login(http, make_user(db, ["shift_lead"]))
    addressee = login(http, make_user(db, ["department"], department=department.code, name="占道科员"))
    stranger = login(http, make_user(db, ["department"], department=other.code))
    w = f"/{warning.id}"

    assert post(http, w + "/acknowledge", addressee, {"reply": "已核查"}).status_code == 404  # not yet his
    resp = post(http, w + "/seen", center)
    assert resp.status_code == 200 and resp.json()["state"] == "seen"
    resp = post(http, w + "/seen", lead)
    assert resp.status_code == 409 and "已由" in resp.json()["detail"] and "查看过" in resp.json()["detail"]
    assert post(http, w + "/letter", addressee).status_code == 403  # a department sends no letters

    resp = post(http, w + "/letter", center)
    assert resp.status_code == 200, resp.text
    sent = resp.json()
    assert sent["state"] == "letter" and sent["addressee_name"] == department.name
    year, seq = re.fullmatch(r"提醒函〔(\d{4})〕第 (\d+) 号", sent["letter_number"]).groups()
    assert int(year) == date.today().year or int(year) == date.today().year + 1
    resp = post(http, w + "/letter", lead)
    assert resp.status_code == 409 and sent["letter_number"] in resp.json()["detail"]

    assert post(http, w + "/acknowledge", center, {"reply": "x"}).status_code == 403  # role
    resp = post(http, w + "/acknowledge", stranger, {"reply": "已核查"})
    assert resp.status_code == 404  # another department does not see it
    resp = post(http, w + "/acknowledge", addressee, {"reply": "   "})
    assert resp.status_code == 422 and "请填写核查和处理情况" in resp.json()["detail"]
    listed = http.get("/api/warnings", headers=addressee).json()["items"]
    assert [(i["id"], i["can_acknowledge"]) for i in listed] == [(warning.id, True)]
    resp = post(http, w + "/acknowledge", addressee, {"reply": "已组织城管队员清理占道摊点"})
    assert resp.status_code == 200 and resp.json()["state"] == "acknowledged"
    resp = post(http, w + "/acknowledge", addressee, {"reply": "再次反馈"})
    assert resp.status_code == 409 and "占道科员" in resp.json()["detail"]

    assert post(http, w + "/close", center, {"reason": "已处理"}).status_code == 403  # not a shift lead
    resp = post(http, w + "/close", lead, {"reason": " "})
    assert resp.status_code == 422 and "关闭预警的原因" in resp.json()["detail"]
    resp = post(http, w + "/close", lead, {"reason": "部门已反馈，问题已处理"})
    assert resp.status_code == 200 and resp.json()["state"] == "closed"
    resp = post(http, w + "/seen", center)
    assert resp.status_code == 409 and "已于" in resp.json()["detail"] and "关闭" in resp.json()["detail"]

    one = http.get(f"/api/warnings{w}", headers=lead).json()
    assert [e["action"] for e in one["trail"]] == ["raise", "seen", "letter", "acknowledge", "close"]
    assert one["trail"][3]["note"] == "已组织城管队员清理占道摊点" and one["reply"] == one["trail"][3]["note"]
    # the next letter of the year takes the next number
    (second,) = service.raise_signals(db, [signal(db, village.code, kind=PERSISTENT)])
    number = post(http, f"/{second.id}/letter", center).json()["letter_number"]
    assert number == f"提醒函〔{year}〕第 {int(seq) + 1} 号"


def test_a_letter_to_the_street_is_acknowledged_by_its_grid_heads_only(demo_db, demo_client):
    db, http = demo_db, demo_client
    street, village = street_and_village(db)
    (warning,) = service.raise_signals(db, [signal(db, village.code)])
    center = login(http, make_user(db, ["shift_lead"]))
    resp = post(http, f"/{warning.id}/letter", center, {"addressee": "street"})
    assert resp.status_code == 200 and resp.json()["addressee_name"] == street.name
    head = make_user(db, ["grid_head"])
    grid_people.assign(db=db, grid_code=street.code, user=head.user, role="head")
    village_head = make_user(db, ["grid_head"])
    grid_people.assign(db=db, grid_code=village.code, user=village_head.user, role="head")
    resp = post(http, f"/{warning.id}/acknowledge", login(http, village_head), {"reply": "已核查"})
    assert resp.status_code == 403 and street.name in resp.json()["detail"]
    resp = post(http, f"/{warning.id}/acknowledge", login(http, head), {"reply": "街道已安排整治"})
    assert resp.status_code == 200 and resp.json()["state"] == "acknowledged"
    # a district-wide warning goes to the district's grid heads
    (wide,) = service.raise_signals(db, [signal(db, "370102")])
    resp = post(http, f"/{wide.id}/letter", center, {"addressee": "street"})
    assert resp.status_code == 200 and resp.json()["addressee_name"] == "历下区"


def test_each_user_sees_the_warnings_of_its_scope(demo_db, demo_client):
    db, http = demo_db, demo_client
    street, village = street_and_village(db)
    far_street = grids(db, "370102")[2]
    (here,) = service.raise_signals(db, [signal(db, village.code)])
    (there,) = service.raise_signals(db, [signal(db, far_street.code)])
    head = make_user(db, ["grid_head"])
    grid_people.assign(db=db, grid_code=street.code, user=head.user, role="head")
    headers = login(http, head)
    assert [w["id"] for w in http.get("/api/warnings", headers=headers).json()["items"]] == [here.id]
    assert http.get(f"/api/warnings/{there.id}", headers=headers).status_code == 404
    city = login(http, make_user(db, ["leader"]))
    ids = {w["id"] for w in http.get("/api/warnings", headers=city).json()["items"]}
    assert {here.id, there.id} <= ids
    narrowed = http.get("/api/warnings", params={"grid": far_street.code}, headers=city).json()["items"]
    assert [w["id"] for w in narrowed] == [there.id]
    inspector = login(http, make_user(db, ["inspector"], inspects=village.code))
    assert http.get("/api/warnings", headers=inspector).status_code == 403


def cases(db, village: Grid, category: Category, day: date, n: int) -> None:
    """``n`` filed hotline cases of ``category`` in ``village`` at noon of ``day``."""
    db.execute(
        text(
            """INSERT INTO case_file (code, client_uuid, content_hash, channel, state, category_id, urgency,
                   location, reported_crs, grid_id, grid_code, grid_path, district_code, received_at)
               SELECT 'W-' || left(md5(random()::text), 24), gen_random_uuid(), 'x', 'hotline', 'filed',
                      :cat, 'normal', ST_PointOnSurface(g.geom), 'wgs84', g.id, g.code, g.path,
                      substr(g.code, 1, 6), (CAST(:day AS date) + time '12:00') AT TIME ZONE 'Asia/Shanghai'
               FROM grid g, generate_series(1, :n) WHERE g.valid_to IS NULL AND g.code = :village"""
        ),
        {"cat": category.id, "day": day, "n": n, "village": village.code},
    )


def test_the_letter_shows_the_figures_and_the_map_and_stays_as_sent(demo_db, demo_client):
    db, http = demo_db, demo_client
    _, village = street_and_village(db)
    cat = db.scalar(select(Category).where(Category.code == CATEGORY))

    cases(db, village, cat, WEEK - timedelta(weeks=3), 2)
    cases(db, village, cat, WEEK + timedelta(days=2), 21)
    (warning,) = service.raise_signals(db, [signal(db, village.code)])
    center = login(http, make_user(db, ["shift_lead"], name="值班长老李"))
    assert http.get(f"/api/warnings/{warning.id}/letter.html", headers=center).status_code == 404
    number = post(http, f"/{warning.id}/letter", center).json()["letter_number"]
    resp = http.get(f"/api/warnings/{warning.id}/letter.html", headers=center)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    page = resp.text
    for words in ("<h1>提醒函</h1>", number, warning.message, "实际案件数", "21 件", "3.5 件", "值班长老李"):
        assert words in page, words
    assert "请于 5 个工作日内" in page and "@page { size: A4" in page
    bars = re.search(r'<svg class="weeks".*?</svg>', page).group(0)
    counts = [int(c) for c in re.findall(r"：(\d+) 件</title>", bars)]
    assert len(counts) == 12 and counts[-1] == 21 and counts[-4] == 2 and sum(counts) == 23
    the_map = re.search(r'<svg class="map".*?</svg>', page).group(0)
    assert the_map.count("<circle") == 21 and '<path d="M' in the_map
    cases(db, village, cat, WEEK + timedelta(days=3), 5)  # later data does not alter the letter sent
    assert http.get(f"/api/warnings/{warning.id}/letter.html", headers=center).text == page


@pytest.fixture
def live_url(fresh_db_url, tmp_path) -> Iterator[str]:
    with serving(fresh_db_url, tmp_path / "server.log") as url:
        yield url


def test_warning_changes_reach_the_streams_of_their_area(fresh_db_url, live_url):
    west_phone, east_phone = "13900000131", "13900000132"
    setup_city(fresh_db_url, {west_phone: "370102", east_phone: "370103"})
    with client(live_url) as http, ExitStack() as streams:
        west_token = stream_login(http, west_phone)
        west = streams.enter_context(opened(http, headers=bearer(west_token)))
        east = streams.enter_context(opened(http, headers=bearer(stream_login(http, east_phone))))
        with new_session(fresh_db_url) as db:
            (west_warning,) = service.raise_signals(db, [signal(db, "370102001")])
            (east_warning,) = service.raise_signals(db, [signal(db, "370103002")])
            ids = west_warning.id, east_warning.id
        get_engine(fresh_db_url).dispose()

        def first_warning(stream) -> dict:
            return json.loads(stream.until(lambda e: e.get("event") == "warning")[0]["data"])

        got = first_warning(west)
        assert got == {
            "id": ids[0],
            "state": "raised",
            "kind": "surge",
            "area_path": "370100.370102.370102001",
        }
        assert first_warning(east)["id"] == ids[1]  # the west warning never reached the east stream
        resp = http.post(f"/api/warnings/{ids[0]}/seen", headers=bearer(west_token))
        assert resp.status_code == 200, resp.text
        assert first_warning(west) == {**got, "state": "seen"}


def test_the_command_line_scans_lists_and_closes(demo_clone_url):
    with new_session(demo_clone_url) as db:
        street, village = street_and_village(db)
        cat = db.scalar(select(Category).where(Category.code == CATEGORY))
        cases(db, village, cat, WEEK + timedelta(days=1), 21)
        db.commit()
    get_engine(demo_clone_url).dispose()
    env = {**os.environ, "DATABASE_URL": demo_clone_url, "COLUMNS": "200"}
    first = gridops("warnings", "scan", "--week", str(WEEK + timedelta(days=3)), env=env).stdout
    assert first.startswith(f"{WEEK} 至 {WEEK + timedelta(days=6)}：发现 ") and village.name in first
    again = gridops("warnings", "scan", "--week", str(WEEK), env=env).stdout
    assert "新产生 0 条预警" in again and "未关闭的预警更新了数字" in again
    listed = gridops("warnings", "list", "--grid", street.code, env=env).stdout
    assert village.name in listed and "新预警" in listed
    ident = re.search(rf"#(\d+) {village.name}", first).group(1)
    closed = gridops("warnings", "close", ident, "--reason", "已整治", env=env).stdout
    assert closed.startswith(f"预警 #{ident}（{village.name}）已关闭：已整治")
    refused = gridops("warnings", "close", ident, "--reason", "再关", env=env, check=False)
    assert refused.returncode != 0 and "关闭（已整治），不能再办理" in refused.stderr
