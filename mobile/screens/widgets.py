"""What the screens share: the screen base class, work off the UI thread, the wording and colours of
states, urgencies and deadlines, times in Beijing time, and the row of photo thumbnails."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from kivy.app import App
from kivy.clock import mainthread
from kivy.core.text import Label as CoreLabel
from kivy.core.text.markup import MarkupLabel
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.metrics import dp, sp
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.popup import Popup
from kivy.uix.screenmanager import Screen

from mobile.platform import on_android
from mobile.services.errors import explain
from mobile.services.outbox import MAX_PHOTOS
from mobile.services.photos import SHANGHAI, prepare_photo

if TYPE_CHECKING:
    from mobile.main import GridOpsApp

T = TypeVar("T")

# The app speaks Chinese to the inspector; codes stay English in the code.
OUTBOX_STATES = {"queued": "待发送", "sending": "发送中", "sent": "已发送", "failed": "发送失败"}
OUTBOX_COLORS = {
    "queued": (0.85, 0.55, 0.1, 1),
    "sending": (0.2, 0.45, 0.85, 1),
    "sent": (0.2, 0.6, 0.3, 1),
    "failed": (0.85, 0.2, 0.2, 1),
}
SYNC_STATES = {
    "idle": "已同步",
    "syncing": "同步中",
    "offline": "无网络",
    "login": "需重新登录",
    "error": "同步出错",
}
URGENCIES = {"urgent": "紧急", "important": "重要", "normal": "一般"}
TASK_KINDS = {"verification": "核实", "check": "核查"}
RESULTS = {"confirmed": "属实", "not_found": "不属实", "pass": "通过", "rework": "返工"}
LIGHT_COLORS = {
    "green": (0.2, 0.65, 0.3, 1),
    "yellow": (0.9, 0.65, 0.05, 1),
    "red": (0.85, 0.15, 0.15, 1),
    None: (0.5, 0.5, 0.5, 1),
}
LIGHTS = {"green": "正常", "yellow": "即将超时", "red": "已超时", None: ""}
# The server's state codes and timeline actions (server/case/flows.py), as the command center words them.
STATE_LABELS = {
    "reported": "待核实派发",
    "verifying": "核实中",
    "registered": "待立案",
    "filed": "待派遣",
    "dispatched": "处置中",
    "returned": "已回退",
    "suspended": "挂账",
    "handled": "待核查",
    "checking": "核查中",
    "checked": "待结案",
    "closed": "已结案",
    "voided": "已作废",
    "merged": "已合并",
}
ACTION_LABELS = {
    "report": "上报",
    "add_photo": "上传照片",
    "request_verification": "派核实",
    "reply_verification": "回复核实",
    "file": "立案",
    "void": "作废",
    "dispatch": "派遣",
    "receive": "签收",
    "escalate": "上报上级",
    "return": "回退",
    "request_extension": "申请延期",
    "approve_extension": "批准延期",
    "refuse_extension": "驳回延期",
    "suspend": "挂账",
    "resume": "恢复",
    "report_handling": "处置反馈",
    "request_check": "派核查",
    "reply_check": "回复核查",
    "close": "结案",
    "merge": "合并",
    "keep_apart": "不合并",
    "reclassify": "改类",
    "answer": "答复办结",
    "tag": "加标签",
    "untag": "去标签",
    "supervise": "督办",
    "urge": "催办",
    "acknowledge_supervision": "签收督办",
    "answer_supervision": "答复督办",
    "callback": "回访",
}


def load_kv(module_file: str) -> None:
    """Load the .kv file beside a screen module (once per process: the rules are global to Kivy)."""
    path = str(Path(module_file).with_suffix(".kv"))
    if path not in Builder.files:
        Builder.load_file(path)


def local_time(value: str | datetime | None, fmt: str = "%m-%d %H:%M") -> str:
    """A server or device time (ISO text or aware datetime) in Beijing time; "" for None."""
    if value is None:
        return ""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.astimezone(SHANGHAI).strftime(fmt)


def in_background(
    work: Callable[[], T], done: Callable[[T], None], failed: Callable[[Exception], None]
) -> threading.Thread:
    """Run ``work`` on a thread of its own (network, disk, images), then ``done(result)`` or
    ``failed(exception)`` on Kivy's thread, where widgets may be touched."""

    def run() -> None:
        try:
            result = work()
        except Exception as exc:
            mainthread(failed)(exc)
        else:
            mainthread(done)(result)

    thread = threading.Thread(target=run, name="gridops-ui-work", daemon=True)
    thread.start()
    return thread


class AppScreen(Screen):
    """A screen of the app: ``refresh`` re-reads what it shows each time it is entered, and again on every
    change of the app's properties named in ``follows`` while it is shown."""

    follows: tuple[str, ...] = ()

    @property
    def app(self) -> GridOpsApp:
        return App.get_running_app()

    def on_pre_enter(self, *args) -> None:
        self.refresh()

    def on_enter(self, *args) -> None:
        for name in self.follows:
            self.app.fbind(name, self._followed)

    def on_leave(self, *args) -> None:
        for name in self.follows:
            self.app.funbind(name, self._followed)

    def _followed(self, *args) -> None:
        # a tick, a fix or a sync report may land in the frame after the app stopped and closed its store
        if not self.app.stopped:
            self.refresh()

    def refresh(self) -> None:
        """Show the current state of the store (nothing to do for a screen that only holds a form)."""


class Notice(Label):
    """The app's short messages (``app.notice``), shown under the title bar; a tap puts one away."""

    def on_touch_down(self, touch) -> bool:
        app = App.get_running_app()
        if app.notice and self.collide_point(*touch.pos):
            app.notice = ""
            return True
        return False


class NavButton(Button):
    """A button of the bottom bar: opens ``screen``."""

    screen = StringProperty()


class PickPopup(Popup):
    """Pick a picture file (the desktop's stand-in for the phone's gallery); ``on_choose`` fires with the
    chooser's selection."""

    __events__ = ("on_choose",)

    def on_choose(self) -> None:
        self.dismiss()


class PhotoStrip(BoxLayout):
    """Up to three photos with a take and a pick button; tapping a thumbnail removes its photo.

    Each photo is prepared for upload (scaled, stamped with the time, ``place`` and the inspector,
    geotagged at ``position`` when the camera did not) on a thread, then its path joins ``paths``.
    ``busy`` counts photos still being prepared: a form waits for them before it sends."""

    paths = ListProperty()
    busy = NumericProperty(0)
    max_photos = NumericProperty(MAX_PHOTOS)
    place = StringProperty()
    position = ObjectProperty(None, allownone=True)  # (lon, lat) to stamp, or None
    can_pick = BooleanProperty(not on_android())  # the file chooser is for the desktop

    @property
    def app(self) -> GridOpsApp:
        return App.get_running_app()

    def on_paths(self, *args) -> None:
        thumbs = self.ids.thumbs
        thumbs.clear_widgets()
        for path in self.paths:
            thumb = Factory.Thumbnail(source=path)
            thumb.bind(on_release=lambda _, path=path: self.preview(path))
            thumbs.add_widget(thumb)

    def preview(self, path: str) -> None:
        """The photo large, to look at before keeping or deleting it: a tap never deletes by itself."""
        popup = Factory.PhotoPreview()  # a kv class: its own properties are set once it is made
        popup.source = path
        popup.ids.delete.bind(on_release=lambda _: (popup.dismiss(), self.remove(path)))
        popup.open()

    def remove(self, path: str) -> None:
        self.paths = [p for p in self.paths if p != path]
        Path(path).unlink(missing_ok=True)

    def clear(self) -> None:
        """Drop every photo (after they were handed to the outbox, which keeps its own copies)."""
        for path in self.paths:
            Path(path).unlink(missing_ok=True)
        self.paths = []

    def take(self) -> None:
        """Take a photo with the phone's camera (on the desktop: a sample or a picture from a folder)."""
        self.busy += 1
        dest = self.app.drafts_dir / f"camera-{uuid.uuid4().hex}.jpg"
        self.app.camera.take(dest, mainthread(self._taken))

    def _taken(self, path: Path | None) -> None:
        if path is None:
            self.busy -= 1
            self.app.notify("没有拍到照片：请再拍一次。")
            return
        self._prepare(path, camera_file=True)

    def pick(self) -> None:
        """Choose a picture file."""
        popup = PickPopup()
        popup.ids.chooser.path = str(Path.home())
        popup.bind(on_choose=lambda popup: self._picked(popup.ids.chooser.selection))
        popup.open()

    def _picked(self, selection: list[str]) -> None:
        if selection:
            self.busy += 1
            self._prepare(Path(selection[0]), camera_file=False)

    def _prepare(self, src: Path, *, camera_file: bool) -> None:
        app, place = self.app, self.place
        lon, lat = self.position or (None, None)

        def prepare() -> Path:
            try:
                return prepare_photo(
                    src, app.drafts_dir, inspector=app.user_name, place=place, lon=lon, lat=lat
                )
            finally:
                if camera_file:
                    src.unlink(missing_ok=True)

        def done(path: Path) -> None:
            # The photo joins ``paths`` before it leaves ``busy``: a form watching both always sees it.
            if str(path) not in self.paths:
                self.paths = [*self.paths, str(path)]
            self.busy -= 1

        def failed(exc: Exception) -> None:
            self.busy -= 1
            if isinstance(exc, ValueError):  # not an image, or one that cannot be read
                app.notify("这个文件不是能用的照片：请换一张，或重新拍照。")
            else:
                app.notify(explain(exc))

        in_background(prepare, done, failed)


load_kv(__file__)


class ChoicePopup(Popup):
    """A question (``text``) with a button per answer, one under the other (a thumb's width each)."""

    text = StringProperty()


def ask(title: str, text: str, answers: list[tuple[str, Callable[[], object] | None]]) -> ChoicePopup:
    """Open a question; each answer is (button text, what it does; None: only close)."""
    popup = ChoicePopup(title=title, text=text)
    for label, action in answers:
        button = Factory.BigButton(text=label)
        button.bind(on_release=lambda _, action=action: (popup.dismiss(), action and action()))
        popup.ids.answers.add_widget(button)
    popup.open()
    return popup


@lru_cache(maxsize=512)
def text_height(text: str, width: float, font_sp: float, markup: bool = False) -> float:
    """The height ``text`` takes wrapped in ``width`` pixels at ``font_sp``: for the rows of a list, which
    must know their heights before they are drawn."""
    label = (MarkupLabel if markup else CoreLabel)(
        text=text, font_size=sp(font_sp), text_size=(max(width, dp(40)), None)
    )
    label.refresh()
    return label.content_height
