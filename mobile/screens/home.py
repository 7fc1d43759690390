"""Home: on shift or not (clock in, clock out), today's patrol distance and time, what waits in the
outbox and the task list, the sync's state, and my latest reports."""

from __future__ import annotations

from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from mobile.platform.background import start_patrol_service, stop_patrol_service
from mobile.screens.widgets import LIGHT_COLORS, SYNC_STATES, AppScreen, local_time

RECENT_REPORTS = 5
TICK_SECONDS = 20  # how often the time on shift is brought up to date while the screen is shown


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

    def sync_now(self) -> None:
        self.app.services.sync.wake()
        self.app.notify("正在同步…")
