"""New report: one to three photos, the position (the pin starts at the GPS fix; a tap on the map moves
it), the grid it falls in (resolved on the phone from the cached polygons), a category picked major class
first or by search, the urgency and a description. Submit puts the report in the outbox and returns at
once; the sync sends it when it can.

What was entered stays when the inspector leaves the screen and comes back; it is cleared once the
report is in the outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from kivy.factory import Factory
from kivy.properties import BooleanProperty, DictProperty, ObjectProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.label import Label

from mobile.screens import gridmap  # noqa: F401 (registers MapPanel, which report.kv uses)
from mobile.screens.widgets import AppScreen
from mobile.services.outbox import OutboxError

WORST_ACCURACY_M = 30.0  # a fix less accurate than this asks the inspector to place the pin or wait
FIX_MAX_AGE_S = 120.0  # an older fix (the receiver's last position, or a lost signal) is no fix
MAX_CHOICES = 60


class ChoiceRow(ButtonBehavior, Label):
    """A category in the list of matches; tapping it calls ``choose(code)``."""

    code = StringProperty()
    selected = BooleanProperty(False)
    choose = ObjectProperty()

    def on_release(self) -> None:
        self.choose(self.code)


class ReportScreen(AppScreen):
    pin = ObjectProperty(None, allownone=True)  # (lon, lat) of the report
    accuracy = ObjectProperty(None, allownone=True)  # metres, of the fix the pin came from
    by_hand = BooleanProperty(False)  # the inspector placed the pin
    where = StringProperty()
    grid_name = StringProperty()
    warning = StringProperty()
    major = StringProperty()  # the major class shown, e.g. "E06"; "" for all
    category = DictProperty()  # the category chosen
    urgency = StringProperty("normal")
    blocked = StringProperty()  # why the report cannot be submitted yet ("" when it can)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._majors: list[tuple[str, str]] = []
        self.ids.panel.map.bind(on_tap=self.place_pin)
        self.ids.photos.bind(paths=self.check, busy=self.check)

    def on_enter(self, *args) -> None:
        self.app.bind(fix=self.follow_fix)

    def on_leave(self, *args) -> None:
        self.app.unbind(fix=self.follow_fix)

    def refresh(self) -> None:
        services = self.app.services
        majors = services.cache.majors()
        if majors != self._majors:
            self._show_majors(majors)
        self.ids.panel.show_grids(services.cache)
        self.follow_fix(self.app, self.app.fix)
        self.search()

    # -- position ---------------------------------------------------------------------------------------

    def follow_fix(self, app, fix) -> None:
        """The pin follows the GPS until the inspector places it by hand."""
        self.ids.panel.map.position = fix
        if fix is not None and not self.by_hand:
            self.pin, self.accuracy = (fix.lon, fix.lat), fix.accuracy_m
        self.check()

    def place_pin(self, map_widget, lon: float, lat: float) -> None:
        self.pin, self.accuracy, self.by_hand = (lon, lat), None, True
        self.check()

    def back_to_gps(self) -> None:
        self.by_hand = False
        self.follow_fix(self.app, self.app.fix)

    # -- category ---------------------------------------------------------------------------------------

    def _show_majors(self, majors: list[tuple[str, str]]) -> None:
        self._majors = majors
        box = self.ids.majors
        box.clear_widgets()
        for prefix, name in [("", "全部"), *majors]:
            button = Factory.MajorButton(text=name, state="down" if prefix == self.major else "normal")
            button.bind(on_release=lambda b, prefix=prefix: self.pick_major(prefix, b.state == "down"))
            box.add_widget(button)

    def pick_major(self, prefix: str, on: bool) -> None:
        self.major = prefix if on else ""
        self.search()

    def search(self) -> None:
        found = self.app.services.cache.search_categories(self.ids.search.text, self.major or None)
        chosen = self.category.get("code")
        self.ids.choices.data = [
            {
                "text": f"{c['code']}  {c['name']}（{c['major_name']}）",
                "code": c["code"],
                "selected": c["code"] == chosen,
                "choose": self.choose,
            }
            for c in found[:MAX_CHOICES]
        ]

    def choose(self, code: str) -> None:
        category = next(c for c in self.app.services.cache.categories() if c["code"] == code)
        self.category = category
        self.urgency = category["urgency"]
        self.search()
        self.check()

    # -- checks and submit ------------------------------------------------------------------------------

    def check(self, *args) -> None:
        """Bring the position lines, the warning and the reason Submit is disabled up to date."""
        fix, photos, grid_map = self.app.fix, self.ids.photos, self.ids.panel.map
        grid_map.pin = self.pin
        if not self.by_hand:
            grid_map.around = self.pin
        photos.position = self.pin
        if self.pin is None:
            self.where, self.grid_name, self.warning = "等待GPS定位…", "", ""
        else:
            lon, lat = self.pin
            if self.by_hand:
                accuracy = "手动选点"
            else:
                accuracy = f"精度 ±{self.accuracy:.0f} 米" if self.accuracy else "精度未知"
            self.where = f"位置 {lon:.5f}, {lat:.5f} · {accuracy}"
            chain = self.app.services.cache.grid_at(lon, lat)
            self.grid_name = chain[-1].name if chain else ""
            photos.place = self.grid_name
            poor = not self.by_hand and self.accuracy is not None and self.accuracy > WORST_ACCURACY_M
            self.warning = (
                f"定位精度较差（±{self.accuracy:.0f} 米）：请在地图上点选准确位置，或稍候等待定位改善。"
                if poor
                else ""
            )
        age_s = (datetime.now(UTC) - fix.at).total_seconds() if fix is not None else None
        if fix is None:
            self.blocked = "还没有GPS定位，不能提交：请到开阔处稍候。"
        elif age_s > FIX_MAX_AGE_S:
            self.blocked = f"GPS定位已过时（{age_s / 60:.0f} 分钟前），不能提交：请到开阔处稍候。"
        elif photos.busy:
            self.blocked = "照片处理中…"
        elif not photos.paths:
            self.blocked = "请至少拍一张照片。"
        elif not self.category:
            self.blocked = "请选择问题类别。"
        else:
            self.blocked = ""

    def submit(self) -> None:
        self.check()
        if self.blocked:
            self.app.notify(self.blocked)
            return
        services, photos = self.app.services, self.ids.photos
        lon, lat = self.pin
        try:
            services.outbox.add_report(
                category=self.category["code"],
                lon=lon,
                lat=lat,
                accuracy_m=None if self.by_hand else self.accuracy,
                description=self.ids.description.text.strip(),
                urgency=self.urgency,
                photos=[Path(p) for p in photos.paths],
            )
        except OutboxError as exc:
            self.app.notify(str(exc))
            return
        services.sync.wake()
        photos.clear()  # the outbox keeps its own copies
        self.ids.description.text = self.ids.search.text = ""
        self.category, self.urgency = {}, "normal"
        self.back_to_gps()
        self.app.notify("已存入发件箱，有网络时自动发送。")
        self.app.show("outbox")
