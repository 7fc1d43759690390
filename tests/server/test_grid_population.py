"""Resident populations of grids: imported with the grids or from a CSV (checked whole, every bad row listed,
nothing written on error), carried over to a grid's new version, summed up for a parent without one."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import func, select

from server import messages
from server.database import new_session
from server.grid.models import CURRENT, Grid
from server.grid.population import populations
from tests.server.grid_files import DX, DY, SOUTH, WEST, city_features, collection, feature, rect


def post_import(client, headers, features):
    files = {"file": ("grids.geojson", collection(features), "application/geo+json")}
    return client.post("/api/grids/import", files=files, headers=headers)


def post_population(client, headers, text: str):
    files = {"file": ("人口.csv", text.encode("utf-8-sig"), "text/csv")}
    return client.post("/api/grids/population", files=files, headers=headers)


def stored(db) -> dict[str, int | None]:
    return dict(db.execute(select(Grid.code, Grid.population).where(CURRENT)).all())


def test_population_from_the_grid_file_kept_by_a_new_version(client, admin_headers, db):
    features = city_features()
    for f in features:
        if f["properties"]["code"] in ("370102001", "370102002"):
            f["properties"]["population"] = 30_000 if f["properties"]["code"].endswith("1") else "12000"
    assert post_import(client, admin_headers, features).status_code == 200
    assert stored(db)["370102001"] == 30_000 and stored(db)["370102002"] == 12_000

    # a new boundary without a population keeps the old one; one with a population takes it
    q1 = WEST + DX / 4 + 0.002
    moved = [
        feature("370102001", "西一街道", rect(WEST, SOUTH, q1, SOUTH + DY), "370102"),
        feature(
            "370102002", "西二街道", rect(q1, SOUTH, WEST + DX / 2, SOUTH + DY), "370102", population=15_000
        ),
    ]
    body = post_import(client, admin_headers, moved).json()
    assert body["new_versions"] == 2, body
    assert stored(db)["370102001"] == 30_000 and stored(db)["370102002"] == 15_000
    history = db.scalars(select(Grid.population).where(Grid.code == "370102002").order_by(Grid.version)).all()
    assert history == [12_000, 15_000]  # the old version keeps what it had

    # only the population changed: updated in place, no new version
    same = [f for f in moved if f["properties"]["code"] == "370102001"]
    same[0]["properties"]["population"] = 31_000
    body = post_import(client, admin_headers, same).json()
    assert body["new_versions"] == 0 and stored(db)["370102001"] == 31_000

    # a parent without its own counts its children's sum; unknown when a child is unknown
    people = populations(db, "370100")
    assert people["370102"] == 31_000 + 15_000
    assert people["370103"] is None and people["370100"] is None


def test_a_bad_population_in_the_grid_file_is_an_error(client, admin_headers):
    features = city_features()
    features[1]["properties"]["population"] = -5
    resp = post_import(client, admin_headers, features)
    assert resp.status_code == 422
    assert any("常住人口" in i["message"] for i in resp.json()["report"]["issues"])


def test_population_csv_lists_every_bad_row_and_writes_nothing(client, admin_headers, db):
    assert post_import(client, admin_headers, city_features()).status_code == 200
    bad = "网格编码,常住人口\n370102001,20000\n370102002,很多\n999999999,5\n370102001,3\n,7\n370103001,-1\n"
    resp = post_population(client, admin_headers, bad)
    assert resp.status_code == 422
    body = resp.json()
    assert body["code"] == "grid.population_invalid" and body["params"]["count"] == 5
    assert [e["msg"].split("：")[0] for e in body["errors"]] == [f"第 {n} 行" for n in (3, 4, 5, 6, 7)]
    assert body["detail"] == messages.text("grid.population_invalid", count=5)
    assert all(v is None for v in stored(db).values())  # nothing written, not even the good row

    missing = post_population(client, admin_headers, "编码,人数\n370102001,1\n")
    assert missing.json()["code"] == "grid.population_columns"
    assert client.post(
        "/api/grids/population", files={"file": ("p.csv", b"code,population\n", "text/csv")}
    ).status_code in (401, 403)  # administrators only

    good = 'code,population\n370102001,20000\n370102002,"8,500"\n370103001,0\n'
    resp = post_population(client, admin_headers, good)
    assert resp.status_code == 200 and resp.json() == {"rows": 3, "changed": 3}
    assert {k: v for k, v in stored(db).items() if v is not None} == {
        "370102001": 20_000, "370102002": 8_500, "370103001": 0,
    }  # fmt: skip
    assert populations(db, "370100.370102")["370102"] == 28_500


def test_population_command(fresh_db_url, tmp_path):
    env = {**os.environ, "DATABASE_URL": fresh_db_url, "COLUMNS": "200"}

    def gridops(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "server.cli", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)

    grids = tmp_path / "grids.geojson"
    grids.write_bytes(collection(city_features()))
    assert gridops("grids", "import", str(grids)).returncode == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("网格编码,常住人口\n370102001,abc\n370102002,100\n", encoding="utf-8")
    proc = gridops("grids", "population", str(bad))
    assert proc.returncode == 1 and "第 2 行" in proc.stdout + proc.stderr
    good = tmp_path / "good.csv"
    good.write_text("网格编码,常住人口\n370102001,100\n370102002,50\n", encoding="utf-8")
    proc = gridops("grids", "population", str(good))
    assert proc.returncode == 0, proc.stderr
    assert "2 个网格" in proc.stderr  # the console speaks on stderr
    with new_session(fresh_db_url) as db:
        assert stored(db)["370102001"] == 100 and stored(db)["370102002"] == 50


def test_the_demo_city_has_synthetic_populations(demo_db):
    from server.grid.population import DEMO_DISTRICT_RESIDENTS, load_demo_populations

    given = load_demo_populations(db=demo_db, seed=7)
    assert given > 5000  # every village of the 12 districts
    people = populations(demo_db, "370100")
    lixia = people["370102"]
    villages = demo_db.scalar(
        select(func.count())
        .select_from(Grid)
        .where(CURRENT, Grid.level == "village", Grid.code.like("370102%"))
    )
    assert 750_000 - villages <= lixia <= 750_000  # each village's share rounded down
    assert people["370100"] == sum(people[d] for d in DEMO_DISTRICT_RESIDENTS)
    streets = demo_db.scalars(select(Grid.code).where(CURRENT, Grid.level == "street")).all()
    assert all(people[s] > 0 for s in streets)
    assert load_demo_populations(db=demo_db, seed=7) == 0  # again: nothing left to give
