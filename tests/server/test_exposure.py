"""What the public (no login) and other users may learn that they should not: the staff of a grid, and
another report's case code behind a reused client UUID."""

from __future__ import annotations

import pytest

from server import messages
from server.grid import people as grid_people
from server.grid import service as grid_service
from server.open311 import service as open311_service
from tests.server.case_world import jpeg, make_user, team
from tests.server.test_case_http import login, new_report

TAKEN = messages.text("case.client_uuid_taken")
ANONYMOUS_GRID_ROUTES = (
    "/api/grids/{code}",
    "/api/grids/{code}/subtree?depth=1",
    "/api/grids/{code}/history",
    "/api/grids/{code}/children.geojson",
    "/api/grids/export?code={code}",
    "/api/grids?parent={parent}",
    "/api/grids/search?q={name}",
    "/api/grids/locate?lon={lon}&lat={lat}",
)


@pytest.fixture
def staffed(demo_db, demo_client):
    """A village with a head and an inspector, named so that they can be looked for in any answer."""
    people = team(demo_db)
    head = make_user(demo_db, ["grid_head"], name="网格长甲乙丙")
    grid_people.assign(db=demo_db, grid_code=people["village"], user=head.user, role="head")
    inspector = make_user(demo_db, ["inspector"], inspects=people["village"], name="网格员丁戊己")
    grid = grid_service.get_grid(db=demo_db, code=people["village"])
    return {**people, "client": demo_client, "grid": grid, "names": (head.name, inspector.name)}


def test_the_public_sees_grids_but_not_their_staff(staffed):
    client, grid = staffed["client"], staffed["grid"]
    fields = {
        "code": grid.code,
        "parent": grid.parent_code,
        "name": grid.name,
        "lon": staffed["lon"],
        "lat": staffed["lat"],
    }
    for route in ANONYMOUS_GRID_ROUTES:
        resp = client.get(route.format(**fields))
        assert resp.status_code == 200, (route, resp.text)
        assert grid.code in resp.text, route  # the grid itself is public
        for name in staffed["names"]:
            assert name not in resp.text, route
    detail = client.get(f"/api/grids/{grid.code}").json()
    assert detail["name"] == grid.name and detail["geometry"]["type"] == "MultiPolygon"
    assert detail["people"] is None  # not "nobody": not told

    refused = client.get(f"/api/grids/{grid.code}/assignments")
    assert refused.status_code == 401
    assert all(name not in refused.text for name in staffed["names"])


def test_logged_in_users_see_the_staff_of_a_grid(staffed):
    client, grid = staffed["client"], staffed["grid"]
    headers = login(client, staffed["department"])  # any logged-in user: no grid of theirs
    detail = client.get(f"/api/grids/{grid.code}", headers=headers)
    assert detail.status_code == 200
    people = {(p["role"], p["name"]) for p in detail.json()["people"]}
    assert {("head", staffed["names"][0]), ("inspector", staffed["names"][1])} <= people
    listed = client.get(f"/api/grids/{grid.code}/assignments", headers=headers)
    assert listed.status_code == 200
    assert {p["name"] for p in listed.json()} >= set(staffed["names"])
    expired = client.get(f"/api/grids/{grid.code}", headers={"Authorization": "Bearer not-a-token"})
    assert expired.status_code == 401  # a token that fails is refused, not taken for no login


def test_a_reused_client_uuid_does_not_name_the_other_case(staffed):
    client, lon, lat = staffed["client"], staffed["lon"], staffed["lat"]
    body = new_report(lon, lat, description="路边垃圾")
    first = client.post("/api/cases", json=body, headers=login(client, staffed["inspector"]))
    assert first.status_code == 201, first.text
    code = first.json()["code"]

    # Another user (or the same one) sending the UUID with other content learns only that it is taken.
    other = {**body, "description": "别的问题"}
    for who in ("acceptor", "inspector"):
        taken = client.post("/api/cases", json=other, headers=login(client, staffed[who]))
        assert taken.status_code == 409
        assert code not in taken.text and code.split("-")[-1] not in taken.text
        assert taken.json() == {"detail": TAKEN, "code": "case.client_uuid_taken", "params": {}}

    _, key = open311_service.add_client(db=staffed["db"], name="城市App")
    form = {
        "api_key": key,
        "jurisdiction_id": "jinan.gridops",
        "service_code": body["category"],
        "lat": lat,
        "long": lon,
        "attribute[client_uuid]": body["client_uuid"],
        "description": "另一个问题",
    }
    by_open311 = client.post("/open311/v2/requests.json", data=form)
    assert by_open311.status_code == 400
    assert code not in by_open311.text and TAKEN in by_open311.json()[0]["description"]

    public = {"client_uuid": body["client_uuid"], "category": body["category"], "lon": lon, "lat": lat}
    by_public = client.post(
        "/api/public/reports", data=public, files=[("photos", ("p.jpg", jpeg(), "image/jpeg"))]
    )
    assert by_public.status_code == 409 and code not in by_public.text
