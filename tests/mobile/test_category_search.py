"""The report screen's category search finds a category by the words inspectors use (its aliases, from the
server's taxonomy), not only by its literal name."""

from __future__ import annotations

from mobile.services.cache import Cache
from mobile.services.store import Store
from server.category.loader import STARTER_TAXONOMY, load_taxonomy


def test_the_words_people_use_find_their_category(tmp_path):
    store = Store(tmp_path / "phone.sqlite")
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
                "active": True,
            }
            for c in taxonomy.categories
        ]
    )

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
    store.close()
