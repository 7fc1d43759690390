"""Two cities in one deployment: the same grid codes in both, each city's people seeing only their own
city's rows, a province's administrator working in both, and the database itself leaving the other
cities' rows out (row-level security), so that a query that forgets the city leaks nothing."""

from __future__ import annotations

import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import ProgrammingError

from server.auth.principal import Principal
from server.case.scope import Scope
from server.category import service as categories
from server.city import service as cities
from server.config import get_settings
from server.database import get_engine, new_session
from server.events.listener import Notice
from server.events.views import _Caller
from server.photo.storage import LocalStorage
from server.photo.sweep import sweep_media
from server.tenant import City, current_cities, use_cities, use_city
from tests.server.authz_world import bearer
from tests.server.case_world import PASSWORD, jpeg, make_user, photo, report
from tests.server.grid_files import DX, DY, SOUTH, WEST, city_features, collection

# What belongs to the whole deployment rather than to a city: the city list, the layers' and request types'
# definitions, what belongs to an account (its devices, retired tokens, failed logins), and the tools'.
DEPLOYMENT_WIDE = {
    "alembic_version", "city", "device_session", "grid_layer", "login_failure", "request_type",
    "retired_refresh_token", "spatial_ref_sys",
}  # fmt: skip
POINT = (WEST + DX / 8, SOUTH + DY / 2)  # inside 370102001 of the test city


def _login(client, who: Principal, city: str | None = None) -> dict[str, str]:
    body = {"login": who.user.phone, "password": PASSWORD, "device_id": f"cities-{who.user.id}"}
    resp = client.post("/api/auth/login", json=body)
    assert resp.status_code == 200, resp.text
    headers = bearer(resp.json()["access_token"])
    return {**headers, "X-GridOps-City": city} if city else headers


def _populate(db, client, admin_headers, city: City) -> dict:
    """The test city's grids (the same codes in every city), the starter taxonomy, an acceptor and a case."""
    files = {"file": ("city.geojson", collection(city_features()), "application/geo+json")}
    resp = client.post(
        "/api/grids/import", files=files, headers={**admin_headers, "X-GridOps-City": city.code}
    )
    assert resp.status_code == 200, resp.text
    use_city(db, city.id)
    categories.load_starter(db=db)
    acceptor = make_user(db, ["acceptor"])
    case = report(db, acceptor, *POINT, description=f"{city.name}的井盖")
    return {"acceptor": acceptor, "case": case}


@pytest.fixture
def two_cities(db, client, admin_headers):
    jinan = db.query(City).filter_by(code="370100").one()
    beijing = cities.add_city(db, code="110100", name="北京市")
    return {"jinan": jinan, "beijing": beijing} | {
        "in_jinan": _populate(db, client, admin_headers, jinan),
        "in_beijing": _populate(db, client, admin_headers, beijing),
    }


def test_the_same_grid_and_case_codes_live_in_two_cities_each_seeing_its_own(db, client, two_cities):
    jinan_case, beijing_case = two_cities["in_jinan"]["case"], two_cities["in_beijing"]["case"]
    assert jinan_case.code == beijing_case.code  # same district, same day, first case: one code per city
    assert jinan_case.id != beijing_case.id

    for side, other in (("in_jinan", "in_beijing"), ("in_beijing", "in_jinan")):
        headers = _login(client, two_cities[side]["acceptor"])
        listed = client.get("/api/cases", headers=headers).json()["items"]
        assert [c["client_uuid"] for c in listed] == [str(two_cities[side]["case"].client_uuid)]
        detail = client.get(f"/api/cases/{jinan_case.code}", headers=headers).json()
        assert detail["description"] == two_cities[side]["case"].description
        assert detail["description"] != two_cities[other]["case"].description
        grid = client.get("/api/grids/370100", headers=headers).json()
        assert grid["name"] == "测试市"
        located = client.get("/api/grids/locate", params={"lon": POINT[0], "lat": POINT[1]}, headers=headers)
        assert located.status_code == 200 and located.json()["chain"][-1]["code"] == "370102001"

    # a user may not work in a city that is not theirs
    headers = _login(client, two_cities["in_jinan"]["acceptor"], city="110100")
    resp = client.get("/api/cases", headers=headers)
    assert resp.status_code == 403 and "城市" in resp.json()["detail"]
    resp = client.get("/api/cases", headers={**headers, "X-GridOps-City": "37010"})
    assert resp.status_code == 422


def test_a_province_administrator_works_in_each_of_their_cities_and_reads_them_side_by_side(
    db, client, two_cities
):
    use_city(db, two_cities["jinan"].id)
    admin = make_user(db, ["admin", "leader"], name="省平台管理员")
    admin.user.also_cities = [two_cities["beijing"].id]
    db.commit()

    headers = _login(client, admin)
    listed = client.get("/api/cities", headers=headers).json()
    assert [(c["code"], c["current"]) for c in listed] == [("370100", True), ("110100", False)]
    in_beijing = {**headers, "X-GridOps-City": "110100"}
    assert [(c["code"], c["current"]) for c in client.get("/api/cities", headers=in_beijing).json()] == [
        ("370100", False),
        ("110100", True),
    ]
    cases = client.get("/api/cases", headers=in_beijing).json()["items"]
    assert [c["client_uuid"] for c in cases] == [str(two_cities["in_beijing"]["case"].client_uuid)]
    overview = client.get("/api/cities/overview", headers=headers).json()
    assert [(c["code"], c["open"], c["received_today"]) for c in overview] == [
        ("370100", 1, 1),
        ("110100", 1, 1),
    ]
    # what they write in Beijing is Beijing's
    body = {"code": "team_beijing", "name": "北京的街道队伍"}
    assert client.post("/api/departments", json=body, headers=in_beijing).status_code == 201
    use_city(db, two_cities["jinan"].id)
    assert db.scalar(text("SELECT count(*) FROM department WHERE code = 'team_beijing'")) == 0
    use_city(db, two_cities["beijing"].id)
    assert db.scalar(text("SELECT count(*) FROM department WHERE code = 'team_beijing'")) == 1


def test_the_database_shows_no_city_to_a_session_placed_nowhere_and_refuses_rows_of_another(db, two_cities):
    use_cities(db, [two_cities["jinan"].id, two_cities["beijing"].id], None)
    assert db.scalar(text("SELECT count(*) FROM grid WHERE code = '370100'")) == 2
    use_cities(db, [], None)
    assert current_cities(db) == ([], None)
    for table in ("grid", "case_file", "category", "app_user", "stats_area_day", "case_cell"):
        assert db.scalar(text(f"SELECT count(*) FROM {table}")) == 0, table
    use_city(db, two_cities["jinan"].id)
    with pytest.raises(ProgrammingError, match="row-level security"), db.begin_nested():
        db.execute(
            text("INSERT INTO tag (code, name, city_id) VALUES ('x', '越界', :other)"),
            {"other": two_cities["beijing"].id},
        )


def test_every_table_is_a_citys_under_its_policy_or_belongs_to_the_whole_deployment(db):
    tables = set(inspect(db.connection()).get_table_names())
    owned = {t for t in tables if "city_id" in {c["name"] for c in inspect(db.connection()).get_columns(t)}}
    assert tables - owned == DEPLOYMENT_WIDE
    guarded = set(
        db.scalars(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_policy p ON p.polrelid = c.oid "
                "WHERE c.relrowsecurity AND c.relnamespace = 'public'::regnamespace"
            )
        )
    )
    assert owned == guarded


def test_the_public_pages_and_open311_work_in_the_city_they_name(db, client, two_cities):
    beijing_case = two_cities["in_beijing"]["case"]
    use_city(db, two_cities["beijing"].id)
    db.execute(text("UPDATE case_file SET state = 'filed' WHERE id = :id"), {"id": beijing_case.id})
    # filed in Beijing only: the same code in Jinan is a reported case the public does not see yet
    assert client.get(f"/api/public/cases/{beijing_case.code}").status_code == 404
    seen = client.get(f"/api/public/cases/{beijing_case.code}", params={"city": "110100"})
    assert seen.status_code == 200, seen.text
    assert client.get(f"/api/public/cases/{beijing_case.code}", params={"city": "990100"}).status_code == 404

    services = client.get("/open311/v2/services.json", params={"jurisdiction_id": "110100"})
    assert services.status_code == 200 and services.json()
    wrong = client.get("/open311/v2/services.json", params={"jurisdiction_id": "990100"})
    assert wrong.status_code == 400 or wrong.status_code == 422
    assert "370100" in wrong.text and "110100" in wrong.text


def test_a_live_stream_hears_only_its_own_citys_changes(two_cities):
    everything = Scope(user_id=None, everything=True, grid_paths=(), department_id=None)
    caller = _Caller(None, None, None, (Principal(None, None, frozenset({"admin"})), everything, 1))
    assert caller.wants(Notice("case_change", {"id": 1, "city_id": 1, "grid_path": "370100"}))
    assert not caller.wants(Notice("case_change", {"id": 2, "city_id": 2, "grid_path": "370100"}))


def test_the_media_sweep_of_one_city_keeps_the_files_another_citys_photos_name(
    db, two_cities, tmp_path, monkeypatch
):
    monkeypatch.setattr(get_settings(), "media_dir", tmp_path)
    use_city(db, two_cities["beijing"].id)
    in_beijing = two_cities["in_beijing"]
    photo(db, in_beijing["acceptor"], in_beijing["case"], "before")
    files = {key for key, _ in LocalStorage(tmp_path).files()}
    assert files
    use_city(db, two_cities["jinan"].id)  # as the server's sweep runs: in the deployment's own city
    swept = sweep_media(db=db, storage=LocalStorage(tmp_path), older_than_s=-3600)  # every file is old
    assert swept.deleted == 0
    assert {key for key, _ in LocalStorage(tmp_path).files()} == files


@contextmanager
def _own_sessions_forgotten():
    """The application's sessions (``new_session()``) are made for the settings' database once: forgotten
    afterwards, so that later tests get theirs."""
    from server.database import _sessionmaker

    try:
        yield
    finally:
        _sessionmaker.cache_clear()
        get_engine.cache_clear()


def test_the_public_routes_place_their_requests_in_the_city_on_the_servers_own_sessions(
    fresh_db_url, setting
):
    """Through the application's own sessions (which start in no city), not a test's: Open311's service
    list is the deployment's own city's, or the city its jurisdiction names."""
    from fastapi.testclient import TestClient

    from server.main import create_app

    with new_session(fresh_db_url) as db:  # the deployment's own city: the template's 济南市
        categories.load_starter(db=db)
        cities.add_city(db, code="110100", name="北京市")
    setting("DATABASE_URL", fresh_db_url)
    with TestClient(create_app()) as client, _own_sessions_forgotten():
        own = client.get("/open311/v2/services.json")
        assert own.status_code == 200 and len(own.json()) > 50
        beijing = client.get("/open311/v2/services.json", params={"jurisdiction_id": "110100"})
        assert beijing.status_code == 200 and beijing.json() == []  # no taxonomy there yet
        assert client.get("/api/cases").status_code == 401
        # a public list in the city a header names, and in the own city without one
        assert client.get("/api/categories", headers={"X-GridOps-City": "110100"}).json() == []
        assert len(client.get("/api/categories").json()) > 50
    get_engine(fresh_db_url).dispose()


def test_a_citizens_report_in_another_city_gets_links_that_name_it(db, client, two_cities):
    data = {"client_uuid": str(uuid.uuid4()), "category": "E06010", "lon": POINT[0], "lat": POINT[1],
            "description": "北京的垃圾堆了三天", "phone": "13655550009"}  # fmt: skip
    files = [("photos", ("p.jpg", jpeg(*POINT), "image/jpeg"))]
    answer = client.post("/api/public/reports", params={"city": "110100"}, data=data, files=files)
    assert answer.status_code == 201, answer.text
    track_url = answer.json()["track_url"]
    assert track_url == f"/track/{answer.json()['code']}?city=110100"
    use_city(db, two_cities["beijing"].id)
    db.execute(
        text("UPDATE case_file SET state = 'filed' WHERE code = :code"), {"code": answer.json()["code"]}
    )
    case = client.get(track_url.replace("/track/", "/api/public/cases/")).json()
    photo_url = case["before"][0]["url"]
    assert photo_url.endswith(".jpg?city=110100")
    assert client.get(photo_url).status_code == 200
    assert client.get(photo_url.removesuffix("?city=110100")).status_code == 404  # not the own city's


def test_the_policies_leave_the_path_and_geometry_conditions_on_their_indexes(db, two_cities, owner_url):
    """The city policy is applied before any condition that is not leakproof, which then cannot use an
    index: the embedded cluster marks the path and geometry comparisons leakproof, so a city's reads keep
    their indexes (with sequential scans off, the plans must still find them)."""
    from server import migrate

    assert migrate.comparisons_leakproof(owner_url(str(db.get_bind().engine.url.render_as_string(False))))
    use_city(db, two_cities["jinan"].id)
    db.execute(text("SET LOCAL enable_seqscan = off"))
    for query, index in (
        ("SELECT code FROM grid WHERE path <@ '370100.370102'", "ix_grid_path"),
        (
            "SELECT code FROM grid WHERE geom && ST_MakeEnvelope(117.0, 36.6, 117.01, 36.61, 4326)",
            "ix_grid_geom",
        ),
    ):
        plan = "\n".join(db.scalars(text(f"EXPLAIN {query}")))
        assert index in plan, plan


def test_the_periodic_work_runs_once_in_each_city_and_one_citys_failure_spares_the_others(
    fresh_db_url, setting
):
    from server.tenant import each_city

    with new_session(fresh_db_url) as db:
        beijing = cities.add_city(db, code="110100", name="北京市").id
        jinan = db.query(City).filter_by(code="370100").one().id
    setting("DATABASE_URL", fresh_db_url)
    seen = []

    def work(db) -> None:
        seen.append(current_cities(db))
        if len(seen) == 1:
            raise RuntimeError("the first city's work fails")

    with _own_sessions_forgotten():
        each_city(work)
    assert seen == [([jinan], jinan), ([beijing], beijing)]
