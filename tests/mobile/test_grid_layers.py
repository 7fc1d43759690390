"""The phone's grids in layers: the cache keeps each grid's layer and the layers the inspector works in;
the offline locator works per layer (the default one unless told); an older local database fetches its
grids again to learn their layers."""

from __future__ import annotations

import sqlite3
from contextlib import closing

from mobile.services.cache import Cache
from mobile.services.store import SCHEMA_VERSION, Store, user_cursor

LAYERS = [
    {"code": "urban", "name": "城市管理网格", "is_default": True},
    {"code": "duty", "name": "责任网格", "is_default": False},
]


def square(x0: float, y0: float, x1: float, y1: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def feature(code, level, parent, box, layer=None, layer_name=None) -> dict:
    props = {"code": code, "name": code, "level": level, "parent_code": parent}
    return {"properties": props | {"layer": layer, "layer_name": layer_name}, "geometry": square(*box)}


def test_the_offline_locator_works_per_layer(tmp_path):
    store = Store(tmp_path / "phone.sqlite")
    store.set_owner(7)
    cache = Cache(store)
    village = "370102001001"
    features = [
        feature(village, "village", None, (117.0, 36.0, 117.02, 36.02)),
        feature(f"{village}001", "unit", village, (117.0, 36.0, 117.01, 36.02), "urban", "城市管理网格"),
        feature(f"{village}002", "unit", village, (117.01, 36.0, 117.02, 36.02), "urban", "城市管理网格"),
        feature(f"{village}01", "duty", village, (117.0, 36.01, 117.02, 36.02), "duty", "责任网格"),
        feature(f"{village}02", "duty", village, (117.0, 36.0, 117.02, 36.01), "duty", "责任网格"),
    ]
    cache.apply_grids([f["properties"]["code"] for f in features], features, LAYERS)
    assert cache.grid_layers() == LAYERS
    assert [g.code for g in cache.grid_at(117.005, 36.015)] == [village, f"{village}001"]
    assert [g.code for g in cache.grid_at(117.005, 36.015, "duty")] == [village, f"{village}01"]
    assert [g.code for g in cache.grid_at(117.015, 36.005, "duty")] == [village, f"{village}02"]
    assert {g.code for g in cache.grid_records("duty")} == {village, f"{village}01", f"{village}02"}
    # another user of the phone has no layers of their own yet
    store.set_owner(8)
    assert cache.grid_layers() == [] and cache.grid_at(117.005, 36.015) == []


def test_a_version_4_phone_fetches_its_grids_again(tmp_path):
    path = tmp_path / "phone.sqlite"
    Store(path).close()
    with closing(sqlite3.connect(path)) as db:
        db.execute("ALTER TABLE grid DROP COLUMN layer")
        db.execute("ALTER TABLE grid DROP COLUMN layer_name")
        db.execute("INSERT INTO kv VALUES (?, '\"2026-12-01T00:00:00Z\"')", (user_cursor("grids", 7),))
        db.execute("PRAGMA user_version=4")
        db.commit()
    store = Store(path)
    assert store.query("PRAGMA user_version")[0][0] == SCHEMA_VERSION
    assert store.get(user_cursor("grids", 7)) is None
    assert {"layer", "layer_name"} <= {row["name"] for row in store.query("PRAGMA table_info(grid)")}
