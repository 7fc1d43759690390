"""The home screen in the field (issue 16): today's figures (reports made, tasks done, kilometres walked),
a clock button that a double tap cannot flip twice, clocking out only once confirmed, touch targets a
finger can hit, and the desktop's simulated walk brought into the inspector's own grids."""

from __future__ import annotations

# isort: off
import mobile.main  # noqa: F401 (first: it sets the window's size, which Kivy fixes when it makes it)

# isort: on
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta

from kivy.core.window import Window
from kivy.metrics import dp
from kivy.uix.button import Button

from gis.crs import sphere_distance_m
from mobile.platform.gps import GPX_ENV, LIXIA_ROUTE, Fix
from tests.mobile.app_driver import Driver, GridOpsApp, log_in, synced
from tests.mobile.conftest import OPERATOR, act, hotline_case, http_login, user_id

SHIFT_STEP = timedelta(seconds=6)  # between the fixes a test feeds the patrol (it keeps one per 5 s)


def choice(d: Driver, answer: str) -> None:
    """Tap ``answer`` in the open question."""
    popup = d.popup("ChoicePopup")
    d.tap(d.find(Button, root=popup, text=answer))


def verification_task(server, inspector_http, village, note: str) -> str:
    """A citizen's call in the inspector's village, sent to the inspector to verify: its code."""
    _, lon, lat = village
    with closing(http_login(server, OPERATOR)) as operator:
        code = hotline_case(operator, lon, lat, note)["code"]
        act(operator, code, "request_verification", inspector_id=user_id(inspector_http))
    return code


def test_todays_figures(drive, server, inspector_http, village, camera, queue_report):
    """Reports and task replies made today (waiting or sent) and the kilometres of today's track."""
    d = drive()
    log_in(d, server.url)
    synced(d)
    home, services = d.screen, d.app.services
    assert (home.ids.reports_today.value, home.ids.tasks_done_today.value, home.ids.km_today.value) == (
        "0",
        "0",
        "0.0",
    )
    d.app.gps.stop()  # the track is the test's from here on
    d.tap(home.ids.clock)
    assert services.patrol.on_shift

    code = verification_task(server, inspector_http, village, "市民来电：小区门口垃圾堆放")
    queue_report(services.outbox, camera(1))
    yesterday = queue_report(services.outbox, camera(1))  # made yesterday: not today's
    with services.store.transaction() as db:
        at = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        db.execute("UPDATE outbox SET created_at = ? WHERE id = ?", (at, yesterday.id))
    services.sync.wake()
    task = d.until(lambda: next((t for t in services.cache.tasks() if t["code"] == code), None), "the task")
    _, lon, lat = village
    services.outbox.add_reply(
        case_code=code,
        action="reply_verification",
        result="confirmed",
        note="现场确认有垃圾",
        version=task["version"],
        lon=lon,
        lat=lat,
        photos=camera(1),
    )

    # Out 600 m east and back: 1.2 km; each fix redraws the screen (a few seconds later at most).
    start = datetime.fromisoformat(services.store.query("SELECT started_at FROM shift")[0]["started_at"])
    walk = [(lon, lat), (lon + 0.0067, lat), (lon, lat)]
    for n, (x, y) in enumerate(walk, 1):
        fix = Fix(x, y, 5.0, start + n * SHIFT_STEP)
        assert services.patrol.add_fix(fix.lon, fix.lat, fix.accuracy_m, fix.at)
        d.app.fix = fix
    km = f"{2 * sphere_distance_m(*walk[0], *walk[1]) / 1000:.1f}"
    assert km == "1.2"
    d.until(
        lambda: (
            (home.ids.reports_today.value, home.ids.tasks_done_today.value, home.ids.km_today.value)
            == ("1", "1", km)
        ),
        "today's figures",
    )
    d.until(lambda: not services.outbox.pending(), "the report and the reply to be sent")
    synced(d)
    assert (home.ids.reports_today.value, home.ids.tasks_done_today.value) == (
        "1",
        "1",
    )  # sent: still today's
    assert "公里" in home.ids.km_today.children[-1].text

    for target in (home.ids.clock, home.ids.reports_today, home.ids.tasks_done_today, home.ids.km_today):
        assert target.height >= dp(48) and target.width >= dp(48)
    for text in ("立即同步", "退出登录"):
        assert d.find(Button, text=text).height >= dp(48)
    d.tap(home.ids.km_today)
    assert d.app.current == "map"


def test_a_double_tap_clocks_in_once(drive, server, inspector_http):
    """Two taps on 上班打卡 within 0.2 s: one open shift reaches the server, no empty ended one; the
    button rests a moment, and 下班打卡 asks before it ends the shift."""
    began = datetime.now(UTC)
    d = drive()
    log_in(d, server.url)
    synced(d)
    home, services = d.screen, d.app.services
    clock = home.ids.clock
    assert clock.text == "上班打卡" and not clock.disabled
    x, y = clock.to_window(*clock.center)
    tapped = time.monotonic()
    d.tap_at(x, y)
    apart = time.monotonic() - tapped
    d.tap_at(x, y)
    assert apart < 0.2
    assert services.patrol.on_shift and clock.text == "下班打卡" and clock.disabled
    (shift,) = [row["client_uuid"] for row in services.store.query("SELECT client_uuid FROM shift")]

    services.sync.wake()
    synced(d)
    shifts = inspector_http.get("/api/patrol/shifts", params={"user_id": user_id(inspector_http)}).json()
    mine = [s for s in shifts if datetime.fromisoformat(s["started_at"]) >= began - timedelta(seconds=1)]
    assert [(s["client_uuid"], s["on_shift"]) for s in mine] == [(shift, True)]

    d.until(lambda: not clock.disabled, "the clock button to be ready again")
    d.tap(clock)
    choice(d, "取消")
    d.until(lambda: not any(type(w).__name__ == "ChoicePopup" for w in Window.children), "the question gone")
    assert services.patrol.on_shift
    d.tap(clock)
    choice(d, "下班")
    assert not services.patrol.on_shift and clock.text == "上班打卡" and clock.disabled


def test_the_desktop_walk_goes_into_my_grids(app_dir, server, monkeypatch):
    """The app's own simulated GPS starts on its route through 历下区, and goes round one of the
    inspector's unit grids once the grids are synced, so that the map and the reports are in them."""
    monkeypatch.delenv(GPX_ENV, raising=False)
    d = Driver(GridOpsApp(app_dir)).start()
    try:
        d.until(lambda: d.app.fix, "the first fix")
        assert (d.app.fix.lon, d.app.fix.lat) == LIXIA_ROUTE[0]
        log_in(d, server.url)
        synced(d)
        cache = d.app.services.cache

        def unit_of(fix: Fix) -> str | None:
            chain = cache.grid_at(fix.lon, fix.lat)
            return chain[-1].code if chain and chain[-1].level == "unit" else None

        first = d.until(lambda: unit_of(d.app.fix) and d.app.fix, "a fix in one of my unit grids")
        later = d.until(lambda: d.app.fix.at > first.at and d.app.fix, "the next fix")
        assert unit_of(later) == unit_of(first)
        assert sphere_distance_m(first.lon, first.lat, later.lon, later.lat) > 1  # walking
    finally:
        d.stop()


def test_the_home_screen_reads_nothing_once_the_app_has_stopped(drive, server):
    """The home screen refreshes on a timer and when the app's state changes; one of those may land in the
    frame after the app stopped and closed its store (the teardown saw it once): it does nothing then."""
    d = drive()
    log_in(d, server.url)
    home = d.app.manager.get_screen("home")
    d.stop()
    home._followed()  # a tick due just after the stop
