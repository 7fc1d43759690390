"""Notifications (issue 16): while the app is in the background, a sync that brings a new task or puts a
case of the inspector's under supervision (督办) notifies it; in the foreground the screens show it and
nothing is notified. On the desktop a notification shows in the notice line and is kept in the
notifier's ``sent``."""

from __future__ import annotations

# isort: off
import mobile.main  # noqa: F401 (first: it sets the window's size, which Kivy fixes when it makes it)

# isort: on
from contextlib import closing
from datetime import timedelta

from server.case.supervision import sweep_overdue
from server.case.trail import db_now
from server.database import new_session
from tests.mobile.app_driver import log_in, synced
from tests.mobile.conftest import OPERATOR, act, hotline_case, http_login, user_id


def test_news_in_the_background_is_notified(drive, server, inspector_http, village, mobile_db_url):
    _, lon, lat = village
    operator = http_login(server, OPERATOR)

    def new_task(note: str) -> str:
        code = hotline_case(operator, lon, lat, note)["code"]
        act(operator, code, "request_verification", inspector_id=user_id(inspector_http))
        return code

    with closing(operator):
        d = drive(sync_options={"interval_s": 1.0, "max_pause_s": 1.0})
        log_in(d, server.url)
        synced(d)
        services, notifier = d.app.services, d.app.notifier

        def tasks() -> set[str]:
            return {t["code"] for t in services.cache.tasks()}

        seen = new_task("市民来电：楼下垃圾没人清")  # in the foreground: the task list shows it
        d.until(lambda: seen in tasks(), "the task in the foreground")
        synced(d)
        assert notifier.sent == []

        d.app.dispatch("on_pause")
        news = new_task("市民来电：路口有垃圾堆放")
        message = f"新任务：核实 {news}。请打开任务列表处理。"
        d.until(lambda: message in [m for _, m in notifier.sent], "the new task's notification")
        assert [m for _, m in notifier.sent].count(message) == 1
        d.until(lambda: d.app.notice == message, "the notification in the notice line")

        with new_session(mobile_db_url) as db:  # both tasks are long overdue by then
            flagged = sweep_overdue(db=db, at=db_now(db, None) + timedelta(days=60))
        assert {seen, news} <= set(flagged)
        for code in (seen, news):
            supervised = f"案件 {code} 被督办：请打开案件查看，尽快办理。"
            d.until(lambda said=supervised: said in [m for _, m in notifier.sent], f"{code} supervised")

        d.app.dispatch("on_resume")  # back in front: nothing more is notified
        told = len(notifier.sent)
        later = new_task("市民来电：垃圾桶满了")
        d.until(lambda: later in tasks(), "the task in the foreground again")
        synced(d)
        assert len(notifier.sent) == told
