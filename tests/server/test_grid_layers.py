"""Grid layers (docs/DOMAIN.md section 2): a second hierarchy over the same administrative grids, imported,
checked, located and exported per layer; a case records its grid in every layer; a category's layer
decides whose inspectors and heads answer for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from select import select as select_ready

import psycopg2
import pytest
from sqlalchemy import select, update

from grids.loaders import load_features
from server.auth.models import User
from server.auth.principal import Principal
from server.case import intake, present
from server.case import sync as case_sync
from server.case.models import Case, CaseLayerGrid
from server.case.scope import Scope, scope_of, sees_notification, visible
from server.category import service as categories
from server.category.loader import STARTER_TAXONOMY, load_taxonomy
from server.category.models import Category
from server.category.schemas import TaxonomyFormat
from server.database import get_engine, new_session
from server.errors import Invalid
from server.grid import importer
from server.grid import people as grid_people
from server.grid import service as grid_service
from server.grid.layers import scheme_of
from server.review import service as review_service
from tests.server.case_world import act, make_user, report
from tests.server.grid_files import DY, SOUTH, WEST, city_features, collection, feature, rect

# Village 370102001001 covers street 370102001 (the city's west quarter). In 城市管理网格 it is split
# into four unit grids (quarters); in the 责任网格 layer into a north and a south responsibility grid,
# which overlap the units (other layers may); 生态环境网格 has no grids of its own.
EAST, NORTH = WEST + 0.01, SOUTH + DY
MID_X, MID_Y = (WEST + EAST) / 2, (SOUTH + NORTH) / 2
VILLAGE = "370102001001"
POINT = {"lon": WEST + 0.002, "lat": NORTH - 0.002}  # north-west: unit 001, responsibility grid 01
DUTY = {"code": "duty", "name": "责任网格", "levels": "duty:14=责任网格", "description": "测试"}
ENV = {"code": "env", "name": "生态环境网格"}


def units() -> list[dict]:
    quarters = [
        (WEST, MID_Y, MID_X, NORTH),
        (MID_X, MID_Y, EAST, NORTH),
        (WEST, SOUTH, MID_X, MID_Y),
        (MID_X, SOUTH, EAST, MID_Y),
    ]
    return [
        feature(f"{VILLAGE}00{i}", f"第{i}单元", rect(*box), VILLAGE, level="unit")
        for i, box in enumerate(quarters, start=1)
    ]


def duty_grids(split: float = MID_Y) -> list[dict]:
    return [
        feature(f"{VILLAGE}01", "北责任网格", rect(WEST, split, EAST, NORTH), VILLAGE, level="duty"),
        feature(f"{VILLAGE}02", "南责任网格", rect(WEST, SOUTH, EAST, split), VILLAGE, level="duty"),
    ]


def base_features() -> list[dict]:
    village = feature(VILLAGE, "测试社区", rect(WEST, SOUTH, EAST, NORTH), "370102001", level="village")
    return [*city_features(), village, *units()]


def post_import(client, headers, features, **params):
    files = {"file": ("grids.geojson", collection(features), "application/geo+json")}
    return client.post("/api/grids/import", files=files, params=params, headers=headers)


@pytest.fixture
def layered(client, admin_headers):
    """The world above, through the API."""
    assert post_import(client, admin_headers, base_features()).status_code == 200
    for layer in (DUTY, ENV):
        assert client.post("/api/grids/layers", json=layer, headers=admin_headers).status_code == 201
    resp = post_import(client, admin_headers, duty_grids(), layer="duty")
    assert resp.status_code == 200, resp.text
    return client


def chain(client, **params) -> list[str]:
    resp = client.get("/api/grids/locate", params={**POINT, **params})
    assert resp.status_code == 200, resp.text
    return [g["code"] for g in resp.json()["chain"]]


def test_each_layer_locates_its_own_chain(layered, admin_headers):
    shared = ["370100", "370102", "370102001", VILLAGE]
    assert chain(layered) == [*shared, f"{VILLAGE}001"]
    assert chain(layered, layer="urban") == [*shared, f"{VILLAGE}001"]
    assert chain(layered, layer="duty") == [*shared, f"{VILLAGE}01"]
    assert chain(layered, layer="env") == shared
    south = [POINT["lon"], SOUTH + 0.002]
    for layer, expected in (
        (None, [f"{VILLAGE}001", f"{VILLAGE}003"]),
        ("duty", [f"{VILLAGE}01", f"{VILLAGE}02"]),
    ):
        body = {"points": [[POINT["lon"], POINT["lat"]], south], **({"layer": layer} if layer else {})}
        assert layered.post("/api/grids/locate", json=body).json()["codes"] == expected
    unknown = layered.get("/api/grids/locate", params={**POINT, "layer": "nosuch"})
    assert unknown.status_code == 404 and "生态环境网格" in unknown.json()["detail"]
    names = [(x["code"], x["is_default"]) for x in layered.get("/api/grids/layers").json()]
    assert names == [("urban", True), ("duty", False), ("env", False)]
    duty = layered.get(f"/api/grids/{VILLAGE}01").json()
    assert duty["layer"] == "duty" and duty["path"] == f"370100.370102.370102001.{VILLAGE}.{VILLAGE}01"


def test_topology_is_checked_within_a_layer(layered, admin_headers):
    # overlapping units is fine; overlapping each other is not
    overlapping = duty_grids()
    overlapping[1]["geometry"] = rect(WEST, SOUTH, EAST, MID_Y + 0.002)
    body = post_import(layered, admin_headers, overlapping, layer="duty").json()
    assert {i["kind"] for i in body["report"]["issues"]} == {"overlap"}
    # a responsibility grid's code is no code of 城市管理网格, and a unit's none of 责任网格
    assert post_import(layered, admin_headers, duty_grids()).json()["report"]["errors"] == 2
    assert post_import(layered, admin_headers, units(), layer="duty").json()["report"]["errors"] == 4
    for layer in ("urban", "duty", "env"):
        report = layered.get("/api/grids/check", params={"layer": layer}, headers=admin_headers).json()
        assert report["ok"] and report["checked"] == {"urban": 12, "duty": 10, "env": 8}[layer]
    # moving the border between the responsibility grids moves the duty lookup only
    moved = post_import(layered, admin_headers, duty_grids(split=NORTH - 0.001), layer="duty").json()
    assert moved["new_versions"] == 2
    assert chain(layered, layer="duty")[-1] == f"{VILLAGE}02"
    assert chain(layered)[-1] == f"{VILLAGE}001"


def test_export_round_trips_per_layer(layered, admin_headers):
    exported = layered.get("/api/grids/export", params={"layer": "duty"}).json()
    codes = {f["properties"]["code"]: f["properties"]["layer"] for f in exported["features"]}
    assert len(codes) == 10 and codes[f"{VILLAGE}01"] == "duty" and codes[VILLAGE] is None
    assert f"{VILLAGE}001" not in codes
    again = post_import(layered, admin_headers, exported["features"], layer="duty").json()
    assert (again["created"], again["new_versions"], again["unchanged"]) == (0, 0, 10)
    default = layered.get("/api/grids/export").json()["features"]
    assert {f["properties"]["layer"] for f in default} == {None, "urban"} and len(default) == 12


def test_adding_a_layer_checks_its_levels(layered, admin_headers):
    same_length = {"code": "zz", "name": "综治网格", "levels": "zz:15"}
    resp = layered.post("/api/grids/layers", json=same_length, headers=admin_headers)
    assert resp.status_code == 422 and "编码位数" in resp.json()["detail"]
    taken = layered.post("/api/grids/layers", json={**ENV, "code": "env2"}, headers=admin_headers)
    assert taken.status_code == 409
    refused = layered.post("/api/grids/layers", json={"code": "x", "name": "X"})
    assert refused.status_code in (401, 403)


@pytest.fixture
def people(layered, db):
    """The starter taxonomy; in 城市管理网格 an inspector of the unit holding ``POINT``; in 生态环境网格 an
    inspector of the village; in 责任网格 a head of each responsibility grid."""
    categories.load_starter(db=db)
    unit_inspector = make_user(db, ["inspector"], inspects=f"{VILLAGE}001", name="单元网格员")
    env_inspector = make_user(db, ["inspector"], name="环境网格员")
    grid_people.assign(db=db, grid_code=VILLAGE, user=env_inspector.user, role="inspector", layer="env")
    heads = {}
    for code in (f"{VILLAGE}01", f"{VILLAGE}02"):
        heads[code] = make_user(db, ["grid_head"], name=f"责任网格长{code[-2:]}")
        grid_people.assign(db=db, grid_code=code, user=heads[code].user, role="head")
    acceptor = make_user(db, ["acceptor"])
    return {"unit": unit_inspector, "env": env_inspector, "heads": heads, "acceptor": acceptor}


def sees(db, principal, case: Case) -> bool:
    query = select(Case.id).where(Case.id == case.id, visible(scope_of(db=db, principal=principal)))
    return db.scalar(query) is not None


def test_a_case_records_its_grid_in_every_layer(db, people):
    case = report(db, people["acceptor"], POINT["lon"], POINT["lat"], channel="hotline")
    assert case.grid_code == f"{VILLAGE}001"
    principal = people["acceptor"]
    detail = present.detail(db=db, principal=principal, scope=scope_of(db=db, principal=principal), case=case)
    assert [g.model_dump() for g in detail.layer_grids] == [
        {"layer": "duty", "layer_name": "责任网格", "code": f"{VILLAGE}01", "name": "北责任网格"},
        {"layer": "env", "layer_name": "生态环境网格", "code": VILLAGE, "name": "测试社区"},
    ]
    # the head of the north responsibility grid sees it; the south one's does not
    assert sees(db, people["heads"][f"{VILLAGE}01"], case)
    assert not sees(db, people["heads"][f"{VILLAGE}02"], case)
    assert sees(db, people["env"], case) and sees(db, people["unit"], case)


def test_the_categorys_layer_takes_the_verification(db, people):
    acceptor = people["acceptor"]
    plain = report(db, acceptor, POINT["lon"], POINT["lat"], channel="hotline")
    assert act(db, acceptor, plain, "request_verification").task_assignee_id == people["unit"].user_id

    db.execute(update(Category).where(Category.code == "E06010").values(layer="env"))
    env_case = report(db, acceptor, POINT["lon"], POINT["lat"], channel="hotline")
    assert act(db, acceptor, env_case, "request_verification").task_assignee_id == people["env"].user_id

    # a layer added after the case was reported holds no grid of it: the default layer's inspector
    earlier = report(db, acceptor, POINT["lon"], POINT["lat"], channel="hotline")
    importer.add_layer(db=db, code="later", name="后加的网格")
    db.execute(update(Category).where(Category.code == "E06010").values(layer="later"))
    assert act(db, acceptor, earlier, "request_verification").task_assignee_id == people["unit"].user_id


def test_the_cli_works_per_layer(fresh_db_url, tmp_path):
    env = {**os.environ, "DATABASE_URL": fresh_db_url, "COLUMNS": "200"}

    def gridops(*args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "server.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout + proc.stderr  # (the console's messages go to stderr)

    base, duty = tmp_path / "base.geojson", tmp_path / "duty.geojson"
    base.write_bytes(collection(base_features()))
    duty.write_bytes(collection(duty_grids()))
    gridops("grids", "import", str(base))
    assert "已新增网格图层 duty" in gridops(
        "grids", "layers", "add", "duty", "责任网格", "--levels", "duty:14=责任网格"
    )
    gridops("grids", "import", str(duty), "--layer", "duty")
    listed = gridops("grids", "layers", "list").splitlines()
    assert [line.split("\t")[:2] for line in listed] == [["urban", "城市管理网格"], ["duty", "责任网格"]]
    located = gridops("grids", "locate", str(POINT["lon"]), str(POINT["lat"]), "--layer", "duty").splitlines()
    assert located[-1].split("\t")[1:] == [f"{VILLAGE}01", "北责任网格"]
    exported = json.loads(gridops("grids", "export", "--layer", "duty").splitlines()[0])
    assert len(exported["features"]) == 10
    assert "0 个错误" in gridops("grids", "check", "--layer", "duty")
    gridops("grids", "layers", "add", "env", "生态环境网格")
    gridops("users", "add", "环境网格员", "--phone", "13800000001", "--role", "inspector")
    out = gridops("grids", "assign", VILLAGE, "13800000001", "--layer", "env")
    assert "生态环境网格" in out
    assert "环境网格员" in gridops("grids", "people", VILLAGE, "--layer", "env")
    assert "环境网格员" not in gridops("grids", "people", VILLAGE)
    assert "记下其他图层的网格 0 条" in gridops("cases", "layer-grids")


def test_the_taxonomy_names_a_categorys_layer(layered, db):
    starter = STARTER_TAXONOMY.read_text(encoding="utf-8")
    assert "{code: E06020, name: 餐饮油烟污染," in starter
    with_layer = starter.replace(
        "{code: E06020, name: 餐饮油烟污染,", "{code: E06020, name: 餐饮油烟污染, layer: env,"
    )
    categories.load(db=db, taxonomy=load_taxonomy(with_layer.encode(), TaxonomyFormat.YAML))
    layers = dict(db.execute(select(Category.code, Category.layer)).all())
    assert layers["E06020"] == "env" and layers["E06010"] is None
    unknown = with_layer.replace("layer: env,", "layer: nosuch,")
    with pytest.raises(Invalid) as refused:
        categories.load(db=db, taxonomy=load_taxonomy(unknown.encode(), TaxonomyFormat.YAML))
    assert "nosuch" in str(refused.value.params)


def test_the_phone_sync_gives_each_layer_its_grids(db, people):
    def synced(principal) -> tuple[dict[str, list[str]], list[str]]:
        scope = scope_of(db=db, principal=principal)
        codes, _ = case_sync.my_grids(db=db, scope=scope, since=None)
        return codes, [layer.code for layer in case_sync.my_layers(db=db, scope=scope)]

    assert synced(people["unit"]) == ({"urban": [f"{VILLAGE}001"]}, ["urban"])
    # 生态环境网格 has no grids of its own: the village, not the units of 城市管理网格 under it; and the
    # shared village is that layer's grid only, not the default layer's (nobody assigned it there)
    assert synced(people["env"]) == ({"env": [VILLAGE]}, ["urban", "env"])
    north = people["heads"][f"{VILLAGE}01"]
    assert synced(north) == ({"duty": [f"{VILLAGE}01"]}, ["urban", "duty"])
    (feature,) = grid_service.geojson_of(db=db, grids=[grid_service.get_grid(db=db, code=f"{VILLAGE}01")])
    assert (feature["properties"]["layer"], feature["properties"]["layer_name"]) == ("duty", "责任网格")


def test_the_review_shows_a_layers_grids_and_people(db, people):
    everything = Scope(None, True, (), None)
    urban = review_service.review(db=db, scope=everything, code=VILLAGE)
    assert urban.layer == "urban" and [g.code for g in urban.grids[1:]] == sorted(units_codes())
    assert {g.code: g.inspectors for g in urban.grids}[f"{VILLAGE}001"] == ["单元网格员"]
    duty = review_service.review(db=db, scope=everything, code=VILLAGE, layer="duty")
    heads = {g.code: g.head for g in duty.grids[1:]}
    assert heads == {f"{VILLAGE}01": "责任网格长01", f"{VILLAGE}02": "责任网格长02"}
    env = review_service.review(db=db, scope=everything, code=VILLAGE, layer="env")
    assert [g.inspectors for g in env.grids] == [["环境网格员"]] and [i.name for i in env.inspectors] == [
        "环境网格员"
    ]
    # the head of a responsibility grid reviews it
    north = review_service.review(db=db, scope=scope_of(db=db, principal=people["heads"][f"{VILLAGE}01"]))
    assert north.grid.code == f"{VILLAGE}01"


def units_codes() -> list[str]:
    return [f["properties"]["code"] for f in units()]


def test_a_case_change_reaches_the_head_of_its_grid_in_another_layer(fresh_db_url):
    """The case-change notification (the database's trigger) names the case's grids in the other layers,
    so the stream of the head of the responsibility grid holding it carries it, and the other head's not."""
    with new_session(fresh_db_url) as db:
        records, checked = load_features(collection(base_features()))
        assert importer.import_grids(db=db, records=records, report=checked).report.ok
        duty = importer.add_layer(db=db, **DUTY)
        records, checked = load_features(collection(duty_grids()), scheme=scheme_of(duty))
        assert importer.import_grids(db=db, records=records, report=checked, layer="duty").report.ok
        categories.load_starter(db=db)
        heads = {}
        for code in (f"{VILLAGE}01", f"{VILLAGE}02"):
            heads[code] = make_user(db, ["grid_head"]).user_id
            grid_people.assign(
                db=db, grid_code=code, user=db.get(User, heads[code]), role="head", layer="duty"
            )
        acceptor = make_user(db, ["acceptor"])
    engine = get_engine(fresh_db_url)
    args, kwargs = engine.dialect.create_connect_args(engine.url)
    listener = psycopg2.connect(*args, **kwargs)
    try:
        listener.autocommit = True
        listener.cursor().execute("LISTEN case_change")
        with new_session(fresh_db_url) as db:
            code = report(db, acceptor, POINT["lon"], POINT["lat"], channel="hotline").code
        while not listener.notifies:
            assert select_ready([listener], [], [], 10)[0], "no case-change notification within 10 s"
            listener.poll()
        payload = json.loads(listener.notifies[0].payload)
    finally:
        listener.close()
    assert payload["code"] == code
    assert [p.rsplit(".", 1)[-1] for p in payload["layer_paths"]] == [f"{VILLAGE}01"]
    with new_session(fresh_db_url) as db:
        receives = {
            code: sees_notification(scope_of(db=db, principal=Principal.of(db.get(User, user_id))), payload)
            for code, user_id in heads.items()
        }
    assert receives == {f"{VILLAGE}01": True, f"{VILLAGE}02": False}


def test_cases_reported_before_a_layer_get_their_grid_in_it(client, admin_headers, db):
    assert post_import(client, admin_headers, base_features()).status_code == 200
    categories.load_starter(db=db)
    case = report(db, make_user(db, ["acceptor"]), POINT["lon"], POINT["lat"], channel="hotline")
    assert client.post("/api/grids/layers", json=DUTY, headers=admin_headers).status_code == 201
    assert post_import(client, admin_headers, duty_grids(), layer="duty").status_code == 200
    assert db.scalars(select(CaseLayerGrid.grid_code).where(CaseLayerGrid.case_id == case.id)).all() == []
    assert intake.record_layer_grids(db=db) == 1
    assert intake.record_layer_grids(db=db) == 0  # once
    assert db.scalars(select(CaseLayerGrid.grid_code).where(CaseLayerGrid.case_id == case.id)).all() == [
        f"{VILLAGE}01"
    ]
