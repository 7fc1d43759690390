"""Home: on shift or not (clock in, clock out), today's patrol distance and time, today's figures (reports
made, tasks done, kilometres walked), what waits in the outbox and the task list, the sync's state, and my
latest reports; and logging out, which a shared phone makes careful: a shift is ended first, and reports
and replies not yet sent are counted and kept.

The clock button cannot flip twice in a row: after a tap it rests until the shift has changed and
:data:`CLOCK_REST_SECONDS` more (a double tap once clocked in and straight out, sending an empty shift),
and clocking out asks first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from mobile.platform.background import start_patrol_service, stop_patrol_service
from mobile.screens.widgets import LIGHT_COLORS, SYNC_STATES, AppScreen, ask, in_background, local_time
from mobile.services.errors import explain
from mobile.services.outbox import Outbox

RECENT_REPORTS = 5
TICK_SECONDS = 20  # how often the time on shift is brought up to date while the screen is shown
FIX_REFRESH_SECONDS = 5  # new fixes redraw the screen at most this often (they come every second or two)
CLOCK_REST_SECONDS = 1.5  # the clock button rests this long after the shift changed


def made_today(outbox: Outbox) -> tuple[int, int]:
    """(reports, task replies) the logged-in user made today, Beijing time: waiting or sent, not those
    the server refused."""
    today = local_time(datetime.now(UTC), "%Y-%m-%d")
    made = [
        item
        for item in outbox.items("queued", "sending", "sent")
        if local_time(item.created_at, "%Y-%m-%d") == today
    ]
    reports = sum(item.kind == "report" for item in made)
    return reports, len(made) - reports


class HomeScreen(AppScreen):
    user_line = StringProperty()
    working = BooleanProperty(False)  # on shift
    patrol_line = StringProperty()
    waiting = NumericProperty(0)  # reports and replies not yet sent
    failed = NumericProperty(0)
    tasks = NumericProperty(0)
    sync_line = StringProperty()
    reports_today = NumericProperty(0)
    tasks_done_today = NumericProperty(0)
    km_today = StringProperty("0.0")
    clock_resting = BooleanProperty(False)  # the clock button takes no tap (see the module's docstring)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._tick = None
        self._fix_moved = Clock.create_trigger(self._followed, FIX_REFRESH_SECONDS)

    follows = ("sync_changes",)

    def on_enter(self, *args) -> None:
        super().on_enter(*args)
        self._tick = Clock.schedule_interval(self._followed, TICK_SECONDS)
        self.app.fbind("fix", self._fix_moved)

    def on_leave(self, *args) -> None:
        super().on_leave(*args)
        self._tick.cancel()
        self.app.funbind("fix", self._fix_moved)
        self._fix_moved.cancel()

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
        self.patrol_line = f"今日巡查 {hours} 小时 {minutes} 分"  # the distance is among the figures
        self.km_today = f"{today.distance_m / 1000:.1f}"
        self.reports_today, self.tasks_done_today = made_today(services.outbox)
        counts = services.outbox.counts()
        self.waiting = counts["queued"] + counts["sending"]
        self.failed = counts["failed"]
        open_patrols = sum(t["state"] == "open" for t in services.cache.patrol_tasks())
        self.tasks = len(services.cache.tasks()) + open_patrols
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

    def tap_clock(self) -> None:
        """上班打卡 at once; 下班打卡 once confirmed."""
        if self.app.services.patrol.on_shift:
            ask(
                "下班打卡",
                "确定现在下班吗？本班次到此结束，巡查轨迹停止记录。",
                [("下班", lambda: self._resting(self.clock_out)), ("取消", None)],
            )
        else:
            self._resting(self.clock_in)

    def _resting(self, change: Callable[[], None]) -> None:
        """Make ``change`` with the clock button resting until it is made and a moment after."""
        self.clock_resting = True
        try:
            change()
        finally:
            Clock.schedule_once(lambda dt: setattr(self, "clock_resting", False), CLOCK_REST_SECONDS)

    def clock_in(self) -> None:
        self.app.services.patrol.clock_in()
        start_patrol_service(self.app.data_dir)
        self.app.notify("已上班打卡，开始记录巡查轨迹")
        self._shift_changed()

    def clock_out(self) -> None:
        self.app.services.patrol.clock_out()
        stop_patrol_service()
        self.app.notify("已下班打卡")
        self._shift_changed()

    def _shift_changed(self) -> None:
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
        self._resting(self.clock_out)
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
