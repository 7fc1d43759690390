"""The administrator's routes on the demo city: users (edit, disable, revoke devices, reset a password, the
roles in words), departments, dispatch centers and the holiday file. Each is the administrators' alone,
refuses bad input in Chinese, and does what it says: a disabled user cannot log in, a revoked device cannot
refresh, a holiday file with a problem is refused whole and nothing is written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from server import messages
from server.auth.passwords import DEMO_PASSWORD
from server.auth.schemas import Role
from server.category.loader import STARTER_TAXONOMY
from server.category.models import Department
from server.config import get_settings
from server.grid.models import CURRENT, Grid
from server.users.demo import DISTRICT
from tests.conftest import api_client
from tests.server.test_auth import bearer

PASSWORD = "another horse 42"
HOLIDAYS = (
    b"holidays:\n  - 2027-01-01\n  - 2027-02-08 # \xe6\x98\xa5\xe8\x8a\x82\nworkdays:\n  - 2027-02-20\n"
)


@pytest.fixture
def client(demo_db) -> Iterator:
    with api_client(demo_db) as test_client:
        yield test_client


def log_in(client, login: str, password: str = DEMO_PASSWORD, device: str = "web-1") -> dict:
    body = {"login": login, "password": password, "device_id": device, "device_name": device}
    answer = client.post("/api/auth/login", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.fixture
def admin(client) -> dict[str, str]:
    return bearer(log_in(client, "admin"))


@pytest.fixture
def inspector(client) -> dict[str, str]:
    return bearer(log_in(client, "13900000001"))


@pytest.fixture
def holiday_path(tmp_path, monkeypatch) -> Path:
    """The holiday file of the settings, in a directory of the test's own (never a tracked file)."""
    path = tmp_path / "calendar" / "holidays.yaml"
    monkeypatch.setattr(get_settings(), "holiday_file", path)
    return path


def street(db, index: int = 0) -> Grid:
    query = select(Grid).where(CURRENT, Grid.parent_code == DISTRICT).order_by(Grid.code)
    return db.scalars(query).all()[index]


def village(db) -> Grid:
    return db.scalar(select(Grid).where(CURRENT, Grid.parent_code == street(db).code).order_by(Grid.code))


def new_user(client, admin, **fields) -> dict:
    body = {"name": "周强", "phone": "13700000001", "password": PASSWORD, "roles": ["inspector"], **fields}
    answer = client.post("/api/users", json=body, headers=admin)
    assert answer.status_code == 201, answer.text
    return answer.json()


def refused_in_chinese(answer, status: int, code: str) -> dict:
    body = answer.json()
    assert answer.status_code == status and body["code"] == code, answer.text
    assert any("\u4e00" <= c <= "\u9fff" for c in body["detail"]), body
    return body


# -- who may ------------------------------------------------------------------------------------------

ROUTES = [
    ("GET", "/api/users", None),
    ("GET", "/api/users/roles", None),
    ("PATCH", "/api/users/1", {"name": "某人"}),
    ("POST", "/api/users/1/revoke", None),
    ("POST", "/api/users/1/password", {"password": PASSWORD}),
    ("POST", "/api/departments", {"code": "team_x", "name": "某队"}),
    ("PATCH", "/api/departments/sanitation", {"name": "某处"}),
    ("GET", "/api/dispatch-centers", None),
    ("POST", "/api/dispatch-centers", {"grid_code": "370102001", "name": "某分中心"}),
    ("PATCH", "/api/dispatch-centers/370102001", {"name": "某分中心"}),
    ("GET", "/api/calendar/years/2027", None),
    ("GET", "/api/calendar/holiday-file", None),
]


@pytest.mark.parametrize(("method", "url", "body"), ROUTES)
def test_each_route_is_the_administrators(client, inspector, method, url, body):
    refused = client.request(method, url, json=body, headers=inspector)
    detail = refused_in_chinese(refused, 403, "auth.role_required")["detail"]
    assert detail == messages.text("auth.role_required", roles="管理员")
    assert client.request(method, url, json=body).status_code == 401


def test_uploading_a_holiday_file_is_the_administrators(client, inspector, holiday_path):
    files = {"file": ("holidays.yaml", HOLIDAYS, "application/yaml")}
    refused = client.post("/api/calendar/holiday-file", files=files, headers=inspector)
    refused_in_chinese(refused, 403, "auth.role_required")
    assert not holiday_path.exists()


# -- users --------------------------------------------------------------------------------------------


def test_the_roles_in_words_and_the_users_with_their_devices(client, admin):
    roles = client.get("/api/users/roles", headers=admin).json()
    assert roles == [{"role": role.value, "name": messages.role_name(role)} for role in Role]
    assert roles[0] == {"role": "inspector", "name": "网格员"}

    user = new_user(client, admin)
    log_in(client, user["phone"], PASSWORD, device="phone")
    log_in(client, user["phone"], PASSWORD, device="tablet")
    listed = {u["id"]: u for u in client.get("/api/users", headers=admin).json()}
    assert listed[user["id"]]["devices"] == 2 and listed[user["id"]]["roles"] == ["inspector"]
    inspectors = client.get("/api/users", params={"role": "inspector"}, headers=admin).json()
    assert user["id"] in {u["id"] for u in inspectors} and all("inspector" in u["roles"] for u in inspectors)


def test_an_administrator_edits_name_roles_grid_and_department(client, admin, demo_db):
    user = new_user(client, admin)
    grid = street(demo_db).code
    body = {"name": "周强强", "roles": ["department", "inspector", "department"], "grid_code": grid}
    edited = client.patch(
        f"/api/users/{user['id']}", json={**body, "department_code": "sanitation_lx"}, headers=admin
    )
    assert edited.status_code == 200, edited.text
    got = edited.json()
    assert (got["name"], got["roles"], got["grid_code"], got["department_code"]) == (
        "周强强",
        ["inspector", "department"],  # once each, in the order of the roles
        grid,
        "sanitation_lx",
    )
    cleared = client.patch(f"/api/users/{user['id']}", json={"grid_code": None}, headers=admin).json()
    assert cleared["grid_code"] is None and cleared["department_code"] == "sanitation_lx"
    assert cleared["name"] == "周强强"  # what was not sent stays

    unknown = client.patch(f"/api/users/{user['id']}", json={"grid_code": "370102999999"}, headers=admin)
    refused_in_chinese(unknown, 404, "grid.not_found")
    nobody = client.patch("/api/users/999999", json={"name": "某人"}, headers=admin)
    refused_in_chinese(nobody, 404, "auth.no_user")


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"roles": ["boss"]}, "第 1 项的身份不是可选的值，请从说明列出的选项中选择"),
        ({"grid_code": "abc"}, "网格编号的格式不对，请按说明填写"),
        ({"name": ""}, "名称太短：至少 1 个字符，请补全"),
        ({"name": "张" * 101}, "名称太长：最多 100 个字符，请删减"),
        ({"active": "maybe"}, "是否启用应为是或否（true 或 false）"),
        ({"phone": "13700000009"}, "手机号不是可以提交的字段，请删去"),
    ],
)
def test_a_bad_edit_is_refused_in_chinese(client, admin, body, detail):
    user = new_user(client, admin)
    answer = client.patch(f"/api/users/{user['id']}", json=body, headers=admin)
    assert refused_in_chinese(answer, 422, "validation.request")["detail"] == detail


def test_an_administrator_keeps_their_own_admin_role_and_account(client, admin, demo_db):
    me = client.get("/api/auth/me", headers=admin).json()["user"]
    dropped = client.patch(f"/api/users/{me['id']}", json={"roles": ["leader"]}, headers=admin)
    refused_in_chinese(dropped, 409, "users.own_admin_role")
    disabled = client.patch(f"/api/users/{me['id']}", json={"active": False}, headers=admin)
    refused_in_chinese(disabled, 409, "users.own_account_disabled")
    renamed = client.patch(f"/api/users/{me['id']}", json={"roles": ["admin", "leader"]}, headers=admin)
    assert renamed.status_code == 200 and renamed.json()["roles"] == ["leader", "admin"]


def test_disabling_stops_login_and_ends_the_sessions_enabling_allows_it_again(client, admin):
    user = new_user(client, admin)
    tokens = log_in(client, user["phone"], PASSWORD)
    disabled = client.patch(f"/api/users/{user['id']}", json={"active": False}, headers=admin)
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    body = {"login": user["phone"], "password": PASSWORD, "device_id": "web-2"}
    refused_in_chinese(client.post("/api/auth/login", json=body), 403, "auth.account_disabled")
    assert client.get("/api/auth/me", headers=bearer(tokens)).status_code == 401
    refresh = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401

    enabled = client.patch(f"/api/users/{user['id']}", json={"active": True}, headers=admin)
    assert enabled.status_code == 200 and enabled.json()["active"] is True
    assert client.post("/api/auth/login", json=body).status_code == 200


def test_revoking_the_devices_ends_every_refresh(client, admin):
    user = new_user(client, admin)
    phone = log_in(client, user["phone"], PASSWORD, device="phone")
    tablet = log_in(client, user["phone"], PASSWORD, device="tablet")
    revoked = client.post(f"/api/users/{user['id']}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json() == {"revoked_sessions": 2}
    for tokens in (phone, tablet):
        refresh = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        refused_in_chinese(refresh, 401, "auth.session_ended")
        assert client.get("/api/auth/me", headers=bearer(tokens)).status_code == 401
    listed = {u["id"]: u for u in client.get("/api/users", headers=admin).json()}
    assert listed[user["id"]]["devices"] == 0
    assert log_in(client, user["phone"], PASSWORD)  # the account itself is untouched
    assert client.post(f"/api/users/{user['id']}/revoke", headers=admin).json() == {"revoked_sessions": 1}


def test_a_reset_password_replaces_the_old_one(client, admin):
    user = new_user(client, admin)
    reset = client.post(
        f"/api/users/{user['id']}/password", json={"password": "a brand new one"}, headers=admin
    )
    assert reset.status_code == 200
    old = {"login": user["phone"], "password": PASSWORD, "device_id": "web-3"}
    refused_in_chinese(client.post("/api/auth/login", json=old), 401, "auth.wrong_login")
    assert log_in(client, user["phone"], "a brand new one")
    short = client.post(f"/api/users/{user['id']}/password", json={"password": "short"}, headers=admin)
    refused_in_chinese(short, 422, "auth.password_too_short")


# -- departments --------------------------------------------------------------------------------------


def test_an_administrator_adds_and_edits_a_street_team(client, admin, demo_db):
    grid = street(demo_db)
    body = {
        "code": "team_lx1",
        "name": "第一街道综合执法队",
        "phone": "0531-86080000",
        "grid_code": grid.code,
    }
    added = client.post("/api/departments", json=body, headers=admin)
    assert added.status_code == 201, added.text
    assert added.json() == {**body, "active": True}
    assert demo_db.scalar(select(Department.grid_code).where(Department.code == "team_lx1")) == grid.code

    edited = client.patch(
        "/api/departments/team_lx1", json={"name": "第一街道执法队", "phone": None}, headers=admin
    )
    assert edited.status_code == 200
    assert (edited.json()["name"], edited.json()["phone"], edited.json()["grid_code"]) == (
        "第一街道执法队",
        None,
        grid.code,
    )
    retired = client.patch("/api/departments/team_lx1", json={"active": False}, headers=admin)
    assert retired.status_code == 200 and retired.json()["active"] is False
    in_use = {d["code"] for d in client.get("/api/departments").json()}
    every = {d["code"]: d for d in client.get("/api/departments", params={"include_inactive": True}).json()}
    assert "team_lx1" not in in_use and every["team_lx1"]["active"] is False
    assert client.patch("/api/departments/team_lx1", json={"active": True}, headers=admin).json()["active"]

    # a complete taxonomy file deactivates the departments it does not hold, not the streets' own teams
    loaded = client.post(
        "/api/categories/load",
        files={"file": ("taxonomy.yaml", STARTER_TAXONOMY.read_bytes())},
        headers=admin,
    )
    assert loaded.status_code == 200, loaded.text
    assert "team_lx1" in {d["code"] for d in client.get("/api/departments").json()}


def test_a_department_is_refused_a_taken_code_a_grid_below_a_street_and_bad_input(client, admin, demo_db):
    taken = client.post("/api/departments", json={"code": "sanitation", "name": "又一个"}, headers=admin)
    body = refused_in_chinese(taken, 409, "category.department_exists")
    assert body["params"] == {"department": "sanitation", "name": "济南市城市管理局环境卫生管理处"}

    below = village(demo_db)
    team = {"code": "team_v", "name": "社区队", "grid_code": below.code}
    refused = client.post("/api/departments", json=team, headers=admin)
    assert refused_in_chinese(refused, 422, "category.team_grid_not_street")["params"]["level"] == "社区村"
    unknown = client.post("/api/departments", json={**team, "grid_code": "370102999"}, headers=admin)
    refused_in_chinese(unknown, 404, "grid.not_found")
    edit = client.patch("/api/departments/sanitation_lx", json={"grid_code": below.code}, headers=admin)
    refused_in_chinese(edit, 422, "category.team_grid_not_street")

    for wrong, detail in [
        ({"code": "Team X", "name": "某队"}, "编号的格式不对，请按说明填写"),
        ({"code": "team_x", "name": ""}, "名称太短：至少 1 个字符，请补全"),
        ({"code": "team_x", "name": "某队", "phone": "打电话"}, "手机号的格式不对，请按说明填写"),
        ({"name": "某队"}, "缺少编号，请填写后重试"),
    ]:
        answer = client.post("/api/departments", json=wrong, headers=admin)
        assert refused_in_chinese(answer, 422, "validation.request")["detail"] == detail
    missing = client.patch("/api/departments/nosuch", json={"name": "某队"}, headers=admin)
    refused_in_chinese(missing, 404, "category.no_department")


def test_a_department_handling_categories_in_use_stays_in_use(client, admin):
    refused = client.patch("/api/departments/sanitation_lx", json={"active": False}, headers=admin)
    body = refused_in_chinese(refused, 409, "category.department_in_use")
    assert body["params"]["count"] > 0  # its district overrides count too
    assert all(d["code"] != "sanitation_lx" or d["active"] for d in client.get("/api/departments").json())


# -- dispatch centers ---------------------------------------------------------------------------------


def test_an_administrator_adds_renames_and_deactivates_a_street_sub_center(client, admin, demo_db):
    grid = street(demo_db).code
    added = client.post(
        "/api/dispatch-centers", json={"grid_code": grid, "name": "第一街道分中心"}, headers=admin
    )
    assert added.status_code == 201 and added.json() == {
        "grid_code": grid,
        "name": "第一街道分中心",
        "active": True,
    }
    again = client.post("/api/dispatch-centers", json={"grid_code": grid, "name": "重复"}, headers=admin)
    refused_in_chinese(again, 409, "category.dispatch_center_exists")
    edited = client.patch(
        f"/api/dispatch-centers/{grid}", json={"name": "一街分中心", "active": False}, headers=admin
    )
    assert edited.json() == {"grid_code": grid, "name": "一街分中心", "active": False}
    listed = client.get("/api/dispatch-centers", headers=admin).json()
    assert {"grid_code": grid, "name": "一街分中心", "active": False} in listed


def test_a_dispatch_center_needs_a_grid_that_exists(client, admin):
    unknown = client.post(
        "/api/dispatch-centers", json={"grid_code": "370102999", "name": "某分中心"}, headers=admin
    )
    refused_in_chinese(unknown, 404, "grid.not_found")
    for wrong, detail in [
        ({"grid_code": "abc", "name": "某分中心"}, "网格编号的格式不对，请按说明填写"),
        ({"grid_code": "370102001"}, "缺少名称，请填写后重试"),
    ]:
        answer = client.post("/api/dispatch-centers", json=wrong, headers=admin)
        assert refused_in_chinese(answer, 422, "validation.request")["detail"] == detail
    missing = client.patch("/api/dispatch-centers/370102999", json={"name": "某分中心"}, headers=admin)
    refused_in_chinese(missing, 404, "category.no_dispatch_center")
    bad_path = client.patch("/api/dispatch-centers/abc", json={"name": "某分中心"}, headers=admin)
    refused_in_chinese(bad_path, 422, "validation.request")


# -- the holiday file ---------------------------------------------------------------------------------


def upload(client, admin, content: bytes, dry_run: bool = False, name: str = "holidays.yaml"):
    files = {"file": (name, content, "application/yaml")}
    return client.post("/api/calendar/holiday-file", params={"dry_run": dry_run}, files=files, headers=admin)


def test_a_holiday_file_is_checked_then_written_and_counts_at_once(client, admin, holiday_path):
    assert client.get("/api/calendar/holiday-file", headers=admin).json() == {
        "exists": False,
        "written": False,
        "years": [],
    }
    checked = upload(client, admin, HOLIDAYS, dry_run=True)
    assert checked.status_code == 200, checked.text
    assert checked.json() == {
        "exists": False,
        "written": False,
        "years": [{"year": 2027, "holidays": 2, "workdays": 1, "package_covers": False}],
    }
    assert not holiday_path.exists()  # a check writes nothing

    written = upload(client, admin, HOLIDAYS)
    assert written.json()["written"] is True and written.json()["exists"] is True
    assert holiday_path.read_bytes() == HOLIDAYS
    assert [p.name for p in holiday_path.parent.iterdir()] == ["holidays.yaml"]  # no temporary file left

    year = client.get("/api/calendar/years/2027", headers=admin).json()
    assert year["package_covers"] is False and year["holiday_file"] is True
    days = {d["day"]: d for d in year["days"]}
    assert days["2027-02-08"] == {"day": "2027-02-08", "off": True, "name": None, "source": "holiday file"}
    assert days["2027-02-20"]["off"] is False and days["2027-02-20"]["source"] == "holiday file"
    assert client.get("/api/calendar/holiday-file", headers=admin).json()["years"][0]["holidays"] == 2


def test_the_package_years_show_their_holidays_by_name(client, admin, holiday_path):
    year = client.get("/api/calendar/years/2026", headers=admin).json()
    assert year["package_covers"] is True and year["holiday_file"] is False
    national = {d["day"]: d for d in year["days"]}["2026-10-01"]
    assert national == {"day": "2026-10-01", "off": True, "name": "国庆节", "source": "package"}
    refused_in_chinese(client.get("/api/calendar/years/1800", headers=admin), 422, "validation.request")


@pytest.mark.parametrize(
    ("content", "code", "problem"),
    [
        (b"holidays:\n  - 2027-01-01\n  - 2027-02-30\n", "worktime.holiday_file_invalid", "第 2 项"),
        (
            b"holidays:\n  - 2027-01-01\nworkdays:\n  - 2027-01-01\n",
            "worktime.holiday_file_invalid",
            "同时列在",
        ),
        (b"holidays: [2027-01-01\n", "worktime.holiday_file_invalid", "不是有效的"),
        (b"vacations:\n  - 2027-01-01\n", "worktime.holiday_file_invalid", "vacations"),
        ("holidays:\n  - 2027-01-01 # 元旦\n".encode("gb18030"), "worktime.holiday_file_not_utf8", None),
    ],
)
def test_a_holiday_file_with_a_problem_is_refused_whole_and_nothing_is_written(
    client, admin, holiday_path, content, code, problem
):
    holiday_path.parent.mkdir(parents=True)
    holiday_path.write_bytes(HOLIDAYS)
    for dry_run in (True, False):
        body = refused_in_chinese(upload(client, admin, content, dry_run, name="假期.yaml"), 422, code)
        assert body["detail"] == messages.text(code)
        if problem:
            (error,) = body["errors"]
            assert problem in error["msg"] and "假期.yaml" in error["msg"]  # named as uploaded
            assert str(holiday_path.parent) not in error["msg"]  # never a path on the server
        assert holiday_path.read_bytes() == HOLIDAYS
        assert [p.name for p in holiday_path.parent.iterdir()] == ["holidays.yaml"]


def test_every_problem_of_a_holiday_file_is_listed(client, admin, holiday_path):
    content = "holidays:\n  - 2027-13-01\n  - 明天\n  - 2027-01-01\nworkdays:\n  - 2027-01-01\nnotes: 1\n"
    body = refused_in_chinese(upload(client, admin, content.encode()), 422, "worktime.holiday_file_invalid")
    problems = [error["msg"] for error in body["errors"]]
    assert len(problems) == 4, problems
    assert "“notes”不认识" in problems[0]
    assert "第 1 项“2027-13-01”不是日期" in problems[1] and "第 2 项“明天”不是日期" in problems[2]
    assert "2027-01-01 同时列在 holidays 和 workdays 中" in problems[3]
    assert not holiday_path.exists()


def test_a_broken_holiday_file_in_use_is_said_in_chinese(client, admin, holiday_path):
    holiday_path.parent.mkdir(parents=True)
    holiday_path.write_text("holidays:\n  - 明天\n", encoding="utf-8")
    refused_in_chinese(
        client.get("/api/calendar/years/2027", headers=admin), 422, "worktime.holiday_file_broken"
    )
    assert upload(client, admin, HOLIDAYS).status_code == 200  # an upload mends it
    assert client.get("/api/calendar/years/2027", headers=admin).status_code == 200
