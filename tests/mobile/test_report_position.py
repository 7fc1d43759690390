"""The position of a report is where the problem is (issue 16): the pin is held where the first photo was
taken while the inspector walks on; a fix that grows old shows as stale by itself; a pin placed by hand
with no fix is accepted and sent as such; a poor fix asks before it is sent; several fixes can be
averaged; and a report can be put aside as a draft, which survives a restart and is its owner's only.

The app runs in the real window against the live server, with a GPS the test moves by hand."""

from __future__ import annotations

# isort: off
import mobile.main  # noqa: F401 (first: it sets the window's size, which Kivy fixes when it makes it)

# isort: on
import itertools
import math
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kivy.metrics import dp
from kivy.uix.button import Button

from gis.crs import sphere_distance_m
from mobile.platform.gps import Fix, average
from mobile.screens.gridmap import mercator
from mobile.screens.report import FIX_MAX_AGE_S
from tests.mobile.app_driver import Driver, log_in, synced
from tests.mobile.category_tree import category_row
from tests.mobile.conftest import INSPECTOR, case_of, http_login
from tests.mobile.layout import layout_problems

INSPECTOR_B = "13900000002"  # 刘洋, another inspector of the demo street
WARNING_COLOUR = [0.8, 0.3, 0.05, 1]
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def east(lon: float, lat: float, metres: float) -> tuple[float, float]:
    """The point ``metres`` east of (lon, lat)."""
    return lon + metres / (111_320.0 * math.cos(math.radians(lat))), lat


# -- averaging, without a window --------------------------------------------------------------------------


def test_average_weighs_each_fix_by_its_accuracy():
    a, b = (117.02, 36.66), east(117.02, 36.66, 20)
    fixes = [Fix(*a, 10.0, T0), Fix(*b, 20.0, T0 + timedelta(seconds=1))]
    mean = average(fixes)
    # weights 1/100 and 1/400: a fifth of the way from a to b
    assert mean.lon == pytest.approx(a[0] + (b[0] - a[0]) / 5) and mean.lat == pytest.approx(a[1])
    assert mean.at == T0 + timedelta(seconds=1) and mean.speed_mps is None
    # the larger of the weights' radius, 1/sqrt(1/100 + 1/400) = 8.9 m, and the scatter seen (8 m: the
    # weighted RMS of 4 m and 16 m)
    assert mean.accuracy_m == pytest.approx(1 / math.sqrt(1 / 100 + 1 / 400))


def test_average_of_fixes_in_one_place_is_more_accurate_than_each():
    fixes = [Fix(117.02, 36.66, 40.0, T0 + timedelta(seconds=i)) for i in range(16)]
    mean = average(fixes)
    assert (mean.lon, mean.lat) == pytest.approx((117.02, 36.66))
    assert mean.accuracy_m == pytest.approx(10.0)  # 40 / sqrt(16): no scatter at all


def test_average_uses_fixes_of_unknown_accuracy_only_without_others():
    a, b = Fix(117.02, 36.66, None, T0), Fix(*east(117.02, 36.66, 30), 5.0, T0)
    assert average([a, b]).lon == pytest.approx(b.lon) and average([a, b]).accuracy_m == pytest.approx(5.0)
    both_unknown = average([a, Fix(b.lon, b.lat, None, T0)])
    assert both_unknown.lon == pytest.approx((a.lon + b.lon) / 2) and both_unknown.accuracy_m is None
    with pytest.raises(ValueError):
        average([])


# -- the app ----------------------------------------------------------------------------------------------


class HandGps:
    """A GPS the test moves: ``send`` delivers a fix as the receiver would (the app takes it to its own
    thread); nothing comes otherwise."""

    def __init__(self) -> None:
        self._on_fix: Callable[[Fix], None] | None = None
        self.last: Fix | None = None

    def start(self, on_fix: Callable[[Fix], None]) -> None:
        self._on_fix = on_fix

    def stop(self) -> None:
        self._on_fix = None

    def send(self, lon: float, lat: float, accuracy_m: float = 8.0, age_s: float = 0.0) -> Fix:
        self.last = Fix(lon, lat, accuracy_m, datetime.now(UTC) - timedelta(seconds=age_s))
        self._on_fix(self.last)
        return self.last


@pytest.fixture
def phone(app_dir) -> Iterator[Callable[..., tuple[Driver, HandGps]]]:
    """``phone(data_dir=app_dir)`` starts the app in the window with a :class:`HandGps` (its camera
    places its photos at that GPS's last fix) and returns its driver and GPS; every app started is
    stopped afterwards."""
    from mobile.platform.camera import DesktopCamera
    from tests.mobile.app_driver import GridOpsApp

    drivers = []

    def start(data_dir: Path = app_dir) -> tuple[Driver, HandGps]:
        gps = HandGps()
        driver = Driver(GridOpsApp(data_dir, gps=gps, camera=DesktopCamera(gps=gps))).start()
        drivers.append(driver)
        return driver, gps

    yield start
    for driver in drivers:
        if driver.running:
            driver.stop()


def send(d: Driver, gps: HandGps, lon: float, lat: float, **fix) -> Fix:
    """Deliver a fix and wait for the app to have it."""
    sent = gps.send(lon, lat, **fix)
    d.until(lambda: d.app.fix == sent, "the fix")
    return sent


def photo_and_category(d: Driver) -> None:
    """On the report screen: take a photo and choose exposed garbage (E06010)."""
    report = d.screen
    d.tap(report.ids.photos.ids.take)
    d.until(lambda: report.ids.photos.paths and not report.ids.photos.busy, "the photo from the camera")
    choose_garbage(d)


def choose_garbage(d: Driver) -> None:
    """On the report screen: choose exposed garbage (E06010)."""
    report = d.screen
    d.type(report.ids.search, "垃圾")
    d.frames(2)
    d.tap(d.find("ChoiceRow", code="E06010"))
    assert report.category["code"] == "E06010"


def sent_case(d: Driver, server) -> dict:
    """Wait for the newest outbox item to reach the server, and return its case as the server holds it."""
    outbox = d.app.services.outbox
    d.until(lambda: outbox.items()[0].state == "sent", "the report to be sent")
    with closing(http_login(server, INSPECTOR)) as inspector:
        return case_of(inspector, outbox.items()[0].case_code)


def question(d: Driver, words: str):
    """The open question of the report screen whose text holds ``words``."""
    popup = d.popup("ChoicePopup")
    assert words in popup.text, popup.text
    return popup


def answer(d: Driver, popup, text: str) -> None:
    d.tap(d.find(Button, root=popup, text=text))
    d.until(lambda: popup.parent is None, "the question to close")


def test_the_pin_stays_where_the_first_photo_was_taken(phone, server, beat, unit):
    d, gps = phone()
    log_in(d, server.url)
    synced(d)
    (lon, lat), _ = beat
    send(d, gps, lon, lat)
    d.nav("report")
    report = d.screen
    assert report.pin == (lon, lat) and not report.held and "精度 ±8 米" in report.ids.where.text
    assert report.ids.use_fix.opacity == 0  # nothing to go back to while the pin follows the GPS

    strip = report.ids.photos
    d.tap(strip.ids.take)
    assert report.held == "photo"  # from the moment the photo is taken, while it is being prepared
    send(d, gps, *east(lon, lat, 10))
    d.until(lambda: strip.paths and not strip.busy, "the photo from the camera")
    d.frames(2)
    assert report.pin == (lon, lat) and report.held == "photo"
    assert "已固定在拍第一张照片时的位置" in report.ids.where.text
    assert strip.position == (lon, lat)  # where the photo was stamped
    assert report.grid_name == unit["properties"]["name"]
    choose_garbage(d)
    for metres in (20, 40, 60, 84, 100):  # the inspector walks on, 100 m away
        send(d, gps, *east(lon, lat, metres))
        d.frames(2)
        assert report.pin == (lon, lat)
    assert sphere_distance_m(*report.pin, d.app.fix.lon, d.app.fix.lat) > 84
    assert report.ids.panel.map.position == d.app.fix  # the map shows where the inspector is now
    use_fix = report.ids.use_fix
    assert use_fix.text == "改用当前位置" and not use_fix.disabled and use_fix.height >= dp(48)
    assert report.blocked == ""

    d.tap(report.ids.submit)
    assert d.app.current == "outbox"
    case = sent_case(d, server)
    assert (case["lon"], case["lat"]) == pytest.approx((lon, lat), abs=1e-7)
    assert case["position_source"] == "gps" and case["accuracy_m"] == 8.0
    assert case["grid_code"] == unit["properties"]["code"]


def test_a_fix_growing_old_shows_as_stale_by_itself(phone, server, beat):
    d, gps = phone()
    log_in(d, server.url)
    synced(d)
    d.nav("report")
    report = d.screen
    where = report.ids.where
    assert report.pin is None and report.alarm and where.text == "等待GPS定位…"
    assert "在地图上点选问题位置" in report.ids.warning.text and report.blocked.startswith("还没有位置")
    assert list(where.color) == WARNING_COLOUR

    (lon, lat), _ = beat
    send(d, gps, lon, lat, age_s=15)
    assert "最近一次定位" not in where.text and not report.alarm
    # no other fix comes, and nothing is tapped: the screen's clock ages the fix
    d.until(lambda: "最近一次定位在 2" in where.text, "the age of the fix, once over 20 s")
    assert report.warning == "" and list(where.color) != WARNING_COLOUR

    send(d, gps, lon, lat, age_s=FIX_MAX_AGE_S - 2)
    assert "已过时" not in where.text
    d.until(lambda: "GPS定位已过时（2 分钟前）" in where.text, "the fix shown stale")
    assert report.alarm and list(where.color) == WARNING_COLOUR and "精度" not in where.text
    assert report.ids.warning.text == "请到开阔处等待新的定位，或在地图上点选问题位置。"
    assert report.ids.submit.disabled and report.blocked.startswith("GPS定位已过时")
    assert layout_problems(report) == []
    assert report.ids.average.disabled  # nothing current to average


def test_a_pin_placed_by_hand_without_any_fix(phone, server, beat, unit):
    d, gps = phone()
    log_in(d, server.url)
    synced(d)
    d.nav("report")
    report = d.screen
    photo_and_category(d)
    assert report.pin is None and report.held == "photo"
    assert report.ids.where.text == "拍第一张照片时还没有GPS定位" and "在地图上点选问题位置" in report.warning
    assert report.blocked.startswith("还没有位置") and report.ids.submit.disabled

    (lon, lat), _ = beat
    grid_map = report.ids.panel.map
    d.tap_at(*grid_map.view().to_px(*mercator(lon, lat)))
    assert report.by_hand and report.accuracy is None and "手动选点" in report.ids.where.text
    assert sphere_distance_m(*report.pin, lon, lat) < 15
    assert report.grid_name == unit["properties"]["name"] and report.warning == "" and report.blocked == ""
    hand = report.pin
    send(d, gps, *east(lon, lat, 90))  # the GPS comes back, elsewhere: the pin stays
    d.frames(2)
    assert report.pin == hand and report.by_hand

    d.tap(report.ids.submit)  # no question: the inspector placed it
    assert d.app.current == "outbox"
    case = sent_case(d, server)
    assert case["position_source"] == "manual" and case["accuracy_m"] is None
    assert (case["lon"], case["lat"]) == pytest.approx(hand, abs=1e-7)
    assert case["grid_code"] == unit["properties"]["code"]


def test_a_poor_fix_asks_before_the_report_goes(phone, server, beat):
    d, gps = phone()
    log_in(d, server.url)
    synced(d)
    (lon, lat), _ = beat
    send(d, gps, lon, lat, accuracy_m=45.0)
    d.nav("report")
    report = d.screen
    photo_and_category(d)
    assert report.warning.startswith("定位精度较差（±45 米）") and report.blocked == ""
    outbox = d.app.services.outbox

    d.tap(report.ids.submit)
    popup = question(d, "定位精度 ±45 米，位置可能不准。")
    buttons = popup.ids.answers.children[::-1]
    assert [b.text for b in buttons] == ["仍然提交", "在地图上选点", "多点平均定位", "取消"]
    d.frames(2)
    assert layout_problems(popup) == []
    answer(d, popup, "取消")
    assert d.app.current == "report" and outbox.items() == []

    d.tap(report.ids.submit)
    answer(d, question(d, "±45 米"), "在地图上选点")
    assert d.app.notice == "请在上方地图上点选问题所在的位置。" and outbox.items() == []

    d.tap(report.ids.submit)
    answer(d, question(d, "±45 米"), "仍然提交")
    assert d.app.current == "outbox"
    (item,) = outbox.items()
    assert item.payload["accuracy_m"] == 45.0 and item.payload["position_source"] == "gps"


def test_the_pin_moves_when_asked_and_averaging_puts_it_between_the_fixes(phone, server, beat):
    d, gps = phone()
    log_in(d, server.url)
    synced(d)
    (lon, lat), _ = beat
    a, b = (lon, lat), east(lon, lat, 20)
    send(d, gps, *a, accuracy_m=10.0)
    d.nav("report")
    report = d.screen
    strip = report.ids.photos
    d.tap(strip.ids.take)
    d.until(lambda: strip.paths, "the photo")
    send(d, gps, *b, accuracy_m=10.0)
    assert report.pin == a and report.held == "photo"

    d.tap(d.find("Thumbnail", root=strip))  # the only photo deleted: the pin follows the GPS again
    preview = d.popup("PhotoPreview")
    d.tap(preview.ids.delete)
    d.until(lambda: strip.paths == [] and preview.parent is None, "the photo to go")
    assert report.pin == b and not report.held
    d.tap(strip.ids.take)  # a new first photo, here
    d.until(lambda: strip.paths, "the photo")
    send(d, gps, *a, accuracy_m=10.0)
    assert report.pin == b and report.held == "photo"

    d.tap(report.ids.use_fix)  # 改用当前位置: moved when asked, and held there
    assert report.pin == a and report.held == "gps" and "已固定" in report.ids.where.text
    send(d, gps, *b, accuracy_m=10.0)
    assert report.pin == a

    report.average_seconds = 3
    average_button = report.ids.average
    assert average_button.text == "多点平均" and average_button.height >= dp(48)
    d.tap(average_button)
    assert report.averaging and average_button.text == "取消平均"
    assert report.ids.where.text.startswith("正在平均定位… 0/3 秒") and report.ids.submit.disabled
    d.tap(average_button)  # cancelled: nothing moves
    assert not report.averaging and report.pin == a and d.app.notice == "已取消多点平均，位置没有改变。"

    d.tap(average_button)
    turns = itertools.cycle([(a, 10.0), (b, 20.0)])

    def fed() -> bool:
        point, accuracy = next(turns)
        gps.send(*point, accuracy_m=accuracy)
        return not report.averaging

    d.until(lambda: "1/3 秒" in report.ids.where.text, "the count of the seconds")
    assert layout_problems(report) == []
    d.until(fed, "the average")
    share = (report.pin[0] - a[0]) / (b[0] - a[0])
    assert share == pytest.approx(0.2, abs=0.02)  # weights 1/10² and 1/20²
    assert report.held == "average" and "多点平均" in report.ids.where.text
    assert report.accuracy == pytest.approx(8.0, abs=1.0)  # the scatter of the fixes about the average
    assert d.app.notice.startswith("已取") and "平均位置" in d.app.notice


def tap_draft(d: Driver, words: str, button: str) -> list[str]:
    """Open the list of drafts and tap ``button`` (resume or delete) of the one whose text holds ``words``;
    return the texts of the rows, top first."""
    d.tap(d.screen.ids.drafts)
    popup = d.popup("DraftsPopup")
    d.frames(2)
    assert layout_problems(popup) == []
    rows = popup.ids.rows.children[::-1]
    d.tap(next(row for row in rows if words in row.text).ids[button])
    d.until(lambda: popup.parent is None, "the list of drafts to close")  # a closing popup takes taps
    return [row.text for row in rows]


def test_a_draft_survives_a_restart_and_is_only_its_owners(phone, server, app_dir, beat):
    d, _ = phone()  # no fix comes
    log_in(d, server.url)
    synced(d)
    d.nav("report")
    report = d.screen
    assert report.ids.drafts.text == "草稿 (0)" and report.ids.drafts.disabled
    assert report.ids.save_draft.height >= dp(48) and report.ids.submit.height > dp(48)
    photo_and_category(d)  # no fix at all: the photo holds no position
    (lon, lat), _ = beat
    d.tap_at(*report.ids.panel.map.view().to_px(*mercator(lon, lat)))
    hand = report.pin
    assert report.by_hand
    d.type(report.ids.description, "井盖松动，先存草稿")
    d.tap(report.ids.urgent)
    d.tap(report.ids.save_draft)
    assert d.app.notice.startswith("已存为草稿")
    assert report.ids.photos.paths == [] and not report.category and report.ids.description.text == ""
    assert report.pin is None and not report.held  # the form starts afresh
    d.type(report.ids.description, "不要的草稿")
    d.tap(report.ids.save_draft)
    assert report.ids.drafts.text == "草稿 (2)"
    d.stop()

    d, _ = phone(app_dir)  # the app again, after a restart: still logged in as the inspector
    assert d.app.current == "home"
    synced(d)
    d.nav("report")
    rows = tap_draft(d, "不要的草稿", "delete")
    assert len(rows) == 2 and "不要的草稿" in rows[0] and "1 张照片 · 手动选点" in rows[1]
    answer(d, question(d, "删除后这份草稿"), "删除")
    assert d.screen.ids.drafts.text == "草稿 (1)"

    d.app.logout()  # another inspector on the same phone sees no draft of the first
    d.until(lambda: d.app.current == "login", "the login screen")
    log_in(d, server.url, INSPECTOR_B)
    synced(d)
    d.nav("report")
    assert d.screen.ids.drafts.text == "草稿 (0)" and d.app.services.drafts.items() == []
    d.app.logout()
    d.until(lambda: d.app.current == "login", "the login screen")
    log_in(d, server.url, INSPECTOR)
    synced(d)
    d.nav("report")
    report = d.screen
    (draft,) = d.app.services.drafts.items()
    assert len(tap_draft(d, "井盖松动", "resume")) == 1
    assert report.draft_id == draft.id and report.pin == pytest.approx(hand) and report.by_hand
    assert "手动选点" in report.ids.where.text and report.category["code"] == "E06010"
    assert report.urgency == "urgent" and report.ids.description.text == "井盖松动，先存草稿"
    assert len(report.ids.photos.paths) == 1 and report.blocked == ""
    d.tap(report.ids.submit)
    assert d.app.current == "outbox" and d.app.services.drafts.count() == 0
    assert not any(p.exists() for p in draft.photos)
    case = sent_case(d, server)
    assert case["position_source"] == "manual" and case["description"] == "井盖松动，先存草稿"
    assert case["urgency"] == "urgent" and len(case["photos"]) == 1


def test_the_category_picker_searches_every_class_and_offers_phrases(phone, server, beat):
    """A major class picked before never filters a search silently: typing looks through every class. The
    chosen category's phrases (常用语) add to the description with a tap; a desktop has no speech
    recognizer, so no voice button is offered."""
    d, _ = phone()
    log_in(d, server.url)
    synced(d)
    d.nav("report")
    report = d.screen
    d.tap(category_row(d, report, "E06"))
    assert {row["code"][:3] for row in report.ids.choices.data} == {"E06"}
    d.type(report.ids.search, "ltc")  # 乱停车, in pinyin initials: a street-order category, not 市容环境
    d.until(lambda: report.ids.choices.data, "the matches")
    assert {"E09009", "E09010"} <= {row["code"] for row in report.ids.choices.data}
    assert report.level == "E06" and report.ids.category_note.text.startswith("在全部类别中找到")
    d.tap(d.find("ChoiceRow", code="E09009"))
    phrases = [b.text for b in report.ids.phrases.children[::-1]]
    assert phrases[0] == "机动车停放在人行道上，影响通行"
    d.type(report.ids.description, "路口东侧")
    d.tap(d.find("PhraseButton", text=phrases[1], root=report))
    assert report.ids.description.text == f"路口东侧，{phrases[1]}"
    assert report.ids.voice.opacity == 0 and report.ids.voice.disabled
