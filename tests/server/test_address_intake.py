"""A new case is placed by the register address nearest to it ("near 山大南路 27 号"), not by a grid code."""

from __future__ import annotations

import uuid

from geoalchemy2.shape import from_shape
from shapely import Point

from grids.addresses import AddressRecord
from server.address.cases import link_cases
from server.address.importer import import_addresses
from server.address.models import Address
from server.case.models import Case
from tests.server.case_world import make_user, village_point
from tests.server.test_case_http import login

# a degree of latitude is about 111 km: these offsets are about 30 m and 400 m
NORTH_30M = 30 / 111_000
NORTH_400M = 400 / 111_000


def add_address(db, lon: float, lat: float, **fields) -> Address:
    address = Address(
        register_id=fields.pop("register_id", f"T-{uuid.uuid4().hex[:12]}"),
        address_text=fields.pop("address_text", "济南市历下区山大南路27号"),
        kind=fields.pop("kind", "house"),
        geom=from_shape(Point(lon, lat), srid=4326),
        **fields,
    )
    db.add(address)
    db.flush()
    return address


def post_report(client, who, lon: float, lat: float) -> dict:
    body = {
        "client_uuid": str(uuid.uuid4()),
        "category": "E06010",
        "lon": lon,
        "lat": lat,
        "description": "垃圾",
    }
    answer = client.post("/api/cases", json=body, headers=who)
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_a_new_case_is_near_the_nearest_register_address(demo_db, demo_client):
    _, lon, lat = village_point(demo_db)
    demo_db.query(Address).delete()  # only these two
    far = add_address(demo_db, lon, lat + NORTH_30M * 2, address_text="济南市历下区山大南路29号")
    near = add_address(demo_db, lon, lat + NORTH_30M, address_text="济南市历下区山大南路27号")
    inspector = login(demo_client, make_user(demo_db, ["inspector"]))
    made = post_report(demo_client, inspector, lon, lat)
    assert made["near_address"] == "济南市历下区山大南路27号附近（约 30 米）"
    case = demo_db.query(Case).filter_by(code=made["code"]).one()
    assert case.address_id == near.id and 25 < case.address_distance_m < 35
    assert far.id != case.address_id
    detail = demo_client.get(f"/api/cases/{made['code']}", headers=inspector).json()
    assert detail["near_address"] == made["near_address"]


def test_a_place_names_itself_and_nothing_far_is_near(demo_db, demo_client):
    _, lon, lat = village_point(demo_db, index=1)
    add_address(demo_db, lon, lat, name="测试广场", address_text="济南市历下区测试路1号", kind="poi")
    inspector = login(demo_client, make_user(demo_db, ["inspector"]))
    assert post_report(demo_client, inspector, lon, lat)["near_address"] == "测试广场"
    _, lon2, lat2 = village_point(demo_db, index=2)
    demo_db.query(Address).delete()
    add_address(demo_db, lon2, lat2 + NORTH_400M)
    made = post_report(demo_client, inspector, lon2, lat2)
    assert made["near_address"] is None
    assert demo_db.query(Case).filter_by(code=made["code"]).one().address_id is None


def test_cases_received_before_the_register_are_linked_after(demo_db, demo_client):
    _, lon, lat = village_point(demo_db, index=3)
    inspector = login(demo_client, make_user(demo_db, ["inspector"]))
    demo_db.query(Address).delete()
    before = post_report(demo_client, inspector, lon, lat)
    assert before["near_address"] is None
    record = AddressRecord("T-LINK-1", "济南市历下区补链路1号", "house", lon, lat + NORTH_30M)
    assert import_addresses(db=demo_db, records=[record]).cases_linked >= 1  # an import links them
    detail = demo_client.get(f"/api/cases/{before['code']}", headers=inspector).json()
    assert detail["near_address"] == "济南市历下区补链路1号附近（约 30 米）"
    assert sum(link_cases(db=demo_db, radius_m=150)) == 0  # nothing left to link
