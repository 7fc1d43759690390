"""My verification (核实) and check (核查) tasks: the list, soonest due first, and one task with the
case's photos, place and deadline and the reply form (a result, a note, up to three photos). Sending
puts the reply in the outbox, like a report."""

from __future__ import annotations

from pathlib import Path

from kivy.factory import Factory
from kivy.properties import ColorProperty, DictProperty, ObjectProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout

from mobile.screens.widgets import (
    LIGHT_COLORS,
    LIGHTS,
    RESULTS,
    TASK_KINDS,
    AppScreen,
    in_background,
    local_time,
)
from mobile.services.errors import explain
from mobile.services.outbox import OutboxError

REPLY_RESULTS = {"verification": ("confirmed", "not_found"), "check": ("pass", "rework")}


def place_of(app, task: dict) -> str:
    """Where a case is: its address, else the deepest of my grids holding it, else its grid code."""
    if task.get("address"):
        return task["address"]
    chain = app.services.cache.grid_at(task["lon"], task["lat"])
    return chain[-1].name if chain else f"网格 {task['grid_code']}"


def deadline_of(task: dict) -> str:
    light = LIGHTS[task.get("light")]
    due = f"截止 {local_time(task['due_at'])}" if task.get("due_at") else "无截止时间"
    return f"{due}（{light}）" if light else due


def replied_codes(app) -> set[str]:
    """Cases with a reply of mine still in the outbox (not yet sent)."""
    waiting = app.services.outbox.items("queued", "sending", "failed")
    return {item.case_code for item in waiting if item.kind == "reply"}


class TaskRow(ButtonBehavior, BoxLayout):
    """A task in the list; tapping it opens it."""

    text = StringProperty()
    light = ColorProperty()
    code = StringProperty()
    owner = ObjectProperty()


class TasksScreen(AppScreen):
    follows = ("sync_changes",)

    def refresh(self) -> None:
        app = self.app
        tasks = app.services.cache.tasks()
        waiting = replied_codes(app)
        self.ids.rows.data = [
            {
                "text": (
                    f"[b]{TASK_KINDS.get(t['kind'], '任务')}[/b]  {t['code']}  {t['category']['name']}\n"
                    f"{place_of(app, t)}\n{deadline_of(t)}{'　· 回复待发送' if t['code'] in waiting else ''}"
                ),
                "light": LIGHT_COLORS[t.get("light")],
                "code": t["code"],
                "owner": self,
            }
            for t in tasks
        ]
        self.ids.summary.text = f"{len(tasks)} 项待办任务" if tasks else "没有待办任务。"

    def open(self, code: str) -> None:
        self.app.show("task", code=code)


class TaskScreen(AppScreen):
    """One task: ``code`` names the case (set before the screen is shown)."""

    code = StringProperty()
    task = DictProperty()
    title = StringProperty()
    result = StringProperty()
    blocked = StringProperty()

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown = ""  # the task whose form is on screen: another task starts a fresh form
        self.ids.photos.bind(paths=self.check, busy=self.check)

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
        photos = self.ids.photos
        photos.position = (app.fix.lon, app.fix.lat) if app.fix else (task["lon"], task["lat"])
        photos.place = place_of(app, task)
        self.ids.facts.text = (
            f"{task['category']['name']}（{task['category']['code']}）· {task['state_label']}\n"
            f"地点：{place_of(app, task)}\n{deadline_of(task)}\n"
            f"描述：{task.get('description') or '无'}"
        )
        self.check()

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
        """The case's photos (before / after), downloaded once into the app's data folder."""
        box = self.ids.case_photos
        box.clear_widgets()
        self.ids.case_photos_note.text = "加载照片…" if photos else "此案件没有照片。"
        folder = self.app.data_dir / "case-photos"
        api, code = self.app.services.api, self.code

        def fetch() -> list[Path]:
            folder.mkdir(parents=True, exist_ok=True)
            paths = []
            for photo in photos:
                path = folder / f"{photo['id']}-thumbnail.jpg"
                if not path.exists():
                    url = photo.get("thumbnail_url") or photo["url"]
                    part = path.with_suffix(".part")
                    part.write_bytes(api.download(url.lstrip("/")))
                    part.replace(path)
                paths.append(path)
            return paths

        def done(paths: list[Path]) -> None:
            if self.code != code:
                return
            self.ids.case_photos_note.text = ""
            for path in paths:
                box.add_widget(Factory.CasePhoto(source=str(path)))

        def failed(exc: Exception) -> None:
            if self.code == code:
                self.ids.case_photos_note.text = f"照片没有加载出来。{explain(exc)}"

        if photos:
            in_background(fetch, done, failed)

    def check(self, *args) -> None:
        photos = self.ids.photos
        if not self.result:
            self.blocked = f"请选择{TASK_KINDS.get(self.task.get('kind'), '')}结果。"
        elif photos.busy:
            self.blocked = "照片处理中…"
        elif self.result == "pass" and not photos.paths:
            self.blocked = "核查通过需要至少一张现场照片：请先拍照。"
        else:
            self.blocked = ""

    def send(self) -> None:
        self.check()
        if self.blocked:
            self.app.notify(self.blocked)
            return
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
