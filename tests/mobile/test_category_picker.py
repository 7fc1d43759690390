"""The report screen's category picker on a taxonomy of three levels (大类 › 中类 › 小类), in the real window:
browsed level by level with a breadcrumb that goes back up, searched through every category whatever
level is open (by a middle class's name, by pinyin initials), each found with its place in the tree; the
category picked goes with the report. The starter taxonomy (two levels) is picked in two steps.

The demo city's server has the starter taxonomy; the three-level one is put in the phone's cache as the
category sync gives it (tests/mobile/category_tree.py)."""

from __future__ import annotations

# isort: off
import mobile.main  # noqa: F401 (first: it sets the window's size, which Kivy fixes when it makes it)

# isort: on
from kivy.metrics import dp

from tests.mobile.app_driver import Driver, log_in, synced
from tests.mobile.category_tree import THREE_LEVELS, category_row, tree_items
from tests.mobile.layout import layout_problems

WIDER_DP = 411  # a large phone's width


def crumbs(report) -> list[tuple[str, bool]]:
    """The breadcrumb's steps (name, open now), top first."""
    shown = report.ids.crumbs.children[::-1]
    return [(w.text, w.current) for w in shown if type(w).__name__ == "CrumbButton"]


def listed(report) -> list[str]:
    return [row["code"] for row in report.ids.choices.data]


def laid_out(d: Driver, report) -> None:
    """Touch targets of 48 dp, no text cut or drawn over another, at the phone's width and a wider one's."""
    assert layout_problems(report) == []
    with d.window_width(dp(WIDER_DP)):
        assert layout_problems(report) == []


def test_three_levels_browsed_searched_and_reported(drive, server):
    d = drive()
    log_in(d, server.url)
    synced(d)
    d.app.services.cache.apply_categories(tree_items(THREE_LEVELS))
    d.nav("report")
    report = d.screen
    d.until(lambda: report.pin is not None, "the pin at the GPS fix")
    d.tap(report.ids.photos.ids.take)
    d.until(lambda: report.ids.photos.paths and not report.ids.photos.busy, "the photo from the camera")
    assert crumbs(report) == [("全部类别", True)]
    assert {"E06", "E11", "E12", "C11"} <= set(listed(report))  # the major classes of both taxonomies

    # Level by level: a major class, its middle classes, their subclasses.
    d.tap(category_row(d, report, "E11"))
    assert report.level == "E11" and crumbs(report) == [("全部类别", False), ("环境卫生", True)]
    assert listed(report) == ["E11001", "E11002"]
    assert d.find("ChoiceRow", code="E11001").text == "道路保洁  ›"
    d.tap(category_row(d, report, "E11001"))
    assert crumbs(report) == [("全部类别", False), ("环境卫生", False), ("道路保洁", True)]
    assert listed(report) == ["E1100101", "E1100102"]
    assert d.find("ChoiceRow", code="E1100101").text == "E1100101 道路不洁（环境卫生 › 道路保洁）"
    laid_out(d, report)
    d.tap(d.find("CrumbButton", text="环境卫生"))  # one level back up
    assert report.level == "E11" and listed(report) == ["E11001", "E11002"]
    assert crumbs(report) == [("全部类别", False), ("环境卫生", True)]

    # A search looks through every category, whatever level is open; the classes themselves are not filed.
    d.type(report.ids.search, "道路保洁")
    d.until(lambda: listed(report) == ["E1100101", "E1100102"], "the subclasses of 道路保洁")
    assert report.ids.category_note.text == "在全部类别中找到 2 个"
    d.type(report.ids.search, "ldsf")  # 流动商贩 in pinyin initials, in another major class (秩序管理)
    d.until(lambda: "E1200101" in listed(report), "流动商贩 found by its initials")
    assert d.find("ChoiceRow", code="E1200101").text == "E1200101 流动商贩（秩序管理 › 流动摊点）"
    assert report.level == "E11"  # the open class stays open, and filters nothing
    d.type(report.ids.search, "找不到的类别")
    d.until(lambda: not listed(report), "no match")
    assert report.ids.category_note.text.startswith("没有找到这个类别")
    d.type(report.ids.search, "ldsf")
    d.until(lambda: "E1200101" in listed(report), "流动商贩 again")
    d.tap(category_row(d, report, "E1200101"))
    assert report.category["code"] == "E1200101"
    assert report.ids.chosen.text == "已选：E1200101 流动商贩（秩序管理 › 流动摊点）"
    assert report.blocked == ""
    laid_out(d, report)

    # The top of the breadcrumb: the major classes again; the starter's 市容环境 lists its categories.
    d.tap(d.find("CrumbButton", text="全部类别"))
    assert report.ids.search.text == "" and crumbs(report) == [("全部类别", True)]
    d.tap(category_row(d, report, "E06"))
    assert crumbs(report) == [("全部类别", False), ("市容环境", True)]
    rows = report.ids.choices.data
    assert "E06010" in listed(report) and all(r["code"].startswith("E06") and not r["bold"] for r in rows)
    assert report.category["code"] == "E1200101"  # browsing changes nothing chosen

    d.app.services.sync.stop()  # hold the report in the outbox: the demo server has no such category
    d.tap(report.ids.submit)
    d.until(lambda: d.app.current == "outbox", "the outbox")
    (item,) = d.app.services.outbox.items()
    assert item.kind == "report" and item.payload["category"] == "E1200101"

    # Above the major classes, the categories I report: this one now.
    d.nav("report")
    d.tap(d.find("CrumbButton", text="全部类别"))
    first = report.ids.choices.data[0]
    assert first["code"] == "E1200101" and first["text"] == "［常用］E1200101 流动商贩（秩序管理 › 流动摊点）"
