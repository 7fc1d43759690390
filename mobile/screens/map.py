"""The map: my grids from the cache with their names, my position and its accuracy, today's track, my
tasks (squares) and my open reports (dots) coloured by their deadline light. Tapping a marker opens its
case."""

from __future__ import annotations

import math

from kivy.metrics import dp

from mobile.screens.gridmap import Spot, mercator
from mobile.screens.widgets import AppScreen

TAP_REACH_DP = 20  # a tap this close to a marker opens its case
CLOSED_STATES = ("closed", "voided", "merged")  # my reports in these states leave the map


class MapScreen(AppScreen):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.spots: dict[str, Spot] = {}
        self.ids.panel.map.bind(on_tap=self.tapped)
        self.ids.panel.bind(layer=lambda *args: self.refresh())  # another layer: its grids and their count

    @property
    def map(self):
        return self.ids.panel.map

    follows = ("sync_changes",)

    def on_enter(self, *args) -> None:
        super().on_enter(*args)
        self.app.bind(fix=self._moved)

    def on_leave(self, *args) -> None:
        super().on_leave(*args)
        self.app.unbind(fix=self._moved)

    def _moved(self, app, fix) -> None:
        self.map.position = fix
        self.map.track = self.app.services.patrol.track()

    def refresh(self) -> None:
        services = self.app.services
        self.ids.panel.show_grids(services.cache)
        self.map.position = self.app.fix
        self.map.track = services.patrol.track()
        spots = {
            c["code"]: Spot(c["lon"], c["lat"], c.get("light"))
            for c in services.cache.reports()
            if c["state"] not in CLOSED_STATES
        }
        spots |= {
            t["code"]: Spot(t["lon"], t["lat"], t.get("light"), task=True) for t in services.cache.tasks()
        }
        self.spots = spots
        self.map.spots = list(spots.values())
        self.ids.legend.text = (
            f"{len(self.map.outlines)} 个网格 · 任务 {sum(s.task for s in spots.values())}（方块）"
            f" · 我的上报 {sum(not s.task for s in spots.values())}（圆点）"
        )

    def tapped(self, map_widget, lon: float, lat: float) -> None:
        """Open the case of the marker nearest the tap, if one is within reach."""
        view = map_widget.view()
        tap = view.to_px(*mercator(lon, lat))
        near = [
            (math.dist(tap, view.to_px(*mercator(spot.lon, spot.lat))), code)
            for code, spot in self.spots.items()
        ]
        if near and (best := min(near))[0] <= dp(TAP_REACH_DP):
            self.app.show("case", code=best[1])
