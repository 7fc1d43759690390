"""Base maps: the configuration file checked whole (every refusal in words, GCJ-02 and BD-09 sources
included), the local packages' tile routes (content, ETag and 304, 404, 422, range requests on a PMTiles
file), what the browser is told, and ``gridops basemaps check``, ``cut`` and ``pack``."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import httpx
import mapbox_vector_tile
import pytest

from gis.tiles import tile_for_point
from server import messages
from server.basemaps import config
from server.basemaps.config import BasemapsError
from server.basemaps.packages import open_package
from server.errors import Invalid
from server.users.demo import DISTRICT
from tests.server.live import live_server
from tests.server.test_cli import gridops, said
from tests.tile_packages import (
    LIXIA,
    ZOOMS,
    config_file,
    png,
    raster_mbtiles,
    raster_pmtiles,
    vector_mbtiles,
    vector_style,
)

RED, BLUE = (200, 40, 40), (40, 40, 200)
TIANDITU = (
    "https://t0.tianditu.gov.cn/{service}/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec"
    "&STYLE=default&TILEMATRIXSET={set}&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}"
    "&tk=${{TIANDITU_TOKEN}}"
)


def layer(id: str, **fields) -> dict:
    return {"id": id, "name": f"图层{id}", "group": "base", "crs": "wgs84", **fields}


@pytest.fixture
def packages(tmp_path) -> Path:
    """A folder with a raster PMTiles, a raster MBTiles, a vector MBTiles and its style."""
    raster_pmtiles(tmp_path / "imagery.pmtiles", RED)
    raster_mbtiles(tmp_path / "plain.mbtiles", BLUE)
    vector_mbtiles(tmp_path / "streets.mbtiles")
    vector_style(tmp_path / "streets.json")
    return tmp_path


@pytest.fixture
def served(packages, setting, client):
    """The test client over a configuration of the three packages and 天地图 (its token from the
    environment), in that order, with 天地图's annotation as an overlay."""
    os.environ.setdefault("TIANDITU_TOKEN", "test-token")
    path = config_file(
        packages / "basemaps.toml",
        layer("imagery", kind="package", path="imagery.pmtiles", attribution="测试影像"),
        layer("plain", kind="package", path="plain.mbtiles", crs="cgcs2000"),
        layer("streets", kind="package", path="streets.mbtiles", style="streets.json"),
        layer("tdt", kind="xyz", url=TIANDITU.format(service="vec_w", set="w"), crs="cgcs2000", maxzoom=18),
        layer(
            "cva", kind="xyz", url=TIANDITU.format(service="cva_w", set="w"), group="overlay", crs="cgcs2000"
        ),
    )
    setting("GRIDOPS_BASEMAPS", str(path))
    return client


def problems_of(path: Path) -> list[str]:
    with pytest.raises(BasemapsError) as caught:
        config.load(path)
    return caught.value.problems


def test_a_good_file_gives_its_layers_with_the_environment_filled(packages, monkeypatch):
    monkeypatch.setenv("TIANDITU_TOKEN", "abc123")
    path = config_file(
        packages / "basemaps.toml",
        layer("tdt", kind="xyz", url=TIANDITU.format(service="vec_w", set="w"), crs="cgcs2000"),
        layer("streets", kind="package", path="streets.mbtiles", style="streets.json"),
    )
    tdt, streets = config.load(path)
    assert tdt.url.endswith("&tk=abc123") and "{z}" in tdt.url
    assert streets.path == packages / "streets.mbtiles" and streets.style == str(packages / "streets.json")


@pytest.mark.parametrize(
    ("entry", "code", "params"),
    [
        (
            layer("amap", kind="xyz", url="https://webrd01.is.autonavi.com/t?x={x}&y={y}&z={z}", crs="gcj02"),
            "basemaps.shifted_crs",
            {"layer": "amap", "crs": "GCJ-02"},
        ),
        (
            layer(
                "baidu", kind="xyz", url="https://maponline0.bdimg.com/tile/?x={x}&y={y}&z={z}", crs="bd09"
            ),
            "basemaps.shifted_crs",
            {"layer": "baidu", "crs": "BD-09"},
        ),
        (
            layer("amap", kind="xyz", url="https://webrd01.is.autonavi.com/t?x={x}&y={y}&z={z}"),
            "basemaps.shifted_provider",
            {"layer": "amap", "provider": "高德地图", "crs": "GCJ-02"},
        ),
        (
            layer("qq", kind="xyz", url="https://rt0.map.gtimg.com/tile?z={z}&x={x}&y={y}"),
            "basemaps.shifted_provider",
            {"layer": "qq", "provider": "腾讯地图", "crs": "GCJ-02"},
        ),
        (
            layer("tdtc", kind="xyz", url=TIANDITU.format(service="vec_c", set="c").replace("${", "x{")),
            "basemaps.not_web_mercator",
            {"layer": "tdtc", "suffix": "_w"},
        ),
        (
            layer(
                "tdt",
                kind="xyz",
                url=TIANDITU.format(service="vec_w", set="w").replace("TIANDITU", "NO_SUCH"),
            ),
            "basemaps.env_missing",
            {"layer": "tdt", "name": "NO_SUCH_TOKEN"},
        ),
        (
            layer("city", kind="xyz", url="https://tiles.city.example/{z}/{x}.png"),
            "basemaps.url_placeholders",
            {"layer": "city", "missing": "{y}"},
        ),
        (
            layer("city", kind="xyz", url="https://{s}.tiles.city.example/{z}/{x}/{y}.png"),
            "basemaps.url_unknown_placeholder",
            {"layer": "city", "placeholder": "{s}"},
        ),
        (
            layer("city", kind="style", style="tiles.city.example/style.json"),
            "basemaps.not_url",
            {"layer": "city", "field": "style"},
        ),
        (layer("gone", kind="package", path="gone.pmtiles"), "basemaps.package_missing", None),
        (layer("shp", kind="package", path="streets.json"), "basemaps.package_kind", None),
        (layer("broken", kind="package", path="broken.mbtiles"), "basemaps.package_unreadable", None),
        (layer("tif", kind="package", path="tif.mbtiles"), "basemaps.package_format", None),
        (
            layer("streets", kind="package", path="streets.mbtiles"),
            "basemaps.style_needed",
            {"layer": "streets", "field": "style"},
        ),
        (
            layer("streets", kind="package", path="streets.mbtiles", style="nothing.json"),
            "basemaps.style_unreadable",
            None,
        ),
        (
            layer("streets", kind="package", path="streets.mbtiles", style="plain.mbtiles"),
            "basemaps.style_unreadable",
            None,
        ),
        (
            layer("x", kind="wms", url="https://a.example/{z}/{x}/{y}"),
            "basemaps.bad_choice",
            {"layer": "x", "field": "kind", "value": "wms", "choices": "xyz、style、package"},
        ),
        (
            layer("x", kind="xyz", url="https://a.example/{z}/{x}/{y}", crs="utm"),
            "basemaps.bad_choice",
            {"layer": "x", "field": "crs", "value": "utm", "choices": "wgs84、cgcs2000、gcj02、bd09"},
        ),
        (
            {
                "id": "x",
                "kind": "xyz",
                "url": "https://a.example/{z}/{x}/{y}",
                "group": "base",
                "crs": "wgs84",
            },
            "basemaps.field_missing",
            {"layer": "x", "field": "name"},
        ),
        (
            layer("x", kind="xyz", url="https://a.example/{z}/{x}/{y}", opacity=1),
            "basemaps.field_unknown",
            {"layer": "x", "field": "opacity"},
        ),
        (
            layer("x", kind="xyz", url="https://a.example/{z}/{x}/{y}", path="a.mbtiles"),
            "basemaps.field_unused",
            {"layer": "x", "field": "path"},
        ),
        (
            layer("x", kind="xyz", url="https://a.example/{z}/{x}/{y}", minzoom="3"),
            "basemaps.field_type",
            {"layer": "x", "field": "minzoom", "expected": "整数"},
        ),
        (
            layer("x", kind="xyz", url="https://a.example/{z}/{x}/{y}", minzoom=12, maxzoom=8),
            "basemaps.zoom_range",
            {"layer": "x", "minzoom": 12, "maxzoom": 8, "max_zoom": 22},
        ),
        (
            layer("影像", kind="xyz", url="https://a.example/{z}/{x}/{y}"),
            "basemaps.bad_id",
            {"layer": "影像"},
        ),
    ],
)
def test_each_refusal_is_a_sentence_naming_the_layer(packages, entry, code, params):
    (packages / "broken.mbtiles").write_bytes(b"not a database at all" * 100)
    tif = sqlite3.connect(packages / "tif.mbtiles")
    tif.executescript(
        "CREATE TABLE metadata (name, value); INSERT INTO metadata VALUES ('format', 'tiff');"
        "CREATE TABLE tiles (zoom_level, tile_column, tile_row, tile_data);"
        "INSERT INTO tiles VALUES (1, 0, 0, x'00');"
    )
    tif.close()
    problems = problems_of(config_file(packages / "basemaps.toml", entry))
    if params is None:
        assert any(p.startswith(f"底图图层 {entry['id']} ") for p in problems), problems
        template = messages.catalogue()[code].split("{")[0]
        assert any(p.startswith(template) for p in problems), problems
    else:
        assert messages.text(code, **params) in problems, problems


def test_every_problem_of_the_file_is_listed_at_once(packages):
    path = config_file(
        packages / "basemaps.toml",
        layer("amap", kind="xyz", url="https://webrd01.is.autonavi.com/t?x={x}&y={y}&z={z}", crs="gcj02"),
        layer("gone", kind="package", path="gone.pmtiles"),
        layer("gone", kind="package", path="imagery.pmtiles"),
    )
    with pytest.raises(BasemapsError) as caught:
        config.load(path)
    assert len(caught.value.problems) == 3
    assert caught.value.summary == messages.text("basemaps.config_invalid", path=str(path), count=3)
    assert messages.text("basemaps.duplicate_id", layer="gone") in caught.value.problems


def test_a_file_that_is_not_toml_or_has_no_layers(tmp_path):
    path = tmp_path / "basemaps.toml"
    path.write_text('[[layers]]\nid = "a\n')
    (problem,) = problems_of(path)
    where = "第 2 行第 8 列"  # where the string never ends
    assert problem == messages.text("basemaps.file_unreadable", path=str(path), where=where)
    path.write_text("# nothing yet\n")
    assert problems_of(path) == [messages.text("basemaps.no_layers", path=str(path))]
    assert problems_of(tmp_path / "none.toml") == [
        messages.text("basemaps.file_missing", path=str(tmp_path / "none.toml"))
    ]


def test_the_browser_is_told_the_layers_and_never_a_path(served, packages):
    layers = {b["id"]: b for b in served.get("/api/web/config").json()["basemaps"]}
    assert list(layers) == ["imagery", "plain", "streets", "tdt", "cva"]
    imagery = layers["imagery"]
    assert imagery["kind"] == "raster" and imagery["tiles"] == ["/basemaps/imagery/{z}/{x}/{y}"]
    assert (imagery["minzoom"], imagery["maxzoom"]) == ZOOMS and imagery["bounds"] == pytest.approx(LIXIA)
    assert imagery["attribution"] == "测试影像" and imagery["group"] == "base"
    assert (
        layers["streets"]["kind"] == "style" and layers["streets"]["style"] == "/basemaps/streets/style.json"
    )
    assert layers["tdt"]["tiles"][0].endswith("tk=test-token") and layers["tdt"]["maxzoom"] == 18
    assert layers["cva"]["group"] == "overlay"
    assert str(packages) not in json.dumps(layers)


def test_no_layers_configured(client):
    assert client.get("/api/web/config").json()["basemaps"] == []
    assert client.get("/basemaps/imagery/12/3400/1600").json()["code"] == "basemaps.no_such_layer"


@pytest.mark.parametrize(("name", "color"), [("imagery", RED), ("plain", BLUE)])
def test_a_raster_tile_with_its_etag(served, name, color):
    x, y = tile_for_point(117.06, 36.66, 13)
    answer = served.get(f"/basemaps/{name}/13/{x}/{y}")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert answer.content == png(color)
    etag = answer.headers["etag"]
    assert etag.startswith('"') and "public" in answer.headers["cache-control"]
    again = served.get(f"/basemaps/{name}/13/{x}/{y}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag and not again.content


def test_a_vector_tile_comes_gzipped_as_stored(served):
    x, y = tile_for_point(117.06, 36.66, 12)
    answer = served.get(f"/basemaps/streets/12/{x}/{y}")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert answer.headers["content-encoding"] == "gzip"
    assert list(mapbox_vector_tile.decode(answer.content)) == ["landuse"]  # httpx undid the gzip


def test_a_vector_package_style_points_at_our_tile_route(served):
    style = served.get("/basemaps/streets/style.json").json()
    assert style["sources"]["streets"] == {
        "type": "vector",
        "tiles": ["/basemaps/streets/{z}/{x}/{y}"],
        "minzoom": ZOOMS[0],
        "maxzoom": ZOOMS[1],
        "bounds": pytest.approx(LIXIA),
    }
    assert "glyphs" not in style and style["layers"][0]["source"] == "streets"
    assert served.get("/basemaps/imagery/style.json").json()["code"] == "basemaps.no_such_layer"


def test_tiles_not_there_or_impossible(served):
    far = served.get("/basemaps/imagery/13/0/0")
    assert far.status_code == 404 and far.json()["code"] == "basemaps.no_tile"
    assert far.json()["detail"] == messages.text("basemaps.no_tile", layer="imagery", z=13, x=0, y=0)
    deep = served.get("/basemaps/imagery/18/0/0")
    assert deep.status_code == 404 and deep.json()["code"] == "basemaps.no_tile"
    assert served.get("/basemaps/imagery/3/8/0").json()["code"] == "tiles.no_such_tile"
    assert served.get("/basemaps/imagery/30/0/0").json()["code"] == "tiles.zoom_out_of_range"
    assert served.get("/basemaps/imagery/3/x/0").status_code == 422
    unknown = served.get("/basemaps/tdt/3/0/0")  # 天地图's tiles come from 天地图, not from us
    assert unknown.status_code == 404 and unknown.json()["code"] == "basemaps.no_such_layer"


def test_the_pmtiles_file_whole_with_ranges(served, packages):
    whole = (packages / "imagery.pmtiles").read_bytes()
    answer = served.get("/basemaps/imagery.pmtiles", headers={"Range": "bytes=0-126"})
    assert answer.status_code == 206 and answer.content == whole[:127]
    assert answer.headers["content-range"] == f"bytes 0-126/{len(whole)}"
    assert served.get("/basemaps/imagery.pmtiles").content == whole
    other = served.get("/basemaps/plain.pmtiles")
    assert other.status_code == 404 and other.json()["code"] == "basemaps.not_whole_package"


def test_the_routes_are_documented_and_open(served):
    paths = served.get("/openapi.json").json()["paths"]
    assert {
        "/basemaps/{layer}/{z}/{x}/{y}",
        "/basemaps/{layer}/style.json",
        "/basemaps/{layer}.pmtiles",
    } <= set(paths)
    x, y = tile_for_point(117.06, 36.66, 12)
    assert served.get(f"/basemaps/imagery/12/{x}/{y}", headers={"Authorization": ""}).status_code == 200


def test_the_app_does_not_start_on_a_bad_file(packages, setting, capsys):
    from server.main import create_app

    path = config_file(
        packages / "bad.toml", layer("amap", kind="xyz", url="https://a.example/{z}/{x}/{y}", crs="gcj02")
    )
    setting("GRIDOPS_BASEMAPS", str(path))
    with pytest.raises(SystemExit) as stopped:
        create_app()
    assert stopped.value.code == 1
    said_ = capsys.readouterr().err
    assert messages.text("basemaps.shifted_crs", layer="amap", crs="GCJ-02") in said_
    assert "Traceback" not in said_


# -- the command line ------------------------------------------------------------------------------------


@pytest.fixture
def demo_env(demo_clone_url, packages) -> dict[str, str]:
    path = config_file(
        packages / "basemaps.toml",
        layer("imagery", kind="package", path="imagery.pmtiles"),
        layer("streets", kind="package", path="streets.mbtiles", style="streets.json"),
    )
    return {**os.environ, "DATABASE_URL": demo_clone_url, "GRIDOPS_BASEMAPS": str(path), "COLUMNS": "200"}


def test_check_lists_the_layers_or_every_problem(demo_env, packages):
    good = gridops("basemaps", "check", env=demo_env)
    assert "imagery" in good.stderr and "底图配置没有问题：共 2 个图层" in good.stderr
    bad = config_file(
        packages / "bad.toml",
        layer("amap", kind="xyz", url="https://a.example/{z}/{x}/{y}", crs="gcj02"),
        layer("gone", kind="package", path="gone.pmtiles"),
    )
    refused = gridops("basemaps", "check", env={**demo_env, "GRIDOPS_BASEMAPS": str(bad)}, check=False)
    assert refused.returncode == 1
    assert said(messages.text("basemaps.shifted_crs", layer="amap", crs="GCJ-02"), refused.stderr)
    assert said(
        messages.text("basemaps.package_missing", layer="gone", path=str(packages / "gone.pmtiles")),
        refused.stderr,
    )
    assert said(messages.text("basemaps.config_invalid", path=str(bad), count=2), refused.stderr)
    assert "Traceback" not in refused.stderr
    serve = gridops("serve", "--port", "1", env={**demo_env, "GRIDOPS_BASEMAPS": str(bad)}, check=False)
    assert serve.returncode == 1 and said(
        messages.text("basemaps.config_invalid", path=str(bad), count=2), serve.stderr
    )


def _grid_bounds_tiles(path: Path) -> tuple[dict, set[tuple[int, int, int]]]:
    with sqlite3.connect(path) as db:
        meta = dict(db.execute("SELECT name, value FROM metadata"))
        rows = {
            (z, x, (1 << z) - 1 - row)
            for z, x, row in db.execute("SELECT zoom_level, tile_column, tile_row FROM tiles")
        }
    return meta, rows


def test_cut_a_grid_for_the_phone(demo_env, tmp_path):
    out = tmp_path / "phone.mbtiles"
    done = gridops(
        "basemaps", "cut", "imagery", "--grid", DISTRICT, "--zooms", "12-13", "--out", str(out), env=demo_env
    )
    assert "裁切瓦片" in done.stderr and str(out) in "".join(done.stderr.split())
    meta, tiles = _grid_bounds_tiles(out)
    assert (meta["format"], meta["minzoom"], meta["maxzoom"]) == ("png", "12", "13")
    west, south, east, north = (float(v) for v in meta["bounds"].split(","))
    assert west < 117.06 < east and south < 36.66 < north
    package = open_package(out)
    assert tiles and all(package.tile(*tile) == png(RED) for tile in tiles)
    assert {z for z, _, _ in tiles} == {12, 13}
    refused = gridops(
        "basemaps", "cut", "streets", "--grid", DISTRICT, "--out", str(out), env=demo_env, check=False
    )
    assert refused.returncode == 1 and said(
        messages.text("basemaps.cut_needs_raster", layer="streets"), refused.stderr
    )
    wrong = gridops(
        "basemaps",
        "cut",
        "imagery",
        "--grid",
        DISTRICT,
        "--zooms",
        "17-12",
        "--out",
        str(out),
        env=demo_env,
        check=False,
    )
    assert said(messages.text("basemaps.bad_zooms", zooms="17-12", max_zoom=22), wrong.stderr)
    nowhere = gridops(
        "basemaps", "cut", "imagery", "--grid", "000", "--out", str(out), env=demo_env, check=False
    )
    assert said(messages.text("grid.not_found", grid="000"), nowhere.stderr)


def test_pack_downloads_a_grid_from_a_tile_service(demo_clone_url, demo_env, packages, tmp_path):
    """The tile service is a GridOps serving a package: no request leaves the machine."""
    with live_server(
        demo_clone_url, tmp_path / "server.log", GRIDOPS_BASEMAPS=demo_env["GRIDOPS_BASEMAPS"]
    ) as server:
        path = config_file(
            tmp_path / "city.toml",
            layer("city", kind="xyz", url=f"{server.url}/basemaps/imagery/{{z}}/{{x}}/{{y}}", crs="cgcs2000"),
        )
        env = {**demo_env, "GRIDOPS_BASEMAPS": str(path)}
        out = tmp_path / "city.mbtiles"
        done = gridops(
            "basemaps",
            "pack",
            "--layer",
            "city",
            "--grid",
            DISTRICT,
            "--zooms",
            "12-14",
            "--out",
            str(out),
            env=env,
        )
        assert "下载瓦片" in done.stderr
        options = ("--layer", "city", "--grid", DISTRICT, "--zooms", "12-14")
        too_many = gridops(
            "basemaps", "pack", *options, "--out", str(tmp_path / "no.mbtiles"),
            env={**env, "GRIDOPS_BASEMAPS_PACK_MAX_TILES": "3"},
            check=False,
        )  # fmt: skip
    meta, tiles = _grid_bounds_tiles(out)
    assert meta["format"] == "png" and tiles and {z for z, _, _ in tiles} == {12, 13, 14}
    package = open_package(out)
    assert all(package.tile(*tile) == png(RED) for tile in tiles)
    assert too_many.returncode == 1 and not (tmp_path / "no.mbtiles").exists()
    assert said("超过上限 3 个", too_many.stderr)


def test_pack_retries_politely_then_says_which_tile_failed(packages, tmp_path):
    from server.basemaps.pack import TRIES, pack

    waits = []
    answers = iter([503, 200] + [500] * 10)

    def service(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        return httpx.Response(
            status, content=png(RED) if status == 200 else b"", headers={"Retry-After": "7"}
        )

    tdt = config.Layer(
        id="t", name="测试", kind="xyz", group="base", crs="wgs84", url="http://tiles.test/{z}/{x}/{y}"
    )
    bounds = (117.05, 36.65, 117.051, 36.651)
    options = {
        "grid": "g",
        "bounds": bounds,
        "progress": lambda *a: None,
        "max_tiles": 10,
        "sleep": waits.append,
    }
    with httpx.Client(transport=httpx.MockTransport(service)) as http:
        assert pack(tdt, zooms=(10, 10), out=tmp_path / "a.mbtiles", http=http, **options) == 1
        assert waits == [7.0]  # the service's Retry-After, more than our own first wait
        waits.clear()
        with pytest.raises(Invalid) as failed:
            pack(tdt, zooms=(11, 11), out=tmp_path / "b.mbtiles", http=http, **options)
    assert failed.value.code == "basemaps.download_failed" and failed.value.params["tries"] == TRIES
    assert failed.value.params["reason"] == "服务器答复 500"
    assert waits == [7.0, 14.0, 28.0] and not list(tmp_path.glob("b.mbtiles*"))
