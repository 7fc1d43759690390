"""The address register: reading a register file (every error with its row), importing it (upsert by
register id, grid links, the report of addresses outside every grid), search ranking, reverse geocoding,
the phone's sync, the admin route and the ``gridops addresses`` commands.

The register here is a small one written by the tests on the demo city's grids (its house numbers and
places are test data: 山大南路 numbers in 山大路社区, places with their public addresses)."""

from __future__ import annotations

import json
import math

import pytest
from sqlalchemy import delete, select, text

from gis.crs import CRS, distance_m, from_wgs84
from grids import addresses as register_file
from grids.addresses import read_register
from grids.demo import generate_demo_city
from grids.demo_addresses import PLACES, generate_demo_addresses, road_of
from server import messages
from server.address import importer, service
from server.address.demo import load_demo_addresses
from server.address.models import Address
from server.auth.passwords import DEMO_PASSWORD
from tests.server.test_categories import gridops_on

SHANDA = "370102007006"  # 山大路社区: the test's house numbers
INSPECTOR_VILLAGE = "370102001002"  # 解放桥社区: the demo inspector 13900000001's grid
HEADER = "编码,名称,地址,区县,道路,门牌号,类型,别名,经度,纬度,位置近似\n"
M_LAT = 1 / 111_000  # a metre of latitude, in degrees (about)


def point_in(db, code: str) -> tuple[float, float]:
    return tuple(
        db.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid "
                "WHERE code = :code AND valid_to IS NULL) g"
            ),
            {"code": code},
        ).one()
    )


def east(lon: float, lat: float, metres: float) -> float:
    return lon + metres / (111_320 * math.cos(math.radians(lat)))


def row(rid, address, lon, lat, *, name="", road="", number="", kind="门牌", aliases="", approx="否") -> str:
    return f"{rid},{name},{address},历下区,{road},{number},{kind},{aliases},{lon},{lat},{approx}\n"


def register_csv(db) -> str:
    """30 numbers of 山大南路 (20 m apart, eastwards), 山东大学中心校区 at number 27, 恒隆广场 on 泉城路, a
    few numbers of 经十路 and 山大路, and two buildings in the demo inspector's village."""
    lon, lat = point_in(db, SHANDA)
    lines = [
        row(
            f"T-SDNL-{n}",
            f"济南市历下区山大南路{n}号",
            east(lon, lat, 20 * n),
            lat,
            road="山大南路",
            number=f"{n}号",
        )
        for n in range(1, 31)
    ]
    lines += [
        row(
            f"T-SDL-{n}",
            f"济南市历下区山大路{n}号",
            lon,
            lat + 40 * n * M_LAT,
            road="山大路",
            number=f"{n}号",
        )
        for n in range(1, 6)
    ]
    lines += [
        row(f"T-JSL-{n}", f"济南市历下区经十路{n}号", lon, lat - 300 * M_LAT - n * 20 * M_LAT, road="经十路")
        for n in range(1, 6)
    ]
    lines += [
        row(
            "T-POI-1", "济南市历下区山大南路27号", east(lon, lat, 540), lat + 10 * M_LAT,
            name="山东大学中心校区", road="山大南路", number="27号", kind="兴趣点",
            aliases="山大|山大中心校区", approx="是",
        ),
        row(
            "T-POI-2", "济南市历下区泉城路188号", 117.0200, 36.6635, name="恒隆广场", road="泉城路",
            number="188号", kind="兴趣点", aliases="济南恒隆广场；恒隆", approx="是",
        ),
        row(
            "T-POI-3", "济南市历下区经十路11899号", 117.0865, 36.6570, name="山东博物馆", road="经十路",
            kind="poi", aliases="省博",
        ),
    ]  # fmt: skip
    ilon, ilat = point_in(db, INSPECTOR_VILLAGE)
    lines += [
        row(f"T-B-{b}", f"济南市历下区解放桥社区{b}号楼", ilon, ilat + b * M_LAT, kind="楼栋") for b in (1, 2)
    ]
    return HEADER + "".join(lines)


@pytest.fixture(autouse=True)
def no_register(request):
    """The demo city without its synthetic register: each test loads the addresses it is about."""
    if "gridops" in request.fixturenames:  # its clone of the demo city first: cloning wants no other session
        request.getfixturevalue("gridops")
    if "demo_db" in request.fixturenames:
        db = request.getfixturevalue("demo_db")
        db.execute(delete(Address))
        db.commit()  # a savepoint: a dry run's rollback keeps it


def load(db, data: str | bytes, crs: CRS = CRS.WGS84, **kw) -> importer.ImportResult:
    register = read_register(data.encode() if isinstance(data, str) else data, crs=crs)
    assert register.ok, register.errors
    return importer.import_addresses(db=db, records=register.records, **kw)


@pytest.fixture
def loaded(demo_db):
    result = load(demo_db, register_csv(demo_db))
    assert (result.added, result.outside_count) == (45, 0)
    return demo_db


def found(client, q: str, limit: int = 10) -> list[dict]:
    answer = client.get("/api/addresses/search", params={"q": q, "limit": limit})
    assert answer.status_code == 200, answer.text
    return answer.json()


# -- reading a file --------------------------------------------------------------------------------------


def test_every_error_is_listed_with_its_row_and_nothing_is_read():
    data = HEADER + "".join(
        [
            row("A-1", "济南市历下区文化西路1号", 117.01, 36.65),  # row 2: good
            row("", "济南市历下区文化西路2号", 117.01, 36.65),  # 3: no id
            row("A-1", "济南市历下区文化西路3号", 117.01, 36.65),  # 4: duplicate id
            row("A-4", "", 117.01, 36.65),  # 5: no address
            row("A-5", "济南市历下区文化西路5号", 117.01, 36.65, kind="道路"),  # 6: unknown kind
            row("A-6", "济南市历下区文化西路6号", "东经117", 36.65),  # 7: not a number
            row("A-7", "济南市历下区文化西路7号", 181, 36.65),  # 8: out of range
            row("A-8", "济南市历下区文化西路8号", "nan", 36.65),  # 9: NaN
            row("A-9", "济南市历下区" + "长" * 200, 117.01, 36.65),  # 10: too long
            row("A-10", "济南市历下区文化西路10号", 117.01, 36.65, road="路" * 51),  # 11: too long
            row(
                "A-11", "济南市历下区文化西路11号", 117.01, 36.65, aliases="|".join("甲乙丙丁戊己庚辛壬癸子")
            ),
            row("A-12", "济南市历下区文化西路12号", 117.01, 36.65, approx="大概"),  # 13
        ]
    )
    register = read_register(data.encode())
    assert not register.ok and register.records == []
    assert register.error_count == len(register.errors) == 11
    expected = [
        "第 3 行：没有编码",
        "第 4 行：编码 A-1 与第 2 行重复",
        "第 5 行：没有地址",
        "第 6 行：类型“道路”不认识",
        "第 7 行：经度和纬度应为数字",
        "第 8 行：经纬度（181.0, 36.65）超出范围",
        "第 9 行：经度和纬度应为有限的数字",
        "第 10 行：地址太长（206 个字，最多 200 个字）",
        "第 11 行：道路太长（51 个字，最多 50 个字）",
        "第 12 行：别名太多（11 个，最多 10 个）",
        "第 13 行：位置近似应填 是 或 否",
    ]
    for error, start in zip(register.errors, expected, strict=True):
        assert error.startswith(start), error


def test_a_missing_column_an_unreadable_file_and_the_limits(monkeypatch):
    assert read_register("编码,地址,经度\nA,B,117\n".encode()).errors == [
        "第 1 行缺少 纬度 列：请在列名中加上它们（列名见使用说明）"
    ]
    assert "文字编码无法识别" in read_register(b"\xff\xfe\x00\x00\x81\x30").errors[0]  # neither
    monkeypatch.setattr(register_file, "MAX_ROWS", 2)
    many = read_register((HEADER + row("A", "甲", 117, 36) * 3).encode())
    assert many.errors == ["文件超过 2 行：请把地址库分成几个文件，分别导入"]
    monkeypatch.setattr(register_file, "MAX_BYTES", 10)
    assert "MB 的上限" in read_register(HEADER.encode()).errors[0]


def test_gcj02_points_outside_china_are_refused():
    register = read_register((HEADER + row("A", "某地", -73.98, 40.75)).encode(), crs=CRS.GCJ02)
    assert register.errors == [
        "第 2 行：经纬度（-73.98, 40.75）在中国境外，而 GCJ-02 坐标只用于中国境内：请核对坐标和所选的坐标系"
    ]


def test_english_headers_gb18030_and_extra_columns():
    data = (
        "register_id,name,address,kind,aliases,lon,lat,approximate,备注\n"
        "P-1,齐鲁医院,济南市历下区文化西路107号,poi,齐鲁；山大齐鲁医院,117.0125,36.655,是,无\n"
    ).encode("gb18030")
    register = read_register(data)
    assert register.ok and register.ignored == ["备注"]
    (record,) = register.records
    assert (record.name, record.kind, record.aliases, record.approximate) == (
        "齐鲁医院", "poi", ("齐鲁", "山大齐鲁医院"), True,
    )  # fmt: skip
    bom = read_register(b"\xef\xbb\xbf" + HEADER.encode() + row("A", "甲", 117, 36).encode())
    assert bom.ok and bom.records[0].register_id == "A"


def test_geojson_points():
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [117.02, 36.66]},
         "properties": {"编码": "G-1", "地址": "济南市历下区泉城路188号", "名称": "恒隆广场",
                        "类型": "兴趣点", "别名": ["恒隆"], "approximate": True}},
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[117, 36], [117.1, 36]]},
         "properties": {"编码": "G-2", "地址": "某路"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [117.02, 36.66]},
         "properties": {"编码": "G-1", "地址": "又一个"}},
    ]  # fmt: skip
    data = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode()
    register = read_register(data)
    assert register.errors == [
        "第 2 个要素：几何应为点（Point），请检查文件",
        "第 3 个要素：编码 G-1 与第 1 个要素重复，每个地址的编码应唯一",
    ]
    good = read_register(json.dumps({"type": "FeatureCollection", "features": features[:1]}).encode())
    (record,) = good.records
    assert (record.register_id, record.aliases, record.approximate, record.lon) == (
        "G-1",
        ("恒隆",),
        True,
        117.02,
    )


# -- importing -------------------------------------------------------------------------------------------


def test_import_links_grids_and_upserts_by_register_id(demo_db):
    data = register_csv(demo_db)
    dry = load(demo_db, data, dry_run=True)
    assert (dry.added, dry.written) == (45, False)
    assert demo_db.scalar(select(Address.id).limit(1)) is None
    first = load(demo_db, data)
    assert (first.added, first.changed, first.unchanged, first.written) == (45, 0, 0, True)
    sdnl = demo_db.scalar(select(Address).where(Address.register_id == "T-SDNL-1"))
    assert sdnl.grid_code.startswith(SHANDA) and len(sdnl.grid_code) == 15  # the unit grid holding it
    seqs = dict(demo_db.execute(select(Address.register_id, Address.change_seq)).all())

    changed = data.replace("济南市历下区山大南路2号,", "济南市历下区山大南路2号（东门）,")
    moved = changed.replace("T-POI-3,山东博物馆", "T-POI-3,山东博物馆新馆")
    again = load(demo_db, moved + row("T-NEW", "济南市历下区山大南路31号", 117.06, 36.67))
    assert (again.added, again.changed, again.unchanged) == (1, 2, 43)
    demo_db.expire_all()
    after = dict(demo_db.execute(select(Address.register_id, Address.change_seq)).all())
    moved_on = {rid for rid in seqs if after[rid] != seqs[rid]}
    assert moved_on == {"T-SDNL-2", "T-POI-3"}
    assert min(after[rid] for rid in moved_on) > max(seqs.values())
    assert load(demo_db, moved).unchanged == 45  # the same file again: nothing written


def test_addresses_outside_every_grid_are_reported(demo_db):
    data = (
        HEADER
        + row("IN-1", "济南市历下区泉城路188号", 117.02, 36.6635)
        + row("OUT-1", "杭州市某路1号", 120.15, 30.28)
    )
    result = load(demo_db, data)
    assert (result.added, result.outside_count, result.outside) == (2, 1, [("OUT-1", "杭州市某路1号")])
    assert demo_db.scalar(select(Address.grid_code).where(Address.register_id == "OUT-1")) is None


def test_a_gcj02_file_is_stored_in_wgs84(demo_db):
    lon, lat = 117.0200, 36.6635
    glon, glat = from_wgs84(lon, lat, CRS.GCJ02)
    assert distance_m(lon, lat, glon, glat) > 100  # the shift the conversion takes away
    load(demo_db, HEADER + row("G-1", "济南市历下区泉城路188号", glon, glat), crs=CRS.GCJ02)
    x, y = demo_db.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM address WHERE register_id = 'G-1'")).one()
    assert distance_m(lon, lat, x, y) < 0.05


def test_relink_follows_the_grids(loaded):
    loaded.execute(text("UPDATE address SET grid_code = NULL WHERE register_id LIKE 'T-SDNL-%'"))
    before = dict(loaded.execute(select(Address.register_id, Address.change_seq)).all())
    result = importer.relink(db=loaded)
    assert (result.checked, result.changed, result.outside) == (45, 30, 0)
    after = dict(loaded.execute(select(Address.register_id, Address.change_seq)).all())
    assert {rid for rid in before if before[rid] != after[rid]} == {f"T-SDNL-{n}" for n in range(1, 31)}


# -- search ----------------------------------------------------------------------------------------------


@pytest.fixture
def client(loaded, demo_client):
    return demo_client


def test_words_in_any_order(client):
    for q in ("泉城路 恒隆", "恒隆 泉城路", "恒隆广场", "济南恒隆广场"):
        first = found(client, q)[0]
        assert first["register_id"] == "T-POI-2", q
    assert first["label"] == "恒隆广场" and first["kind_label"] == "兴趣点" and first["approximate"]
    assert [g["level"] for g in first["grids"]] == ["city", "district", "street", "village", "unit"]


def test_a_house_number_finds_itself_first(client):
    answer = found(client, "山大南路27号")
    assert [a["register_id"] for a in answer] == ["T-SDNL-27", "T-POI-1"]
    assert found(client, "山大南路 27号")[0]["register_id"] == "T-SDNL-27"


def test_a_place_by_its_name_and_its_alias(client):
    assert found(client, "山东大学中心校区")[0]["register_id"] == "T-POI-1"
    assert found(client, "山大")[0]["register_id"] == "T-POI-1"  # its alias, before the roads holding 山大
    assert found(client, "省博")[0]["label"] == "山东博物馆"


def test_part_of_a_road_finds_its_numbers_in_order(client):
    answer = found(client, "山大南", limit=5)
    assert [a["text"] for a in answer] == [f"济南市历下区山大南路{n}号" for n in range(1, 6)]


def test_two_characters(client):
    answer = found(client, "经十", limit=20)
    assert {a["register_id"] for a in answer} == {f"T-JSL-{n}" for n in range(1, 6)} | {"T-POI-3"}
    assert found(client, "齐鲁") == []


@pytest.mark.parametrize(
    ("q", "code"),
    [
        ("  ", "address.search_empty"),
        ("路" * 51, "address.search_too_long"),
        ("山 大 南 路 二 七", "address.search_too_many_words"),
        ("山", "address.search_too_short"),
    ],
)
def test_search_limits(client, q, code):
    answer = client.get("/api/addresses/search", params={"q": q})
    assert answer.status_code == 422 and answer.json()["code"] == code
    assert answer.json()["detail"] == messages.text(code, **answer.json()["params"])


def test_search_limit_parameter(client):
    answer = client.get("/api/addresses/search", params={"q": "山大", "limit": 51})
    assert answer.status_code == 422 and answer.json()["code"] == "validation.request"


# -- near a point ----------------------------------------------------------------------------------------


def nearest(client, lon, lat, radius, limit=5) -> list[dict]:
    answer = client.get(
        "/api/addresses/nearest", params={"lon": lon, "lat": lat, "radius": radius, "limit": limit}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_nearest_within_the_radius_by_true_distance(client, loaded):
    lon, lat = point_in(loaded, SHANDA)
    at = (east(lon, lat, 20 * 10 + 3), lat + 5 * M_LAT)  # 3 m east and 5 m north of 山大南路10号
    answer = nearest(client, *at, radius=30)  # 山大南路12号 is 37 m away
    assert [a["register_id"] for a in answer] == ["T-SDNL-10", "T-SDNL-11", "T-SDNL-9"]
    distances = [a["distance_m"] for a in answer]
    assert distances == sorted(distances) and abs(distances[0] - math.hypot(3, 5)) < 0.3
    for a in answer:
        assert abs(a["distance_m"] - distance_m(*at, a["lon"], a["lat"])) < 0.2
    assert [a["register_id"] for a in nearest(client, *at, radius=10)] == ["T-SDNL-10"]
    assert nearest(client, east(lon, lat, -500), lat, radius=100) == []


def test_nearest_limits(client):
    for params, code in (
        ({"lon": 200, "lat": 36.6}, "address.point_out_of_range"),
        ({"lon": 117, "lat": 36.6, "radius": 5000}, "validation.request"),
    ):
        answer = client.get("/api/addresses/nearest", params=params)
        assert answer.status_code == 422 and answer.json()["code"] == code


# -- the phone's copy ------------------------------------------------------------------------------------


def test_sync_pages_by_cursor_and_only_my_grids(client, monkeypatch):
    body = {"login": "13900000001", "password": DEMO_PASSWORD, "device_id": "t-addr", "device_name": "t"}
    token = client.post("/api/auth/login", json=body).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    monkeypatch.setattr("server.address.service.SYNC_LIMIT", 1)
    first = client.get("/api/sync/addresses", headers=headers).json()
    assert first["more"] and [i["label"] for i in first["items"]] == ["济南市历下区解放桥社区1号楼"]
    second = client.get("/api/sync/addresses", params={"since": first["cursor"]}, headers=headers).json()
    assert not second["more"] and [i["label"] for i in second["items"]] == ["济南市历下区解放桥社区2号楼"]
    rest = client.get("/api/sync/addresses", params={"since": second["cursor"]}, headers=headers).json()
    assert rest == {"cursor": second["cursor"], "more": False, "items": []}
    assert client.get("/api/sync/addresses").status_code == 401


# -- the admin route -------------------------------------------------------------------------------------


def test_the_import_route(demo_client, demo_db, admin_headers, monkeypatch):
    data = register_csv(demo_db).encode("gb18030")
    files = {"file": ("地址库.csv", data, "text/csv")}
    assert demo_client.post("/api/addresses/import", files=files).status_code == 401
    dry = demo_client.post(
        "/api/addresses/import", files=files, params={"dry_run": True}, headers=admin_headers
    )
    assert dry.status_code == 200, dry.text
    assert dry.json() | {"outside": []} == {
        "written": False, "checked": 45, "added": 45, "changed": 0, "unchanged": 0, "outside_count": 0,
        "outside": [], "ignored_columns": [], "cases_linked": 0,
    }  # fmt: skip
    assert demo_db.scalar(select(Address.id).limit(1)) is None
    done = demo_client.post("/api/addresses/import", files=files, headers=admin_headers).json()
    assert (done["written"], done["added"]) == (True, 45)

    bad = HEADER + row("X-1", "", 117, 36) + row("X-2", "济南市", "东", 36)
    refused = demo_client.post(
        "/api/addresses/import", files={"file": ("bad.csv", bad.encode())}, headers=admin_headers
    )
    assert refused.status_code == 422 and refused.json()["code"] == "address.file_invalid"
    assert [e["msg"][:8] for e in refused.json()["errors"]] == ["第 2 行：没有", "第 3 行：经度"]
    assert refused.json()["params"] == {"count": 2}

    monkeypatch.setattr("server.address.views.MAX_BYTES", 100)
    large = demo_client.post("/api/addresses/import", files=files, headers=admin_headers)
    assert large.status_code == 413 and large.json()["code"] == "address.file_too_large"


# -- the demo register -----------------------------------------------------------------------------------


def test_the_demo_register_is_synthetic_and_inside_its_communities(demo_db):
    records = generate_demo_addresses(generate_demo_city())
    assert 2000 < len(records) < 5000
    assert all(r.register_id.startswith("DEMO-") for r in records)
    places = [r for r in records if r.kind == "poi"]
    assert len(places) == len(PLACES) and all(r.approximate for r in places)
    assert {r.road for r in records if r.kind == "house"} >= {"文化西路", "青年东路", "历山路", "山大路"}
    result = load_demo_addresses(db=demo_db)
    assert (result.added, result.outside_count) == (len(records), 0)
    # every house number lies in the community its road is named after
    wrong = demo_db.execute(
        text(
            "SELECT a.register_id FROM address a "
            "JOIN grid g ON g.code = left(a.grid_code, 12) AND g.valid_to IS NULL "
            "WHERE a.kind = 'house' AND a.community <> replace(g.name, '居民委员会', '')"
        )
    ).all()
    assert wrong == []
    assert road_of("文化西路社区") == "文化西路" and road_of("解放桥社区") is None
    assert load_demo_addresses(db=demo_db).unchanged == len(records)  # loading it again changes nothing
    assert found_in(demo_db, "齐鲁医院")[0].address.name == "山东大学齐鲁医院"
    assert found_in(demo_db, "文化西路 1号")[0].address.address_text == "济南市历下区文化西路1号"


def found_in(db, q: str) -> list[service.Found]:
    return service.search(db=db, text=q, limit=5)


# -- the commands ----------------------------------------------------------------------------------------


@pytest.fixture
def gridops(demo_clone_url, monkeypatch):
    """``gridops`` on a clone of the demo city with no addresses."""
    from server.database import new_session

    with new_session(demo_clone_url) as db:
        db.execute(delete(Address))
        db.commit()
    return gridops_on(demo_clone_url, monkeypatch)


def test_the_commands(gridops, demo_db, tmp_path):
    path = tmp_path / "register.csv"
    path.write_text(register_csv(demo_db) + row("OUT-1", "杭州市某路1号", 120.15, 30.28))
    code, _, err = gridops("addresses", "import", str(path), "--dry-run")
    assert code == 0 and "检查通过，没有写入（新增 46 个，更新 0 个，未变 0 个）" in err, err
    assert "有 1 个地址不在任何网格内" in err and "OUT-1 杭州市某路1号" in err
    code, _, err = gridops("addresses", "import", str(path))
    assert code == 0 and "已导入 46 个地址：新增 46 个" in err and "关联网格" in err, err

    code, out, _ = gridops("addresses", "search", "恒隆 泉城路")
    assert code == 0 and out.splitlines()[0].startswith("兴趣点\t恒隆广场\t济南市历下区泉城路188号\t")
    assert "济南市 / 历下区" in out
    code, _, err = gridops("addresses", "search", "龙洞水库")
    assert code == 1 and "没有找到与“龙洞水库”相符的地址" in err

    code, out, _ = gridops("addresses", "near", "117.0200", "36.6635", "--radius", "50")
    assert code == 0 and out.splitlines()[0] == "0 米\t兴趣点\t恒隆广场\t济南市历下区泉城路188号"
    code, _, err = gridops("addresses", "near", "117.3", "36.9")
    assert code == 1 and "100 米内没有地址库中的地址" in err

    code, _, err = gridops("addresses", "relink")
    assert code == 0 and "检查了 46 个地址：0 个改了所在网格，1 个不在任何网格内" in err

    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + row("X", "", 117, 36))
    code, _, err = gridops("addresses", "import", str(bad))
    assert code == 1 and "第 2 行：没有地址" in err and messages.text("address.file_invalid", count=1) in err
