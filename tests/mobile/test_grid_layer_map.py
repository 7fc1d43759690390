"""The map of my grids in layers, in the real (offscreen) window against a live server on the demo city with
its grid layers loaded (server.grid.demo): the demo inspector works in 城市管理网格 (his village and its unit
grids), 责任网格 (his village's first responsibility grid) and 生态环境网格; the layer button shows each
layer's grids in turn, and the grid drawn around his position changes with them. An inspector working in
one layer has no layer button."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing

import pytest
import shapely

from server.auth.models import User
from server.database import new_session
from server.grid.demo import load_demo_layers
from server.users import service as user_service
from tests.mobile.conftest import INSPECTOR, PASSWORD, http_login
from tests.server.case_world import make_user


@pytest.fixture(scope="module")
def mobile_db_url(mobile_db_url) -> Iterator[str]:
    """The module's clone of the demo city, with the demo's grid layers and their people."""
    with new_session(mobile_db_url) as db:
        load_demo_layers(db=db)
        db.commit()
    yield mobile_db_url


@pytest.fixture(scope="module")
def my_grids(server) -> list[dict]:
    """The demo inspector's grids as the phone syncs them (GeoJSON features)."""
    with closing(http_login(server, INSPECTOR)) as inspector:
        return inspector.get("/api/sync/grids").json()["features"]


@pytest.fixture(scope="module")
def duty(my_grids) -> dict:
    """The inspector's responsibility grid."""
    (grid,) = [f for f in my_grids if f["properties"]["layer"] == "duty"]
    return grid


@pytest.fixture(scope="module")
def unit(my_grids, duty) -> dict:
    """The first unit grid of the inspector's village inside his responsibility grid: the simulated walk
    (conftest's ``beat``) is in both."""
    inside = shapely.geometry.shape(duty["geometry"]).buffer(1e-7)
    units = [
        f
        for f in my_grids
        if f["properties"]["level"] == "unit" and inside.contains(shapely.geometry.shape(f["geometry"]))
    ]
    return min(units, key=lambda f: f["properties"]["code"])


@pytest.fixture(scope="module")
def one_layer_inspector(mobile_db_url, unit) -> str:
    """The login (phone) of a new inspector of ``unit`` in 城市管理网格 only."""
    with new_session(mobile_db_url) as db:
        principal = make_user(db, ["inspector"], inspects=unit["properties"]["code"], name="单层网格员")
        user = db.get(User, principal.user_id)
        user_service.set_password(db=db, user=user, password=PASSWORD)
        db.commit()
        return user.phone


def opened_map(d, server_url: str, login: str):
    """Log in as ``login``, wait for a sync, open the map and wait for my grids and position on it;
    return the map screen's panel."""
    from tests.mobile.app_driver import log_in, synced

    log_in(d, server_url, login)
    synced(d)
    d.nav("map")
    panel = d.screen.ids.panel
    d.until(lambda: panel.map.position is not None and panel.map.drawn_outlines, "my grids and position")
    return panel


def within(widget, panel) -> bool:
    """Whether ``widget`` lies wholly inside ``panel`` on the window."""
    (left, bottom), (x, y) = widget.to_window(*widget.pos), panel.to_window(*panel.pos)
    right, top = left + widget.width, bottom + widget.height
    return x <= left and y <= bottom and right <= x + panel.width and top <= y + panel.height


def labels(grid_map) -> set[str]:
    return {o.label for o in grid_map.outlines}


def under_me(grid_map) -> str:
    """The label of the deepest grid drawn around my position."""
    from mobile.screens.gridmap import mercator

    me = shapely.Point(mercator(grid_map.position.lon, grid_map.position.lat))
    around = [o for o in grid_map.outlines if any(shapely.Polygon(ring).contains(me) for ring in o.rings)]
    return max(around, key=lambda o: o.depth).label


def test_the_layer_button_shows_each_layers_grids(drive, server, my_grids, unit, duty):
    from tests.mobile.layout import layout_problems

    d = drive()
    panel = opened_map(d, server.url, INSPECTOR)
    grid_map, legend = panel.map, d.screen.ids.legend
    assert [x["name"] for x in panel.layers] == ["城市管理网格", "责任网格", "生态环境网格"]
    button = d.find("MapButton", text="城市")
    assert button.opacity == 1 and not button.disabled and within(button, panel)
    assert layout_problems(d.screen) == []

    grids = [f["properties"] for f in my_grids]
    villages = {g["code"]: g["name"] for g in grids if g["level"] == "village"}
    village = villages.pop(unit["properties"]["parent_code"])
    (env_village,) = villages.values()  # the next demo village, mine in 生态环境网格
    unit_labels = {g["name"].removeprefix(village) for g in grids if g["level"] == "unit"}
    my_unit = unit["properties"]["name"].removeprefix(village)

    # 城市管理网格: my village's unit grids, no responsibility grid; my position in my unit
    my_duty = duty["properties"]["name"]  # (its village is not mine in that layer: its whole name shows)
    assert my_duty == f"{village}第01责任网格"
    assert unit_labels <= labels(grid_map) and my_duty not in labels(grid_map)
    assert env_village not in labels(grid_map)  # mine in 生态环境网格 only
    assert under_me(grid_map) == my_unit
    assert grid_map.drawn_outlines == len(grid_map.outlines) and grid_map.drawn_labels > 0
    assert legend.text.startswith(f"{len(grid_map.outlines)} 个网格")

    # 责任网格: my responsibility grid in place of the units; my position in it
    d.tap(button)
    assert panel.layer["code"] == "duty" and button.text == "责任"
    d.until(lambda: my_duty in labels(grid_map), "the responsibility grid drawn")
    assert not unit_labels & labels(grid_map)
    assert under_me(grid_map) == my_duty
    d.until(lambda: grid_map.drawn_outlines == len(grid_map.outlines), "the layer's grids drawn")
    assert legend.text.startswith(f"{len(grid_map.outlines)} 个网格")

    # 生态环境网格 (no grids of its own): the village I work in there, no unit or responsibility grid
    d.tap(button)
    assert panel.layer["code"] == "env" and button.text == "生态"
    d.until(lambda: env_village in labels(grid_map), "the environmental layer's village drawn")
    assert not (unit_labels | {my_duty, village}) & labels(grid_map)  # nor my village of the others
    assert legend.text.startswith(f"{len(grid_map.outlines)} 个网格")

    # and round to 城市管理网格
    d.tap(button)
    assert panel.layer["code"] == "urban" and button.text == "城市"
    d.until(lambda: unit_labels <= labels(grid_map), "the unit grids drawn again")
    assert under_me(grid_map) == my_unit

    # the report's small map (190 dp high) holds the layer button too
    d.nav("report")
    small = d.screen.ids.panel
    d.until(lambda: small.map.drawn_outlines, "the report's small map")
    assert within(d.find("MapButton", root=small, text="城市"), small)
    assert layout_problems(d.screen) == []


def test_one_layer_shows_no_layer_button(drive, server, one_layer_inspector, unit):
    d = drive()
    panel = opened_map(d, server.url, one_layer_inspector)
    assert [x["code"] for x in panel.layers] == ["urban"]
    button = d.find("MapButton", text="")
    assert button.opacity == 0 and button.disabled and tuple(button.size) == (0, 0)
    assert [o.label for o in panel.map.outlines] == [unit["properties"]["name"]]
    assert panel.map.drawn_outlines == 1
