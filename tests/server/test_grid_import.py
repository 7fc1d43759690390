"""Importing grids through the API: the topology report, versions, CRS at the edge, the admin guard."""

from __future__ import annotations

import pytest

from gis.crs import CRS, from_wgs84_arrays
from tests.server.grid_files import DX, DY, SOUTH, WEST, city_features, collection, feature, rect


def post_import(client, headers, features, **params):
    files = {"file": ("grids.geojson", collection(features), "application/geo+json")}
    return client.post("/api/grids/import", files=files, params=params, headers=headers)


def kinds(body) -> set[tuple[str, str]]:
    return {(i["severity"], i["kind"]) for i in body["report"]["issues"]}


def issue(body, kind: str) -> dict:
    return next(i for i in body["report"]["issues"] if i["kind"] == kind)


def test_import_creates_the_hierarchy_with_paths_and_areas(client, admin_headers):
    resp = post_import(client, admin_headers, city_features())
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["written"] and body["created"] == 7
    assert body["report"]["errors"] == 0

    district = client.get("/api/grids/370102").json()
    assert district["path"] == "370100.370102"
    assert district["geometry"]["type"] == "MultiPolygon"
    assert district["children"] == 2
    # 0.02 deg x 0.02 deg at 36.61 N: 1.7855 km x 2.2196 km by the geodesic formulas
    assert district["area_m2"] == pytest.approx(1785.5 * 2219.6, rel=0.01)
    streets = client.get("/api/grids", params={"parent": "370102"}).json()
    assert [g["code"] for g in streets] == ["370102001", "370102002"]
    roots = client.get("/api/grids").json()
    assert [g["code"] for g in roots] == ["370100"]
    subtree = client.get("/api/grids/370100/subtree", params={"depth": 1}).json()
    assert [g["code"] for g in subtree] == ["370100", "370102", "370103"]


def test_reimport_changes_nothing_rename_in_place_reshape_adds_a_version(client, admin_headers):
    features = city_features()
    assert post_import(client, admin_headers, features).status_code == 200
    again = post_import(client, admin_headers, features).json()
    assert (again["created"], again["new_versions"], again["unchanged"]) == (0, 0, 7)

    renamed = [f for f in features if f["properties"]["code"] == "370102001"]
    renamed[0]["properties"]["name"] = "西一新街道"
    body = post_import(client, admin_headers, renamed).json()
    assert body["renamed"] == 1 and body["new_versions"] == 0
    grid = client.get("/api/grids/370102001").json()
    assert (grid["name"], grid["version"]) == ("西一新街道", 1)

    # Move the border between the two western streets 0.002 deg east: both get new versions.
    q1 = WEST + DX / 4 + 0.002
    moved = [
        feature("370102001", "西一新街道", rect(WEST, SOUTH, q1, SOUTH + DY), "370102"),
        feature("370102002", "西二街道", rect(q1, SOUTH, WEST + DX / 2, SOUTH + DY), "370102"),
    ]
    body = post_import(client, admin_headers, moved).json()
    assert body["new_versions"] == 2, body
    history = client.get("/api/grids/370102001/history").json()
    assert [h["version"] for h in history] == [1, 2]
    assert history[0]["valid_to"] is not None and history[1]["valid_to"] is None
    point = {"lon": WEST + DX / 4 + 0.001, "lat": SOUTH + DY / 2}
    chain = client.get("/api/grids/locate", params=point).json()["chain"]
    assert chain[-1]["code"] == "370102001"


def test_dry_run_reports_and_writes_nothing(client, admin_headers):
    body = post_import(client, admin_headers, city_features(), dry_run=True).json()
    assert body["written"] is False and body["report"]["errors"] == 0
    assert client.get("/api/grids").json() == []


def test_import_in_gcj02_is_converted_to_wgs84(client, admin_headers):
    gcj = []
    for f in city_features():
        ring = f["geometry"]["coordinates"][0]
        lons, lats = from_wgs84_arrays([p[0] for p in ring], [p[1] for p in ring], CRS.GCJ02)
        f = {
            **f,
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[x, y] for x, y in zip(lons, lats, strict=True)]],
            },
        }
        gcj.append(f)
    assert post_import(client, admin_headers, gcj, crs="gcj02").status_code == 200
    ring = client.get("/api/grids/370100").json()["geometry"]["coordinates"][0][0]
    assert min(p[0] for p in ring) == pytest.approx(WEST, abs=1e-6)
    assert min(p[1] for p in ring) == pytest.approx(SOUTH, abs=1e-6)


def test_write_routes_need_the_admin_token(client, admin_headers):
    assert post_import(client, {}, city_features()).status_code == 401
    wrong = post_import(client, {"Authorization": "Bearer nope"}, city_features())
    assert wrong.status_code == 401 and wrong.json()["code"] == "auth.token_invalid"
    assert client.get("/api/grids").json() == []


# -- crafted bad imports: each with the problem it must name ----------------------------------------


def with_replaced(code: str, geometry: dict | None) -> list[dict]:
    return [{**f, "geometry": geometry} if f["properties"]["code"] == code else f for f in city_features()]


def test_bow_tie_is_repaired_with_a_warning(client, admin_headers):
    # The first eastern street drawn as a bow-tie over its own rectangle: make_valid splits it.
    x0, x1 = WEST + DX / 2, WEST + 3 * DX / 4
    bow = {
        "type": "Polygon",
        "coordinates": [[[x0, SOUTH], [x1, SOUTH + DY], [x1, SOUTH], [x0, SOUTH + DY], [x0, SOUTH]]],
    }
    resp = post_import(client, admin_headers, with_replaced("370103001", bow))
    body = resp.json()
    repaired = issue(body, "repaired_geometry")
    assert repaired["severity"] == "warning" and repaired["code"] == "370103001"
    assert "边界自相交" in repaired["message"] and "已自动修复" in repaired["message"]


def test_child_crossing_its_parent_is_an_error(client, admin_headers):
    crossing = rect(WEST + DX / 4, SOUTH, WEST + DX / 2 + 0.005, SOUTH + DY)  # 0.005 deg into 370103
    resp = post_import(client, admin_headers, with_replaced("370102002", crossing))
    assert resp.status_code == 422
    body = resp.json()
    assert not body["written"]
    outside = issue(body, "outside_parent")
    assert outside["code"] == "370102002" and "370102" in outside["message"]
    assert outside["area_m2"] == pytest.approx(446 * 2220, rel=0.05)
    assert client.get("/api/grids").json() == []


def test_overlapping_siblings_are_an_error(client, admin_headers):
    wide = rect(WEST, SOUTH, WEST + DX / 4 + 0.001, SOUTH + DY)  # 0.001 deg over its eastern sibling
    body = post_import(client, admin_headers, with_replaced("370102001", wide)).json()
    overlap = issue(body, "overlap")
    assert overlap["severity"] == "error"
    assert {overlap["code"], overlap["other_code"]} == {"370102001", "370102002"}
    assert overlap["area_m2"] == pytest.approx(89 * 2220, rel=0.05)


def test_gap_between_children_is_a_warning(client, admin_headers):
    narrow = rect(WEST, SOUTH, WEST + DX / 4 - 0.001, SOUTH + DY)
    resp = post_import(client, admin_headers, with_replaced("370102001", narrow))
    assert resp.status_code == 200
    gap = issue(resp.json(), "gap")
    assert gap["severity"] == "warning" and gap["code"] == "370102"
    assert gap["area_m2"] == pytest.approx(89 * 2220, rel=0.05)


def test_duplicate_code_is_an_error(client, admin_headers):
    features = [
        *city_features(),
        feature("370102001", "重复街道", rect(WEST, SOUTH, WEST + 0.001, SOUTH + 0.001), "370102"),
    ]
    body = post_import(client, admin_headers, features).json()
    assert ("error", "duplicate_code") in kinds(body)
    assert issue(body, "duplicate_code")["code"] == "370102001"


def test_code_not_extending_its_parent_is_an_error(client, admin_headers):
    features = city_features()
    features[3]["properties"]["parent_code"] = "370103"  # 370102001 claims 370103 as parent
    body = post_import(client, admin_headers, features).json()
    problem = issue(body, "code_not_extending_parent")
    assert problem["severity"] == "error" and "370102001" in problem["message"]


def test_feature_without_geometry_is_an_error(client, admin_headers):
    body = post_import(client, admin_headers, with_replaced("370103002", None)).json()
    assert ("error", "no_geometry") in kinds(body)
    assert issue(body, "no_geometry")["code"] == "370103002"


def test_coordinates_out_of_range_are_an_error(client, admin_headers):
    bad = rect(WEST + 3 * DX / 4, SOUTH, 217.0, SOUTH + DY)
    body = post_import(client, admin_headers, with_replaced("370103002", bad)).json()
    problem = issue(body, "coordinates_out_of_range")
    assert problem["severity"] == "error" and "217" in problem["message"]


def test_a_file_that_is_not_geojson_is_refused_with_a_reason(client, admin_headers):
    files = {"file": ("grids.geojson", b"code,name\n370100,x\n", "text/csv")}
    resp = client.post("/api/grids/import", files=files, headers=admin_headers)
    assert resp.status_code == 422
    issues = resp.json()["report"]["issues"]
    assert len(issues) == 1 and issues[0]["severity"] == "error" and "JSON" in issues[0]["message"]
    files = {"file": ("grids.geojson", b'{"type": "Point", "coordinates": [1, 2]}', "application/json")}
    message = client.post("/api/grids/import", files=files, headers=admin_headers).json()["report"]["issues"][
        0
    ]
    assert "FeatureCollection" in message["message"]
