"""Open311 GeoReport v2 at /open311/v2, written from the specification (wiki.open311.org/GeoReport_v2):
every endpoint in JSON and XML, JSON answers validated against the open311 schema-validation repository's
schemas (kept beside this file in open311_schemas/), its filters, defaults and limits, its error format and
codes, the client_uuid retry, privacy, and the maintained `georeport` client against a live server."""

from __future__ import annotations

import io
import json
import os
import re
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from geoalchemy2.shape import from_shape, to_shape
from georeport import GeoReport
from jsonschema import Draft4Validator
from PIL import Image
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from shapely import Point
from sqlalchemy import func, select, text

from server import messages
from server.address.models import Address
from server.case.models import Case
from server.category.models import Category, Department
from server.config import get_settings
from server.database import get_engine, new_session
from server.errors import Forbidden
from server.grid import service as grid_service
from server.grid.models import CURRENT, Grid
from server.open311 import service
from server.open311.schemas import PostIn
from server.triage import service as triage_service
from tests.server.case_world import act, photo, report, team
from tests.server.live import live_server
from tests.server.test_cli import gridops

SCHEMAS = Path(__file__).resolve().parent / "open311_schemas"
REGISTRY = Registry().with_resources(
    (path.name, Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT4))
    for path in SCHEMAS.glob("*.json")
)
JURISDICTION = "jinan.gridops"
CJK = re.compile(r"[\u4e00-\u9fff]")
PHONE = "13912345678"
NAME = ("Mei", "Wang")
EMAIL = "mei@example.org"
REQUEST_FIELDS = [
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "lat", "long", "media_url",
]  # fmt: skip


def valid(schema: str, data) -> None:
    """``data`` passes the schema-validation repository's ``schema`` (draft-04, relative $refs)."""
    Draft4Validator(REGISTRY.contents(schema), registry=REGISTRY).validate(data)


def xml(resp) -> ET.Element:
    assert resp.headers["content-type"].startswith("text/xml"), resp.headers["content-type"]
    return ET.fromstring(resp.content)


@pytest.fixture
def world(demo_db, demo_client):
    people = team(demo_db)
    client, key = service.add_client(db=demo_db, name="城市App")
    return {**people, "client": demo_client, "key": key, "open311_client": client}


def post(world, fmt: str = "json", **fields):
    form = {
        "api_key": world["key"],
        "jurisdiction_id": JURISDICTION,
        "service_code": "E06010",
        "lat": world["lat"],
        "long": world["lon"],
        "attribute[client_uuid]": str(uuid.uuid4()),
        "description": "垃圾堆在路边",
        "first_name": NAME[0],
        "last_name": NAME[1],
        "phone": "+86 139-1234-5678",
        "email": EMAIL,
        **fields,
    }
    return world["client"].post(
        f"/open311/v2/requests.{fmt}", data={k: v for k, v in form.items() if v is not None}
    )


def posted_id(world, **fields) -> str:
    resp = post(world, **fields)
    assert resp.status_code == 200, resp.text
    return resp.json()[0]["service_request_id"]


def case_of(world, code: str) -> Case:
    return world["db"].scalar(select(Case).where(Case.code == code))


def file_it(world, code: str, at: datetime | None = None) -> Case:
    """The city confirms and files the request: from then on the public may see it."""
    db, case = world["db"], case_of(world, code)
    step = timedelta(minutes=10)
    act(db, world["acceptor"], case, "request_verification", at=at, inspector_id=world["inspector"].user.id)
    act(db, world["inspector"], case, "reply_verification", at=at and at + step, result="confirmed")
    return act(db, world["lead"], case, "file", at=at and at + 2 * step, public_note="已立案，将尽快处理")


def close_it(world, code: str) -> Case:
    db, case = world["db"], file_it(world, code)
    act(db, world["dispatcher"], case, "dispatch")
    photo(db, world["department"], case, "after")
    act(db, world["department"], case, "report_handling", note="内部：李师傅清运", public_note="垃圾已清运")
    act(db, world["acceptor"], case, "request_check", inspector_id=world["inspector"].user.id)
    photo(db, world["inspector"], case, "check")
    act(db, world["inspector"], case, "reply_check", result="pass")
    return act(db, world["lead"], case, "close")


def errors(resp, status: int, fmt: str = "json") -> str:
    """The specification's error answer: its HTTP code, a list of {code, description} (one per problem);
    the descriptions, one a line."""
    assert resp.status_code == status, resp.text
    if fmt == "xml":
        root = xml(resp)
        assert root.tag == "errors" and {e.tag for e in root} == {"error"}
        for error in root:
            assert [c.tag for c in error] == ["code", "description"] and error.findtext("code") == str(status)
        return "\n".join(error.findtext("description") for error in root)
    body = resp.json()
    assert isinstance(body, list) and body and all(e["code"] == status for e in body)
    return "\n".join(e["description"] for e in body)


def said(code: str, **params) -> str:
    """The catalogue's sentence: what an Open311 error's description says."""
    return messages.text(code, **params)


# -- discovery and services ---------------------------------------------------------------------------


def test_discovery_in_json_and_xml(demo_client):
    body = demo_client.get("/open311/v2/discovery.json").json()
    assert set(body) >= {"changeset", "contact", "key_service", "endpoints"}
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://testserver/open311/v2" and endpoint["type"] == "production"
    assert endpoint["formats"] == ["application/json", "text/xml"]
    assert "client_uuid" in body["client_uuid"] and "gridops open311 keys add" in body["key_service"]

    root = xml(demo_client.get("/open311/v2/discovery.xml"))
    assert root.tag == "discovery"
    (endpoint_x,) = root.find("endpoints")
    assert endpoint_x.tag == "endpoint" and endpoint_x.findtext("url") == endpoint["url"]
    assert [f.text for f in endpoint_x.find("formats").iter("format")] == endpoint["formats"]


def test_services_are_the_active_taxonomy_with_groups(demo_db, demo_client):
    body = demo_client.get("/open311/v2/services.json", params={"jurisdiction_id": JURISDICTION}).json()
    valid("services.json", body)
    leaves = demo_db.scalar(select(func.count()).select_from(Category).where(Category.active, Category.leaf))
    assert len(body) == leaves > 0  # what a request is filed under: not the major classes above them
    garbage = next(s for s in body if s["service_code"] == "E06010")
    assert garbage["type"] == "realtime" and garbage["metadata"] is True
    assert garbage["group"] == "市容环境" and garbage["keywords"] == "市容环境,暴露垃圾"
    assert demo_client.get("/open311/v2/services/E06.json").status_code == 404  # a major class
    assert [s["service_code"] for s in body] == sorted(s["service_code"] for s in body)

    root = xml(demo_client.get("/open311/v2/services.xml"))
    assert root.tag == "services" and {e.tag for e in root} == {"service"} and len(root) == len(body)
    first = root[0]
    assert [c.tag for c in first] == [
        "service_code", "service_name", "description", "metadata", "type", "keywords", "group",
    ]  # fmt: skip
    assert first.findtext("service_code") == body[0]["service_code"] and first.findtext("metadata") == "true"


def test_service_definition_documents_client_uuid(demo_client):
    body = demo_client.get("/open311/v2/services/E06010.json").json()
    valid("service-definition.json", body)
    assert body["service_code"] == "E06010"
    attribute, asks = body["attributes"]
    assert attribute["code"] == "client_uuid" and attribute["datatype"] == "string"
    assert attribute["variable"] is True and attribute["required"] is False
    assert "retry" in attribute["description"]
    assert (asks["code"], asks["datatype"], asks["required"]) == ("request_type", "singlevaluelist", False)
    assert {"key": "consult", "name": "咨询"} in asks["values"]

    root = xml(demo_client.get("/open311/v2/services/E06010.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "E06010"
    attribute_x, asks_x = root.find("attributes")
    assert attribute_x.tag == "attribute" and attribute_x.findtext("code") == "client_uuid"
    assert attribute_x.findtext("variable") == "true" and attribute_x.findtext("required") == "false"
    assert ("consult", "咨询") in [(v.findtext("key"), v.findtext("name")) for v in asks_x.find("values")]

    unknown = said("open311.no_service", service_code="E99999")
    assert errors(demo_client.get("/open311/v2/services/E99999.json"), 404) == unknown
    assert errors(demo_client.get("/open311/v2/services/E99999.xml"), 404, "xml") == unknown
    csv = errors(demo_client.get("/open311/v2/services.csv"), 400)
    assert csv == said("open311.format", format="csv") == "不提供 csv 格式：请用 JSON 或 XML 格式"
    wrong = demo_client.get("/open311/v2/services.json", params={"jurisdiction_id": "elsewhere"})
    assert errors(wrong, 400) == said("open311.jurisdiction", served=f"{JURISDICTION}、370100")


# -- posting ------------------------------------------------------------------------------------------


def test_a_request_becomes_a_case_shown_once_filed(world):
    client = world["client"]
    resp = post(world)
    assert resp.status_code == 200, resp.text
    (answer,) = resp.json()
    code = answer["service_request_id"]
    assert isinstance(code, str) and answer["service_notice"]
    case = case_of(world, code)
    assert case.channel == "open311" and case.state == "reported"
    assert case.reporter_name == "Mei Wang" and case.reporter_phone == "+8613912345678"
    assert case.reporter_id == world["open311_client"].user_id

    # Not filed yet: unknown to the public, but the client that posted it follows it with its key.
    not_yet = errors(client.get(f"/open311/v2/requests/{code}.json"), 404)
    assert not_yet == said("open311.no_request", request=code)
    (own,) = client.get(f"/open311/v2/requests/{code}.json", params={"api_key": world["key"]}).json()
    assert own["service_request_id"] == code and own["status"] == "open"
    assert errors(client.get(f"/open311/v2/requests/{code}.json", params={"api_key": "x"}), 403) == said(
        "open311.key_invalid"
    )
    assert client.get("/open311/v2/requests.json", params={"service_request_id": code}).json() == []

    photo(world["db"], world["acceptor"], case, "before")
    file_it(world, code)
    resp = client.get(f"/open311/v2/requests/{code}.json", params={"jurisdiction_id": JURISDICTION})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    valid("requests.json", body)
    (item,) = body
    case = case_of(world, code)
    assert item["service_request_id"] == code and item["status"] == "open"
    assert item["service_code"] == "E06010" and item["status_notes"] == "已立案，将尽快处理"
    assert item["agency_responsible"] == world["db"].get(Department, case.department_id).name
    assert datetime.fromisoformat(item["requested_datetime"]) == case.received_at
    assert datetime.fromisoformat(item["expected_datetime"]) == (case.handle_due_at or case.step_due_at)
    assert item["lat"] == pytest.approx(world["lat"]) and item["long"] == pytest.approx(world["lon"])
    assert item["media_url"].startswith("http://testserver/api/public/photos/")

    picture = client.get(item["media_url"].removeprefix("http://testserver"))
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
    assert not Image.open(io.BytesIO(picture.content)).getexif()  # the public copy: no EXIF, no GPS

    root = xml(client.get(f"/open311/v2/requests/{code}.xml"))
    assert root.tag == "service_requests" and [e.tag for e in root] == ["request"]
    assert [c.tag for c in root[0]] == REQUEST_FIELDS
    assert root[0].findtext("service_request_id") == code and root[0].findtext("status") == "open"

    # The reporter's contact fields are never shown.
    for resp in (
        client.get(f"/open311/v2/requests/{code}.json"),
        client.get(f"/open311/v2/requests/{code}.xml"),
        client.get("/open311/v2/requests.json"),
        client.get("/open311/v2/requests.xml"),
    ):
        for private in (PHONE, "13912345678", NAME[0], NAME[1], EMAIL):
            assert private not in resp.text


def test_a_request_says_what_it_asks(world):
    """attribute[request_type] sets the case's request type (and so its limits); without it, a complaint."""
    asked = case_of(world, posted_id(world, **{"attribute[request_type]": "consult"}))
    assert asked.request_type == "consult"
    assert case_of(world, posted_id(world)).request_type == "complaint"
    unknown = post(world, **{"attribute[request_type]": "gossip"})
    assert unknown.status_code == 400 and "诉求类型" in unknown.json()[0]["description"]


def test_the_xml_post_answer_and_a_closed_request(world):
    resp = post(world, "xml")
    root = xml(resp)
    assert root.tag == "service_requests" and [e.tag for e in root] == ["request"]
    assert [c.tag for c in root[0]] == ["service_request_id", "service_notice", "account_id"]
    code = root[0].findtext("service_request_id")
    case = close_it(world, code)
    (item,) = world["client"].get(f"/open311/v2/requests/{code}.json").json()
    assert item["status"] == "closed" and item["status_notes"] == "垃圾已清运"
    assert datetime.fromisoformat(item["updated_datetime"]) == case.closed_at


def test_retries_with_one_client_uuid_are_one_request(world):
    key = str(uuid.uuid4())
    first = posted_id(world, **{"attribute[client_uuid]": key})
    assert posted_id(world, **{"attribute[client_uuid]": key}) == first
    count = world["db"].scalar(
        select(func.count()).select_from(Case).where(Case.client_uuid == uuid.UUID(key))
    )
    assert count == 1
    # Other content under the same UUID is a different request: refused (400), nothing made.
    other = post(world, description="另一个问题", **{"attribute[client_uuid]": key})
    assert "abc" not in errors(other, 400) and CJK.search(errors(other, 400))  # nothing of the case
    assert errors(post(world, **{"attribute[client_uuid]": "abc"}), 400) == said("open311.client_uuid")
    # Without client_uuid every post is a new request.
    assert posted_id(world, **{"attribute[client_uuid]": None}) != posted_id(
        world, **{"attribute[client_uuid]": None}
    )


def test_address_string_without_lat_long(world):
    db = world["db"]
    village = db.scalar(select(Grid).where(CURRENT, Grid.code == world["village"]))
    code = posted_id(world, lat=None, long=None, address_string=village.name)
    found, _, _ = grid_service.search(db=db, text=village.name, limit=1)[0]
    case = case_of(world, code)
    assert case.grid_path == found.path or case.grid_path.startswith(found.path + ".")
    assert case.address == village.name
    nowhere = post(world, lat=None, long=None, address_string="不存在的地方")
    assert errors(nowhere, 400) == said("open311.address_unknown")
    assert errors(post(world, lat=None, long=None), 400) == said("open311.position_required")
    assert errors(post(world, long=None), 400) == said("open311.half_position")


def test_an_address_of_the_register_places_a_request(world):
    """address_string is looked up in the address register first; address_id names a register address; the
    request then answers with that register id (GeoReport's address_id)."""
    db, client = world["db"], world["client"]
    register_id = f"T-{uuid.uuid4().hex[:10]}"
    db.add(
        Address(
            register_id=register_id,
            address_text="济南市历下区测试东路88号",
            road="测试东路",
            house_number="88号",
            kind="house",
            geom=from_shape(Point(world["lon"], world["lat"]), srid=4326),
        )
    )
    db.flush()
    by_words = case_of(world, posted_id(world, lat=None, long=None, address_string="测试东路 88号"))
    point = to_shape(by_words.location)
    assert (round(point.x, 6), round(point.y, 6)) == (round(world["lon"], 6), round(world["lat"], 6))
    assert by_words.address == "测试东路 88号"
    code = posted_id(world, lat=None, long=None, address_id=register_id)
    assert case_of(world, code).address == "济南市历下区测试东路88号"
    (own,) = client.get(f"/open311/v2/requests/{code}.json", params={"api_key": world["key"]}).json()
    assert own["address_id"] == register_id
    unknown = post(world, lat=None, long=None, address_id="NO-SUCH-ID")
    assert errors(unknown, 400) == said("open311.address_id_unknown", address_id="NO-SUCH-ID")


def test_a_request_without_service_code_is_classified_where_the_city_allows(world, monkeypatch):
    """Without service_code, a city listed in open311_triage_cities (or "*") takes the request under the
    category the triage finds best for its description, when it scores at least open311_triage_min_score;
    otherwise service_code is required, as the specification has it."""
    db, client = world["db"], world["client"]
    settings = get_settings()
    words = "路边暴露垃圾堆放，三天无人清运"
    required = "缺少服务类别，请填写后重试"
    assert settings.open311_triage_cities == "" and settings.open311_triage_min_score == 0.5
    assert errors(post(world, service_code=None, description=words), 400) == required  # by default: none

    best, score = triage_service.best_category(
        db=db, text=words, lon=world["lon"], lat=world["lat"], channel="open311"
    )
    monkeypatch.setattr(settings, "open311_triage_min_score", score)
    monkeypatch.setattr(settings, "open311_triage_cities", "110100")  # another city only
    assert errors(post(world, service_code=None, description=words), 400) == required
    for cities in ("110100, 370100", "*"):
        monkeypatch.setattr(settings, "open311_triage_cities", cities)
        resp = post(world, service_code=None, description=words)
        assert resp.status_code == 200, resp.text
        (answer,) = resp.json()
        name = db.scalar(select(Category.name).where(Category.code == best))
        assert answer["service_notice"] == service.TRIAGED.format(name=name)
        assert "按诉求描述" in answer["service_notice"]
        code = answer["service_request_id"]
        assert db.get(Category, case_of(world, code).category_id).code == best
    file_it(world, code)
    body = client.get(f"/open311/v2/requests/{code}.json").json()
    valid("requests.json", body)
    assert body[0]["service_code"] == best

    # Below the minimum score, or no description to read: service_code is required.
    monkeypatch.setattr(settings, "open311_triage_min_score", min(1.0, score + 0.01))
    assert errors(post(world, service_code=None, description=words), 400) == required
    monkeypatch.setattr(settings, "open311_triage_min_score", 0.0)
    assert errors(post(world, "xml", service_code=None, description=" "), 400, "xml") == required


def test_post_errors_in_the_specifications_codes(world):
    assert errors(post(world, api_key=None), 403) == said("open311.key_missing")
    assert errors(post(world, "xml", api_key="wrong"), 403, "xml") == said("open311.key_invalid")
    assert errors(post(world, service_code=None), 400) == "缺少服务类别，请填写后重试"  # the field in words
    assert errors(post(world, service_code="E99999"), 404) == said(
        "open311.no_service", service_code="E99999"
    )
    assert errors(post(world, jurisdiction_id="elsewhere"), 400) == said(
        "open311.jurisdiction", served=f"{JURISDICTION}、370100"
    )
    outside = errors(post(world, lat=30.0, long=100.0), 400)
    assert CJK.search(outside) and "outside" not in outside  # the intake's own refusal
    # Refused by the case's own rules: one error per problem, each naming the field in words.
    wrong = post(world, phone="call me", description="脏" * 5001)
    assert errors(wrong, 400) == "问题描述太长：最多 2000 个字符，请删减\n上报人电话的格式不对，请按说明填写"
    cases = world["db"].scalar(select(func.count()).select_from(Case))
    assert errors(post(world, "csv"), 400) == said("open311.format", format="csv")
    assert world["db"].scalar(select(func.count()).select_from(Case)) == cases  # refused before any work

    service.revoke_client(db=world["db"], name="城市App")
    assert errors(post(world), 403) == said("open311.key_revoked")


# -- GET requests -------------------------------------------------------------------------------------


def test_get_requests_filters_defaults_and_limit(world, monkeypatch):
    client, db = world["client"], world["db"]
    now = db.scalar(select(func.now()))
    old = report(
        db, world["acceptor"], world["lon"], world["lat"], channel="hotline", at=now - timedelta(days=100)
    )
    file_it(world, old.code, at=now - timedelta(days=100) + timedelta(minutes=5))
    garbage = file_it(world, posted_id(world)).code
    closed = close_it(world, posted_id(world)).code
    other = file_it(world, posted_id(world, service_code="E03006")).code
    hidden = posted_id(world)  # never filed

    def ids(fmt: str = "json", **params) -> list[str]:
        resp = client.get(f"/open311/v2/requests.{fmt}", params=params)
        assert resp.status_code == 200, resp.text
        if fmt == "xml":
            root = xml(resp)
            assert root.tag == "service_requests" and {e.tag for e in root} <= {"request"}
            return [r.findtext("service_request_id") for r in root]
        valid("requests.json", resp.json())
        return [r["service_request_id"] for r in resp.json()]

    recent = ids()
    assert recent[:3] == [other, closed, garbage]  # newest first, the last 90 days
    assert old.code not in recent and hidden not in recent
    assert ids("xml") == recent
    assert ids(service_request_id=f"{garbage},{old.code},{hidden}") == [
        garbage,
        old.code,
    ]  # overrides the rest
    assert ids(service_code="E03006") == [other]
    assert other in ids(service_code="E03006,E06010") and garbage in ids(service_code="E03006,E06010")
    assert closed not in ids(status="open") and garbage in ids(status="open")
    assert ids(status="closed")[0] == closed and garbage not in ids(status="closed")
    assert set(ids(status="open,closed")) == set(recent)
    start = (now - timedelta(days=101)).isoformat()
    assert ids(start_date=start, end_date=(now - timedelta(days=99)).isoformat()) == [old.code]
    assert old.code in ids(start_date=start)  # 90 days from start_date
    assert ids(start_date=(now + timedelta(days=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")) == []

    monkeypatch.setattr(get_settings(), "open311_max_requests", 2)
    assert ids() == [other, closed]

    long_span = {"start_date": start, "end_date": now.isoformat()}
    assert errors(client.get("/open311/v2/requests.json", params=long_span), 400) == said(
        "open311.span_too_long", days=90
    )
    backwards = {"start_date": now.isoformat(), "end_date": start}
    assert errors(client.get("/open311/v2/requests.xml", params=backwards), 400, "xml") == said(
        "open311.dates_reversed"
    )
    assert errors(client.get("/open311/v2/requests.json", params={"end_date": "yesterday"}), 400) == said(
        "open311.date_time", field="结束时间"
    )
    assert errors(client.get("/open311/v2/requests.json", params={"status": "pending"}), 400) == said(
        "open311.status", allowed="open 或 closed"
    )
    assert errors(client.get("/open311/v2/requests/nope.xml"), 404, "xml") == said(
        "open311.no_request", request="nope"
    )


def test_public_photos_only_of_public_cases(world):
    code = posted_id(world)
    case = case_of(world, code)
    before = photo(world["db"], world["acceptor"], case, "before")
    assert world["client"].get(f"/api/public/photos/{before.id}.jpg").status_code == 404
    file_it(world, code)
    assert world["client"].get(f"/api/public/photos/{before.id}.jpg").status_code == 200


# -- keys and a real client ---------------------------------------------------------------------------


def test_keys_cli_add_list_revoke(fresh_db_url):
    env = {**os.environ, "DATABASE_URL": fresh_db_url, "COLUMNS": "200"}
    added = gridops("open311", "keys", "add", "城管通", env=env)
    key = added.stdout.split()[-1]
    with new_session(fresh_db_url) as db:
        assert service.client_for_key(db=db, api_key=key).name == "城管通"
    get_engine(fresh_db_url).dispose()
    assert gridops("open311", "keys", "list", env=env).stdout.split("\t")[0] == "城管通"
    gridops("open311", "keys", "revoke", "城管通", env=env)
    assert "已收回" in gridops("open311", "keys", "list", env=env).stdout
    with new_session(fresh_db_url) as db, pytest.raises(Forbidden) as refused:
        service.client_for_key(db=db, api_key=key)
    assert refused.value.code == "open311.key_revoked"


@pytest.mark.parametrize("output_format", ["json", "xml"])
def test_the_georeport_client_against_a_live_server(demo_clone_url, tmp_path, output_format):
    with new_session(demo_clone_url) as db:
        world = {**team(db), "db": db}
        _, key = service.add_client(db=db, name="georeport")
        data = PostIn(service_code="E06010", lat=world["lat"], long=world["lon"], description="垃圾")
        code = service.post_request(db=db, api_key=key, data=data).service_request_id
        file_it(world, code)
    get_engine(demo_clone_url).dispose()

    with live_server(demo_clone_url, tmp_path / "server.log") as server:
        client = GeoReport(f"{server.url}/open311/v2", jurisdiction=JURISDICTION, output_format=output_format)
        services = client.get_service_list()
        assert any(s["service_code"] == "E06010" and s["group"] for s in services)
        definition = client.get_service_definition("E06010")
        attributes = (
            definition["attributes"] if output_format == "json" else definition["attributes"]["attribute"]
        )
        assert (attributes[0] if isinstance(attributes, list) else attributes)["code"] == "client_uuid"
        one = client.get_service_request(code)
        assert one["service_request_id"] == code and one["status"] == "open"
        listed = client.get_service_requests(service_request_id=code)
        assert (listed if isinstance(listed, dict) else listed[0])["service_request_id"] == code


def test_the_migration_goes_down_and_up(fresh_db_url, owner_url):
    from server import migrate

    def tables() -> set[str]:
        with new_session(fresh_db_url) as db:
            names = set(db.scalars(text("SELECT tablename FROM pg_tables WHERE tablename LIKE 'open311%'")))
        get_engine(fresh_db_url).dispose()
        return names

    assert tables() == {"open311_client", "open311_request"}
    migrate.downgrade(owner_url(fresh_db_url), "0007")
    assert tables() == set()
    migrate.upgrade(owner_url(fresh_db_url))
    assert tables() == {"open311_client", "open311_request"}
