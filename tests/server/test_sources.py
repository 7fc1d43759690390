"""The pollution-source register (污染源台账): reading a register file (every problem with its row, in
Chinese), importing it (upsert by code: a re-import updates), the list and the map's points, the cases
near a source and the sources near a case, who may read and import, the size limits, the commands and
the demo register. The sources here are test data placed in the demo city's grids."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from gis.crs import CRS, distance_m, from_wgs84
from grids import sources as register_file
from grids.demo import SEED
from grids.sources import read_sources
from server.grid.models import CURRENT, Grid
from server.source.demo import SOURCES, load_demo_sources
from server.source.models import PollutionSource
from tests.server.case_world import DISTRICT, OTHER_DISTRICT, act, make_user, report, village_point
from tests.server.test_case_http import login
from tests.server.test_categories import gridops_on

HEADER = "编号,名称,类型,地址,经度,纬度,责任人手机号,备注\n"
INSPECTOR = "13900000001"  # a demo inspector: the responsible member of the test sources
M_LAT = 1 / 111_000  # a metre of latitude, in degrees (about)


def east(lon: float, lat: float, metres: float) -> float:
    return lon + metres / (111_320 * math.cos(math.radians(lat)))


def line(code, name, kind, lon, lat, *, phone=INSPECTOR, notes="", address="济南市历下区测试路1号") -> str:
    return f"{code},{name},{kind},{address},{lon},{lat},{phone},{notes}\n"


def register_csv(lon: float, lat: float) -> str:
    """Three sources: a restaurant at the point, a building site 100 m north, a workshop 1 km east."""
    return HEADER + "".join(
        [
            line("T-1", "测试餐馆", "餐饮油烟", lon, lat, notes="油烟净化器未开"),
            line("T-2", "测试工地", "建筑工地扬尘", lon, lat + 100 * M_LAT),
            line("T-3", "测试喷漆车间", "工业废气", east(lon, lat, 1000), lat),
        ]
    )


def upload(client, headers, data: str | bytes, name="台账.csv", **params):
    body = data.encode() if isinstance(data, str) else data
    return client.post("/api/sources/import", files={"file": (name, body)}, params=params, headers=headers)


@pytest.fixture
def here(demo_db):
    """A point well inside a village of 历下区, the register wiped (the demo city has none in its tests)."""
    demo_db.execute(delete(PollutionSource))
    demo_db.commit()
    return village_point(demo_db)


# -- reading a file --------------------------------------------------------------------------------------


def test_a_csv_register_is_read_with_its_points_in_wgs84():
    lon, lat = 117.05, 36.66
    glon, glat = from_wgs84(lon, lat, CRS.GCJ02)
    data = ("\ufeff" + HEADER + line("T-1", "测试餐馆", "餐饮油烟", glon, glat, notes="夜间经营")).encode()
    register = read_sources(data, crs=CRS.GCJ02)
    assert register.ok and register.checked == 1
    (record,) = register.records
    assert (record.code, record.name, record.kind, record.phone, record.notes, record.active) == (
        "T-1", "测试餐馆", "fume", INSPECTOR, "夜间经营", True,
    )  # fmt: skip
    assert distance_m(record.lon, record.lat, lon, lat) < 0.1
    # the kind's code is read too, a GB18030 file as well, and an unknown column is named
    data = (HEADER.strip() + ",来源\n" + line("T-2", "工地", "dust", lon, lat).strip() + ",巡查\n").encode(
        "gb18030"
    )
    register = read_sources(data)
    assert register.ok and register.records[0].kind == "dust" and register.ignored == ["来源"]


def test_every_row_problem_is_listed_in_chinese_and_nothing_is_read():
    data = HEADER + "".join(
        [
            line("P-1", "", "餐饮", 117.0, 36.6),
            line("P-1", "名称", "噪声", "东", 36.6),
            line("P-3", "名称" * 60, "噪声", 117.0, 36.6, phone=""),
            "\n",  # a blank row is skipped
            line("P-4", "名称", "噪声", 200, 36.6),
        ]
    )
    register = read_sources(data.encode())
    assert register.records == []
    assert register.errors == [
        "第 2 行：没有名称，请补上",
        "第 2 行：类型“餐饮”不认识：应为 工业废气、废水排放、建筑工地扬尘、餐饮油烟、噪声、固体废物 之一",
        "第 3 行：编号 P-1 与第 2 行重复，每个污染源的编号应唯一",
        "第 3 行：经度和纬度应为数字（如 117.0213 和 36.6512），请补上或改正",
        "第 4 行：名称太长（120 个字，最多 100 个字）",
        "第 4 行：没有责任人手机号，请补上",
        "第 6 行：经纬度（200.0, 36.6）超出范围：经度应在 -180 到 180 之间，纬度应在 -90 到 90 之间",
    ]
    assert read_sources("编号,名称,类型,地址,经度,纬度\n".encode()).errors == [
        "第 1 行缺少 责任人手机号 列：请在列名中加上它们"
    ]
    assert read_sources(b"").errors == [
        "文件是空的：第 1 行应为列名 编号、名称、类型、地址、经度、纬度、责任人手机号、备注"
    ]


def test_the_file_size_and_row_count_are_limited_before_reading(monkeypatch):
    monkeypatch.setattr(register_file, "MAX_ROWS", 2)
    rows = HEADER + line("A", "甲", "噪声", 117, 36.6) * 3
    assert read_sources(rows.encode()).errors == ["文件超过 2 个污染源：请把污染源台账分成几个文件，分别导入"]
    monkeypatch.setattr(register_file, "MAX_BYTES", 10)
    assert read_sources(rows.encode()).errors == [
        "文件超过 0 MB 的上限：请把污染源台账分成几个文件，分别导入"
    ]


# -- importing -------------------------------------------------------------------------------------------


def test_import_checks_whole_then_upserts_by_code(here, demo_db, demo_client, admin_headers):
    _, lon, lat = here
    dry = upload(demo_client, admin_headers, register_csv(lon, lat), dry_run="true")
    assert dry.status_code == 200, dry.text
    assert dry.json() == {
        "written": False, "checked": 3, "added": 3, "changed": 0, "unchanged": 0, "ignored_columns": [],
    }  # fmt: skip
    assert demo_db.scalar(select(func.count()).select_from(PollutionSource)) == 0
    done = upload(demo_client, admin_headers, register_csv(lon, lat)).json()
    assert (done["written"], done["added"]) == (True, 3)
    restaurant = demo_db.scalar(select(PollutionSource).where(PollutionSource.code == "T-1"))

    # again with one source renamed and one moved: those two change, the third does not, none is added
    again = register_csv(lon, lat).replace("测试餐馆", "测试饭店").replace(f"{lat + 100 * M_LAT}", f"{lat}")
    done = upload(demo_client, admin_headers, again).json()
    assert (done["added"], done["changed"], done["unchanged"]) == (0, 2, 1)
    assert demo_db.scalar(select(func.count()).select_from(PollutionSource)) == 3
    demo_db.refresh(restaurant)
    assert restaurant.name == "测试饭店"

    # a phone of nobody (or of a disabled user): the row is named, nothing is written
    bad = (
        HEADER
        + line("T-1", "改名", "噪声", lon, lat)
        + line("T-9", "新源", "噪声", lon, lat, phone="13011112222")
    )
    refused = upload(demo_client, admin_headers, bad)
    assert refused.status_code == 422 and refused.json()["code"] == "source.file_invalid"
    assert [e["msg"] for e in refused.json()["errors"]] == [
        "第 3 行：责任人手机号 13011112222 不是任何在用用户的手机号："
        "请先添加这位网格员（或启用其账号），或改正手机号"
    ]
    assert refused.json()["params"] == {"count": 1}
    assert demo_db.scalar(select(PollutionSource.name).where(PollutionSource.code == "T-1")) == "测试饭店"
    rows = upload(demo_client, admin_headers, HEADER + line("X", "", "噪声", "东", lat)).json()["errors"]
    assert [e["msg"] for e in rows] == [
        "第 2 行：没有名称，请补上",
        "第 2 行：经度和纬度应为数字（如 117.0213 和 36.6512），请补上或改正",
    ]


def test_a_geojson_register_in_gcj02(here, demo_db, demo_client, admin_headers):
    _, lon, lat = here
    glon, glat = from_wgs84(lon, lat, CRS.GCJ02)
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [glon, glat]},
        "properties": {"编号": "G-1", "名称": "测试洗车场", "类型": "废水排放", "地址": "测试路2号",
                       "责任人手机号": INSPECTOR, "在用": "否"},
    }  # fmt: skip
    data = json.dumps(
        {"type": "FeatureCollection", "features": [feature, {"type": "Feature"}]}, ensure_ascii=False
    )
    refused = upload(demo_client, admin_headers, data, name="台账.geojson", crs="gcj02")
    assert [e["msg"] for e in refused.json()["errors"]] == [
        "第 2 个要素：没有属性（properties），请补上编号、名称、类型等属性"
    ]
    data = json.dumps({"type": "FeatureCollection", "features": [feature]}, ensure_ascii=False)
    done = upload(demo_client, admin_headers, data, name="台账.geojson", crs="gcj02")
    assert done.status_code == 200 and done.json()["added"] == 1
    source = demo_db.scalar(select(PollutionSource).where(PollutionSource.code == "G-1"))
    x, y = demo_db.execute(select(func.ST_X(source.geom), func.ST_Y(source.geom))).one()
    assert distance_m(x, y, lon, lat) < 0.1 and source.kind == "water" and not source.active


def test_the_upload_is_limited(here, demo_client, admin_headers, monkeypatch):
    _, lon, lat = here
    monkeypatch.setattr("server.source.views.MAX_BYTES", 100)
    large = upload(demo_client, admin_headers, register_csv(lon, lat))
    assert large.status_code == 413 and large.json()["code"] == "source.file_too_large"


# -- reading the register --------------------------------------------------------------------------------


@pytest.fixture
def loaded(here, demo_db, demo_client, admin_headers):
    _, lon, lat = here
    assert upload(demo_client, admin_headers, register_csv(lon, lat)).status_code == 200
    return here


def test_list_by_box_kind_and_words_a_page_at_a_time(loaded, demo_client, admin_headers):
    _, lon, lat = loaded
    box = f"{lon - 0.002},{lat - 0.002},{lon + 0.002},{lat + 0.002}"  # about 200 m around: not T-3

    def codes(**params):
        answer = demo_client.get("/api/sources", params=params, headers=admin_headers)
        assert answer.status_code == 200, answer.text
        return answer.json()["total"], [s["code"] for s in answer.json()["items"]]

    assert codes() == (3, ["T-1", "T-2", "T-3"])
    assert codes(bbox=box) == (2, ["T-1", "T-2"])
    assert codes(kind="air") == (1, ["T-3"])
    assert codes(q="工地") == (1, ["T-2"]) and codes(q="T-") == (3, ["T-1", "T-2", "T-3"])
    assert codes(q="%") == (0, [])  # a wildcard is a character
    assert codes(limit=1, offset=1) == (3, ["T-2"])
    item = demo_client.get("/api/sources", params={"q": "餐馆"}, headers=admin_headers).json()["items"][0]
    assert (item["kind_label"], item["responsible"], item["notes"]) == ("餐饮油烟", "张伟", "油烟净化器未开")
    for params in ({"limit": 201}, {"kind": "smoke"}, {"bbox": "1,2,3"}, {"q": "字" * 101}, {"offset": -1}):
        assert demo_client.get("/api/sources", params=params, headers=admin_headers).status_code == 422

    points = demo_client.get("/api/sources/bbox", params={"bbox": box}, headers=admin_headers)
    assert points.headers["content-type"] == "application/geo+json"
    assert [f["id"] for f in points.json()["features"]] == ["T-1", "T-2"]
    assert points.json()["features"][0]["properties"]["kind_label"] == "餐饮油烟"


def test_the_cases_near_a_source_and_the_sources_near_a_case(loaded, demo_db, demo_client):
    village, lon, lat = loaded
    inspector = make_user(demo_db, ["inspector"], inspects=village)
    lead = make_user(demo_db, ["shift_lead"], grid=DISTRICT)
    old = report(demo_db, inspector, lon, lat + 20 * M_LAT, at=datetime.now(UTC) - timedelta(days=100))
    voided = report(demo_db, inspector, lon, lat + 50 * M_LAT)
    act(demo_db, lead, voided, "void", reason="重复上报")
    near = report(demo_db, inspector, lon, lat + 200 * M_LAT)
    far = report(demo_db, inspector, lon, lat + 450 * M_LAT)  # 450 m from T-1, 350 m from T-2
    headers = login(demo_client, inspector)

    source = demo_client.get("/api/sources/T-1", headers=headers).json()
    assert (source["near_radius_m"], source["near_days"]) == (300, 90)
    # open first, then the newest; the 100-day-old case and the one 450 m away are not near
    assert [(c["code"], c["open"]) for c in source["nearby_cases"]] == [
        (near.code, True),
        (voided.code, False),
    ]
    assert old.code not in str(source) and source["nearby_cases"][1]["state_label"] == "已作废"
    assert 195 < source["nearby_cases"][0]["distance_m"] < 205
    other = login(
        demo_client, make_user(demo_db, ["inspector"], inspects=village_point(demo_db, OTHER_DISTRICT)[0])
    )
    assert demo_client.get("/api/sources/T-1", headers=other).json()["nearby_cases"] == []  # not in its scope

    detail = demo_client.get(f"/api/cases/{near.code}", headers=headers).json()
    assert [(s["code"], s["kind_label"], s["responsible"]) for s in detail["nearby_sources"]] == [
        ("T-2", "建筑工地扬尘", "张伟"),
        ("T-1", "餐饮油烟", "张伟"),
    ]
    assert 95 < detail["nearby_sources"][0]["distance_m"] < 105
    assert demo_client.get(f"/api/cases/{far.code}", headers=headers).json()["nearby_sources"] == []
    demo_db.execute(PollutionSource.__table__.update().values(active=False))
    assert demo_client.get(f"/api/cases/{near.code}", headers=headers).json()["nearby_sources"] == []
    assert demo_client.get("/api/sources/T-404", headers=headers).json()["code"] == "source.not_found"


def test_who_may_read_and_import(loaded, demo_db, demo_client):
    _, lon, lat = loaded
    for roles, status in (
        (["leader"], 200),
        (["department"], 200),
        (["dispatcher"], 200),
        (["grid_head"], 200),  # an environmental grid's head answers for the sources in it
        (["acceptor"], 200),
    ):
        headers = login(demo_client, make_user(demo_db, roles))
        assert demo_client.get("/api/sources", headers=headers).status_code == status
        assert upload(demo_client, headers, register_csv(lon, lat)).status_code == 403
    assert demo_client.get("/api/sources").status_code == 401


# -- the commands and the demo ---------------------------------------------------------------------------


@pytest.fixture
def gridops(demo_clone_url, monkeypatch):
    """``gridops`` on a clone of the demo city."""
    return gridops_on(demo_clone_url, monkeypatch)


def test_the_commands(gridops, demo_db, tmp_path):
    _, lon, lat = village_point(demo_db)
    path = tmp_path / "台账.csv"
    glon, glat = from_wgs84(lon, lat, CRS.BD09)
    path.write_text(HEADER + line("C-1", "命令行餐馆", "餐饮油烟", glon, glat))
    code, _, err = gridops("sources", "import", str(path), "--crs", "bd09", "--dry-run")
    assert code == 0 and "检查通过，没有写入（新增 1 个，更新 0 个，未变 0 个）" in err, err
    code, _, err = gridops("sources", "import", str(path), "--crs", "bd09")
    assert code == 0 and "已导入 1 个污染源：新增 1 个" in err and "写入污染源台账" in err, err
    code, out, _ = gridops("sources", "list", "--kind", "餐饮油烟")
    assert code == 0 and out.startswith("C-1\t餐饮油烟\t命令行餐馆\t济南市历下区测试路1号\t张伟\t"), out
    x, y = (float(v) for v in out.split("\t")[5].split(","))
    assert distance_m(x, y, lon, lat) < 1
    path.write_text(HEADER + line("C-2", "", "餐饮油烟", lon, lat))
    code, _, err = gridops("sources", "import", str(path))
    assert code == 1 and "第 2 行：没有名称，请补上" in err and "污染源台账文件有 1 处错误" in err, err
    code, _, err = gridops("sources", "list", "--kind", "烟雾")
    assert code == 1 and "类型“烟雾”不认识" in err


def test_the_demo_register_is_synthetic_and_inside_the_district(here, demo_db):
    result = load_demo_sources(db=demo_db, seed=SEED)
    assert (result.added, result.changed) == (len(SOURCES), 0) and len(SOURCES) == 20
    sources = demo_db.scalars(select(PollutionSource)).all()
    assert all(s.code.startswith("DEMO-PS-") and s.name.endswith("（示例）") for s in sources)
    outside = demo_db.scalars(
        select(PollutionSource.code).where(
            ~select(func.ST_Covers(func.ST_Union(Grid.geom), PollutionSource.geom))
            .where(CURRENT, Grid.code == DISTRICT)
            .scalar_subquery()
        )
    ).all()
    assert outside == []
    assert {s.kind for s in sources} == set(register_file.KINDS)
    assert load_demo_sources(db=demo_db, seed=SEED).unchanged == 20  # loading it again changes nothing
