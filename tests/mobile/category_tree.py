"""Category sync items as the server gives them since the taxonomy is a tree (every active node, with
``parent_code``, ``depth``, ``leaf``, ``trail``, ``major_code`` the top class's code and ``major_name`` its
name), made here from a small three-level taxonomy shaped like Pingshan's (大类 / 中类 / 小类, codes E + 2 + 3
+ 2 digits) and from the starter taxonomy's file (two levels); and as a server older than the tree gave
them (the subclasses only, ``major_code`` the major class's two digits)."""

from __future__ import annotations

import yaml

from server.category.loader import STARTER_TAXONOMY
from server.category.pinyin import initials

# (code, name, aliases, children): a node without children is a category a case is filed under
Node = tuple[str, str, tuple[str, ...], list]

THREE_LEVELS: list[Node] = [
    ("C11", "城市部件", (), [("C11001", "井盖设施", (), [("C1100101", "井盖缺失", ("井盖丢了",), [])])]),
    (
        "E11",
        "环境卫生",
        (),
        [
            (
                "E11001",
                "道路保洁",
                (),
                [("E1100101", "道路不洁", ("路面脏",), []), ("E1100102", "积存渣土", (), [])],
            ),
            (
                "E11002",
                "垃圾收运",
                (),
                [("E1100201", "垃圾桶满溢", ("垃圾满了",), []), ("E1100202", "清运不及时", (), [])],
            ),
        ],
    ),
    (
        "E12",
        "秩序管理",
        (),
        [
            (
                "E12001",
                "流动摊点",
                (),
                [("E1200101", "流动商贩", ("摆摊",), []), ("E1200102", "夜市占道", (), [])],
            ),
            ("E12002", "其他秩序问题", (), []),  # a middle class without subclasses: itself a category
        ],
    ),
]
KINDS = {"C": "component", "E": "event"}
TREE_FIELDS = ("parent_code", "depth", "leaf", "trail")


def starter_tree() -> list[Node]:
    """The starter taxonomy as a tree of two levels: major classes (kind letter + major code, "E06") over
    their categories."""
    doc = yaml.safe_load(STARTER_TAXONOMY.read_text(encoding="utf-8"))
    letters = {kind: letter for letter, kind in KINDS.items()}
    return [
        (
            letters[kind] + major,
            name,
            (),
            [
                (c["code"], c["name"], tuple(c.get("aliases", ())), [])
                for c in doc["categories"]
                if c["code"][:3] == letters[kind] + major
            ],
        )
        for kind, majors in doc["major_classes"].items()
        for major, name in majors.items()
    ]


def tree_items(tree: list[Node]) -> list[dict]:
    """The sync items of every node of ``tree``, top down."""
    items: list[dict] = []

    def walk(nodes: list[Node], parent: str | None, trail: tuple[str, ...], top: tuple[str, str] | None):
        for code, name, aliases, children in nodes:
            major = top or (code, name)
            items.append(
                {
                    "code": code,
                    "name": name,
                    "kind": KINDS[code[0]],
                    "major_code": major[0],
                    "major_name": major[1],
                    "aliases": list(aliases),
                    "initials": initials(name, *aliases),
                    "urgency": "normal",
                    "phrases": [],
                    "active": True,
                    "parent_code": parent,
                    "depth": len(trail) + 1,
                    "leaf": not children,
                    "trail": list(trail),
                }
            )
            walk(children, code, (*trail, name), major)

    walk(tree, None, (), None)
    return items


def items_before_the_tree(tree: list[Node]) -> list[dict]:
    """The sync items of a two-level ``tree`` as a server older than the tree gave them."""
    return [
        {k: v for k, v in item.items() if k not in TREE_FIELDS} | {"major_code": item["major_code"][1:]}
        for item in tree_items(tree)
        if item["leaf"]
    ]


def category_row(driver, report, code: str):
    """The row of ``code`` in the report screen's category list, the list scrolled to show it whole (the
    list makes rows only for those in view)."""
    view = report.ids.choices
    index = next(i for i, row in enumerate(view.data) if row["code"] == code)
    height = view.layout_manager.default_size[1]
    hidden = len(view.data) * height - view.height  # how far the rows reach below the list's bottom
    view.scroll_y = min(1.0, max(0.0, 1 - index * height / hidden)) if hidden > 0 else 1.0
    return driver.until(lambda: driver.find("ChoiceRow", code=code), f"the row of {code}")
