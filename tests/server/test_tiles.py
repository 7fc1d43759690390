"""Vector tiles on the demo city, decoded with mapbox-vector-tile: grid levels by zoom, case points and
clusters, filters, scope, the feature cap, dense tiles, ETags and bad tile addresses; the case summary
behind the clusters against the cases themselves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import mapbox_vector_tile
import pytest
from sqlalchemy import select, text

from gis.tiles import tile_for_point, tiles_for_bbox
from server import messages
from server.auth.principal import ADMINISTRATOR
from server.case import clock as case_clock
from server.case import queries
from server.case.scope import scope_of
from server.config import get_settings
from server.grid import lookup as grid_lookup
from server.grid.models import CURRENT, Grid
from server.grid.models import today as city_today
from server.tiles import service
from tests.server.case_world import DISTRICT, OTHER_DISTRICT, act, make_user, report, team, village_point
from tests.server.test_case_http import login

MVT = "application/vnd.mapbox-vector-tile"
SHANGHAI = ZoneInfo("Asia/Shanghai")
SPREAD = 0.0004  # degrees between the test cases: about 40 m


def decoded(resp, layer: str) -> list[dict]:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == MVT
    assert resp.headers["cache-control"] == "private, no-cache"
    return mapbox_vector_tile.decode(resp.content).get(layer, {"features": []})["features"]


def tile_url(layer: str, z: int, x: int, y: int) -> str:
    return f"/tiles/{layer}/{z}/{x}/{y}.mvt"


def around(world: dict, z: int) -> list[tuple[int, int, int]]:
    """The tiles at zoom ``z`` covering the test cases."""
    lon, lat = world["lon"], world["lat"]
    return tiles_for_bbox(lon - SPREAD, lat - SPREAD, lon + SPREAD, lat + SPREAD, z)


def points(world: dict, headers: dict, z: int = 16, **params) -> dict[str, dict]:
    """The case points at zoom ``z`` over the test cases, by code (a point near an edge is in two tiles)."""
    return {
        f["properties"]["code"]: f["properties"]
        for tile in around(world, z)
        for f in decoded(
            world["client"].get(tile_url("cases", *tile), headers=headers, params=params), "cases"
        )
    }


def clusters(world: dict, headers: dict, z: int, **params) -> list[dict]:
    return [
        f["properties"]
        for tile in around(world, z)
        for f in decoded(
            world["client"].get(tile_url("cases", *tile), headers=headers, params=params), "clusters"
        )
    ]


@pytest.fixture
def world(demo_db, demo_client):
    """Four cases reported by the inspector of a village of 历下区: three fresh, one a week old (red), one of
    them a missing manhole cover (E01002)."""
    w = team(demo_db)
    lon, lat, who = w["lon"], w["lat"], w["inspector"]
    fresh = [
        report(demo_db, who, lon, lat),
        report(demo_db, who, lon + SPREAD, lat),
        report(demo_db, who, lon, lat + SPREAD, category="E01002"),
    ]
    old = report(demo_db, who, lon - SPREAD, lat - SPREAD / 2, at=datetime(2026, 11, 16, 9, tzinfo=SHANGHAI))
    return {**w, "client": demo_client, "fresh": fresh, "old": old, "cases": [*fresh, old]}


def test_grid_tiles_show_the_level_of_the_zoom(demo_db, demo_client, admin_headers):
    village, lon, lat = village_point(demo_db)
    unit = grid_lookup.locate(db=demo_db, lon=lon, lat=lat)[2][-1]
    street = demo_db.scalar(select(Grid).where(CURRENT, Grid.code == village[:9]))
    expected = {
        10: {"level": "district", "code": "370102", "name": "历下区", "parent_code": "370100"},
        12: {"level": "street", "code": street.code, "name": street.name, "parent_code": "370102"},
        15: {"level": "unit", "code": unit.code, "name": unit.name, "parent_code": village},
    }
    for z, grid in expected.items():
        x, y = tile_for_point(lon, lat, z)
        features = decoded(demo_client.get(tile_url("grids", z, x, y), headers=admin_headers), "grids")
        assert {f["properties"]["level"] for f in features} == {grid["level"]}
        (found,) = [f for f in features if f["properties"]["code"] == grid["code"]]
        assert found["properties"] == grid
        assert found["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_grid_level_by_zoom():
    assert [service.grid_level(z) for z in (0, 10, 11, 12, 13, 14, 15, 22)] == [
        "district", "district", "street", "street", "village", "village", "unit", "unit",
    ]  # fmt: skip


def test_case_points_at_high_zoom(world, admin_headers):
    seen = points(world, admin_headers)
    assert set(seen) == {c.code for c in world["cases"]}
    first, manhole, old = world["fresh"][0], world["fresh"][2], world["old"]
    assert seen[first.code] == {
        "code": first.code,
        "state": "registered",
        "light": "green",
        "urgency": first.urgency,
        "category": "E06010",
    }
    assert seen[manhole.code]["category"] == "E01002"
    assert seen[old.code]["light"] == "red"


@pytest.mark.parametrize("z", [10, 12])
def test_clusters_at_low_zoom_count_the_cases(world, admin_headers, z):
    found = clusters(world, admin_headers, z)
    assert found, "no cluster"
    assert sum(c["count"] for c in found) == 4
    assert "red" in {c["light"] for c in found}
    red_only = clusters(world, admin_headers, z, light="red")
    assert [(c["count"], c["light"]) for c in red_only] == [(1, "red")]


def test_filters(world, admin_headers):
    db, fresh, old = world["db"], world["fresh"], world["old"]
    act(db, world["lead"], fresh[0], "file")
    act(db, world["dispatcher"], fresh[0], "dispatch")
    act(db, world["lead"], fresh[1], "tag", tag="key_supervision")
    codes = lambda **params: set(points(world, admin_headers, **params))  # noqa: E731
    day = city_today()
    assert codes(state=["registered"]) == {fresh[1].code, fresh[2].code, old.code}
    assert codes(state=["dispatched", "registered"]) == {c.code for c in world["cases"]}
    assert codes(state=["closed"]) == set()
    assert codes(light="red") == {old.code}
    assert codes(category="E01002") == {fresh[2].code}
    assert codes(department="sanitation_lx") == {fresh[0].code}
    assert codes(tag="key_supervision") == {fresh[1].code}
    assert codes(since=day) == {c.code for c in fresh}
    assert codes(until=day - timedelta(days=1)) == {old.code}
    assert codes(since="2026-11-16", until="2026-11-16") == {old.code}
    assert codes(until="2026-11-15") == set()
    resp = world["client"].get(tile_url("cases", 16, 0, 0), headers=admin_headers, params={"category": "X99"})
    assert resp.status_code == 404


def test_tiles_honour_the_scope(world, demo_db):
    client = world["client"]
    other_village = village_point(demo_db, OTHER_DISTRICT)[0]
    outsider = login(client, make_user(demo_db, ["inspector"], inspects=other_village))
    assert points(world, outsider) == {}
    assert clusters(world, outsider, 10) == []
    assert set(points(world, login(client, world["inspector"]))) == {c.code for c in world["cases"]}
    act(demo_db, world["lead"], world["fresh"][0], "file")
    act(demo_db, world["dispatcher"], world["fresh"][0], "dispatch")
    assert set(points(world, login(client, world["department"]))) == {world["fresh"][0].code}


def test_tiles_need_a_login(demo_client):
    for layer in ("grids", "cases"):
        assert demo_client.get(tile_url(layer, 10, 843, 388)).status_code == 401


def test_the_feature_cap_keeps_the_most_urgent_and_soonest_due(world, admin_headers, monkeypatch):
    assert len(around(world, 14)) == 1  # the demo city is fixed: one tile holds the four cases
    monkeypatch.setenv("GRIDOPS_TILE_MAX_FEATURES", "2")
    get_settings.cache_clear()
    try:
        seen = points(world, admin_headers, z=14)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    ranked = sorted(world["cases"], key=lambda c: (queries.URGENCY_ORDER[c.urgency], c.step_due_at, c.id))
    assert set(seen) == {c.code for c in ranked[:2]}
    assert len(points(world, admin_headers, z=14)) == 4


def test_lights_match_the_case_clock(world, demo_db):
    """The light computed in SQL is the one ``clock`` computes, through a working day and past the due
    instants (each case of its own limit)."""
    start = datetime(2026, 11, 23, 8, 20, tzinfo=SHANGHAI)  # a Monday, before work starts
    cases = [
        report(demo_db, world["inspector"], world["lon"], world["lat"], urgency=urgency, at=start)
        for urgency in ("urgent", "important", "normal")
    ]
    cases.append(report(demo_db, world["acceptor"], world["lon"], world["lat"], channel="hotline", at=start))
    scope = scope_of(db=demo_db, principal=ADMINISTRATOR)
    tiles = [service.TileAddress.of(*t) for t in around(world, 16)]
    seen = set()
    for minutes in range(6 * 60):
        at = start + timedelta(minutes=minutes)
        lights = {}
        for tile in tiles:
            data = service.cases_tile(
                db=demo_db, scope=scope, tile=tile, filters=service.CaseTileFilter(), at=at
            ).data
            for f in mapbox_vector_tile.decode(data).get("cases", {"features": []})["features"]:
                lights[f["properties"]["code"]] = f["properties"].get("light")
        for case in cases:
            expected = case_clock.clock(case, at).light
            assert lights[case.code] == expected, (case.code, at, case.step_due_at, case.step_limit_min)
            seen.add(expected)
    assert seen == {"green", "yellow", "red"}


def test_etag_revalidation(world, admin_headers):
    client = world["client"]
    url = tile_url("cases", *around(world, 16)[0])
    first = client.get(url, headers=admin_headers)
    etag = first.headers["etag"]
    same = client.get(url, headers={**admin_headers, "If-None-Match": f'"other", W/{etag}'})
    assert (same.status_code, same.content, same.headers["etag"]) == (304, b"", etag)
    filtered = client.get(url, headers={**admin_headers, "If-None-Match": etag}, params={"light": "red"})
    assert filtered.status_code == 200 and filtered.headers["etag"] != etag
    act(world["db"], world["lead"], world["fresh"][0], "tag", tag="key_supervision")
    changed = client.get(url, headers={**admin_headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag

    grid_url = tile_url("grids", 12, *tile_for_point(world["lon"], world["lat"], 12))
    grid_etag = client.get(grid_url, headers=admin_headers).headers["etag"]
    again = client.get(grid_url, headers={**admin_headers, "If-None-Match": grid_etag})
    assert again.status_code == 304


@pytest.mark.parametrize(
    ("z", "x", "y", "code", "params"),
    [
        (3, 8, 0, "tiles.no_such_tile", {"z": 3, "x": 8, "y": 0, "last": 7}),
        (3, 0, -1, "tiles.no_such_tile", {"z": 3, "x": 0, "y": -1, "last": 7}),
        (23, 0, 0, "tiles.zoom_out_of_range", {"z": 23, "max_zoom": 22}),
    ],
)
def test_bad_tile_addresses(demo_client, admin_headers, z, x, y, code, params):
    for layer in ("grids", "cases"):
        resp = demo_client.get(tile_url(layer, z, x, y), headers=admin_headers)
        assert resp.status_code == 422
        assert resp.json() == {"detail": messages.text(code, **params), "code": code, "params": params}


def test_etag_changes_when_a_light_turns(world, demo_db):
    scope = scope_of(db=demo_db, principal=ADMINISTRATOR)
    tile = service.TileAddress.of(*around(world, 16)[0])
    case = world["fresh"][0]

    def etag(at: datetime) -> str:
        return service.cases_tile(
            db=demo_db, scope=scope, tile=tile, filters=service.CaseTileFilter(), at=at
        ).etag

    before, after = case.step_yellow_at - timedelta(minutes=1), case.step_yellow_at
    assert etag(before) == etag(before - timedelta(minutes=1))
    assert etag(after) != etag(before)


# -- the case summary ---------------------------------------------------------------------------------

SUMMARY = text("SELECT cell_x, cell_y, state, grid_path::text, count, round(sum_x::numeric, 3), "
               "round(sum_y::numeric, 3), min_due_at, min_yellow_at FROM case_cell")  # fmt: skip
DIRECT = text(
    """
    SELECT cell_x, cell_y, state, subpath(grid_path, 0, least(nlevel(grid_path), 3))::text, count(*),
           round(sum(ST_X(ST_Transform(location, 3857)))::numeric, 3),
           round(sum(ST_Y(ST_Transform(location, 3857)))::numeric, 3), min(step_due_at), min(step_yellow_at)
    FROM case_file GROUP BY 1, 2, 3, 4
    """
)


def assert_summary_is_the_cases(db) -> None:
    db.flush()
    assert sorted(db.execute(SUMMARY).all()) == sorted(db.execute(DIRECT).all())
    for lon, lat, cell_x, cell_y in db.execute(
        text("SELECT ST_X(location), ST_Y(location), cell_x, cell_y FROM case_file")
    ):
        assert (cell_x, cell_y) == tile_for_point(lon, lat, 17)


def test_the_summary_follows_every_write(world, demo_db):
    """Intake, actions, a merge, a move, an insert and a delete, all in one transaction: after each the
    summary is what a direct aggregation of the cases gives."""
    db, lead, fresh, old = demo_db, world["lead"], world["fresh"], world["old"]
    assert_summary_is_the_cases(db)
    assert db.scalar(text("SELECT sum(count) FROM case_cell")) == 4

    act(db, lead, fresh[0], "file")
    act(db, world["dispatcher"], fresh[0], "dispatch")
    assert_summary_is_the_cases(db)
    act(db, world["dispatcher"], fresh[0], "suspend", reason="等待施工结束")
    assert_summary_is_the_cases(db)
    act(db, lead, fresh[1], "merge", master=old.code)
    assert_summary_is_the_cases(db)
    assert db.scalar(text("SELECT count FROM case_cell WHERE state = 'merged'")) == 1

    far = village_point(db, OTHER_DISTRICT)
    db.execute(
        text("UPDATE case_file SET location = ST_Point(:lon, :lat, 4326) WHERE id = :id"),
        {"lon": far[1], "lat": far[2], "id": old.id},
    )
    assert_summary_is_the_cases(db)
    copy = db.scalar(
        text(
            """
            INSERT INTO case_file (code, client_uuid, content_hash, channel, state, category_id, urgency,
                location, reported_crs, grid_id, grid_code, grid_path, district_code, received_at,
                step_limit_min, step_due_at, step_yellow_at)
            SELECT code || 'c', gen_random_uuid(), content_hash, channel, state, category_id, urgency,
                location, reported_crs, grid_id, grid_code, grid_path, district_code, received_at,
                step_limit_min, step_due_at - interval '1 hour', step_yellow_at - interval '1 hour'
            FROM case_file WHERE id = :id
            RETURNING id
            """
        ),
        {"id": fresh[2].id},
    )
    assert_summary_is_the_cases(db)
    db.execute(text("DELETE FROM case_file WHERE id = :id"), {"id": copy})
    assert_summary_is_the_cases(db)
    assert db.scalar(text("SELECT sum(count) FROM case_cell")) == 4


def mvt(db, rows, layer: str) -> list[dict]:
    data = service._mvt(db, rows, layer)
    features = mapbox_vector_tile.decode(data).get(layer, {"features": []})["features"]
    return sorted((f["properties"], f["geometry"]["coordinates"]) for f in features)


@pytest.mark.parametrize("z", [10, 12, 13, 14, 15])
def test_summary_clusters_are_the_case_clusters(world, demo_db, z):
    """For a city-wide and a district's scope, with and without a state filter, the clusters built from the
    summary are those built from the cases, lights included (some cases red, one suspended)."""
    db = demo_db
    act(db, world["lead"], world["fresh"][0], "file")
    act(db, world["dispatcher"], world["fresh"][0], "dispatch")
    act(db, world["dispatcher"], world["fresh"][0], "suspend", reason="等待施工结束")
    now = world["fresh"][1].step_yellow_at  # yellow, red, green and no light at once
    scopes = [scope_of(db=db, principal=ADMINISTRATOR), scope_of(db=db, principal=world["lead"])]
    for scope in scopes:
        for states in [(), ("registered",)]:
            filters = service.CaseTileFilter(states=states)
            for address in around(world, z):
                tile = service.TileAddress.of(*address)
                summary = service._summary(scope, filters, tile)
                cases = service._case_cells(
                    tile, service._conditions(db, scope, filters, tile.search_box(), now)
                )
                expected = mvt(db, service._clusters(tile, cases, now), "clusters")
                assert expected and mvt(db, service._clusters(tile, summary, now), "clusters") == expected


def test_which_requests_the_summary_answers(world, demo_db):
    db = demo_db
    tile = service.TileAddress.of(*around(world, 12)[0])
    city, district = scope_of(db=db, principal=ADMINISTRATOR), scope_of(db=db, principal=world["lead"])
    assert len(district.grid_paths) == 1 and district.grid_paths[0].endswith(DISTRICT)
    village = scope_of(db=db, principal=world["inspector"])
    department = scope_of(db=db, principal=world["department"])
    by_state = service.CaseTileFilter(states=("registered",))
    assert service._summary(city, by_state, tile) is not None
    assert service._summary(district, service.CaseTileFilter(), tile) is not None
    assert service._summary(village, service.CaseTileFilter(), tile) is None
    assert service._summary(department, service.CaseTileFilter(), tile) is None
    for other in ({"light": "red"}, {"category": "E01002"}, {"tag": "x"}, {"since": datetime.now(UTC)}):
        assert service._summary(city, service.CaseTileFilter(**other), tile) is None


def test_scope_on_the_summary(world, demo_db):
    """A district's staff sees its district's cases from the summary, and the cases it reported elsewhere;
    another district's staff sees neither; a village's inspector (the cases' own table) sees them too."""
    db, client = demo_db, world["client"]
    outsider = make_user(db, ["acceptor"], grid=OTHER_DISTRICT)
    count = lambda who, z: sum(c["count"] for c in clusters(world, login(client, who), z))  # noqa: E731
    for z in (10, 12):
        assert count(world["lead"], z) == 4
        assert count(world["inspector"], z) == 4
        assert count(outsider, z) == 0
    report(db, outsider, world["lon"], world["lat"], channel="hotline")
    for z in (10, 12):
        assert count(outsider, z) == 1
        assert count(world["lead"], z) == 5


def test_dense_tiles_come_as_clusters(world, admin_headers, monkeypatch):
    """Over ``tile_point_limit`` cases, a tile of zoom 14 or 15 comes as clusters; zoom 16 always as points;
    a request the summary cannot answer keeps points."""
    monkeypatch.setenv("GRIDOPS_TILE_POINT_LIMIT", "3")
    get_settings.cache_clear()
    try:
        for z in (14, 15):
            found = clusters(world, admin_headers, z)
            assert sum(c["count"] for c in found) == 4 and "red" in {c["light"] for c in found}
            assert points(world, admin_headers, z=z) == {}
            assert len(points(world, admin_headers, z=z, state=["registered"], category="E06010")) == 3
        assert len(points(world, admin_headers, z=16)) == 4
        monkeypatch.setenv("GRIDOPS_TILE_POINT_LIMIT", "4")
        get_settings.cache_clear()
        assert len(points(world, admin_headers, z=14)) == 4
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_migration_0006_backfills_yellow_instants_and_the_summary(demo_clone_url, owner_url):
    """Down to 0005 and up again over cases with running and stopped clocks: the yellow instants come back
    as the calendar computes them, the summary as the cases aggregate, and no case counts as changed."""
    from server import migrate
    from server.database import new_session

    with new_session(demo_clone_url) as db:
        w = team(db)
        cases = [
            report(db, w["inspector"], w["lon"], w["lat"], at=datetime(2026, 9, 30, 17, tzinfo=SHANGHAI))
        ]
        cases.append(report(db, w["acceptor"], w["lon"], w["lat"], channel="hotline"))
        act(db, w["lead"], cases[0], "file")
        act(db, w["dispatcher"], cases[0], "dispatch")
        act(db, w["dispatcher"], cases[0], "suspend", reason="等待施工结束")
        before = db.execute(text("SELECT id, step_yellow_at, change_seq FROM case_file ORDER BY id")).all()
        assert [y is None for _, y, _ in before] == [True, False]
    migrate.downgrade(owner_url(demo_clone_url), "0005")
    migrate.upgrade(owner_url(demo_clone_url))
    with new_session(demo_clone_url) as db:
        assert (
            db.execute(text("SELECT id, step_yellow_at, change_seq FROM case_file ORDER BY id")).all()
            == before
        )
        assert_summary_is_the_cases(db)
        assert db.scalar(text("SELECT sum(count) FROM case_cell")) == 2
