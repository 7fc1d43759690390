"""The map of my grids, drawn from the polygons cached on the phone: outlines with their names, my
position with its accuracy circle, the patrol track, tasks and reports as markers coloured by their
deadline light, and a pin. The base is a plain background, or raster tiles from a local MBTiles file
(kivy_garden.mapview) when one is configured: never tiles from the internet.

Everything is drawn in Web Mercator (the tiles' projection): each grid is projected once, and a pan or a
zoom only moves and scales the projected points."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from kivy.app import App
from kivy.clock import Clock
from kivy.core.text import Label as CoreLabel
from kivy.graphics import Color, Ellipse, Line, Rectangle, Triangle
from kivy.metrics import dp, sp
from kivy.properties import ListProperty, NumericProperty, ObjectProperty
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.stencilview import StencilView
from kivy_garden.mapview import MapLayer, MapView
from kivy_garden.mapview.mbtsource import MBTilesMapSource

from grids.records import GridRecord
from mobile.platform.gps import Fix
from mobile.screens.widgets import LIGHT_COLORS, load_kv
from mobile.services.cache import Cache
from mobile.services.store import user_cursor

EARTH_RADIUS_M = 6_378_137.0  # the sphere of Web Mercator (EPSG:3857)
MAX_LABELS = 100
TAP_SLOP_DP = 8  # a touch that moved less than this is a tap, not a drag
BACKGROUND = (0.93, 0.93, 0.9, 1)
INNER = (0.35, 0.55, 0.85, 0.9)  # outlines of the deepest grids shown
OUTER = (0.1, 0.25, 0.6, 1)  # outlines of the grids above them
TRACK = (0.95, 0.45, 0.05, 0.9)
ME = (0.15, 0.45, 0.95, 1)
PIN = (0.85, 0.1, 0.1, 1)


def mercator(lon: float, lat: float) -> tuple[float, float]:
    """WGS 84 degrees to Web Mercator metres."""
    return (
        EARTH_RADIUS_M * math.radians(lon),
        EARTH_RADIUS_M * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)),
    )


def lonlat(x: float, y: float) -> tuple[float, float]:
    """Web Mercator metres to WGS 84 degrees."""
    return math.degrees(x / EARTH_RADIUS_M), math.degrees(
        2 * math.atan(math.exp(y / EARTH_RADIUS_M)) - math.pi / 2
    )


def _mercator_array(coords: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(coords[:, 0]), np.radians(coords[:, 1])
    return np.column_stack((EARTH_RADIUS_M * lon, EARTH_RADIUS_M * np.log(np.tan(np.pi / 4 + lat / 2))))


@dataclass(frozen=True)
class Spot:
    """A marker: a task (square) or one of my reports (round), coloured by its deadline light."""

    lon: float
    lat: float
    light: str | None
    task: bool = False


@dataclass(frozen=True)
class Outline:
    """A grid ready to draw: its label, its depth below the top cached grid, its outer rings in Web
    Mercator metres, their bounds, and where its label goes (a point inside it)."""

    label: str
    depth: int
    rings: tuple[np.ndarray, ...]
    bounds: tuple[float, float, float, float]
    label_at: tuple[float, float]


def outlines(records: Sequence[GridRecord]) -> list[Outline]:
    """Project cached grids for drawing. A grid's label drops its parent's name when it starts with it
    ("历山路社区第012网格" under "历山路社区" reads "第012网格")."""
    by_code = {r.code: r for r in records}
    shapes = []
    for record in records:
        depth, parent = 0, by_code.get(record.parent_code)
        while parent is not None:
            depth, parent = depth + 1, by_code.get(parent.parent_code)
        rings = tuple(_mercator_array(np.asarray(p.exterior.coords)) for p in record.geometry.geoms)
        points = np.vstack(rings)
        label = record.name
        above = by_code.get(record.parent_code)
        if above is not None and label.startswith(above.name) and len(label) > len(above.name):
            label = label[len(above.name) :]
        inside = record.geometry.representative_point()
        shapes.append(
            Outline(
                label=label,
                depth=depth,
                rings=rings,
                bounds=(*points.min(axis=0), *points.max(axis=0)),
                label_at=mercator(inside.x, inside.y),
            )
        )
    return shapes


@dataclass(frozen=True)
class View:
    """Web Mercator metres to the widget's window pixels: ``x * scale + dx``, ``y * scale + dy``."""

    scale: float
    dx: float
    dy: float

    def to_px(self, x: float, y: float) -> tuple[float, float]:
        return x * self.scale + self.dx, y * self.scale + self.dy

    def to_mercator(self, px: float, py: float) -> tuple[float, float]:
        return (px - self.dx) / self.scale, (py - self.dy) / self.scale


class MapBase(StencilView):
    """What both maps draw, and the ``on_tap(lon, lat)`` event of a tap on the map.

    Set the grids with :meth:`set_grids`; ``position`` (a GPS fix), ``track`` ([(lon, lat)]), ``spots``
    ([:class:`Spot`]) and ``pin`` ((lon, lat)) redraw when changed. Until the inspector pans or zooms,
    the view fits the grids (or, with none, centres on the position). After each drawing,
    ``drawn_outlines`` and ``drawn_labels`` say how many grids and names are on the map.

    ``around`` ((lon, lat)) makes the view fit ``around_m`` metres about that point instead of the
    grids (the report's small map follows its pin that way)."""

    position = ObjectProperty(None, allownone=True)
    track = ListProperty()
    spots = ListProperty()
    pin = ObjectProperty(None, allownone=True)
    around = ObjectProperty(None, allownone=True)
    around_m = NumericProperty(300)

    def __init__(self, **kwargs) -> None:
        self.register_event_type("on_tap")
        super().__init__(**kwargs)
        self.outlines: list[Outline] = []
        self.drawn_outlines = 0
        self.drawn_labels = 0
        self.auto_fit = True
        self._fitted: tuple | None = None  # the box and size the view was last fitted to
        self._textures: dict[str, object] = {}
        self.redraw = Clock.create_trigger(self._redraw)
        self.bind(
            position=self.redraw, track=self.redraw, spots=self.redraw, pin=self.redraw, around=self.redraw
        )
        self.bind(pos=self.redraw, size=self.redraw)

    def on_tap(self, lon: float, lat: float) -> None:
        """A tap on the map at (lon, lat)."""

    def set_grids(self, records: Sequence[GridRecord]) -> None:
        self.outlines = outlines(records)
        self.auto_fit, self._fitted = True, None
        self.redraw()

    def focus(self) -> tuple[float, float, float, float] | None:
        """The Web Mercator box to fit: around ``around``, else the grids, else about the position."""
        if self.around is None and self.outlines:
            boxes = np.array([o.bounds for o in self.outlines])
            return (*boxes[:, :2].min(axis=0), *boxes[:, 2:].max(axis=0))
        middle = self.around or ((self.position.lon, self.position.lat) if self.position else None)
        if middle is None:
            return None
        x, y = mercator(*middle)
        half = self.around_m / 2 / math.cos(math.radians(middle[1]))  # ground metres in Web Mercator ones
        return x - half, y - half, x + half, y + half

    def _redraw(self, *args) -> None:
        if self.width < 2 or self.height < 2:
            return
        box = self.focus() if self.auto_fit else None
        if box is not None and (box, tuple(self.size)) != self._fitted:  # once per box and size
            self.fit(box)
            self._fitted = box, tuple(self.size)
        self.paint(self.view())

    # -- what a kind of map provides --------------------------------------------------------------------

    def view(self) -> View:
        raise NotImplementedError

    def fit(self, box: tuple[float, float, float, float]) -> None:
        """Show the Web Mercator box ``(minx, miny, maxx, maxy)`` whole."""
        raise NotImplementedError

    def zoom_by(self, factor: float) -> None:
        """Zoom in (factor > 1) or out about the middle of the map."""
        raise NotImplementedError

    def center_on(self, lon: float, lat: float) -> None:
        raise NotImplementedError

    def paint(self, view: View) -> None:
        raise NotImplementedError

    # -- drawing --------------------------------------------------------------------------------------

    def draw_content(self, view: View) -> None:
        """Draw the grids, their names, the track, the markers, my position and the pin in the current
        canvas context (the caller opened it)."""
        minx, miny = view.to_mercator(self.x, self.y)
        maxx, maxy = view.to_mercator(self.right, self.top)
        visible = [
            o
            for o in self.outlines
            if o.bounds[0] <= maxx and o.bounds[2] >= minx and o.bounds[1] <= maxy and o.bounds[3] >= miny
        ]
        deepest = max((o.depth for o in visible), default=0)
        offset = np.array([view.dx, view.dy])
        for outline in sorted(visible, key=lambda o: -o.depth):
            inner = outline.depth == deepest and deepest > 0
            Color(*(INNER if inner else OUTER))
            for ring in outline.rings:
                Line(
                    points=(ring * view.scale + offset).ravel().tolist(),
                    close=True,
                    width=1 if inner else 1.6,
                )
        self.drawn_outlines = len(visible)
        self.drawn_labels = self._draw_labels(view, visible, (minx, miny, maxx, maxy))

        if len(self.track) > 1:
            Color(*TRACK)
            Line(points=[c for lon, lat in self.track for c in view.to_px(*mercator(lon, lat))], width=2)
        for spot in self.spots:
            x, y = view.to_px(*mercator(spot.lon, spot.lat))
            size = dp(14)
            Color(1, 1, 1, 1)
            (Rectangle if spot.task else Ellipse)(
                pos=(x - size / 2 - 2, y - size / 2 - 2), size=(size + 4, size + 4)
            )
            Color(*LIGHT_COLORS[spot.light])
            (Rectangle if spot.task else Ellipse)(pos=(x - size / 2, y - size / 2), size=(size, size))
        if self.position is not None:
            self._draw_position(view, self.position)
        if self.pin is not None:
            x, y = view.to_px(*mercator(*self.pin))
            Color(*PIN)
            Triangle(points=[x, y, x - dp(7), y + dp(16), x + dp(7), y + dp(16)])
            Ellipse(pos=(x - dp(9), y + dp(12)), size=(dp(18), dp(18)))
            Color(1, 1, 1, 1)
            Ellipse(pos=(x - dp(4), y + dp(17)), size=(dp(8), dp(8)))

    def _draw_position(self, view: View, fix: Fix) -> None:
        x, y = view.to_px(*mercator(fix.lon, fix.lat))
        if fix.accuracy_m:  # a ground metre is 1 / cos(lat) Web Mercator metres
            radius = fix.accuracy_m * view.scale / math.cos(math.radians(fix.lat))
            Color(ME[0], ME[1], ME[2], 0.15)
            Ellipse(pos=(x - radius, y - radius), size=(2 * radius, 2 * radius))
            Color(ME[0], ME[1], ME[2], 0.6)
            Line(circle=(x, y, radius), width=1)
        Color(1, 1, 1, 1)
        Ellipse(pos=(x - dp(8), y - dp(8)), size=(dp(16), dp(16)))
        Color(*ME)
        Ellipse(pos=(x - dp(6), y - dp(6)), size=(dp(12), dp(12)))

    def _draw_labels(self, view: View, visible: list[Outline], box: tuple[float, float, float, float]) -> int:
        """Names at the grids' label points, deepest level first as long as that level has at most
        MAX_LABELS names in view, then the levels above; a name that would overlap one already placed
        is left out."""
        minx, miny, maxx, maxy = box
        by_depth: dict[int, list[Outline]] = {}
        for o in visible:
            if minx <= o.label_at[0] <= maxx and miny <= o.label_at[1] <= maxy:
                by_depth.setdefault(o.depth, []).append(o)
        chosen: list[Outline] = []
        for depth in sorted(by_depth, reverse=True):
            if len(by_depth[depth]) <= MAX_LABELS - len(chosen):
                chosen += by_depth[depth]
        placed: list[tuple[float, float, float, float]] = []
        for outline in chosen:
            texture = self._texture(outline.label, outline.depth == max(by_depth))
            x, y = view.to_px(*outline.label_at)
            w, h = texture.size
            rect = (x - w / 2, y - h / 2, x + w / 2, y + h / 2)
            if any(r[0] < rect[2] and rect[0] < r[2] and r[1] < rect[3] and rect[1] < r[3] for r in placed):
                continue
            placed.append(rect)
            Color(1, 1, 1, 0.6)
            Rectangle(pos=(rect[0] - 2, rect[1]), size=(w + 4, h))
            Color(1, 1, 1, 1)
            Rectangle(texture=texture, pos=(rect[0], rect[1]), size=(w, h))
        return len(placed)

    def _texture(self, text: str, inner: bool):
        key = f"{int(inner)}{text}"
        if key not in self._textures:
            label = CoreLabel(
                text=text,
                font_size=sp(11) if inner else sp(13),
                bold=not inner,
                color=INNER if inner else OUTER,
            )
            label.refresh()
            self._textures[key] = label.texture
        return self._textures[key]


class GridMap(MapBase):
    """The grids on a plain background: drag to pan, pinch or the mouse wheel to zoom, tap to pick."""

    MIN_SCALE, MAX_SCALE = 1 / 500, 8.0  # pixels per Web Mercator metre

    def __init__(self, **kwargs) -> None:
        self._scale = 0.1
        self._cx = self._cy = 0.0  # the Web Mercator point in the middle of the map
        self._touches: list = []
        super().__init__(**kwargs)

    def view(self) -> View:
        return View(
            self._scale, self.center_x - self._cx * self._scale, self.center_y - self._cy * self._scale
        )

    def fit(self, box: tuple[float, float, float, float]) -> None:
        minx, miny, maxx, maxy = box
        self._cx, self._cy = (minx + maxx) / 2, (miny + maxy) / 2
        scale = 0.92 * min(self.width / max(maxx - minx, 1.0), self.height / max(maxy - miny, 1.0))
        self._scale = min(max(scale, self.MIN_SCALE), self.MAX_SCALE)

    def zoom_by(self, factor: float, anchor: tuple[float, float] | None = None) -> None:
        """Zoom by ``factor``, keeping the window point ``anchor`` (default: the middle) in place."""
        ax, ay = anchor or self.center
        before = self.view().to_mercator(ax, ay)
        self._scale = min(max(self._scale * factor, self.MIN_SCALE), self.MAX_SCALE)
        after = self.view().to_mercator(ax, ay)
        self._cx += before[0] - after[0]
        self._cy += before[1] - after[1]
        self.auto_fit = False
        self.redraw()

    def center_on(self, lon: float, lat: float) -> None:
        self._cx, self._cy = mercator(lon, lat)
        self.auto_fit = False
        self.redraw()

    def paint(self, view: View) -> None:
        self.canvas.clear()
        with self.canvas:
            Color(*BACKGROUND)
            Rectangle(pos=self.pos, size=self.size)
            self.draw_content(view)

    def on_touch_down(self, touch) -> bool:
        if not self.collide_point(*touch.pos):
            return False
        if touch.is_mouse_scrolling:
            self.zoom_by(1.25 if touch.button == "scrolldown" else 0.8, touch.pos)
            return True
        touch.grab(self)
        touch.ud[self] = 0.0  # how far it moved
        self._touches.append(touch)
        return True

    def on_touch_move(self, touch) -> bool:
        if touch.grab_current is not self:
            return False
        touch.ud[self] += abs(touch.dx) + abs(touch.dy)
        if len(self._touches) == 1:
            self._cx -= touch.dx / self._scale
            self._cy -= touch.dy / self._scale
            self.auto_fit = False
            self.redraw()
        elif len(self._touches) == 2:  # pinch: scale by how the distance between the fingers changed
            other = self._touches[0] if self._touches[1] is touch else self._touches[1]
            before = math.dist((touch.px, touch.py), other.pos)
            if before > 0:
                middle = ((touch.x + other.x) / 2, (touch.y + other.y) / 2)
                self.zoom_by(math.dist(touch.pos, other.pos) / before, middle)
        return True

    def on_touch_up(self, touch) -> bool:
        if touch.grab_current is not self:
            return False
        touch.ungrab(self)
        alone = len(self._touches) == 1
        self._touches.remove(touch)
        if alone and touch.ud[self] < dp(TAP_SLOP_DP):
            self.dispatch("on_tap", *lonlat(*self.view().to_mercator(*touch.pos)))
        return True


class Overlay(MapLayer):
    """The layer above the tiles where the grids are drawn: ``redraw`` is called whenever the tiles
    move."""

    redraw = ObjectProperty()

    def reposition(self) -> None:
        self.redraw()


class TiledGridMap(MapBase):
    """The grids over raster tiles read from a local MBTiles file (Web Mercator tiles only). The tiles
    pan and zoom as kivy_garden.mapview does it; the grids are drawn on a layer above them."""

    def __init__(self, mbtiles: Path, cache_dir: Path, **kwargs) -> None:
        super().__init__(**kwargs)
        source = MBTilesMapSource(str(mbtiles), cache_dir=str(cache_dir))
        # The map is not held within the file's bounds: kivy_garden.mapview keeps them as a one-shot map()
        # iterator (used up by the first move, the next one fails), and a package cut for one grid is smaller
        # than the screen, which the hold would push off the grid. Beyond the tiles the grids still show.
        source.bounds = None
        if source.is_xy:
            raise ValueError(f"{mbtiles}: only Web Mercator tiles can be shown, not the 'xy' projection")
        self.source = source
        self.mapview: MapView = MapView(
            map_source=source,
            zoom=source.default_zoom,
            lat=source.default_lat,
            lon=source.default_lon,
            cache_dir=str(cache_dir),
        )
        self._overlay = Overlay(redraw=self.redraw)
        self.mapview.add_layer(self._overlay, mode="window")
        self.add_widget(self.mapview)
        self.bind(pos=self._place, size=self._place)

    def _place(self, *args) -> None:
        self.mapview.pos, self.mapview.size = self.pos, self.size

    def view(self) -> View:
        mv = self.mapview
        x0, y0 = mv.get_window_xy_from(0.0, 0.0, mv.zoom)
        x1, _ = mv.get_window_xy_from(0.0, 90.0, mv.zoom)
        return View((x1 - x0) / mercator(90.0, 0.0)[0], x0, y0)

    def fit(self, box: tuple[float, float, float, float]) -> None:
        minx, miny, maxx, maxy = box
        world = 2 * math.pi * EARTH_RADIUS_M
        tile = self.source.dp_tile_size
        span = max((maxx - minx) / self.width, (maxy - miny) / self.height, 1e-9)  # metres per pixel
        zoom = math.floor(math.log2(world / (tile * span * 1.08)))
        self.mapview.zoom = min(max(zoom, self.source.get_min_zoom()), self.source.get_max_zoom())
        lon, lat = lonlat((minx + maxx) / 2, (miny + maxy) / 2)
        self.mapview.center_on(lat, lon)

    def zoom_by(self, factor: float) -> None:
        step = 1 if factor > 1 else -1
        zoom = self.mapview.zoom + step
        self.mapview.zoom = min(max(zoom, self.source.get_min_zoom()), self.source.get_max_zoom())
        self.auto_fit = False

    def center_on(self, lon: float, lat: float) -> None:
        self.mapview.center_on(lat, lon)
        self.auto_fit = False

    def paint(self, view: View) -> None:
        self._overlay.canvas.clear()
        with self._overlay.canvas:
            self.draw_content(view)

    def on_touch_down(self, touch) -> bool:
        if self.collide_point(*touch.pos) and not touch.is_mouse_scrolling:
            touch.ud[self] = touch.pos
        return super().on_touch_down(touch)

    def on_touch_move(self, touch) -> bool:
        start = touch.ud.get(self)
        if start is not None and math.dist(start, touch.pos) >= dp(TAP_SLOP_DP):
            self.auto_fit = False  # the inspector moves the map: it stays where they put it
        return super().on_touch_move(touch)

    def on_touch_up(self, touch) -> bool:
        handled = super().on_touch_up(touch)
        start = touch.ud.pop(self, None) if touch.grab_current is None else None
        if start is not None and math.dist(start, touch.pos) < dp(TAP_SLOP_DP):
            self.dispatch("on_tap", *lonlat(*self.view().to_mercator(*touch.pos)))
            return True
        return handled


class MapPanel(FloatLayout):
    """A map with zoom buttons, a "centre on me" button and, for a user working in several grid layers
    (城市管理网格, 生态环境网格 ...), a button that shows the next layer's grids. The map is a
    :class:`TiledGridMap` when the app has an MBTiles file, else a :class:`GridMap`."""

    map = ObjectProperty(None)
    layers = ListProperty()  # the grid layers I work in, the default one first
    layer = ObjectProperty(None, allownone=True)  # the one shown (None: the default one)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._grids_version: tuple | None = None
        app = App.get_running_app()
        if app.mbtiles is not None:
            self.map = TiledGridMap(app.mbtiles, app.data_dir / "tiles")
        else:
            self.map = GridMap()
        self.map.pos_hint = {"x": 0, "y": 0}  # a FloatLayout places only children with a pos_hint
        self.add_widget(self.map, index=len(self.children))  # below the buttons

    def show_grids(self, cache: Cache) -> None:
        """Draw the logged-in user's grids cached on the phone, read again only after a sync changed them
        or another user logged in (parsing the polygons is the slow part)."""
        owner = cache.store.owner
        self.layers = cache.grid_layers()
        if self.layer is not None and self.layer["code"] not in [x["code"] for x in self.layers]:
            self.layer = None
        code = self.layer["code"] if self.layer else None
        version = owner, code, cache.grid_count(), cache.store.get(user_cursor("grids", owner))
        if version != self._grids_version:
            self.map.set_grids(cache.grid_records(code))
            self._grids_version = version

    def next_layer(self) -> None:
        """Show the grids of the next grid layer I work in."""
        if len(self.layers) < 2:
            return
        codes = [x["code"] for x in self.layers]
        at = codes.index(self.layer["code"]) if self.layer else 0
        self.layer = self.layers[(at + 1) % len(self.layers)]
        self.show_grids(App.get_running_app().services.cache)

    def center_on_me(self) -> None:
        fix = self.map.position
        if fix is not None:
            self.map.center_on(fix.lon, fix.lat)


load_kv(__file__)
