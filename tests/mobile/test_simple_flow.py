"""The simple flow (即报即处) on the phone: for a category that allows it, the report screen offers
"已现场处置"; with it on, the report needs an after-photo too, and reaches the server as a case waiting
only for closing, with its before and after photos, which the shift lead then closes. Other categories do
not offer it.

The app runs in the real (offscreen) window against the live server on the demo city."""

from __future__ import annotations

# isort: off
import mobile.main  # noqa: F401 (first: it sets the window's size, which Kivy fixes when it makes it)

# isort: on
from contextlib import closing

from tests.conftest import screenshot_dir
from tests.mobile.app_driver import log_in, synced
from tests.mobile.conftest import INSPECTOR, OPERATOR, act, case_of, http_login
from tests.mobile.layout import layout_problems

SHOTS = screenshot_dir("mobile")


def test_a_problem_fixed_on_the_spot_is_reported_with_its_after_photo(drive, server):
    d = drive()
    log_in(d, server.url)
    synced(d)
    d.nav("report")
    report = d.screen
    d.until(lambda: report.pin is not None, "the pin at the GPS fix")
    toggle, after = report.ids.fixed, report.ids.after
    d.tap(report.ids.photos.ids.take)
    d.until(lambda: report.ids.photos.paths and not report.ids.photos.busy, "the before photo")

    d.type(report.ids.search, "垃圾")  # exposed garbage is never fixed on the spot: not offered
    d.frames(2)
    d.tap(d.find("ChoiceRow", code="E06010"))
    assert not report.can_fix and toggle.opacity == 0 and toggle.disabled and after.opacity == 0

    d.type(report.ids.search, "小广告")
    d.frames(2)
    d.tap(d.find("ChoiceRow", code="E07002"))
    assert report.can_fix and toggle.opacity == 1 and not toggle.disabled
    assert not report.fixed and report.blocked == ""
    d.tap(toggle)
    assert report.fixed and after.opacity == 1 and not after.disabled
    assert report.blocked == "已现场处置：请至少拍一张处置后照片。" and report.ids.submit.disabled
    d.tap(after.ids.take)
    d.until(lambda: after.paths and not after.busy, "the after photo")
    assert report.blocked == "" and len(report.ids.photos.paths) == 1
    d.type(report.ids.description, "电线杆上的小广告已当场清除")
    assert layout_problems(report) == []
    report.ids.form.parent.scroll_to(report.ids.chosen, animate=False)
    d.frames(2)
    d.screenshot(SHOTS / "report-fixed-on-site.png")

    d.tap(report.ids.submit)
    assert d.app.current == "outbox"
    assert not after.paths and not report.fixed  # the form starts afresh
    outbox = d.app.services.outbox
    d.until(lambda: outbox.items()[0].state == "sent", "the report and its photos to be sent")
    code = outbox.items()[0].case_code
    with closing(http_login(server, INSPECTOR)) as inspector:
        case = case_of(inspector, code)
    assert (case["state"], case["category"]["code"]) == ("checked", "E07002")
    assert sorted(p["role"] for p in case["photos"]) == ["after", "before"]
    assert case["timeline"][0]["data"]["simple_flow"] is True

    with closing(http_login(server, OPERATOR)) as lead:
        closed = act(lead, code, "close")
    assert closed["state"] == "closed"
