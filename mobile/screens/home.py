"""Home: on shift or not (clock in, clock out), today's patrol distance and time, what waits in the
outbox and the task list, the sync's state, and my latest reports; and logging out, which a shared phone
makes careful: a shift is ended first, and reports and replies not yet sent are counted and kept."""

from __future__ import annotations

from collections.abc import Callable

from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.popup import Popup

from mobile.platform.background import start_patrol_service, stop_patrol_service
from mobile.screens.widgets import LIGHT_COLORS, SYNC_STATES, AppScreen, in_background, local_time
from mobile.services.errors import explain

RECENT_REPORTS = 5
TICK_SECONDS = 20  # how often the time on shift is brought up to date while the screen is shown


class ChoicePopup(Popup):
    """A question (``text``) with a button per answer."""

    text = StringProperty()


def ask(title: str, text: str, answers: list[tuple[str, Callable[[], None] | None]]) -> ChoicePopup:
    """Open a question; each answer is (button text, what it does; None: only close)."""
    popup = ChoicePopup(title=title, text=text)
    for label, action in answers:
        button = Factory.BigButton(text=label)
        button.bind(on_release=lambda _, action=action: (popup.dismiss(), action and action()))
        popup.ids.answers.add_widget(button)
    popup.open()
    return popup


class HomeScreen(AppScreen):
    user_line = StringProperty()
    working = BooleanProperty(False)  # on shift
    patrol_line = StringProperty()
    waiting = NumericProperty(0)  # reports and replies not yet sent
    failed = NumericProperty(0)
    tasks = NumericProperty(0)
    sync_line = StringProperty()

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._tick = None

    follows = ("sync_changes", "fix")

    def on_enter(self, *args) -> None:
        super().on_enter(*args)
        self._tick = Clock.schedule_interval(self._followed, TICK_SECONDS)

    def on_leave(self, *args) -> None:
        super().on_leave(*args)
        self._tick.cancel()

    def refresh(self) -> None:
        app, services = self.app, self.app.services
        user = services.user or {}
        self.user_line = f"{user.get('name', '')}　{user.get('phone', '')}" + (
            "　（离线登录）" if services.offline else ""
        )
        patrol = services.patrol
        self.working = patrol.on_shift
        today = patrol.today()
        hours, minutes = divmod(int(today.seconds // 60), 60)
        self.patrol_line = f"今日巡查 {today.distance_m / 1000:.2f} 公里 · {hours} 小时 {minutes} 分"
        counts = services.outbox.counts()
        self.waiting = counts["queued"] + counts["sending"]
        self.failed = counts["failed"]
        self.tasks = len(services.cache.tasks())
        last = f"上次同步成功 {local_time(app.last_sync, '%H:%M')}" if app.last_sync else "尚未同步"
        problem = f"\n{app.sync_message}" if app.sync_state in ("offline", "login", "error") else ""
        self.sync_line = f"{SYNC_STATES[app.sync_state]} · {last}{problem}"
        self._show_reports(services.cache.reports()[:RECENT_REPORTS])

    def _show_reports(self, reports: list[dict]) -> None:
        box = self.ids.recent
        box.clear_widgets()
        if not reports:
            box.add_widget(Factory.Note(text="还没有已送达的上报。"))
        for case in reports:
            row = Factory.CaseRow()  # text and light are properties of the kv class: set once it is made
            row.text = f"{case['code']}\n{case['category']['name']} · {case['state_label']}"
            row.light = LIGHT_COLORS[case.get("light")]
            row.bind(on_release=lambda _, code=case["code"]: self.app.show("case", code=code))
            box.add_widget(row)

    def toggle_shift(self) -> None:
        patrol = self.app.services.patrol
        if patrol.on_shift:
            patrol.clock_out()
            stop_patrol_service()
            self.app.notify("已下班打卡")
        else:
            patrol.clock_in()
            start_patrol_service(self.app.data_dir)
            self.app.notify("已上班打卡，开始记录巡查轨迹")
        self.app.services.sync.wake()
        self.refresh()

    def ask_logout(self) -> None:
        """Log out, once the shift is ended and the items not sent are accounted for: the phone may pass to
        another inspector, who must neither continue the shift nor send the items."""
        if self.app.services.patrol.on_shift:
            ask(
                "退出登录",
                "你还在上班巡查中。退出登录前需要先下班打卡：本班次到此结束，巡查轨迹仍记在你的名下。",
                [("下班并退出", self._clock_out_and_log_out), ("取消", None)],
            )
        else:
            self._check_outbox()

    def _clock_out_and_log_out(self) -> None:
        self.toggle_shift()
        self._send_then(self._check_outbox)  # the clock-out reaches the server now when it can

    def _check_outbox(self) -> None:
        waiting = self.app.services.outbox.pending()
        if not waiting:
            self.app.logout()
            return
        reports = sum(item.kind == "report" for item in waiting)
        counted = "、".join(
            f"{n} 条{what}" for n, what in ((reports, "上报"), (len(waiting) - reports, "任务回复")) if n
        )
        ask(
            "还有没发出的记录",
            f"你还有 {counted}没有发送到服务器。退出后它们保留在这部手机上，别人登录既看不到也不会发出；"
            "下次你用这个账号登录时会自动发送。",
            [
                ("先发送再退出", lambda: self._send_then(self._sent_or_ask)),
                ("保留并退出", self.app.logout),
                ("取消", None),
            ],
        )

    def _send_then(self, then: Callable[[], None]) -> None:
        """Run a sync now (in the background), then ``then()``."""
        self.app.notify("正在发送…")
        in_background(
            self.app.services.sync.run_once,
            lambda _: then(),
            lambda exc: (self.app.notify(explain(exc)), then()),
        )

    def _sent_or_ask(self) -> None:
        if self.app.services.outbox.pending():  # not all sent: say why, and ask again
            self.app.notify(self.app.services.sync.status.message)
        self._check_outbox()

    def sync_now(self) -> None:
        self.app.services.sync.wake()
        self.app.notify("正在同步…")
