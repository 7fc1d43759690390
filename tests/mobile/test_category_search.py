"""The report screen's category search finds a category by the words inspectors use (its aliases, from the
server's taxonomy) and by pinyin initials, not only by its literal name; the best match and the categories
an inspector reports most come first. The categories are a tree (大类 / 中类 / 小类): the phone browses it
level by level, and a search finds the categories a case is filed under (the leaves), by the names of the
classes above them too; categories synced before the tree keep working until the next sync."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mobile.services.cache import Cache
from mobile.services.store import Store
from tests.mobile.category_tree import THREE_LEVELS, items_before_the_tree, starter_tree, tree_items


@pytest.fixture
def phone(tmp_path):
    """``phone(items)``: a phone's cache holding the category sync ``items``."""
    store = Store(tmp_path / "phone.sqlite")
    store.set_owner(7)

    def synced(items: list[dict]) -> Cache:
        cache = Cache(store)
        cache.apply_categories(items)
        return cache

    yield synced
    store.close()


@pytest.fixture
def cache(phone):
    """The starter taxonomy, two levels."""
    return phone(tree_items(starter_tree()))


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


def codes_of(categories: list[dict]) -> list[str]:
    return [c["code"] for c in categories]


def test_the_tree_is_browsed_level_by_level(phone):
    cache = phone(tree_items(THREE_LEVELS))
    assert [(c["code"], c["name"]) for c in cache.children()] == [
        ("C11", "城市部件"),
        ("E11", "环境卫生"),
        ("E12", "秩序管理"),
    ]
    assert codes_of(cache.children("E11")) == ["E11001", "E11002"]
    assert codes_of(cache.children("E11001")) == ["E1100101", "E1100102"]
    assert [c["leaf"] for c in cache.children("E12")] == [False, True]  # 其他秩序问题: a leaf at level 2
    assert cache.children("E1100101") == []
    assert [c["name"] for c in cache.path("E1100101")] == ["环境卫生", "道路保洁", "道路不洁"]
    assert cache.path("") == cache.path("E99") == []
    assert cache.category("E11001")["trail"] == ["环境卫生"]


def test_a_search_finds_the_leaves_by_the_classes_above_them_too(phone):
    cache = phone(tree_items(THREE_LEVELS))

    def found(text: str) -> list[str]:
        return codes_of(cache.search_categories(text))

    leaves = ["C1100101", "E1100101", "E1100102", "E1100201", "E1100202", "E1200101", "E1200102", "E12002"]
    assert found("") == leaves  # a case is filed under a leaf: the classes above are never listed
    assert found("道路保洁") == ["E1100101", "E1100102"]  # a middle class's name: its subclasses
    assert found("环境卫生") == ["E1100101", "E1100102", "E1100201", "E1100202"]  # a major class's
    assert found("ldsf") == ["E1200101"]  # 流动商贩, by its pinyin initials
    assert found("摆摊") == ["E1200101"]  # an alias
    assert found("E11002") == ["E1100201", "E1100202"]  # a code inside theirs
    # The ranking holds: a name that starts with the text before one found by the class above it.
    assert found("垃圾") == ["E1100201", "E1100202"]
    assert found("其他秩序问题") == ["E12002"]
    hit = cache.search_categories("道路不洁")[0]
    assert hit["trail"] == ["环境卫生", "道路保洁"] and hit["major_code"] == "E11"


def test_categories_synced_before_the_tree_keep_working_until_the_next_sync(phone):
    """An older server sent the categories only, with a two-digit major code: each is a leaf under its
    major class, which the phone names from them; the next sync brings the nodes themselves."""
    tree = starter_tree()
    cache = phone(items_before_the_tree(tree))
    majors = [(c["code"], c["name"]) for c in cache.children()]
    assert majors == sorted((code, name) for code, name, _, _ in tree) and ("E06", "市容环境") in majors
    assert "E06010" in codes_of(cache.children("E06"))
    assert all(c["leaf"] and c["parent_code"] == "E06" for c in cache.children("E06"))
    assert [c["name"] for c in cache.path("E06010")] == ["市容环境", "暴露垃圾"]
    assert codes_of(cache.search_categories("暴露垃圾")) == ["E06010"]
    assert cache.search_categories("暴露垃圾")[0]["trail"] == ["市容环境"]
    assert {"E06010", "E06025"} <= set(codes_of(cache.search_categories("市容环境")))
    before = codes_of(cache.search_categories())
    # The next sync gives every node: the major classes are the server's own, the rest unchanged.
    cache.apply_categories(tree_items(tree))
    assert [(c["code"], c["name"]) for c in cache.children()] == majors
    assert codes_of(cache.search_categories()) == before
    assert cache.category("E06")["depth"] == 1 and cache.category("E06010")["major_code"] == "E06"
