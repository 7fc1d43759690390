"""The report screen asks the server's triage which categories the description suggests once typing pauses,
in the real window against the live server (through the phone's network, tests/mobile/netfault.py): chips
under the description, a tap choosing the category. With the server unreachable no chip and no error
appear, and the category search works as before."""

from __future__ import annotations

# isort: off
import mobile.main  # noqa: F401 (first: it sets the window's size, which Kivy fixes when it makes it)

# isort: on
import threading

from tests.mobile.app_driver import log_in, synced
from tests.mobile.category_tree import category_row
from tests.mobile.layout import layout_problems

WORDS = "路边暴露垃圾堆放，三天无人清运"


def chips(report) -> list[str]:
    return [chip.code for chip in report.ids.suggested.children[::-1]]


def report_screen(drive, netfault):
    d = drive()
    log_in(d, netfault.url)
    synced(d)
    d.nav("report")
    return d, d.screen


def test_the_description_suggests_categories_to_tap(drive, netfault, inspector_http):
    # The server's first suggestion reads its model and word lists; a running server has done so long since.
    warm = inspector_http.post("/api/triage/suggest", json={"text": WORDS, "channel": "inspector"})
    assert warm.status_code == 200, warm.text
    d, report = report_screen(drive, netfault)
    start = netfault.count
    d.type(report.ids.description, "垃圾")  # too short to ask about
    d.type(report.ids.description, WORDS)
    shown = d.until(lambda: chips(report), "the suggested categories")
    asked = [e for e in netfault.since(start) if e.path == "/api/triage/suggest"]
    assert len(asked) == 1 and asked[0].status == 200  # once, when typing paused
    assert "E06010" in shown and len(shown) <= 3
    assert report.suggest_note == "可能是（点一下即选为问题类别）："
    chip = d.find("SuggestionChip", code="E06010")
    assert chip.text == "暴露垃圾"
    assert layout_problems(report) == []  # touch targets of 48 dp, no text cut or drawn over another
    d.tap(chip)
    assert report.category["code"] == "E06010" and report.chosen.startswith("已选：E06010 暴露垃圾")
    assert d.app.notice == "已选择类别“暴露垃圾”：不对的话可在上方改选。"


def test_offline_no_suggestion_no_error_and_the_search_still_works(drive, netfault):
    d, report = report_screen(drive, netfault)
    notice = d.app.notice
    netfault.set("down")  # the server cannot be reached from here on
    start = netfault.count
    d.type(report.ids.description, WORDS)
    d.until(
        lambda: any(e.path == "/api/triage/suggest" and e.status is None for e in netfault.since(start)),
        "the question that found no server",
    )
    d.until(
        lambda: not any(t.name == "gridops-ui-work" and t.is_alive() for t in threading.enumerate()),
        "the question's thread to give up",
    )
    d.frames(3)  # its answer comes on the UI thread
    assert chips(report) == [] and report.suggest_note == ""
    assert d.app.notice == notice  # nothing said

    d.type(report.ids.search, "暴露垃圾")
    d.tap(category_row(d, report, "E06010"))
    assert report.category["code"] == "E06010"
