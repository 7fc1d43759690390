"""The report screen's category search finds a category by the words inspectors use (its aliases, from the
server's taxonomy) and by pinyin initials, not only by its literal name; the best match and the categories
an inspector reports most come first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mobile.services.cache import Cache
from mobile.services.store import Store
from server.category.loader import STARTER_TAXONOMY, load_taxonomy
from server.category.pinyin import initials


@pytest.fixture
def cache(tmp_path):
    store = Store(tmp_path / "phone.sqlite")
    store.set_owner(7)
    taxonomy = load_taxonomy(STARTER_TAXONOMY.read_bytes(), "yaml")
    majors = taxonomy.major_names
    cache = Cache(store)
    cache.apply_categories(
        [
            {
                "code": c.code,
                "name": c.name,
                "kind": c.kind.value,
                "major_code": c.major_code,
                "major_name": majors[c.kind, c.major_code],
                "aliases": list(c.aliases),
                "initials": initials(c.name, *c.aliases),
                "active": True,
            }
            for c in taxonomy.categories
        ]
    )
    yield cache
    store.close()


def test_the_words_people_use_find_their_category(cache):
    def codes(text: str) -> set[str]:
        return {c["code"] for c in cache.search_categories(text)}

    assert "E09009" in codes("乱停车") and "E09010" in codes("乱停车")  # 机动车 / 非机动车乱停放
    assert "E09009" in codes("停车")
    assert "E04002" in codes("树倒")  # 树木倒伏断枝
    assert {"E08001", "E09015"} <= codes("噪音")
    assert {"E09001", "E09002", "E09006"} <= codes("占道经营")
    assert {"C01001", "E01002"} <= codes("窨井")
    assert {"E01002", "E01003"} <= codes("井盖坏了")
    assert codes("暴露垃圾") == {"E06010"}  # names still found as before
    assert {"E09009", "E09010"} <= codes("ltc")  # 乱停车 by its pinyin initials
    assert "E06010" in codes("bllj")  # 暴露垃圾
    assert {"C01001", "E01002"} <= codes("yj")  # 窨井: 窨 is read yìn (and xūn)
    assert "E04002" in codes("SD")  # 树倒, typed in capitals


def first(cache, text: str = "") -> list[str]:
    return [c["code"] for c in cache.search_categories(text)][:4]


def test_an_exact_word_comes_before_a_word_that_only_contains_it(cache):
    assert first(cache, "停车")[0] == "E09009"  # an alias of 机动车乱停放 exactly, before 违章停车 and others
    assert first(cache, "噪音")[:2] == ["E08001", "E09015"]  # exact aliases, by code


def test_my_recent_and_frequent_categories_come_first(cache):
    store, now = cache.store, datetime.now(UTC)

    def reported(code: str, days_ago: int, n: int) -> None:
        items = [
            {
                "code": f"370102-{code}-{days_ago}-{i}",
                "category": {"code": code, "name": ""},
                "received_at": (now - timedelta(days=days_ago, minutes=i)).isoformat(),
            }
            for i in range(n)
        ]
        cache.apply_cases(items, kind="reports")

    reported("E09009", 30, 9)  # often, long ago
    reported("E06010", 20, 5)
    reported("E04002", 1, 1)  # once, lately
    reported("E03006", 2, 1)
    reported("E06025", 3, 1)
    listed = cache.search_categories()
    assert [c["code"] for c in listed[:5]] == ["E04002", "E03006", "E06025", "E09009", "E06010"]
    assert [c["mine"] for c in listed[:6]] == [True] * 5 + [False]
    # Searching keeps the best match first, mine first among equals.
    assert first(cache, "井盖坏了")[:3] == ["E01002", "E01003", "E01005"]
    reported("E01005", 50, 1)
    assert first(cache, "井盖坏了")[:3] == ["E01005", "E01002", "E01003"]
    assert first(cache, "垃圾")[0] == "E03006"  # 垃圾箱…: starts with the word, before 暴露垃圾
    # Another inspector of the phone has a list of their own.
    store.set_owner(8)
    assert not any(c["mine"] for c in cache.search_categories())
