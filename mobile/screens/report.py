"""New report: one to three photos, the position, the grid it falls in (resolved on the phone from the
cached polygons), a category picked class by class down the city's taxonomy (大类 › 中类 › 小类, a
breadcrumb going back up) or by a search through all of it, the urgency and a description. Submit
puts the report in the outbox and returns at once; the sync sends it when it can.

The position of a report is where the problem is, which is where its first photo was taken: the pin
follows the GPS until then, and is held from the moment the first photo is taken (the photo is stamped
with the pin's position and grid). After that it never moves by itself; the inspector may move it to the
current fix, average several fixes, or place it on the map by hand, which also works with no fix or a
poor one (the report then says so: ``position_source`` "manual"). Removing every photo lets a pin held by
the first photo follow the GPS again: the next first photo holds it anew, where that photo is taken. The
age of the fix is shown as it grows (a clock, not only the arrival of fixes): a stale fix is no position.

The address of a report: the inspector may type one, with suggestions from the phone's copy of the
address register of their grids as they type (offline too). A suggestion picked fills the field; it moves
the pin to that address only when the pin has no current GPS fix (none yet, a stale one, or a pin placed
by hand), and the screen says which position goes with the report. With nothing typed, the report says
where it is by the cached address nearest to the pin (within ``NEAR_RADIUS_M``), shown under the field.

As the inspector writes the description, the server's triage suggests categories for it once typing pauses
(online only): chips under the description, a tap choosing one. Offline, or when the server does not
answer at once, none are shown and nothing is said: the category picker and its search are the way.

A problem the inspector fixed on the spot (即报即处), in a category that allows it (the cached category's
``simple_flow``), is reported so with after-photos besides the photos of the problem: the case then waits
only for the shift lead's closing.

What was entered stays when the inspector leaves the screen and comes back; it is cleared once the
report is in the outbox, or saved as a draft (kept on the phone, listed under "草稿", resumed later)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from kivy.clock import Clock, mainthread
from kivy.factory import Factory
from kivy.properties import (
    AliasProperty,
    BooleanProperty,
    DictProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label

from grids.words import near_words
from mobile.platform.gps import Fix, average
from mobile.screens import gridmap  # noqa: F401 (registers MapPanel, which report.kv uses)
from mobile.screens.widgets import AppScreen, ask, in_background, local_time
from mobile.services import triage
from mobile.services.cache import NEAR_RADIUS_M
from mobile.services.drafts import Draft, DraftError
from mobile.services.outbox import OutboxError

WORST_ACCURACY_M = 30.0  # a pin from a less accurate fix is confirmed before it is sent
FIX_MAX_AGE_S = 120.0  # an older fix (the receiver's last position, or a lost signal) is no fix
SHOW_AGE_S = 20.0  # a fix older than this shows its age
AVERAGE_S = 10  # how long "多点平均" collects fixes
MAX_CHOICES = 60
MINE_SHOWN = 5  # my recent and frequent categories, listed above the major classes
MAX_PLACES = 5  # address suggestions shown
ADDRESS_MAX = 200  # characters: the server's limit of a report's address
SUGGEST_PAUSE_S = 0.6  # typing paused this long: ask the server for categories
SUGGEST_MIN_CHARS = 4  # a shorter description suggests nothing
# Why the pin no longer follows the GPS (ReportScreen.held), as the position line says it.
HELD = {
    "photo": "已固定在拍第一张照片时的位置",
    "gps": "已固定",
    "average": "多点平均，已固定",
}
# A pin not from the GPS (ReportScreen.held), as the position line says it: sent as placed by hand.
MANUAL = {
    "hand": "手动选点",
    "address": "按所选地址定位",
}


def _age_s(at: datetime, now: datetime | None = None) -> float:
    return ((now or datetime.now(UTC)) - at).total_seconds()


def _ago(seconds: float) -> str:
    return f"{seconds:.0f} 秒前" if seconds < 120 else f"{seconds / 60:.0f} 分钟前"


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _named(category: dict) -> str:
    """A category as the picker says it, with its place in the tree:
    "E0100101 道路不洁（市容环境 › 道路保洁）" (a category saved in a draft before the tree has no trail)."""
    trail = " › ".join(category.get("trail", ()))
    return f"{category['code']} {category['name']}" + (f"（{trail}）" if trail else "")


class ChoiceRow(ButtonBehavior, Label):
    """A category (or an address: its id) in a list of matches; tapping it calls ``choose(code)``."""

    code = StringProperty()
    selected = BooleanProperty(False)
    choose = ObjectProperty()

    def on_release(self) -> None:
        self.choose(self.code)


class DraftRow(BoxLayout):
    """A draft in the list of drafts (``text`` says what it holds), with its resume and delete buttons."""

    text = StringProperty()


class ReportScreen(AppScreen):
    pin = ObjectProperty(None, allownone=True)  # (lon, lat) of the report
    accuracy = ObjectProperty(None, allownone=True)  # metres, of the fix the pin came from
    fix_at = ObjectProperty(None, allownone=True)  # when that fix was taken (None: placed by hand)
    held = StringProperty()  # why the pin no longer follows the GPS: a key of HELD or MANUAL; "" follows
    held_at = ObjectProperty(None, allownone=True)  # when it stopped following (the fix's age stops there)
    by_hand = AliasProperty(lambda self: self.held in MANUAL, bind=("held",), cache=True)
    where = StringProperty()  # the position line
    alarm = BooleanProperty(False)  # no position, or a stale one: the position line in the warning colour
    grid_name = StringProperty()
    warning = StringProperty()  # what to do about the position
    can_use_fix = BooleanProperty(False)  # a current fix to move the pin to or to average
    averaging = BooleanProperty(False)
    average_seconds = NumericProperty(AVERAGE_S)
    average_elapsed = NumericProperty(0)
    level = StringProperty()  # the class open in the category picker, e.g. "E06"; "" the major classes
    category_note = StringProperty()  # what a search found
    category = DictProperty()  # the category chosen
    chosen = AliasProperty(
        lambda self: f"已选：{_named(self.category)}" if self.category else "未选择类别", bind=("category",)
    )
    # the category chosen may be fixed on the spot (即报即处)
    can_fix = AliasProperty(lambda self: bool(self.category.get("simple_flow")), bind=("category",))
    fixed = BooleanProperty(False)  # fixed on the spot (即报即处): the after-photos go with the report
    urgency = StringProperty("normal")
    picked = ObjectProperty(None, allownone=True)  # the cached address picked from the suggestions
    near_address = StringProperty()  # the cached address nearest to the pin, as the report says it ("": none)
    address_note = StringProperty()  # what goes with the report as its address and position
    blocked = StringProperty()  # why the report cannot be submitted yet ("" when it can)
    draft_id = ObjectProperty(None, allownone=True)  # the draft the form was resumed from
    draft_count = NumericProperty(0)
    suggest_note = StringProperty()  # the caption of the suggested categories ("": none shown)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._tick = self._average_tick = self._pause = None
        self._asked = 0  # the suggestions asked for last: an older answer is dropped
        self._samples: list[Fix] = []  # the fixes collected while averaging
        self._places: dict[str, dict] = {}  # the address suggestions shown, by id
        self._filled = ""  # what the app itself put in the address field (suggests nothing)
        self._have_addresses = False  # the phone holds a copy of the addresses of my grids
        self.ids.panel.map.bind(on_tap=self.place_pin)
        self.ids.photos.bind(paths=self._photos_changed, busy=self._photos_changed)
        self.ids.after.bind(paths=self.check, busy=self.check)

    def on_enter(self, *args) -> None:
        super().on_enter(*args)
        self.app.bind(fix=self.follow_fix)
        self._tick = Clock.schedule_interval(self.check, 1)  # a fix grows old with no event at all

    def on_leave(self, *args) -> None:
        super().on_leave(*args)
        self.app.unbind(fix=self.follow_fix)
        self._tick.cancel()
        if self.averaging:
            self.stop_averaging()

    def refresh(self) -> None:
        services = self.app.services
        self._show_crumbs()  # the categories may have changed since
        self.ids.panel.show_grids(services.cache)
        self.draft_count = services.drafts.count()
        self._have_addresses = services.cache.address_count() > 0
        self.follow_fix(self.app, self.app.fix)
        self.on_pin()  # the grids and addresses may have come since
        self.search()

    # -- position ---------------------------------------------------------------------------------------

    def follow_fix(self, app, fix: Fix | None) -> None:
        """Show the inspector's position; the pin follows it until it is held."""
        self.ids.panel.map.position = fix
        if fix is not None and not self.held:
            self.accuracy, self.fix_at = fix.accuracy_m, fix.at
            self.pin = (fix.lon, fix.lat)
        self.check()

    def on_pin(self, *args) -> None:
        """Show the pin on the small map (centred on it, unless it was placed there by hand) and find its
        grid, both for the photos' stamp, and the cached address nearest to it."""
        grid_map, photos, after = self.ids.panel.map, self.ids.photos, self.ids.after
        grid_map.pin = photos.position = after.position = self.pin
        if self.held != "hand":
            grid_map.around = self.pin
        cache = self.app.services.cache
        chain = cache.grid_at(*self.pin) if self.pin is not None else []
        self.grid_name = photos.place = after.place = chain[-1].name if chain else ""
        near = cache.nearest_address(*self.pin) if self.pin is not None else None
        self.near_address = near_words(near["label"], near["distance_m"]) if near else ""

    def _hold(self, why: str) -> None:
        self.held, self.held_at = why, datetime.now(UTC)

    def _photos_changed(self, *args) -> None:
        """The first photo holds the pin from the moment it is taken: the photo is stamped with the pin's
        position while it is prepared, so the pin must not move meanwhile. With every photo gone (or the
        camera giving none), a pin held that way follows the GPS again."""
        photos = self.ids.photos
        if photos.paths or photos.busy:
            if not self.held:
                self._hold("photo")
        elif self.held == "photo":
            self.held, self.held_at = "", None
            self.follow_fix(self.app, self.app.fix)
        self.check()

    def place_pin(self, map_widget, lon: float, lat: float) -> None:
        """A tap on the map puts the pin there by hand (with no fix, or a poor one, too)."""
        if self.averaging:
            self.stop_averaging()
        self.held, self.held_at, self.accuracy, self.fix_at = "hand", None, None, None
        self.pin = (lon, lat)
        self.check()

    def use_current(self) -> None:
        """The button under the map: before any photo the pin follows the GPS again; after one, it moves
        to the current fix and stays there."""
        fix, photos = self.app.fix, self.ids.photos
        if photos.paths or photos.busy:
            self._hold("gps")
            self.accuracy, self.fix_at = fix.accuracy_m, fix.at
            self.pin = (fix.lon, fix.lat)
        else:
            self.held, self.held_at = "", None
        self.follow_fix(self.app, fix)

    def toggle_averaging(self) -> None:
        if self.averaging:
            self.stop_averaging()
            self.app.notify("已取消多点平均，位置没有改变。")
        else:
            self.start_averaging()

    def start_averaging(self) -> None:
        """Collect the fixes of the next ``average_seconds`` (the inspector standing at the problem), then
        put the pin at their average (see mobile.platform.gps.average) and hold it there."""
        self._samples, self.average_elapsed, self.averaging = [], 0, True
        self.app.fbind("fix", self._sample)
        self._average_tick = Clock.schedule_interval(self._averaged_second, 1)
        self.check()

    def stop_averaging(self) -> None:
        self.app.funbind("fix", self._sample)
        self._average_tick.cancel()
        self.averaging = False
        self.check()

    def _sample(self, app, fix: Fix | None) -> None:
        if fix is not None and _age_s(fix.at) <= FIX_MAX_AGE_S:
            self._samples.append(fix)

    def _averaged_second(self, dt: float) -> None:
        self.average_elapsed += 1
        if self.average_elapsed < self.average_seconds:
            self.check()
            return
        self.stop_averaging()
        if not self._samples:
            self.app.notify("这段时间没有收到GPS定位，位置没有改变：请到开阔处再试，或在地图上点选问题位置。")
            return
        fix = average(self._samples)
        self._hold("average")
        self.accuracy, self.fix_at = fix.accuracy_m, fix.at
        self.pin = (fix.lon, fix.lat)
        self.check()
        accuracy = f"，精度约 ±{fix.accuracy_m:.0f} 米" if fix.accuracy_m is not None else ""
        self.app.notify(f"已取 {len(self._samples)} 次定位的平均位置{accuracy}。")

    def _pin_age_s(self) -> float | None:
        """How old the fix the pin came from is: now while the pin follows the GPS, when it was held
        after that (None: no fix, or placed by hand)."""
        return _age_s(self.fix_at, self.held_at) if self.fix_at is not None else None

    def _poor(self) -> bool:
        return not self.by_hand and self.accuracy is not None and self.accuracy > WORST_ACCURACY_M

    def _describe(self, age_s: float | None) -> tuple[str, str]:
        """The position line and what to do about the position ("" when nothing)."""
        if self.averaging:
            return (
                f"正在平均定位… {self.average_elapsed}/{self.average_seconds} 秒：请站在问题处不要走动",
                "",
            )
        if self.pin is None:
            if self.held == "photo":
                return (
                    "拍第一张照片时还没有GPS定位",
                    "请在地图上点选问题位置；也可回到问题处，有定位后点“改用当前位置”。",
                )
            return "等待GPS定位…", "还没有GPS定位：请到开阔处稍候，或在地图上点选问题位置。"
        lon, lat = self.pin
        parts = [f"位置 {lon:.5f}, {lat:.5f}"]
        if self.by_hand:
            return " · ".join([*parts, MANUAL[self.held]]), ""
        stale = age_s is not None and age_s > FIX_MAX_AGE_S
        if not stale:  # a stale fix's accuracy would read as if all were well
            parts.append(f"精度 ±{self.accuracy:.0f} 米" if self.accuracy else "精度未知")
        if self.held:
            parts.append(HELD[self.held])
        if stale:
            parts.append(f"GPS定位已过时（{_ago(age_s)}）")
            todo = (
                "请到开阔处稍候，有新的定位后点“改用当前位置”，或在地图上点选问题位置。"
                if self.held
                else "请到开阔处等待新的定位，或在地图上点选问题位置。"
            )
            return " · ".join(parts), todo
        if not self.held and age_s is not None and age_s > SHOW_AGE_S:
            parts.append(f"最近一次定位在 {_ago(age_s)}")
        if self._poor():
            return (
                " · ".join(parts),
                f"定位精度较差（±{self.accuracy:.0f} 米）："
                "请在地图上点选准确位置，或站在问题处点“多点平均”。",
            )
        return " · ".join(parts), ""

    # -- address ----------------------------------------------------------------------------------------

    def suggest(self) -> None:
        """Offer the cached addresses matching what the inspector typed (with the network off too); nothing
        while the field holds what the app put there (an address picked, a draft's)."""
        text = self.ids.address.text
        found = []
        if text != self._filled:
            self.picked = None
            found = self.app.services.cache.search_addresses(text, MAX_PLACES)
        self._places = {str(a["id"]): a for a in found}
        self.ids.places.data = [
            {
                "text": a["label"] if a["label"] == a["text"] else f"{a['label']}\n{a['text']}",
                "code": str(a["id"]),
                "selected": False,
                "choose": self.pick_address,
            }
            for a in found
        ]
        self.check()

    def pick_address(self, code: str) -> None:
        """Fill the field with a suggested address. The pin moves there only when it has no current GPS
        fix: a fix says where the inspector stands, better than the register's point of an address."""
        address = self._places[code]
        label, text = address["label"], address["text"]
        self.picked, self._filled = address, label if label == text else f"{label}（{text}）"
        self.ids.address.text = self._filled
        if not self._gps_pin():
            if self.averaging:
                self.stop_averaging()
            self.held, self.held_at, self.accuracy, self.fix_at = "address", None, None, None
            self.pin = (address["lon"], address["lat"])
        self.check()

    def _gps_pin(self) -> bool:
        """The pin comes from a GPS fix that is not stale."""
        age_s = self._pin_age_s()
        return self.pin is not None and age_s is not None and age_s <= FIX_MAX_AGE_S

    def _address_note(self) -> str:
        """What the report says as its address, and where its position comes from after a pick."""
        if self.picked is not None:
            if self.held == "address":
                return "没有GPS定位：问题位置已放在所选地址处，也可在地图上点选更准确的位置。"
            if self.held == "hand":
                return "已填写地址；问题位置为地图上点选的位置。"
            return "已填写地址；问题位置仍按GPS定位，不随地址移动。"
        if self.ids.address.text.strip() or self.pin is None:
            return ""
        if self.near_address:
            return f"未填写地址，将按附近地址上报：{self.near_address}"
        if not self._have_addresses:
            return "手机上还没有地址库：联网同步后可以输入地址搜索；不填也可以提交。"
        return f"附近 {NEAR_RADIUS_M:.0f} 米内没有地址库中的地址：可以输入地址，不填也可以提交。"

    # -- category ---------------------------------------------------------------------------------------

    def open_level(self, code: str) -> None:
        """Open a class of the category picker (from the list, or back up from the breadcrumb; "" the major
        classes) and list what is in it; a search typed before is cleared."""
        self.level = code
        self._show_crumbs()
        self.ids.search.text = ""
        self.search()
        self.ids.choices.scroll_y = 1  # from its first row

    def _show_crumbs(self) -> None:
        """The breadcrumb of the open class: 全部类别 › 大类 › 中类, each step a way back up to it. A class
        gone since the last sync opens the major classes."""
        path = self.app.services.cache.path(self.level)
        if not path:
            self.level = ""
        box = self.ids.crumbs
        box.clear_widgets()
        for code, name in [("", "全部类别"), *((c["code"], c["name"]) for c in path)]:
            if code:
                box.add_widget(Factory.CrumbArrow())
            crumb = Factory.CrumbButton(text=name)
            crumb.current = code == self.level  # a property of the kv rule: set once the rule made it
            crumb.bind(on_release=lambda _, code=code: self.open_level(code))
            box.add_widget(crumb)
        Clock.schedule_once(lambda dt: setattr(self.ids.crumb_view, "scroll_x", 1))  # the open class in view

    def search(self) -> None:
        """The list under the search field. With text: the categories matching it (the leaves of the tree:
        a case is filed under one) in every class, whatever class is open (it never filters a search
        silently), each with its place in the tree. With none: what the open class holds, a tap opening a
        class or choosing a category; above the major classes, my recent and frequent categories."""
        cache, text = self.app.services.cache, self.ids.search.text
        chosen = self.category.get("code")
        if text.strip():
            found = cache.search_categories(text)
            listed = found[:MAX_CHOICES]
            self.category_note = (
                f"在全部类别中找到 {len(found)} 个"
                + (f"，显示前 {MAX_CHOICES} 个：请多输入几个字" if len(found) > MAX_CHOICES else "")
                if found
                else "没有找到这个类别：换个说法（如名称、拼音首字母），或清空搜索后逐级点选。"
            )
        else:
            mine = [] if self.level else [c for c in cache.search_categories() if c["mine"]][:MINE_SHOWN]
            listed = [*mine, *cache.children(self.level or None)]
            self.category_note = ""
        self.ids.choices.data = [
            {
                "text": f"{'［常用］' if c.get('mine') else ''}{_named(c)}",
                "code": c["code"],
                "bold": False,
                "selected": c["code"] == chosen,
                "choose": self.choose,
            }
            if c["leaf"]
            else {
                "text": f"{c['name']}  ›",
                "code": c["code"],
                "bold": True,
                "selected": False,
                "choose": self.open_level,
            }
            for c in listed
        ]

    def choose(self, code: str) -> None:
        category = self.app.services.cache.category(code)
        self.category = category
        self.urgency = category["urgency"]
        self.search()
        self.check()

    def on_category(self, *args) -> None:
        """Offer the chosen category's phrases (常用语): a tap adds one to the description. A category that
        may not be fixed on the spot takes the report back to the usual flow."""
        if not self.can_fix:
            self.fixed = False
        box = self.ids.phrases
        box.clear_widgets()
        for phrase in self.category.get("phrases", ()):
            button = Factory.PhraseButton(text=phrase)
            button.bind(on_release=lambda b: self.add_words(b.text))
            box.add_widget(button)

    # -- categories suggested from the description ------------------------------------------------------

    def description_changed(self) -> None:
        """Ask for suggestions once typing pauses (each keystroke puts the question off)."""
        if self._pause is not None:
            self._pause.cancel()
        self._pause = Clock.schedule_once(lambda dt: self.ask_suggestions(), SUGGEST_PAUSE_S)

    def ask_suggestions(self) -> None:
        """Ask the server's triage, off the UI thread, which categories the description suggests. Logged in
        offline, or on any failure (no network, a slow or refused answer), none are shown, silently."""
        self._asked += 1
        asked, text, services = self._asked, self.ids.description.text.strip(), self.app.services
        if len(text) < SUGGEST_MIN_CHARS or services.offline:
            self._show_suggestions(asked, [])
            return
        pin = self.pin
        in_background(
            lambda: triage.suggest_categories(services.api, text, pin),
            lambda found: self._show_suggestions(asked, found),
            lambda problem: self._show_suggestions(asked, []),
        )

    def _show_suggestions(self, asked: int, found: list[dict]) -> None:
        """The suggested categories the phone holds as chips (those of the latest question only)."""
        if asked != self._asked:
            return
        cache, box = self.app.services.cache, self.ids.suggested
        box.clear_widgets()
        for suggestion in found:
            category = cache.category(suggestion["code"])
            if category is None or not category["leaf"]:
                continue  # not synced to the phone yet: the search finds what it holds
            chip = Factory.SuggestionChip(text=category["name"])
            chip.code = category["code"]  # a property of the kv rule: set once the rule made it
            chip.bind(on_release=lambda chip: self.choose_suggested(chip.code))
            box.add_widget(chip)
        self.suggest_note = "可能是（点一下即选为问题类别）：" if box.children else ""

    def choose_suggested(self, code: str) -> None:
        self.choose(code)
        self.app.notify(f"已选择类别“{self.category['name']}”：不对的话可在上方改选。")

    def add_words(self, words: str) -> None:
        field = self.ids.description
        said = field.text.rstrip()
        field.text = f"{said}，{words}" if said and said[-1] not in "，。；！？" else said + words

    def listen(self) -> None:
        """Voice input: what the inspector says is added to the description."""
        self.app.notify("请说话…")
        self.app.speech.listen(mainthread(self.add_words), mainthread(self.app.notify))

    # -- checks and submit ------------------------------------------------------------------------------

    def on_fixed(self, *args) -> None:
        self.check()

    def check(self, *args) -> None:
        """Bring the position line, the warning and the reason Submit is disabled up to date (every second
        as well: a fix grows old with no event at all)."""
        fix, photos, after = self.app.fix, self.ids.photos, self.ids.after
        self.can_use_fix = fix is not None and _age_s(fix.at) <= FIX_MAX_AGE_S
        age_s = self._pin_age_s()
        stale = age_s is not None and age_s > FIX_MAX_AGE_S
        self.alarm = self.pin is None or stale
        self.where, self.warning = self._describe(age_s)
        self.address_note = self._address_note()
        if self.pin is None:
            self.blocked = "还没有位置，不能提交：请到开阔处等待GPS定位，或在地图上点选问题位置。"
        elif stale:
            self.blocked = f"GPS定位已过时（{_ago(age_s)}），不能提交：请到开阔处稍候。"
        elif self.averaging:
            self.blocked = "正在多点平均定位：请等它完成，或点“取消平均”。"
        elif photos.busy or after.busy:
            self.blocked = "照片处理中…"
        elif not photos.paths:
            self.blocked = "请至少拍一张照片。"
        elif not self.category:
            self.blocked = "请选择问题类别。"
        elif self.fixed and not after.paths:
            self.blocked = "已现场处置：请至少拍一张处置后照片。"
        elif len(self.ids.address.text.strip()) > ADDRESS_MAX:
            self.blocked = f"地址太长（最多 {ADDRESS_MAX} 字）：请删短一些。"
        else:
            self.blocked = ""

    def submit(self, confirmed: bool = False) -> None:
        """Put the report in the outbox; a position from a poor fix is confirmed first."""
        self.check()
        if self.blocked:
            self.app.notify(self.blocked)
            return
        if self._poor() and not confirmed:
            ask(
                "定位精度较差",
                f"定位精度 ±{self.accuracy:.0f} 米，位置可能不准。",
                [
                    ("仍然提交", lambda: self.submit(confirmed=True)),
                    ("在地图上选点", lambda: self.app.notify("请在上方地图上点选问题所在的位置。")),
                    ("多点平均定位", self.start_averaging),
                    ("取消", None),
                ],
            )
            return
        services, photos = self.app.services, self.ids.photos
        lon, lat = self.pin
        try:
            services.outbox.add_report(
                category=self.category["code"],
                lon=lon,
                lat=lat,
                accuracy_m=None if self.by_hand else self.accuracy,
                position_source="manual" if self.by_hand else "gps",
                description=self.ids.description.text.strip(),
                urgency=self.urgency,
                photos=[Path(p) for p in photos.paths],
                address=self.ids.address.text.strip() or self.near_address or None,
                after_photos=[Path(p) for p in self.ids.after.paths] if self.fixed else (),
            )
        except OutboxError as exc:
            self.app.notify(str(exc))
            return
        if self.draft_id is not None:
            services.drafts.delete(self.draft_id)
        services.sync.wake()
        self._clear_form()  # the outbox keeps its own copies of the photos
        self.app.notify("已存入发件箱，有网络时自动发送。")
        self.app.show("outbox")

    def _clear_form(self) -> None:
        photos = self.ids.photos
        photos.clear()
        self.ids.after.clear()
        self.ids.description.text = self.ids.search.text = ""
        self._filled = self.ids.address.text = ""
        self.picked = None
        self.category, self.urgency, self.draft_id = {}, "normal", None
        self.held, self.held_at, self.accuracy, self.fix_at, self.pin = "", None, None, None, None
        self.draft_count = self.app.services.drafts.count()
        self.follow_fix(self.app, self.app.fix)

    # -- drafts -----------------------------------------------------------------------------------------

    def _entered(self) -> bool:
        return bool(
            self.ids.photos.paths
            or self.ids.after.paths
            or self.category
            or self.ids.description.text.strip()
            or self.ids.address.text.strip()
            or self.by_hand
        )

    def save_draft(self) -> bool:
        """Keep what was entered on the phone as a draft (the one resumed, if any), and clear the form. The
        pin is saved held where it is, and comes back so."""
        photos, after = self.ids.photos, self.ids.after
        if photos.busy or after.busy:
            self.app.notify("照片还在处理中：请稍候再存草稿。")
            return False
        if not self._entered():
            self.app.notify("还没有填写任何内容，不用存草稿。")
            return False
        if self.averaging:
            self.stop_averaging()
        if not self.held and self.pin is not None:
            self._hold("gps")
        form = {
            "category": dict(self.category) or None,
            "urgency": self.urgency,
            "description": self.ids.description.text.strip(),
            "address": self.ids.address.text.strip(),
            "pin": list(self.pin) if self.pin is not None else None,
            "held": self.held,
            "held_at": self.held_at.isoformat() if self.held_at else None,
            "accuracy_m": self.accuracy,
            "fix_at": self.fix_at.isoformat() if self.fix_at else None,
            "fixed": self.fixed,
            "after_photos": len(after.paths),  # the last photos of the draft
        }
        kept = [Path(p) for p in [*photos.paths, *after.paths]]
        self.app.services.drafts.save(form, kept, self.draft_id)
        self._clear_form()
        self.app.notify("已存为草稿：点“草稿”可以继续填写。")
        return True

    def show_drafts(self) -> None:
        """The list of my drafts, each to resume or delete."""
        popup = Factory.DraftsPopup()
        for draft in self.app.services.drafts.items():
            row = DraftRow(text=self._draft_title(draft))
            row.ids.resume.bind(on_release=lambda _, i=draft.id: (popup.dismiss(), self.resume_draft(i)))
            row.ids.delete.bind(on_release=lambda _, i=draft.id: (popup.dismiss(), self.ask_delete_draft(i)))
            popup.ids.rows.add_widget(row)
        popup.open()

    @staticmethod
    def _draft_title(draft: Draft) -> str:
        form = draft.form
        category = form["category"]["name"] if form["category"] else "未选类别"
        if form["pin"] is None:
            where = "没有位置"
        elif form["held"] in MANUAL:
            where = MANUAL[form["held"]]
        else:
            where = f"精度 ±{form['accuracy_m']:.0f} 米" if form["accuracy_m"] else "GPS定位"
        title = f"{local_time(draft.saved_at)} 保存 · {category} · {len(draft.photos)} 张照片 · {where}"
        return f"{title}\n{form['description'][:40]}" if form["description"] else title

    def resume_draft(self, draft_id: int, confirmed: bool = False) -> None:
        """Fill the form from a draft (the pin where it was saved, flagged as it was); the draft stays
        until the report is submitted. What the form held unsaved is saved first, or dropped, as asked."""
        if self._entered() and not confirmed:
            ask(
                "打开草稿",
                "正在填写的上报还没有保存：先存为草稿，还是不要了？",
                [
                    ("存为草稿，再打开", lambda: self.save_draft() and self.resume_draft(draft_id, True)),
                    ("不要了，直接打开", lambda: self.resume_draft(draft_id, True)),
                    ("取消", None),
                ],
            )
            return
        try:
            draft = self.app.services.drafts.resume(draft_id, self.app.drafts_dir)
        except DraftError as exc:
            self.app.notify(str(exc))
            self.draft_count = self.app.services.drafts.count()
            return
        self._clear_form()
        form = draft.form
        self.held, self.held_at = form["held"], _time(form["held_at"])
        self.accuracy, self.fix_at = form["accuracy_m"], _time(form["fix_at"])
        self.pin = tuple(form["pin"]) if form["pin"] is not None else None
        self.category, self.urgency = form["category"] or {}, form["urgency"]
        self.fixed = form.get("fixed", False)  # a draft saved before 即报即处 has neither
        split = len(draft.photos) - form.get("after_photos", 0)
        self.ids.description.text = form["description"]
        self._filled = self.ids.address.text = form.get("address", "")  # none in a draft saved before it
        self.ids.photos.paths = [str(p) for p in draft.photos[:split]]
        self.ids.after.paths = [str(p) for p in draft.photos[split:]]
        self.draft_id = draft.id
        self.search()
        self.follow_fix(self.app, self.app.fix)
        self.app.notify("已打开草稿：补全后点“提交”。")

    def ask_delete_draft(self, draft_id: int) -> None:
        ask(
            "删除草稿",
            "删除后这份草稿和它的照片将无法找回。确定删除吗？",
            [("删除", lambda: self._delete_draft(draft_id)), ("取消", None)],
        )

    def _delete_draft(self, draft_id: int) -> None:
        self.app.services.drafts.delete(draft_id)
        if self.draft_id == draft_id:
            self.draft_id = None  # the form keeps what it holds: saving it makes a new draft
        self.draft_count = self.app.services.drafts.count()
        self.app.notify("草稿已删除。")
