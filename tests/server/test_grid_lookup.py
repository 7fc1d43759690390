"""Lookup and browsing on the Jinan demo city.

The places are real; their WGS 84 coordinates come from OpenStreetMap (the landmark's node or the
centre of its area), and each lies at least 250 m inside its district in the source boundaries, far more
than the demo's 10 m simplification.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sqlalchemy import text

from gis.crs import CRS, from_wgs84_arrays
from server import messages
from server.grid import importer as grid_importer
from server.grid import lookup as grid_lookup
from server.grid import service

PLACES = [
    # name, lon, lat, district
    ("大明湖 Daming Lake", 117.0231, 36.6753, "370102"),
    ("千佛山 Thousand Buddha Mountain", 117.0376, 36.6390, "370102"),
    ("趵突泉 Baotu Spring", 117.0164, 36.6614, "370102"),
    ("济南遥墙国际机场 Yaoqiang Airport", 117.2158, 36.8572, "370112"),
    ("济南西站 Jinan West Station", 116.8873, 36.6685, "370104"),
    ("莱芜区政府 Laiwu District Government", 117.6766, 36.2030, "370116"),
    ("商河县政府 Shanghe County Government", 117.1570, 37.3097, "370126"),
]
LEVELS = ["city", "district", "street", "village", "unit"]


@pytest.mark.parametrize(("name", "lon", "lat", "district"), PLACES, ids=[p[0] for p in PLACES])
def test_locate_real_places(demo_client, name, lon, lat, district):
    resp = demo_client.get("/api/grids/locate", params={"lon": lon, "lat": lat})
    assert resp.status_code == 200, resp.text
    chain = resp.json()["chain"]
    codes = [g["code"] for g in chain]
    assert codes[:2] == ["370100", district]
    expected_levels = LEVELS if district == "370102" else LEVELS[:4]  # unit grids cover 历下区 only
    assert [g["level"] for g in chain] == expected_levels
    for parent, child in itertools.pairwise(codes):
        assert child.startswith(parent if len(parent) > 6 else parent[:4])
        assert [g["parent_code"] for g in chain if g["code"] == child] == [parent]


def test_locate_accepts_gcj02_and_bd09(demo_client):
    _, lon, lat, _ = PLACES[0]
    expected = demo_client.get("/api/grids/locate", params={"lon": lon, "lat": lat}).json()
    for crs in (CRS.GCJ02, CRS.BD09):
        (x,), (y,) = from_wgs84_arrays([lon], [lat], crs)
        got = demo_client.get("/api/grids/locate", params={"lon": x, "lat": y, "crs": crs.value}).json()
        assert [g["code"] for g in got["chain"]] == [g["code"] for g in expected["chain"]]
        assert got["lon"] == pytest.approx(lon, abs=1e-6) and got["lat"] == pytest.approx(lat, abs=1e-6)


def test_locate_outside_every_grid_and_bad_input(demo_client):
    resp = demo_client.get("/api/grids/locate", params={"lon": 121.47, "lat": 31.23})  # Shanghai
    assert resp.status_code == 404 and resp.json()["code"] == "grid.point_outside"
    assert resp.json()["detail"] == messages.text("grid.point_outside", lon=121.47, lat=31.23)
    resp = demo_client.get("/api/grids/locate", params={"lon": 200, "lat": 36})
    assert resp.status_code == 422 and resp.json()["code"] == "grid.point_out_of_range"
    resp = demo_client.get("/api/grids/locate", params={"lon": 117, "lat": 36, "crs": "mars"})
    assert resp.status_code == 422


def test_a_point_on_a_shared_boundary_goes_to_the_lowest_code(demo_db):
    # Two neighbouring unit grids of one village share an edge: take a vertex they have in common.
    units = service.list_grids(db=demo_db, parent=service.list_grids(db=demo_db, parent="370102001")[0].code)
    shapes = {
        g.code: grid_importer.stored_records(db=demo_db, codes=[g.code])[g.code].geometry for g in units
    }
    codes = sorted(shapes)
    for a in codes:
        for b in codes:
            if a < b and shapes[a].intersection(shapes[b]).length > 0:
                x, y = shapes[a].intersection(shapes[b]).representative_point().coords[0]
                _, _, chain = grid_lookup.locate(db=demo_db, lon=x, lat=y)
                assert chain[-1].code == a
                return
    pytest.fail("no two unit grids of the village share an edge")


def test_batch_locate_matches_single_lookups(demo_client):
    points = [[p[1], p[2]] for p in PLACES] + [[121.47, 31.23]]
    codes = demo_client.post("/api/grids/locate", json={"points": points}).json()["codes"]
    for (lon, lat), code in zip(points[:-1], codes[:-1], strict=True):
        chain = demo_client.get("/api/grids/locate", params={"lon": lon, "lat": lat}).json()["chain"]
        assert code == chain[-1]["code"]
    assert codes[-1] is None
    too_many = demo_client.post("/api/grids/locate", json={"points": [[117.0, 36.6]] * 10001})
    assert too_many.status_code == 413 and too_many.json()["code"] == "grid.too_many_points"
    assert too_many.json()["params"] == {"limit": 10000}
    beyond = demo_client.post("/api/grids/locate", json={"points": [[117.0, 36.6], [117.0, 91.0]]})
    assert beyond.status_code == 422 and beyond.json()["code"] == "grid.batch_point_out_of_range"
    assert beyond.json()["params"] == {"n": 2}


def test_browse_the_demo_hierarchy(demo_client, admin_headers):
    assert [g["code"] for g in demo_client.get("/api/grids").json()] == ["370100"]
    districts = demo_client.get("/api/grids", params={"parent": "370100"}).json()
    assert len(districts) == 12 and {d["level"] for d in districts} == {"district"}
    lixia = demo_client.get("/api/grids/370102", headers=admin_headers).json()  # people: after login
    assert lixia["name"] == "历下区" and lixia["geometry"]["type"] == "MultiPolygon"
    assert 90e6 < lixia["area_m2"] < 110e6  # 历下区 is about 101 km2
    heads = [p for p in lixia["people"] if p["role"] == "head"]
    assert [h["name"] for h in heads] == ["李明"]
    children = demo_client.get("/api/grids/370102/children.geojson")
    assert children.headers["content-type"].startswith("application/geo+json")
    features = children.json()["features"]
    assert len(features) == lixia["children"] and all(f["properties"]["level"] == "street" for f in features)
    missing = demo_client.get("/api/grids/370199")
    assert missing.status_code == 404 and missing.json()["code"] == "grid.not_found"
    assert missing.json()["params"] == {"grid": "370199"} and "370199" in missing.json()["detail"]


def test_bbox_returns_geojson_and_refuses_too_much(demo_client):
    resp = demo_client.get(
        "/api/grids/bbox", params={"bbox": "117.02,36.67,117.03,36.68", "level": "village"}
    )
    assert resp.status_code == 200
    features = resp.json()["features"]
    assert features and all(f["properties"]["level"] == "village" for f in features)
    too_big = demo_client.get("/api/grids/bbox", params={"bbox": "116,36,118,38"})
    assert too_big.status_code == 422 and too_big.json()["code"] == "grid.too_many_in_box"
    assert "请放大地图或只看一个层级" in too_big.json()["detail"]
    assert demo_client.get("/api/grids/bbox", params={"bbox": "1,2,3"}).status_code == 422


def test_demo_passes_its_topology_check(demo_client, admin_headers):
    assert demo_client.get("/api/grids/check").status_code == 401
    report = demo_client.get("/api/grids/check", headers=admin_headers).json()
    assert report["errors"] == 0, report["issues"][:5]
    assert not [i for i in report["issues"] if i["kind"] in ("overlap", "gap", "outside_parent")]


def test_the_lookup_index_agrees_with_the_grids_themselves(demo_db):
    """For random points over 历下区 and beyond, the indexed batch lookup gives the deepest grid whose own
    geometry covers the point (lowest code on ties), computed straight from the grid table."""
    rng = np.random.default_rng(7)
    points = list(
        zip(rng.uniform(116.95, 117.20, 2000).tolist(), rng.uniform(36.55, 36.75, 2000).tolist(), strict=True)
    )
    fast = grid_lookup.locate_batch(db=demo_db, points=points)
    direct = (
        demo_db.execute(
            text(
                """
            SELECT (SELECT g.code FROM grid g
                    WHERE g.valid_to IS NULL AND ST_Covers(g.geom, ST_Point(t.lon, t.lat, 4326))
                    ORDER BY nlevel(g.path) DESC, g.code LIMIT 1)
            FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[])) WITH ORDINALITY AS t(lon, lat, i)
            ORDER BY t.i
            """
            ),
            {"lons": [p[0] for p in points], "lats": [p[1] for p in points]},
        )
        .scalars()
        .all()
    )
    assert fast == direct
    assert sum(code is not None and len(code) == 15 for code in fast) > 300  # many land in unit grids


def test_search_finds_grids_by_name_higher_levels_first(demo_client):
    found = demo_client.get("/api/grids/search", params={"q": "解放"}).json()
    assert found[0]["name"] == "解放路街道" and found[0]["level"] == "street"
    assert all("解放" in g["name"] for g in found)
    levels = [g["level"] for g in found]
    assert levels == sorted(levels, key=["city", "district", "street", "village", "unit"].index)
    inside = demo_client.get("/api/grids/locate", params={"lon": found[0]["lon"], "lat": found[0]["lat"]})
    assert found[0]["code"] in [g["code"] for g in inside.json()["chain"]]
    by_code = demo_client.get("/api/grids/search", params={"q": "370102", "limit": 3}).json()
    assert [g["code"] for g in by_code] == ["370102", *[g["code"] for g in by_code[1:]]]
    assert all(g["code"].startswith("370102") for g in by_code) and len(by_code) == 3
    assert demo_client.get("/api/grids/search", params={"q": "%"}).json() == []
    assert demo_client.get("/api/grids/search", params={"q": ""}).status_code == 422
