"""My verification (核实) and check (核查) tasks: the list, soonest due first, each with its countdown and how
far it is from me, then my proactive patrol tasks (主动巡查任务) with their grid, reason and coverage; and one
task with a small map, the case's photos, place, deadline and (for a check) the department's handling
note, and the reply form (a result, a note, up to three photos). Sending puts the reply in the outbox,
like a report."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from kivy.factory import Factory
from kivy.metrics import dp
from kivy.properties import DictProperty, ObjectProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from PIL import Image

from gis.crs import sphere_distance_m
from gis.photo import read_geotag
from mobile.platform.gps import Fix
from mobile.screens import gridmap  # noqa: F401 (registers MapPanel, which tasks.kv uses)
from mobile.screens.case import add_photos, load_photos
from mobile.screens.widgets import RESULTS, TASK_KINDS, AppScreen, ask, local_time, text_height
from mobile.services.errors import explain
from mobile.services.outbox import OutboxError

REPLY_RESULTS = {"verification": ("confirmed", "not_found"), "check": ("pass", "rework")}
PHOTO_NEEDED = {"confirmed": "核实属实", "pass": "核查通过"}  # results that need a photo of the site
# The server's default distance beyond which it flags a photo as far from its case (photo_geotag_max_m),
# until a sync of the tasks brings the server's own value.
PHOTO_FAR_M = 200.0
# A task row: its text wraps beside the badge column and the row grows to hold it (kept in step with
# tasks.kv, which reads these).
ROW_FONT_SP = 14
ROW_PADDING_DP = 10, 6  # left and right, top and bottom
ROW_SPACING_DP = 8
BADGE_COLUMN_DP = 104
MIN_ROW_DP = 72


def place_of(app, task: dict) -> str:
    """Where a case is: its address, else the deepest of my grids holding it, else its grid's name."""
    if task.get("address"):
        return task["address"]
    chain = app.services.cache.grid_at(task["lon"], task["lat"])
    return chain[-1].name if chain else f"网格：{task.get('grid_name') or task['grid_code']}"


def deadline_of(task: dict) -> str:
    return f"截止 {local_time(task['due_at'])}" if task.get("due_at") else "无截止时间"


def span(minutes: float) -> str:
    """A length of time in the largest whole unit that fits: 40 分钟, 3 小时, 2 天."""
    if minutes < 60:
        return f"{max(int(minutes), 1)} 分钟"
    if minutes < 48 * 60:
        return f"{int(minutes // 60)} 小时"
    return f"{int(minutes // (24 * 60))} 天"


def countdown(task: dict, now: datetime) -> tuple[str, str]:
    """The task's badge: the time left until its deadline, or how late it is, and its light ("" with no
    deadline).

    The time is counted to the due instant on the phone's clock, so that it keeps running offline (the
    server's ``remaining_minutes`` is working time as of the last sync). The light is the server's, as
    of the last sync (the instant it turns yellow is not sent), but red once the due instant is past."""
    if not task.get("due_at"):
        return "不计时", ""
    left = (datetime.fromisoformat(task["due_at"]) - now).total_seconds() / 60
    if left <= 0:
        return f"超时 {span(-left)}", "red"
    if task.get("light") == "red":  # the phone's clock is behind the server's
        return "已超时", "red"
    return f"剩 {span(left)}", task.get("light") or ""


def distance_of(fix: Fix | None, task: dict) -> str:
    """How far the case is from my current position, in words ("" without a position)."""
    if fix is None or not task:
        return ""
    metres = sphere_distance_m(fix.lon, fix.lat, task["lon"], task["lat"])
    return f"距你 {metres:.0f} 米" if metres < 1000 else f"距你 {metres / 1000:.1f} 公里"


def patrol_text(task: dict) -> str:
    """A proactive patrol task (主动巡查任务) in the list: its grid, the kind of problem to look for, its
    days and why."""
    days = (
        task["starts_on"]
        if task["starts_on"] == task["ends_on"]
        else f"{task['starts_on']} 至 {task['ends_on']}"
    )
    kind = f"　重点：{task['category']['name']}" if task.get("category") else ""
    return f"[b]主动巡查[/b]  {task['grid_name']}{kind}\n{days}\n原因：{task['reason']}"


def coverage(task: dict) -> tuple[str, str]:
    """A patrol task's badge: done (green), or the minutes patrolled in its grid of those it needs, as of
    the last sync."""
    if task["state"] == "done":
        return "已完成", "green"
    return f"已巡 {int(task['covered_minutes'])}/{int(task['needed_minutes'])} 分", ""


def replied_codes(app) -> set[str]:
    """Cases with a reply of mine still in the outbox (not yet sent)."""
    waiting = app.services.outbox.items("queued", "sending", "failed")
    return {item.case_code for item in waiting if item.kind == "reply"}


def row_height(text: str, width: float) -> float:
    """The height of a task row showing ``text`` in a list ``width`` pixels wide: enough for the text
    wrapped beside the badge column (a long category name or address takes another line, never clipped)."""
    text_width = width - 2 * dp(ROW_PADDING_DP[0]) - dp(ROW_SPACING_DP) - dp(BADGE_COLUMN_DP)
    height = text_height(text, text_width, ROW_FONT_SP, markup=True)
    return max(dp(MIN_ROW_DP), height + 2 * dp(ROW_PADDING_DP[1]))


class Badge(Label):
    """A countdown as a coloured pill: green, yellow or red by the deadline ``light``, grey without."""

    light = StringProperty()


class TaskRow(ButtonBehavior, BoxLayout):
    """A task in the list; tapping it opens it."""

    text = StringProperty()
    badge = StringProperty()
    light = StringProperty()
    distance = StringProperty()
    code = StringProperty()
    owner = ObjectProperty()


class TasksScreen(AppScreen):
    follows = ("sync_changes", "fix")  # the countdowns run on, the distances follow me

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.ids.rows.bind(width=lambda *_: self.refresh())  # the rows' heights depend on the width

    def refresh(self) -> None:
        app, now, width = self.app, datetime.now(UTC), self.ids.rows.width
        tasks = app.services.cache.tasks()
        waiting = replied_codes(app)
        rows = []
        for t in tasks:
            text = (
                f"[b]{TASK_KINDS.get(t['kind'], '任务')}[/b]  {t['code']}\n{t['category']['name']}\n"
                f"{place_of(app, t)}\n{deadline_of(t)}{'　· 回复待发送' if t['code'] in waiting else ''}"
            )
            badge, light = countdown(t, now)
            rows.append(
                {
                    "text": text,
                    "badge": badge,
                    "light": light,
                    "distance": distance_of(app.fix, t),
                    "code": t["code"],
                    "owner": self,
                    "height": row_height(text, width),
                }
            )
        patrols = app.services.cache.patrol_tasks()
        for t in patrols:  # a patrol task's row holds all there is of it: a tap opens nothing
            text = patrol_text(t)
            badge, light = coverage(t)
            rows.append(
                {"text": text, "badge": badge, "light": light, "distance": "", "code": "", "owner": self}
                | {"height": row_height(text, width)}
            )
        self.ids.rows.data = rows
        counts = [f"{len(tasks)} 项待办任务"] if tasks else []
        counts += [f"{len(patrols)} 项主动巡查"] if patrols else []
        self.ids.summary.text = "，".join(counts) if counts else "没有待办任务。"

    def open(self, code: str) -> None:
        if code:
            self.app.show("task", code=code)


class TaskScreen(AppScreen):
    """One task: ``code`` names the case (set before the screen is shown)."""

    code = StringProperty()
    task = DictProperty()
    title = StringProperty()
    badge = StringProperty()
    light = StringProperty()
    distance = StringProperty()
    handling = StringProperty()
    result = StringProperty()
    blocked = StringProperty()

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown = ""  # the task whose form is on screen: another task starts a fresh form
        self.ids.photos.bind(paths=self.check, busy=self.check)

    def on_enter(self, *args) -> None:
        super().on_enter(*args)
        self.app.bind(fix=self.follow_fix)

    def on_leave(self, *args) -> None:
        super().on_leave(*args)
        self.app.unbind(fix=self.follow_fix)

    def refresh(self) -> None:
        app = self.app
        task = next((t for t in app.services.cache.tasks(active_only=False) if t["code"] == self.code), None)
        if task is None:
            app.notify(f"任务 {self.code} 已不在本机，可能已经办完：请回到任务列表。")
            return
        self.task = task
        self.title = f"{TASK_KINDS.get(task['kind'], '')}任务 {task['code']}"
        if self._shown != self.code:
            self._shown = self.code
            self.result = ""
            self.ids.note.text = ""
            self.ids.photos.clear()
            self._show_results(task["kind"])
            self._show_case_photos(task.get("photos", []))
        self.ids.photos.place = place_of(app, task)
        self.ids.facts.text = (
            f"{task['category']['name']}（{task['category']['code']}）· {task['state_label']}\n"
            f"地点：{place_of(app, task)}\n{deadline_of(task)}\n"
            f"描述：{task.get('description') or '无'}"
        )
        if task["kind"] == "check":
            self.handling = f"处置说明：{task.get('handling_note') or '处置部门没有填写说明。'}"
        else:
            self.handling = ""
        self._show_map(task)
        self.follow_fix(app, app.fix)
        self.check()

    def _show_map(self, task: dict) -> None:
        """My grids with the case as the pin, wide enough to show me too when I am near (up to 5 km)."""
        panel, fix = self.ids.panel, self.app.fix
        panel.show_grids(self.app.services.cache)
        case = task["lon"], task["lat"]
        far = sphere_distance_m(fix.lon, fix.lat, *case) if fix else 0.0
        panel.map.around_m = min(max(300.0, 2.4 * far), 5000.0)
        panel.map.pin = panel.map.around = case

    def follow_fix(self, app, fix: Fix | None) -> None:
        """My position on the map, the distance to the case, the countdown, and the position stamped on
        the photos I take (none without a fix: a photo is never stamped with the case's own place)."""
        if not self.task:
            return
        self.ids.panel.map.position = fix
        self.ids.photos.position = (fix.lon, fix.lat) if fix else None
        self.distance = distance_of(fix, self.task) or "还没有GPS定位"
        self.badge, self.light = countdown(self.task, datetime.now(UTC))

    def _show_results(self, kind: str) -> None:
        box = self.ids.results
        box.clear_widgets()
        for result in REPLY_RESULTS.get(kind, ()):
            button = Factory.ResultButton(text=RESULTS[result])
            button.code = result  # a property of the kv class: it exists once the widget is made
            button.bind(on_release=lambda b: setattr(self, "result", b.code if b.state == "down" else ""))
            box.add_widget(button)

    def on_result(self, *args) -> None:
        for button in self.ids.results.children:
            button.state = "down" if button.code == self.result else "normal"
        self.check()

    def _show_case_photos(self, photos: list[dict]) -> None:
        """The case's photos, labelled by their role (处置前, 处置后…); a tap shows one large."""
        box, note, code = self.ids.case_photos, self.ids.case_photos_note, self.code
        box.clear_widgets()
        note.text = "加载照片…" if photos else "此案件没有照片。"

        def done(paths: list[Path]) -> None:
            if self.code == code and not box.children:  # not yet shown by an earlier visit's download
                note.text = ""
                add_photos(box, photos, paths)

        def failed(exc: Exception) -> None:
            if self.code == code:
                note.text = f"照片没有加载出来。{explain(exc)}"

        if photos:
            load_photos(photos, done, failed)

    def check(self, *args) -> None:
        photos = self.ids.photos
        if not self.result:
            self.blocked = f"请选择{TASK_KINDS.get(self.task.get('kind'), '')}结果。"
        elif photos.busy:
            self.blocked = "照片处理中…"
        elif self.result in PHOTO_NEEDED and not photos.paths:
            self.blocked = f"{PHOTO_NEEDED[self.result]}需要至少一张现场照片：请先拍照。"
        else:
            self.blocked = ""

    def far_photo_m(self) -> float | None:
        """How far from the case the reply's farthest photo was taken, when that is beyond the server's
        limit (the server would flag the photo), else None. A photo was taken where its geotag says (the
        camera's, or my position stamped when it was taken), else where I am now."""
        limit = self.app.services.store.get("photo_far_m")
        if limit is None:
            limit = PHOTO_FAR_M
        fix, task = self.app.fix, self.task
        farthest = 0.0
        for path in self.ids.photos.paths:
            with Image.open(path) as image:
                tag = read_geotag(image)
            where = (tag.lon, tag.lat) if tag.lon is not None else (fix.lon, fix.lat) if fix else None
            if where is not None:
                farthest = max(farthest, sphere_distance_m(*where, task["lon"], task["lat"]))
        return farthest if farthest > limit else None

    def send(self) -> None:
        self.check()
        if self.blocked:
            self.app.notify(self.blocked)
            return
        far = self.far_photo_m()
        if far is None:
            self.queue()
            return
        ask(
            "照片离案件较远",
            f"照片拍摄位置距案件 {far:.0f} 米，可能不是这个问题的现场。"
            "请到现场重新拍照，或确认无误后仍然发送。",
            [("仍然发送", self.queue), ("取消", None)],
        )

    def queue(self) -> None:
        """Put the reply in the outbox."""
        app, task, photos = self.app, self.task, self.ids.photos
        fix = app.fix
        try:
            app.services.outbox.add_reply(
                case_code=task["code"],
                action=f"reply_{task['kind']}",
                result=self.result,
                note=self.ids.note.text.strip(),
                version=task["version"],
                lon=fix.lon if fix else None,
                lat=fix.lat if fix else None,
                photos=[Path(p) for p in photos.paths],
            )
        except OutboxError as exc:
            app.notify(str(exc))
            return
        app.services.sync.wake()
        photos.clear()
        self._shown = ""
        app.notify("回复已存入发件箱，有网络时自动发送。")
        app.show("outbox")
