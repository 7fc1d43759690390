"""Inputs that gave 500: text PostgreSQL cannot store (NUL, lone surrogates) and numbers JSON does not have
(NaN, Infinity) anywhere in a request, the one error shape every refusal has, its Chinese messages, and
grid files nested too deeply or with codes whose parent code cannot exist."""

from __future__ import annotations

import json
import uuid

import jsonschema
import pytest

from server import messages
from tests.server.case_world import make_user, village_point
from tests.server.grid_files import collection, feature, rect
from tests.server.test_case_http import login

JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def error_schema():
    """The published ``Error`` schema, resolvable on its own."""
    from server.main import create_app

    schema = create_app().openapi()
    return {"$ref": "#/components/schemas/Error", "components": schema["components"]}


def refused(resp, error_schema, status: int = 422, chinese: bool = True) -> dict:
    """The answer is ``status`` in the published error shape, with a Chinese detail."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    jsonschema.validate(body, error_schema)
    assert not chinese or any("\u4e00" <= c <= "\u9fff" for c in body["detail"]), body
    return body


def report_json(**fields) -> dict:
    body = {"client_uuid": str(uuid.uuid4()), "category": "E06010", "lon": 117.0231, "lat": 36.6753}
    return {**body, **fields}


@pytest.mark.parametrize(
    ("path", "params", "loc"),
    [
        ("/api/grids/search", {"q": "\x00"}, ["query", "q"]),
        ("/api/grids/search", {"q": "泉\x00城"}, ["query", "q"]),
        ("/api/grids/%00", {}, ["path", "code"]),
        ("/api/grids/locate", {"lon": "117", "lat": "36", "crs": "\x00"}, ["query", "crs"]),
    ],
)
def test_a_nul_in_the_query_or_path_is_refused_naming_the_field(demo_client, error_schema, path, params, loc):
    body = refused(demo_client.get(path, params=params), error_schema)
    assert [e["loc"] for e in body["errors"]] == [loc]
    assert body["errors"][0]["type"] == "text_nul" and body["code"] == "validation.request"
    assert body["detail"] == messages.text("validation.text_nul", field=messages.field_label(loc[1]))


def test_a_nul_in_open311_is_refused_in_the_georeport_format(demo_client):
    resp = demo_client.get("/open311/v2/requests.json", params={"service_code": "\x00"})
    assert resp.status_code == 400, resp.text
    (error,) = resp.json()
    assert error["code"] == 400 and error["description"].startswith("服务类别含有不允许的空字符")


@pytest.mark.parametrize("path", ["/api/sync/grids", "/api/categories"])
def test_a_time_with_an_offset_postgresql_has_not_is_read(demo_db, demo_client, path):
    """ISO 8601 allows offsets PostgreSQL does not (-22:24): the instant is read in UTC, never a 500."""
    headers = login(demo_client, make_user(demo_db, ["inspector"], inspects=village_point(demo_db)[0]))
    answer = demo_client.get(path, params={"since": "0720-06-29T16:28:41.361540-22:24"}, headers=headers)
    assert answer.status_code == 200, answer.text


def test_a_nul_or_lone_surrogate_in_a_json_string_is_refused(demo_client, admin_headers, error_schema):
    for raw, kind in (
        ("\\u0000", "text_nul"),
        ("\\ud800", "text_surrogate"),
        ("a\\udfffb", "text_surrogate"),
    ):
        data = json.dumps(report_json(description="PLACEHOLDER")).replace("PLACEHOLDER", raw)
        resp = demo_client.post("/api/cases", content=data, headers={**admin_headers, **JSON})
        body = refused(resp, error_schema)
        assert body["errors"] == [
            {"loc": ["body", "description"], "msg": body["errors"][0]["msg"], "type": kind}
        ]
        assert body["detail"].startswith("问题描述含有")


def test_a_nul_in_a_key_of_a_json_object_is_refused(demo_client, admin_headers, error_schema):
    data = json.dumps({**report_json(), "\x00": 1})
    resp = demo_client.post("/api/cases", content=data, headers={**admin_headers, **JSON})
    assert refused(resp, error_schema)["errors"][0]["type"] == "text_nul"


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_and_never_echoed(demo_client, admin_headers, error_schema, number):
    data = json.dumps(report_json(lon=0.5)).replace("0.5", number)
    resp = demo_client.post("/api/cases", content=data, headers={**admin_headers, **JSON})
    body = refused(resp, error_schema)
    assert body["errors"] == [
        {"loc": ["body", "lon"], "msg": body["errors"][0]["msg"], "type": "number_not_finite"}
    ]
    assert number not in resp.text


def test_a_nul_in_a_form_field_is_refused(demo_client, error_schema):
    form = {"client_uuid": str(uuid.uuid4()), "category": "E06010", "lon": "117.02", "lat": "36.67"}
    resp = demo_client.post("/api/public/reports", data={**form, "description": "坑\x00"})
    body = refused(resp, error_schema)
    assert [e["loc"] for e in body["errors"]] == [["body", "description"]]


def test_a_deeply_nested_json_body_is_refused_not_a_crash(demo_client, admin_headers, error_schema):
    """Python's parser gives up at about 1,000 levels; a walk over what it parsed must not."""
    deep = "[" * 900 + "]" * 900
    data = json.dumps(report_json(description="X")).replace('"X"', deep)
    resp = demo_client.post("/api/cases", content=data, headers={**admin_headers, **JSON})
    refused(resp, error_schema)
    deeper = "[" * 5000 + "]" * 5000
    data = json.dumps(report_json(description="X")).replace('"X"', deeper)
    resp = demo_client.post("/api/cases", content=data, headers={**admin_headers, **JSON})
    refused(resp, error_schema, status=400)


def test_validation_messages_are_chinese_name_the_field_and_echo_nothing(
    demo_client, admin_headers, error_schema
):
    secret = "13800138000-not-a-phone"
    body = report_json(lon=500, reporter_phone=secret, description="x" * 2001)
    del body["category"]
    resp = demo_client.post("/api/cases", json=body, headers=admin_headers)
    out = refused(resp, error_schema)
    by_field = {e["loc"][-1]: e for e in out["errors"]}
    assert set(by_field) == {"category", "lon", "reporter_phone", "description"}
    assert by_field["category"]["type"] == "missing" and "缺少" in by_field["category"]["msg"]
    assert "180" in by_field["lon"]["msg"] and "范围" in by_field["lon"]["msg"]
    assert "2000" in by_field["description"]["msg"]
    assert "格式" in by_field["reporter_phone"]["msg"]
    for field in by_field:
        assert messages.field_label(field) in by_field[field]["msg"]
        assert by_field[field]["msg"] in out["detail"]
    assert secret not in resp.text and "[0-9]" not in resp.text and "input" not in resp.text


def test_invalid_json_is_refused_in_the_error_shape(demo_client, admin_headers, error_schema):
    resp = demo_client.post("/api/cases", content=b'{"lon": ', headers={**admin_headers, **JSON})
    assert refused(resp, error_schema)["errors"][0]["type"] == "json_invalid"


def test_every_error_answer_has_the_one_shape(demo_client, admin_headers, error_schema):
    refused(demo_client.get("/api/no-such-route"), error_schema, status=404)  # Starlette's own
    assert refused(demo_client.get("/api/cases"), error_schema, status=401)["code"] == "auth.login_required"
    missing = refused(demo_client.get("/api/grids/999999"), error_schema, status=404)  # a DomainError
    assert missing["code"] == "grid.not_found" and missing["params"] == {"grid": "999999"}
    refused(demo_client.delete("/api/grids/search"), error_schema, status=405)


def test_the_openapi_publishes_the_error_shape_on_every_route(demo_client):
    schema = demo_client.get("/openapi.json").json()
    assert "HTTPValidationError" not in json.dumps(schema)
    error = {"$ref": "#/components/schemas/Error"}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert responses["503"]["content"]["application/json"]["schema"] == error, (method, path)
            assert "Retry-After" in responses["503"]["headers"]
            if path.startswith("/open311/"):  # the GeoReport format: refusals are 400, never 422
                assert "422" not in responses
                continue
            for status in ("422", "4XX"):
                documented = responses[status]["content"]["application/json"]["schema"]
                assert documented == error or error in documented["anyOf"], (method, path, status)


# -- grid files -------------------------------------------------------------------------------------------


def nested_file(depth: int) -> bytes:
    deep = "[" * depth + "]" * depth
    geometry = {"type": "Polygon", "coordinates": "X"}
    return collection([feature("370100", "测试市", geometry)]).replace(b'"X"', deep.encode())


@pytest.mark.parametrize("depth", [40, 500, 5000])
def test_a_grid_file_nested_too_deeply_is_a_file_error(depth):
    from grids.loaders import load_features

    records, report = load_features(nested_file(depth))
    assert records == [] and [i.kind for i in report.errors] == ["file"]
    assert "嵌套" in report.errors[0].message


def test_a_grid_import_nested_too_deeply_answers_422(client, admin_headers):
    files = {"file": ("grids.geojson", nested_file(5000), "application/geo+json")}
    resp = client.post("/api/grids/import", files=files, headers=admin_headers)
    assert resp.status_code == 422, resp.text
    assert resp.json()["report"]["issues"][0]["kind"] == "file"


@pytest.mark.parametrize("code", ["370102000001", "370102001000001"])
def test_a_code_whose_parent_code_cannot_exist_is_reported(code):
    """370102000001 is a village of street 370102000, which no street can be (its own digits are 000)."""
    from grids.loaders import load_features
    from grids.topology import check_topology

    data = collection([feature(code, "某村", rect(117.0, 36.6, 117.01, 36.61))])
    records, report = load_features(data)
    assert records == [] and [i.kind for i in report.errors] == ["malformed_code"]
    assert code in report.errors[0].message

    # A record made in code (not from a file) is checked the same way, with no exception.
    from grids.records import GridRecord

    level = {12: "village", 15: "unit"}[len(code)]
    record = GridRecord(code, "某村", level, code[: len(code) - 3], None)
    topology = check_topology([record])
    assert [i.kind for i in topology.errors] == ["malformed_code"]


def test_the_cli_reports_a_bad_grid_file_without_a_traceback(tmp_path, fresh_db_url):
    from typer.testing import CliRunner

    from server.cli import app

    path = tmp_path / "deep.geojson"
    path.write_bytes(nested_file(5000))
    bad_parent = tmp_path / "parent.geojson"
    bad_parent.write_bytes(collection([feature("370102000001", "某村", rect(117.0, 36.6, 117.01, 36.61))]))
    runner = CliRunner()
    for file in (path, bad_parent):
        result = runner.invoke(app, ["grids", "import", str(file)], env={"DATABASE_URL": fresh_db_url})
        assert result.exit_code == 1, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output


@pytest.mark.parametrize("name", ["\\u0000", "\\ud800"])
def test_a_grid_name_postgresql_cannot_store_is_reported(client, admin_headers, name):
    data = collection([feature("370100", "NAME", rect(117.0, 36.6, 117.01, 36.61))])
    files = {"file": ("grids.geojson", data.replace(b"NAME", name.encode()), "application/geo+json")}
    resp = client.post("/api/grids/import", files=files, headers=admin_headers)
    assert resp.status_code == 422, resp.text
    assert [i["kind"] for i in resp.json()["report"]["issues"]] == ["invalid_property"]


# -- the same photo eight times at once ------------------------------------------------------------------

UPLOADS = 8
RACE_SECONDS = 60  # bounds the start barrier and every upload


def test_the_same_photo_uploaded_eight_times_at_once_is_one_photo_for_all(demo_clone_url):
    """Each upload in its own session, released together: every one answers with the one stored photo
    (before, the unique index refused all but the first with an IntegrityError: a 500)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from geoalchemy2.shape import to_shape
    from sqlalchemy import func, select

    from server.case import photos
    from server.case.models import CasePhoto
    from server.case.scope import scope_of
    from server.database import new_session
    from tests.server.case_world import jpeg, make_user, report, village_point

    with new_session(demo_clone_url) as db:
        village, lon, lat = village_point(db)
        inspector = make_user(db, ["inspector"], inspects=village)
        case = report(db, inspector, lon, lat)
        code, point = case.code, to_shape(case.location)
    data = jpeg(point.x, point.y)
    barrier = threading.Barrier(UPLOADS, timeout=RACE_SECONDS)

    def upload(_: int) -> tuple[int, bool]:
        with new_session(demo_clone_url) as db:
            scope = scope_of(db=db, principal=inspector)
            db.rollback()  # the race starts with no transaction open
            barrier.wait()
            row, created = photos.add_photo(
                db=db, principal=inspector, scope=scope, code=code, role="before", data=data
            )
            return row.id, created

    with ThreadPoolExecutor(UPLOADS) as pool:
        results = [f.result(timeout=RACE_SECONDS) for f in [pool.submit(upload, i) for i in range(UPLOADS)]]
    assert len({photo_id for photo_id, _ in results}) == 1, results
    assert sum(created for _, created in results) == 1, results
    with new_session(demo_clone_url) as db:
        assert db.scalar(select(func.count()).select_from(CasePhoto)) == 1


def test_json_sent_to_a_form_route_is_refused_not_a_crash(demo_client, error_schema):
    resp = demo_client.post("/api/public/reports", content=b'{"lon": ', headers=JSON)
    refused(resp, error_schema)
