"""A Pingshan-shaped three-level taxonomy file for trials and timing (``gridops categories sample``): 17 major
classes (大类), 189 middle classes (中类) and 1,007 classes (小类) by default, named from word lists,
departments, urgency and limits set on the major classes and overridden on some middle classes and
classes, some district overrides. The same seed writes the same file: YAML nested with ``children:``, or
CSV with one row a category (by the file name's suffix)."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from server.category.loader import format_of
from server.category.schemas import TaxonomyFormat

SHAPE = (17, 189, 1007)  # Pingshan's major classes, middle classes, classes
DEPARTMENTS = {
    "urban_admin": "坪山区城市管理和综合执法局",
    "greening": "坪山区城市管理和综合执法局园林绿化科",
    "eco_env": "深圳市生态环境局坪山管理局",
    "housing": "坪山区住房和建设局",
    "water": "坪山区水务局",
    "water_group": "深圳市水务集团坪山分公司",
    "power": "深圳供电局坪山供电局",
    "transport": "坪山区交通运输局",
    "traffic_police": "深圳市公安局交通警察支队坪山大队",
    "market": "坪山区市场监督管理局",
    "emergency": "坪山区应急管理局",
    "fire": "坪山区消防救援大队",
    "health": "坪山区卫生健康局",
    "education": "坪山区教育局",
    "public_security": "深圳市公安局坪山分局",
    "civil_affairs": "坪山区民政局",
    "human_resources": "坪山区人力资源局",
    "planning": "深圳市规划和自然资源局坪山管理局",
    "culture": "坪山区文化广电旅游体育局",
    "street_office": "属地街道办事处",
    "longgang_urban_admin": "龙岗区城市管理和综合执法局",
    "longhua_urban_admin": "龙华区城市管理和综合执法局",
}
# A district (6-digit code) -> the department a middle class may send its cases to there instead.
DISTRICT_DEPARTMENTS = {"440307": "longgang_urban_admin", "440309": "longhua_urban_admin"}
REQUEST_TYPES = [
    {"code": "complaint", "name": "投诉", "response_limit": "1h", "handling_limit": "7d"},
    {"code": "consult", "name": "咨询", "handling_limit": "1d"},
    {"code": "suggest", "name": "建议", "handling_limit": "3d"},
    {"code": "help", "name": "求助", "response_limit": "1h", "handling_limit": "7d"},
    {"code": "tipoff", "name": "举报", "response_limit": "1h", "handling_limit": "7d"},
]
TAGS = [
    {"code": "repeat_complaint", "name": "重复投诉"},
    {"code": "key_supervision", "name": "重点督办"},
]


@dataclass(frozen=True)
class Major:
    kind: str  # C or E
    name: str
    department: str
    urgency: str
    limit: str
    things: tuple[str, ...]  # what its middle classes are about


MAJORS = (
    Major(
        "C",
        "市政公用设施",
        "water_group",
        "important",
        "1d",
        ("井盖", "消防栓", "供水管道", "排水管道", "电力设施", "通信设施", "燃气设施", "路灯"),
    ),
    Major(
        "C",
        "道路交通设施",
        "transport",
        "important",
        "2d",
        ("交通标志", "信号灯", "护栏", "公交站台", "停车泊位", "人行天桥", "道路", "隔离墩"),
    ),
    Major(
        "C",
        "市容环境设施",
        "urban_admin",
        "normal",
        "2d",
        ("垃圾桶", "公共厕所", "垃圾转运站", "广告牌", "岗亭", "报刊亭", "座椅", "宣传栏"),
    ),
    Major(
        "C",
        "园林绿化设施",
        "greening",
        "normal",
        "3d",
        ("行道树", "绿地", "花坛", "古树名木", "绿化护栏", "公园设施", "喷泉", "雕塑"),
    ),
    Major(
        "C",
        "房屋及其他设施",
        "housing",
        "normal",
        "3d",
        ("危房", "围墙", "建筑外立面", "电梯", "消防通道", "地下通道", "监控设备", "充电桩"),
    ),
    Major(
        "E",
        "市容环境",
        "urban_admin",
        "important",
        "4h",
        ("垃圾", "渣土", "油烟", "污水", "积水", "卫生死角", "废弃家具", "动物尸体"),
    ),
    Major(
        "E",
        "街面秩序",
        "urban_admin",
        "normal",
        "4h",
        ("占道经营", "流动摊贩", "店外经营", "乱停放", "违规搭建", "晾晒", "乞讨", "露天烧烤"),
    ),
    Major(
        "E",
        "宣传广告",
        "urban_admin",
        "normal",
        "1d",
        ("小广告", "户外广告", "横幅", "招牌", "灯箱", "电子显示屏", "涂鸦", "宣传品"),
    ),
    Major(
        "E",
        "施工管理",
        "housing",
        "important",
        "1d",
        ("施工围挡", "施工噪声", "扬尘", "夜间施工", "余泥渣土运输", "道路开挖", "工地出入口", "施工废水"),
    ),
    Major(
        "E",
        "生态环境",
        "eco_env",
        "important",
        "2d",
        ("废气", "废水", "噪声", "固体废物", "河道污染", "土壤污染", "异味", "辐射"),
    ),
    Major(
        "E",
        "水务管理",
        "water",
        "important",
        "1d",
        ("河道", "排水设施", "供水", "内涝", "水库", "排污口", "暗渠", "泵站"),
    ),
    Major(
        "E",
        "安全生产",
        "emergency",
        "urgent",
        "2h",
        ("危险化学品", "燃气", "有限空间", "高空作业", "电动车充电", "三小场所", "仓库", "厂房"),
    ),
    Major(
        "E",
        "消防安全",
        "fire",
        "urgent",
        "2h",
        ("消防通道", "消防设施", "电气线路", "易燃物品", "群租房", "出租屋", "人员密集场所", "高层建筑"),
    ),
    Major(
        "E",
        "市场监管",
        "market",
        "normal",
        "3d",
        ("食品安全", "无证经营", "价格", "计量器具", "特种设备", "药品", "虚假宣传", "产品质量"),
    ),
    Major(
        "E",
        "交通秩序",
        "traffic_police",
        "normal",
        "4h",
        ("机动车", "非机动车", "共享单车", "泥头车", "货车", "网约车", "交通拥堵", "违规载客"),
    ),
    Major(
        "E",
        "民生服务",
        "civil_affairs",
        "normal",
        "5d",
        ("劳资纠纷", "学校周边", "医疗卫生", "养老服务", "流浪人员", "物业管理", "噪声扰民", "邻里纠纷"),
    ),
    Major(
        "E",
        "其他事件",
        "street_office",
        "normal",
        "5d",
        ("突发事件", "群众诉求", "公共安全", "治安隐患", "文化市场", "宗教场所", "地质灾害", "其他问题"),
    ),
)
PLACES = (
    "",
    "道路",
    "小区",
    "河道",
    "公园",
    "工地",
    "城中村",
    "学校周边",
    "商业街",
    "工业区",
    "农贸市场",
    "地铁站周边",
)
PROBLEMS = {
    "C": (
        "破损",
        "缺失",
        "倾斜",
        "松动",
        "被盗",
        "污损",
        "遮挡",
        "不亮",
        "堵塞",
        "被占用",
        "锈蚀",
        "移位",
        "倒伏",
        "标识不清",
    ),
    "E": (
        "乱堆乱放",
        "未及时清理",
        "占道",
        "违规设置",
        "扰民",
        "异味",
        "私搭乱建",
        "无证经营",
        "超时作业",
        "偷排",
        "安全隐患",
        "违规经营",
        "乱张贴",
        "反复出现",
    ),
}
LIMITS = ("2h", "4h", "1d", "2d", "3d")


@dataclass
class Node:
    code: str
    name: str
    own: dict = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)


def _spread(total: int, bins: int, rng: random.Random, most: int) -> list[int]:
    """``total`` items over ``bins`` bins, at least one and at most ``most`` each, the rest at random."""
    counts = [1] * bins
    for _ in range(min(total, bins * most) - bins):
        counts[rng.choice([i for i, n in enumerate(counts) if n < most])] += 1
    return counts


def sample_tree(classes: int = SHAPE[2], seed: int = 1) -> list[Node]:
    """The major classes of a Pingshan-shaped taxonomy with ``classes`` classes at the bottom."""
    rng = random.Random(seed)
    middles = max(1, round(classes * SHAPE[1] / SHAPE[2]))
    tops = max(1, min(middles, round(classes * SHAPE[0] / SHAPE[2]), len(MAJORS)))
    middles = min(middles, classes)
    majors = [m for m in MAJORS if m.kind == "C"][: max(1, tops * 5 // 17)]
    majors += [m for m in MAJORS if m.kind == "E"][: tops - len(majors)]
    numbers = {"C": 0, "E": 0}
    tree = []
    leaves = iter(_spread(classes, middles, rng, len(PROBLEMS["C"])))
    for major, count in zip(majors, _spread(middles, len(majors), rng, len(PLACES) * 8), strict=True):
        numbers[major.kind] += 1
        top = Node(f"{major.kind}{numbers[major.kind]:02d}", major.name)
        top.own = {"urgency": major.urgency, "handling_limit": major.limit, "department": major.department}
        if major.kind == "E":
            top.own["request_limits"] = {"consult": "1d"}
        if major.urgency == "urgent":
            top.own["clock"] = "natural"
        subjects = [f"{place}{thing}" for thing in major.things for place in PLACES]
        for m, subject in enumerate(rng.sample(subjects, count), 1):
            middle = Node(f"{top.code}{m:02d}", f"{subject}问题" if major.kind == "E" else f"{subject}设施")
            if rng.random() < 0.2:  # another department for this middle class
                middle.own["department"] = rng.choice([d for d in DEPARTMENTS if d != major.department])
            if rng.random() < 0.15:
                middle.own["handling_limit"] = rng.choice(LIMITS)
            if rng.random() < 0.1:
                district = rng.choice(list(DISTRICT_DEPARTMENTS))
                middle.own["district_overrides"] = {district: DISTRICT_DEPARTMENTS[district]}
            for n, problem in enumerate(rng.sample(PROBLEMS[major.kind], next(leaves)), 1):
                leaf = Node(f"{middle.code}{n:03d}", f"{subject}{problem}")
                if rng.random() < 0.1:  # a more pressing class
                    leaf.own.update(urgency="urgent", handling_limit="2h")
                if rng.random() < 0.05:
                    leaf.own["simple_flow"] = True
                middle.children.append(leaf)
            top.children.append(middle)
        tree.append(top)
    return tree


def _yaml_node(node: Node) -> dict:
    out = {"code": node.code, "name": node.name, **node.own}
    if node.children:
        out["children"] = [_yaml_node(child) for child in node.children]
    return out


def _csv_rows(nodes: list[Node]):
    for node in nodes:
        own = node.own
        department = own.get("department")
        yield [
            node.code,
            node.name,
            own.get("urgency", ""),
            own.get("handling_limit", ""),
            department or "",
            DEPARTMENTS[department] if department else "",
            ";".join(f"{d}={dep}" for d, dep in own.get("district_overrides", {}).items()),
            own.get("clock", ""),
            "是" if own.get("simple_flow") else "",
            "|".join(f"{t}:{limit}" for t, limit in own.get("request_limits", {}).items()),
        ]
        yield from _csv_rows(node.children)


CSV_HEADER = (
    "code", "name", "urgency", "handling_limit", "department_code", "department_name", "district_overrides",
    "clock", "simple_flow", "request_limits",
)  # fmt: skip


def sample_text(tree: list[Node], fmt: TaxonomyFormat, seed: int) -> str:
    """The sample taxonomy as the text of a YAML (the whole taxonomy) or CSV (the categories) file."""
    if fmt is TaxonomyFormat.CSV:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        writer.writerows(_csv_rows(tree))
        return out.getvalue()
    header = (
        f"# 坪山式三级分类示例（gridops categories sample，种子 {seed}）：\n"
        "# 大类、中类、小类逐层嵌套在 children 中，下级类别的编号以上级类别的编号开头；\n"
        "# 紧急程度、时限和部门写在大类上，中类和小类可另行设定。\n"
    )
    doc = {
        "request_types": REQUEST_TYPES,
        "departments": [{"code": code, "name": name} for code, name in DEPARTMENTS.items()],
        "categories": [_yaml_node(top) for top in tree],
        "tags": TAGS,
    }
    return header + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=120)


def write_sample(path: Path, classes: int = SHAPE[2], seed: int = 1) -> tuple[int, int, int]:
    """Write the sample taxonomy to ``path`` (the format from its suffix); how many nodes at each level."""
    tree = sample_tree(classes, seed)
    path.write_text(sample_text(tree, format_of(path.name), seed), encoding="utf-8")
    middles = [m for top in tree for m in top.children]
    return len(tree), len(middles), sum(len(m.children) for m in middles)
