"""The phone's copy of the address register (issue 18): the sync pulls the addresses of my grids only, page
by page with a cursor that a failure leaves where it was; the copy is searched offline by words in any
order, ranked as the server ranks; the report screen suggests addresses as the inspector types, moves the
pin to a picked address only without a GPS fix, and a report with no address typed carries the nearest
cached one to the server.

The addresses are written with SQL into the register of the live server's database, as an import would:
each with the deepest grid holding it."""

from __future__ import annotations

# isort: off
import mobile.main  # noqa: F401 (first: it sets the window's size, which Kivy fixes when it makes it)

# isort: on
import math
import sqlite3
from contextlib import closing
from dataclasses import dataclass

import pytest
import shapely
from sqlalchemy import text

from grids.words import near_words
from mobile.services.cache import Cache
from mobile.services.store import SCHEMA_VERSION, Store
from server.database import get_engine
from server.grid.lookup import deepest_code_sql
from tests.mobile.app_driver import log_in, synced
from tests.mobile.layout import layout_problems
from tests.mobile.test_report_position import phone, photo_and_category, send, sent_case  # noqa: F401

BULK = 1001  # addresses of one unit grid: the first sync takes two pages (the server sends 1000 a page)
ADD = text(
    f"""
    INSERT INTO address (register_id, name, address_text, kind, aliases, geom, grid_code)
    VALUES (:register_id, :name, :text, :kind, :aliases, ST_Point(:lon, :lat, 4326),
            ({deepest_code_sql(":lon", ":lat")}))
    RETURNING id, grid_code
    """
)


def east(lon: float, lat: float, metres: float) -> tuple[float, float]:
    return lon + metres / (111_320.0 * math.cos(math.radians(lat))), lat


@dataclass(frozen=True)
class Register:
    url: str
    ids: dict[str, int]  # the addresses added, by their full text
    points: dict[str, tuple[float, float]]
    unit_point: tuple[float, float]  # inside the first unit grid: 山大南路27号 is 30 m east of it

    def in_grids(self, codes: set[str]) -> set[int]:
        """The ids of every address of the register in the grids ``codes`` (the demo's own ones too)."""
        with get_engine(self.url).connect() as db:
            rows = db.execute(
                text("SELECT id FROM address WHERE grid_code = ANY(:codes)"), {"codes": list(codes)}
            )
            return {r.id for r in rows}

    def change(self, address_id: int, address_text: str) -> None:
        """Change an address as an import does: with the next change number."""
        with get_engine(self.url).begin() as db:
            db.execute(
                text(
                    "UPDATE address SET address_text = :text, updated_at = now(), "
                    "change_seq = nextval('address_change_seq') WHERE id = :id"
                ),
                {"text": address_text, "id": address_id},
            )


@pytest.fixture(scope="module")
def register(mobile_db_url, server, inspector_http) -> Register:
    """Addresses in the inspector's unit grids, one in another village, one outside every grid, and
    ``BULK`` house numbers in the last unit grid of the inspector's village."""
    features = inspector_http.get("/api/sync/grids").json()["features"]
    mine = {f["properties"]["code"] for f in features}
    units = sorted(
        (f for f in features if f["properties"]["level"] == "unit"), key=lambda f: f["properties"]["code"]
    )
    assert len(units) >= 3
    first, second, last = (
        shapely.geometry.shape(u["geometry"]).representative_point() for u in units[:2] + units[-1:]
    )
    places = [
        ("济南市历下区山大南路27号", None, "house", [], east(first.x, first.y, 30)),
        ("济南市历下区山大南路29号", None, "house", [], east(first.x, first.y, 60)),
        (
            "济南市历下区山大南路31号",
            "山大南路小学",
            "poi",
            ["山大南小", "文化西路小学"],
            (second.x, second.y),
        ),
        ("济南市历下区文化西路5号2号楼", None, "building", [], east(second.x, second.y, 20)),
        ("北京市东城区东长安街1号", None, "poi", [], (116.3975, 39.9087)),  # outside every grid
    ]
    engine = get_engine(mobile_db_url)
    ids, points = {}, {}
    with engine.begin() as db:
        db.execute(text("DELETE FROM address"))  # the tests place their own (the demo's would be nearer)
        other = db.execute(
            text(
                "SELECT code, ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat "
                "FROM grid WHERE level = 'village' AND valid_to IS NULL AND NOT code = ANY(:mine) "
                "ORDER BY code LIMIT 1"
            ),
            {"mine": list(mine)},
        ).one()
        places.append(("济南市历下区经十路100号", None, "house", [], (other.lon, other.lat)))
        for n, (address_text, name, kind, aliases, (lon, lat)) in enumerate(places):
            row = db.execute(
                ADD,
                {
                    "register_id": f"MOBILE-{n}",
                    "name": name,
                    "text": address_text,
                    "kind": kind,
                    "aliases": aliases,
                    "lon": lon,
                    "lat": lat,
                },
            ).one()
            ids[address_text], points[address_text] = row.id, (lon, lat)
            assert (row.grid_code in mine) == (n < 4), (address_text, row.grid_code)
        assert ids and other.code not in mine
        code = db.execute(text(deepest_code_sql(":lon", ":lat")), {"lon": last.x, "lat": last.y}).scalar_one()
        assert code in mine
        db.execute(
            text(
                "INSERT INTO address (register_id, address_text, kind, geom, grid_code) "
                "SELECT 'MOBILE-BULK-' || n, '济南市历下区测试路' || n || '号', 'house', "
                "ST_Point(:lon + n * 1e-8, :lat, 4326), :code FROM generate_series(1, :bulk) AS n"
            ),
            {"lon": last.x, "lat": last.y, "code": code, "bulk": BULK},
        )
    return Register(mobile_db_url, ids, points, (first.x, first.y))


def cached_ids(app) -> set[int]:
    return {r["id"] for r in app.store.query("SELECT id FROM address WHERE owner IS ?", (app.store.owner,))}


def address_pages(netfault, start: int) -> list:
    return [e for e in netfault.since(start) if e.path == "/api/sync/addresses"]


def labels(found: list[dict]) -> list[str]:
    return [a["label"] for a in found]


# -- the sync ---------------------------------------------------------------------------------------------


def test_sync_pulls_the_addresses_of_my_grids_only_and_a_failure_loses_nothing(
    inspector_app, netfault, register
):
    sync, cache = inspector_app.sync, inspector_app.cache
    netfault.fault("down", path="^/api/sync/addresses$", skip=1)  # no second page (the client retries)
    start = netfault.count
    first = sync.run_once()
    assert sync.status.state == "offline" and first.addresses == 1000  # the first page is kept
    assert [e.status for e in address_pages(netfault, start)][:2] == [200, None]

    netfault.set("pass")
    start = netfault.count
    second = sync.run_once()
    assert sync.status.state == "idle"
    mine = {g.code for g in cache.grid_records()}
    expected = register.in_grids(mine)
    assert cached_ids(inspector_app) == expected and first.addresses + second.addresses == len(expected)
    assert len(address_pages(netfault, start)) == (len(expected) - 1000) // 1000 + 1  # from the cursor on
    assert len(expected) == 4 + BULK  # the four named ones and the bulk
    ids = register.ids
    assert {ids["济南市历下区山大南路27号"], ids["济南市历下区山大南路31号"]} <= cached_ids(inspector_app)
    assert ids["济南市历下区经十路100号"] not in cached_ids(inspector_app)  # another village's
    assert ids["北京市东城区东长安街1号"] not in cached_ids(inspector_app)  # outside every grid

    start = netfault.count
    assert sync.run_once().addresses == 0  # nothing changed: one page, empty
    assert len(address_pages(netfault, start)) == 1

    changed = ids["济南市历下区山大南路29号"]
    register.change(changed, "济南市历下区山大南路29号院")
    netfault.fault("down", path="^/api/sync/addresses$")
    sync.run_once()
    assert sync.status.state == "offline" and labels(cache.search_addresses("29号院")) == []
    netfault.set("pass")
    assert sync.run_once().addresses == 1
    assert [a["id"] for a in cache.search_addresses("29号院")] == [changed]
    register.change(changed, "济南市历下区山大南路29号")  # as the other tests expect it
    assert sync.run_once().addresses == 1


def test_addresses_of_a_grid_no_longer_mine_go(tmp_path):
    store = Store(tmp_path / "phone.sqlite")
    store.set_owner(7)
    cache = Cache(store)
    grid = {"type": "Polygon", "coordinates": [[[117, 36], [117.01, 36], [117.01, 36.01], [117, 36]]]}
    feature = {
        "properties": {"code": "A", "name": "甲", "level": "unit", "parent_code": None},
        "geometry": grid,
    }
    cache.apply_grids(["A", "B"], [feature, feature | {"properties": feature["properties"] | {"code": "B"}}])
    address = {
        "label": "甲路1号",
        "text": "甲路1号",
        "kind": "house",
        "aliases": [],
        "lon": 117.0,
        "lat": 36.0,
    }
    cache.apply_addresses([address | {"id": 1, "grid_code": "A"}, address | {"id": 2, "grid_code": "B"}])
    store.set("cursor.addresses.7", 99)

    cache.apply_grids(["A"], [])  # B is no longer mine: its addresses go, the cursor stays
    assert [a["id"] for a in cache.search_addresses("甲路")] == [1] and store.get("cursor.addresses.7") == 99
    cache.apply_grids(["A", "C"], [])  # C is new: its addresses may be old, so the sync starts over
    assert store.get("cursor.addresses.7") is None
    store.set_owner(8)  # another user of the phone sees none of them
    assert cache.search_addresses("甲路") == [] and cache.nearest_address(117.0, 36.0) is None
    store.close()


def test_a_version_3_database_gets_the_address_table(tmp_path):
    path = tmp_path / "v3.sqlite"
    Store(path).close()
    with closing(sqlite3.connect(path)) as db:  # as version 3 left it
        db.execute("DROP TABLE address")
        db.execute("ALTER TABLE grid DROP COLUMN layer")  # (version 5's)
        db.execute("ALTER TABLE grid DROP COLUMN layer_name")
        db.execute("PRAGMA user_version = 3")
        db.commit()
    store = Store(path)
    assert store.query("PRAGMA user_version")[0][0] == SCHEMA_VERSION == 5
    assert Cache(store).address_count() == 0
    store.close()


# -- offline search ---------------------------------------------------------------------------------------


def test_offline_search_finds_words_in_any_order_ranked_like_the_server(inspector_app, netfault, register):
    inspector_app.sync.run_once()
    netfault.set("down")  # the server cannot be reached from here on
    start = netfault.count
    cache = inspector_app.cache

    assert labels(cache.search_addresses("27号 山大南")) == ["济南市历下区山大南路27号"]
    assert labels(cache.search_addresses("山大南路２７号")) == [
        "济南市历下区山大南路27号"
    ]  # full-width digits
    # the place first, then the house numbers, shorter text first
    assert labels(cache.search_addresses("山大南路")) == [
        "山大南路小学",
        "济南市历下区山大南路27号",
        "济南市历下区山大南路29号",
    ]
    assert labels(cache.search_addresses("山大南小")) == ["山大南路小学"]  # by an alias
    # the words in the name or full text before those only in an alias, even a place's
    assert labels(cache.search_addresses("文化西路")) == ["济南市历下区文化西路5号2号楼", "山大南路小学"]
    assert labels(cache.search_addresses("历下区 山大南路31号")) == ["山大南路小学"]
    assert labels(cache.search_addresses("测试路1", limit=3)) == [
        "济南市历下区测试路1号",
        "济南市历下区测试路10号",
        "济南市历下区测试路11号",
    ]
    assert cache.search_addresses("山") == [] and cache.search_addresses("  ") == []  # no word of two
    assert cache.search_addresses("经十路100号") == []  # another village's

    (lon, lat), near = register.unit_point, register.points["济南市历下区山大南路27号"]
    nearest = cache.nearest_address(lon, lat)
    assert nearest["label"] == "济南市历下区山大南路27号" and nearest["distance_m"] == pytest.approx(
        30, abs=1
    )
    assert near_words(nearest["label"], nearest["distance_m"]) == "济南市历下区山大南路27号附近（约 30 米）"
    at = cache.nearest_address(*near)
    assert near_words(at["label"], at["distance_m"]) == "济南市历下区山大南路27号"  # at it
    assert cache.nearest_address(*east(lon, lat, -5000)) is None
    assert netfault.count == start  # not one request


# -- the report screen ------------------------------------------------------------------------------------


def pick(d, report, typed: str, label: str):
    """Type ``typed`` in the address field and tap the suggestion ``label``."""
    d.type(report.ids.address, typed)
    places = report.ids.places
    d.until(lambda: any(row["text"].startswith(label) for row in places.data), f"the suggestion {label}")
    d.frames(2)
    assert layout_problems(report) == []
    row = next(r for r in places.data if r["text"].startswith(label))
    d.tap(d.find("ChoiceRow", code=row["code"]))
    d.until(lambda: places.data == [], "the suggestions to close")


def test_a_suggestion_picked_with_no_fix_fills_the_address_and_moves_the_pin(
    phone,  # noqa: F811
    netfault,
    server,
    register,
):
    d, _ = phone()
    log_in(d, netfault.url)
    synced(d)
    d.nav("report")
    report = d.screen
    assert report.pin is None and report.address_note == ""
    netfault.set("down")  # the suggestions come from the phone

    pick(d, report, "27 山大南", "济南市历下区山大南路27号")
    field = report.ids.address
    assert field.text == "济南市历下区山大南路27号"
    place = register.points["济南市历下区山大南路27号"]
    assert report.pin == pytest.approx(place) and report.held == "address" and report.by_hand
    assert "按所选地址定位" in report.ids.where.text and not report.alarm
    assert report.ids.address_note.text.startswith("没有GPS定位：问题位置已放在所选地址处")

    photo_and_category(d)
    assert report.blocked == "" and report.held == "address"
    netfault.set("pass")
    d.tap(report.ids.submit)
    assert d.app.current == "outbox"
    case = sent_case(d, server)
    assert case["address"] == "济南市历下区山大南路27号"
    assert case["position_source"] == "manual" and case["accuracy_m"] is None
    assert (case["lon"], case["lat"]) == pytest.approx(place, abs=1e-7)


def test_with_a_fix_the_pin_stays_and_a_report_carries_the_nearest_address(phone, server, register):  # noqa: F811
    d, gps = phone()
    log_in(d, server.url)
    synced(d)
    lon, lat = register.unit_point
    send(d, gps, lon, lat)
    d.nav("report")
    report = d.screen
    note = report.ids.address_note
    assert note.text == "未填写地址，将按附近地址上报：济南市历下区山大南路27号附近（约 30 米）"

    pick(d, report, "山大南小", "山大南路小学")
    assert report.ids.address.text == "山大南路小学（济南市历下区山大南路31号）"
    assert report.pin == (lon, lat) and not report.held  # the fix says where the problem is
    assert note.text == "已填写地址；问题位置仍按GPS定位，不随地址移动。"

    d.type(report.ids.address, "")  # the inspector clears it: the nearest address goes
    assert report.ids.places.data == [] and note.text.startswith("未填写地址，将按附近地址上报")
    photo_and_category(d)
    d.tap(report.ids.submit)
    assert d.app.current == "outbox"
    case = sent_case(d, server)
    assert case["address"] == "济南市历下区山大南路27号附近（约 30 米）"
    assert (case["lon"], case["lat"]) == pytest.approx((lon, lat), abs=1e-7)
    assert case["position_source"] == "gps"
