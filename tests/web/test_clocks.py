"""Clocks on the desk in Debian's Chromium: an urgent flooded road reported on a Friday evening runs on
natural time, so it is due that evening and red by the Saturday, while an ordinary case reported at the
same minute waits for Monday's working hours; both say their time as people say it."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from server.database import new_session
from tests.server.case_world import act, report, team
from tests.web.test_desk import browsers  # noqa: F401 (a fixture)
from tests.web.test_map import WAIT_MS

JINAN = ZoneInfo("Asia/Shanghai")


def a_past_friday_evening() -> datetime:
    """20:38 on the latest Friday at least two days ago: its urgent cases are overdue by now, whatever the
    day the test runs."""
    day = datetime.now(JINAN) - timedelta(days=2)
    day -= timedelta(days=(day.weekday() - 4) % 7)
    return day.replace(hour=20, minute=38, second=0, microsecond=0)


def open_case_as(page, code: str) -> str:
    """Open ``code`` on the desk's case panel; its facts as the page reads them."""
    page.click("#tabs [data-view=desk-view]")
    page.evaluate("(code) => import('/static/case.js').then((m) => m.openCase(code))", code)
    page.wait_for_selector(f"#case-panel[data-code='{code}']:not([data-loading])", timeout=WAIT_MS)
    return page.text_content("#case-panel .facts")


def test_an_urgent_case_of_friday_evening_is_red_by_saturday(web_server, demo_clone_url, browsers):  # noqa: F811
    friday = a_past_friday_evening()
    with new_session(demo_clone_url) as db:
        w = team(db)
        codes = {}
        for category in ("E06025", "E06010"):  # 道路积水 (urgent, 2 h), 暴露垃圾 (normal, 4 h)
            case = report(db, w["inspector"], w["lon"], w["lat"], category=category, at=friday)
            act(db, w["lead"], case, "file", at=friday)
            act(db, w["dispatcher"], case, "dispatch", at=friday)
            codes[category] = case.code
        db.commit()

    page = browsers(web_server.url, "zhaomin").page
    flood = open_case_as(page, codes["E06025"])
    assert page.get_attribute("#case-panel h2 .light", "class") == "light red"
    assert f"{friday.month}/{friday.day} 22:38:00" in flood  # due that evening, not on Monday
    assert "已超时" in flood and "自然时间，节假日照常计时" in flood
    assert "天" in flood.split("已超时")[1]  # overdue for days: in days and hours, not in minutes

    garbage = open_case_as(page, codes["E06010"])
    monday = friday + timedelta(days=3)
    assert f"{monday.month}/{monday.day} 14:00:00" in garbage  # 4 working hours from Monday 08:30
    assert "自然时间" not in garbage
    assert "诉求类型投诉" in garbage.replace(" ", "")
