"""The map's grid layer switcher: the same view shows the unit grids of 城市管理网格, then the
responsibility grids of a second layer (the demo's 责任网格 over one village)."""

from __future__ import annotations

import shapely
from geoalchemy2.shape import to_shape
from sqlalchemy import select

from grids.topology import TopologyReport
from server.database import new_session
from server.grid import importer
from server.grid.demo import DUTY, RESPONSIBILITY_LEVEL, UNIT_DISTRICT, responsibility_grids
from server.grid.models import CURRENT, Grid
from tests.server.live import live_server
from tests.web.test_map import SCREENSHOTS, assert_map_drawn, log_in, rendered


def test_the_map_switches_grid_layers(demo_clone_url, tmp_path, tab):
    with new_session(demo_clone_url) as db:
        village = db.scalar(
            select(Grid)
            .where(CURRENT, Grid.level == "village", Grid.code.startswith(UNIT_DISTRICT))
            .order_by(Grid.code)
        )
        inside = to_shape(village.geom).representative_point()
        units = db.scalars(select(Grid.code).where(CURRENT, Grid.parent_code == village.code))
        duty = responsibility_grids(importer.stored_records(db=db, codes=units).values())
        importer.add_layer(db=db, code=DUTY, name="责任网格", levels=RESPONSIBILITY_LEVEL)
        result = importer.import_grids(db=db, records=duty, report=TopologyReport(), layer=DUTY)
        assert result.report.ok, result.report.format_text()

    page = tab.page
    with live_server(demo_clone_url, tmp_path / "server.log") as server:
        page.goto(f"{server.url}/")
        log_in(page)
        page.evaluate("(c) => window.gridopsMap.jumpTo({center: c, zoom: 16})", [inside.x, inside.y])
        unit_names = {p["name"] for p in rendered(page, "grids-fill", "unit")}
        assert any(name.startswith(village.name) for name in unit_names)

        page.select_option("#filters [name=grid_layer]", DUTY)
        drawn = {p["name"] for p in rendered(page, "grids-fill", "duty")}
        assert drawn and drawn <= {g.name for g in duty}
        # what lies in the view: every responsibility grid of the village touching it
        box = shapely.box(*page.evaluate("window.gridopsMap.getBounds().toArray().flat()"))
        assert drawn == {g.name for g in duty if g.geometry.intersects(box)}
        page.screenshot(path=SCREENSHOTS / "map-grid-layer-duty.png")
        assert_map_drawn(SCREENSHOTS / "map-grid-layer-duty.png", page)

        page.select_option("#filters [name=grid_layer]", "urban")
        assert {p["name"] for p in rendered(page, "grids-fill", "unit")} == unit_names
    assert tab.errors == []
