"""A taxonomy as a file holds it (departments, major classes, categories, tags), and the checks of its entries
that the YAML and CSV readers (``server.category.loader``) share. Every problem is collected, in Chinese,
with where it is ("第 17 行：...", "第 12 个问题类别（E06010）：...").

The categories form a tree (:func:`build_tree`): a category's parent is the category whose code is the
longest beginning of its own (E0101 is under E01, E0101001 under E0101). A code of the older two-level form
(C or E, 2-digit major class, 3-digit subclass: E06010) without a parent in the file is under its major
class (E06), which the file's ``major_classes`` (or, for a CSV file, the starter taxonomy's) name. The
inherited fields (:data:`INHERITED`) pass down the tree; a node's own value wins."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from server.category.schemas import Kind, Urgency
from server.config import get_settings
from server.errors import Invalid

CODE_MAX = 40
TWO_LEVEL_CODE = re.compile(r"^[CE][0-9]{5}$")  # the older form: kind, major class, subclass (E06010)
HANDLING_LIMIT = re.compile(r"^[0-9]+(\.[0-9]+)?[mhd]$")
KEY = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
DISTRICT = re.compile(r"^[0-9]{6}$")
KIND_OF_PREFIX = {"C": Kind.COMPONENT, "E": Kind.EVENT}
PREFIX_OF_KIND = {kind: prefix for prefix, kind in KIND_OF_PREFIX.items()}
KIND_WORDS = {Kind.COMPONENT: "部件", Kind.EVENT: "事件"}
NAME_MAX = 100
# The fields of a taxonomy file in words; a problem names the field in words and as the file writes it
# (the person fixing the file looks for that column or key).
FIELD_WORDS = {
    "code": "编号",
    "name": "名称",
    "phone": "电话",
    "description": "说明",
    "urgency": "紧急程度",
    "handling_limit": "处置时限",
    "department": "部门",
    "department_name": "部门名称",
    "legal_basis": "法规依据",
    "district_overrides": "分区县部门",
    "aliases": "别名",
    "phrases": "常用语",
    "clock": "计时方式",
    "simple_flow": "即报即处",
    "layer": "负责的网格图层",
    "request_limits": "各诉求类型的处置时限",
    "response_limit": "响应时限",
    "children": "下级类别",
}
# What a category passes down to the categories under it unless they set their own (district overrides and
# request limits are merged: a child's entries win for their district or request type).
INHERITED = (
    "urgency",
    "handling_limit",
    "department",
    "legal_basis",
    "clock",
    "simple_flow",
    "layer",
    "district_overrides",
    "request_limits",
)
MERGED = ("district_overrides", "request_limits")
UNSET = {"simple_flow": False, "district_overrides": {}, "request_limits": {}}  # at the top, when not given
CLOCKS = {"work": "工作时间", "natural": "自然时间"}
# How a CSV cell or a YAML scalar says yes or no.
YES = {"true", "yes", "1", "是"}
NO = {"false", "no", "0", "否", ""}
# The request type of a report that does not say what it asks: a problem to fix, as an inspector's report
# is (a 投诉-like event); every file of request types keeps it.
DEFAULT_REQUEST_TYPE = "complaint"


def field_words(key: str) -> str:
    """A field of the file as a problem names it: 处置时限（handling_limit）."""
    return f"{FIELD_WORDS[key]}（{key}）"


@dataclass(frozen=True)
class DepartmentEntry:
    code: str
    name: str
    phone: str | None = None
    where: str = field(default="", compare=False)


@dataclass(frozen=True)
class MajorClass:
    """A major class as ``major_classes`` names it: kind and two-digit code."""

    kind: Kind
    code: str
    name: str

    @property
    def top_code(self) -> str:
        """Its code as a node of the tree: E06."""
        return PREFIX_OF_KIND[self.kind] + self.code


@dataclass(frozen=True)
class CategoryEntry:
    """A node of the tree as the file gives it: the inherited fields (:data:`INHERITED`) it leaves empty
    (None, or an empty mapping) come from the category above it."""

    code: str
    name: str
    urgency: Urgency | None = None
    handling_limit: str | None = None
    department: str | None = None  # a department code; None anywhere up the tree: routed by hand
    legal_basis: str | None = None
    district_overrides: dict[str, str] = field(default_factory=dict)  # district code -> department code
    aliases: tuple[str, ...] = ()  # other words people use for it
    phrases: tuple[str, ...] = ()  # sentences an inspector may start a description with (常用语)
    clock: str | None = None  # work or natural; None: as the urgency says
    simple_flow: bool | None = None  # an inspector may fix it on the spot (即报即处)
    # the grid layer whose heads and inspectors answer for its cases (None up the tree: the default layer)
    layer: str | None = None
    request_limits: dict[str, str] = field(default_factory=dict)  # request type -> handling limit
    under: str | None = None  # the code of the category a YAML file nests it under (children:)
    where: str = field(default="", compare=False)

    @property
    def kind(self) -> Kind:
        return KIND_OF_PREFIX[self.code[0]]

    @property
    def own(self) -> dict:
        """The inherited fields it sets itself, as the file writes them."""
        values = {key: getattr(self, key) for key in INHERITED}
        if self.urgency is not None:
            values["urgency"] = self.urgency.value
        return {key: value for key, value in values.items() if value is not None and value != {}}


@dataclass(frozen=True)
class Node:
    """A category in the tree: its entry, the codes and names of its ancestors from the top down, whether
    cases are filed under it (a leaf: nothing under it), and its effective values (:data:`INHERITED`)."""

    entry: CategoryEntry
    lineage: tuple[str, ...]
    trail: tuple[str, ...]
    leaf: bool
    values: dict

    @property
    def depth(self) -> int:
        return len(self.lineage) + 1

    @property
    def parent(self) -> str | None:
        return self.lineage[-1] if self.lineage else None


@dataclass(frozen=True)
class TagEntry:
    code: str
    name: str
    description: str | None = None
    where: str = field(default="", compare=False)


@dataclass(frozen=True)
class RequestTypeEntry:
    """What a request asks (咨询, 投诉...), with its response and handling limits (None: none of its own)."""

    code: str
    name: str
    response_limit: str | None = None
    handling_limit: str | None = None
    where: str = field(default="", compare=False)


@dataclass
class Taxonomy:
    departments: list[DepartmentEntry]
    major_classes: list[MajorClass]
    categories: list[CategoryEntry]
    tags: list[TagEntry]
    complete: bool = True  # the file replaces departments and tags too (YAML); False: categories only (CSV)
    request_types: list[RequestTypeEntry] = field(default_factory=list)  # none: the stored ones stay
    nodes: list[Node] = field(default_factory=list)  # the tree, top down (``build_tree``)


def invalid_taxonomy(problems: list[str]) -> Invalid:
    return Invalid("category.taxonomy_invalid", count=len(problems), errors=problems)


def reference_errors(
    taxonomy: Taxonomy, known: Iterable[str] = (), known_types: Iterable[str] | None = None
) -> list[str]:
    """A problem for each department a category names that is neither in the file nor in ``known``, and
    each request type it gives a limit for that is not in the file's request types or, when it has none,
    in ``known_types`` (None: not known yet, as when the file is read without the database)."""
    declared = {d.code for d in taxonomy.departments} | set(known)
    types = {t.code for t in taxonomy.request_types} or known_types
    problems = []
    for entry in taxonomy.categories:
        for request_type in entry.request_limits:
            if types is not None and request_type not in types:
                problems.append(
                    f"{entry.where}：没有编号为“{request_type}”的诉求类型，"
                    "请先在诉求类型（request_types）中添加，或改用已有的诉求类型"
                )
        if entry.department and entry.department not in declared:
            problems.append(
                f"{entry.where}：没有编号为“{entry.department}”的部门，请先添加这个部门或改用已有的部门编号"
            )
        for district, department in entry.district_overrides.items():
            if department not in declared:
                problems.append(
                    f"{entry.where}：区县 {district} 的部门“{department}”不存在，"
                    "请先添加这个部门或改用已有的部门编号"
                )
    return problems


def text_field(
    value, what: str, where: str, problems: list[str], *, required=True, max_len=NAME_MAX
) -> str | None:
    """The text of a field (``what``: the field in words), or None after reporting its problem."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append(f"{where}：缺少{what}，请填写")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        problems.append(f"{where}：{what}应为文字")
        return None
    text = str(value).strip()
    if max_len is not None and len(text) > max_len:
        problems.append(f"{where}：{what}太长，最多 {max_len} 个字符")
        return None
    return text


def key_field(value, what: str, where: str, problems: list[str], *, required=True) -> str | None:
    text = text_field(value, what, where, problems, required=required, max_len=None)
    if text is not None and not KEY.match(text):
        problems.append(
            f"{where}：{what}“{text}”不对：应为 2 到 40 个小写英文字母、数字或下划线，"
            "以字母开头，如 sanitation_lx"
        )
        return None
    return text


def category_entry(
    raw: dict, where: str, problems: list[str], under: str | None = None
) -> CategoryEntry | None:
    """A category from its fields (the same for YAML and CSV), or None after reporting its problems;
    ``under``: the code of the category a YAML file nests it under."""
    before = len(problems)
    code = text_field(raw.get("code"), field_words("code"), where, problems, max_len=None)
    if code is not None:
        code_problem(code, where, problems)
    name = text_field(raw.get("name"), field_words("name"), where, problems)
    urgency = text_field(raw.get("urgency"), field_words("urgency"), where, problems, required=False)
    if urgency is not None and urgency not in set(Urgency):
        problems.append(
            f"{where}：紧急程度“{urgency}”不对：应为 urgent（紧急）、important（重要）或 normal（一般）"
        )
    limit = limit_field(raw.get("handling_limit"), "handling_limit", where, problems, required=False)
    department = key_field(raw.get("department"), field_words("department"), where, problems, required=False)
    legal_basis = text_field(
        raw.get("legal_basis"), field_words("legal_basis"), where, problems, required=False, max_len=None
    )
    aliases = word_list(raw.get("aliases"), "aliases", where, problems)
    phrases = word_list(raw.get("phrases"), "phrases", where, problems)
    clock = text_field(raw.get("clock"), field_words("clock"), where, problems, required=False)
    if clock is not None and clock not in CLOCKS:
        problems.append(
            f"{where}：计时方式“{clock}”不对：应为 work（工作时间）或 natural（自然时间，全天计时）"
        )
    simple_flow = yes_no(raw.get("simple_flow"), "simple_flow", where, problems, unset=None)
    layer = text_field(raw.get("layer"), field_words("layer"), where, problems, required=False, max_len=20)
    request_limits = limit_table(raw.get("request_limits"), where, problems)
    overrides = raw.get("district_overrides") or {}
    if not isinstance(overrides, dict):
        problems.append(f"{where}：{field_words('district_overrides')}应为区县编号到部门编号的对应表")
        overrides = {}
    districts = {}
    for district, dep in overrides.items():
        district = str(district)
        if not DISTRICT.match(district):
            problems.append(
                f"{where}：{field_words('district_overrides')}中的区县编号“{district}”应为 6 位数字"
            )
        districts[district] = key_field(dep, f"区县 {district} 的部门", where, problems)
    if len(problems) > before:
        return None
    return CategoryEntry(
        code=code,
        name=name,
        urgency=Urgency(urgency) if urgency else None,
        handling_limit=limit,
        department=department,
        legal_basis=legal_basis,
        district_overrides=districts,
        aliases=aliases,
        phrases=phrases,
        clock=clock,
        simple_flow=simple_flow,
        layer=layer,
        request_limits=request_limits,
        under=under,
        where=where,
    )


def code_problem(code: str, where: str, problems: list[str]) -> None:
    """Report a code that does not have the form the settings give, or does not say its kind."""
    settings = get_settings()
    if len(code) > CODE_MAX or not re.fullmatch(settings.category_code_pattern, code):
        problems.append(
            f"{where}：编号“{code}”不对：不符合本市的分类编号格式（如 E06 大类、E06010 小类，"
            f"或三级编号 E01、E01001、E0100101），最长 {CODE_MAX} 个字符，下级类别的编号以上级类别的编号开头"
        )
    elif code[0] not in KIND_OF_PREFIX:
        problems.append(f"{where}：编号“{code}”不对：应以 C（部件）或 E（事件）开头")


def limit_field(value, key: str, where: str, problems: list[str], *, required=True) -> str | None:
    """A limit (30m, 4h, 2d), or None after reporting its problem."""
    limit = text_field(value, field_words(key), where, problems, required=required)
    if limit is not None and not HANDLING_LIMIT.match(limit):
        problems.append(
            f"{where}：{FIELD_WORDS[key]}“{limit}”不对：应为数字加单位 m（分钟）、h（小时）或 d（天），如 4h"
        )
        return None
    return limit


def yes_no(value, key: str, where: str, problems: list[str], unset: bool | None = False) -> bool | None:
    """A yes-or-no field: YAML true/false, or a CSV cell 是/否 (true/false); missing or empty is ``unset``."""
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    if text in YES:
        return True
    if text == "":
        return unset
    if text not in NO:
        problems.append(f"{where}：{field_words(key)}应为 true（是）或 false（否），这里是“{value}”")
    return False


def limit_table(raw, where: str, problems: list[str]) -> dict[str, str]:
    """A category's handling limits per request type: a YAML mapping ``{consult: 2d}``, or a CSV cell
    ``consult:2d|suggest:5d``."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        pairs = [part.partition(":") for part in raw.split("|")]
        if any(not colon for _, colon, _ in pairs):
            problems.append(
                f"{where}：{field_words('request_limits')}应写成“诉求类型:时限”，多个用 | 隔开，如 consult:2d"
            )
            return {}
        raw = {key.strip(): limit.strip() for key, _, limit in pairs}
    if not isinstance(raw, dict):
        problems.append(
            f"{where}：{field_words('request_limits')}应为诉求类型到时限的对应表，如 {{consult: 2d}}"
        )
        return {}
    limits = {}
    for key, value in raw.items():
        limit = limit_field(value, "request_limits", f"{where}诉求类型 {key}", problems)
        if limit is not None:
            limits[str(key)] = limit
    return limits


@dataclass(frozen=True)
class WordList:
    """How a taxonomy file writes a list of words of a category: a YAML list, or one CSV cell split by
    ``separators``; at most ``most`` items of at most ``longest`` characters each."""

    most: int
    longest: int
    separators: re.Pattern
    example: str


WORD_LISTS = {
    "aliases": WordList(30, 20, re.compile(r"[、|,，;；]"), "[乱停车, 违停]"),
    # A phrase is a sentence with its own commas: in a CSV cell phrases are separated by | only.
    "phrases": WordList(10, 60, re.compile(r"\|"), "[井盖缺失，存在安全隐患, 井盖破损，车辆经过有响声]"),
}


def word_list(raw, key: str, where: str, problems: list[str]) -> tuple[str, ...]:
    """A category's aliases or phrases (see :data:`WORD_LISTS`), the file's order kept, repeats dropped."""
    if raw is None or raw == "":
        return ()
    rule = WORD_LISTS[key]
    items = rule.separators.split(raw) if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(i, str | int) for i in items):
        problems.append(f"{where}：{field_words(key)}应为列表，如 {rule.example}")
        return ()
    words = tuple(dict.fromkeys(w for w in (str(i).strip() for i in items) if w))
    if len(words) > rule.most:
        problems.append(f"{where}：{field_words(key)}最多 {rule.most} 个，这里有 {len(words)} 个")
    long = [w for w in words if len(w) > rule.longest]
    if long:
        problems.append(f"{where}：{field_words(key)}每个最多 {rule.longest} 个字，“{long[0]}”太长")
    return words


def check_document(taxonomy: Taxonomy, problems: list[str]) -> None:
    """Problems across entries: repeated codes, the tree's (``build_tree``), no categories."""
    for label, entries in (
        ("部门", taxonomy.departments),
        ("问题类别", taxonomy.categories),
        ("标签", taxonomy.tags),
        ("诉求类型", taxonomy.request_types),
    ):
        first: dict[str, str] = {}
        for entry in entries:
            if entry.code in first:
                problems.append(
                    f"{entry.where}：{label} {entry.code} 已在{first[entry.code]}定义过，编号不能重复"
                )
            first.setdefault(entry.code, entry.where)
    taxonomy.nodes = build_tree(taxonomy, problems, check_leaves=not problems)
    codes = {t.code for t in taxonomy.request_types}
    if codes and DEFAULT_REQUEST_TYPE not in codes:
        problems.append(
            f"诉求类型（request_types）缺少 {DEFAULT_REQUEST_TYPE}（投诉）："
            "未注明诉求类型的上报按投诉处理，请保留它"
        )
    if not taxonomy.categories and not problems:
        problems.append("文件中没有任何问题类别，请至少填写一个")


def _parents(taxonomy: Taxonomy, problems: list[str]) -> tuple[list[CategoryEntry], dict[str, str | None]]:
    """The categories with the major classes they need (first), and each one's parent code."""
    codes = {entry.code for entry in taxonomy.categories}
    majors = {major.top_code: major for major in taxonomy.major_classes}
    needed: dict[str, CategoryEntry] = {}
    parents: dict[str, str | None] = {}
    for entry in taxonomy.categories:
        code = entry.code
        parent = next((code[:n] for n in range(len(code) - 1, 0, -1) if code[:n] in codes), None)
        if parent is None and TWO_LEVEL_CODE.match(code):
            parent = code[:3]
            major = majors.get(parent)
            if major is None:
                problems.append(
                    f"{entry.where}：没有{KIND_WORDS[entry.kind]}大类 {code[1:3]}，请检查编号的第 2、3 位"
                )
                continue
            needed.setdefault(parent, CategoryEntry(code=parent, name=major.name, where=f"大类 {parent}"))
        if entry.under is not None and parent != entry.under:
            problems.append(
                f"{entry.where}：编号“{code}”以“{parent}”开头，是它的下级类别：请把它移到“{parent}”的下级类别中"
                if code.startswith(entry.under)
                else f"{entry.where}：编号“{code}”应以上级类别的编号“{entry.under}”开头"
                "（下级类别的编号在上级类别的编号后面加位数）"
            )
            continue
        parents[code] = parent
    parents.update(dict.fromkeys(needed))
    return [*needed.values(), *taxonomy.categories], parents


def build_tree(taxonomy: Taxonomy, problems: list[str], check_leaves: bool = True) -> list[Node]:
    """The tree of the taxonomy's categories, top down, each node with its effective values; reports a
    category without its major class, a tree deeper than the settings allow and (with ``check_leaves``: when
    every entry could be read, so that none is missing above a leaf) a leaf left without urgency or
    handling limit."""
    entries, parents = _parents(taxonomy, problems)
    deepest = get_settings().category_max_depth
    parented = {code for code in parents.values() if code is not None}
    nodes: dict[str, Node] = {}
    by_code = {entry.code: entry for entry in entries}

    def place(entry: CategoryEntry) -> Node | None:
        if entry.code in nodes:
            return nodes[entry.code]
        if entry.code not in parents:
            return None  # already reported
        parent = parents[entry.code]
        above = place(by_code[parent]) if parent is not None else None
        if parent is not None and above is None:
            return None
        lineage = (*above.lineage, parent) if above else ()
        if len(lineage) >= deepest:
            problems.append(
                f"{entry.where}：类别 {entry.code} 在第 {len(lineage) + 1} 层，"
                f"本市的分类最多 {deepest} 层：请把它并入上一层，或请管理员调整分类层数"
            )
            return None
        values = dict(above.values) if above else {**dict.fromkeys(INHERITED), **UNSET}
        for key, value in entry.own.items():
            values[key] = {**values[key], **value} if key in MERGED else value
        node = nodes[entry.code] = Node(
            entry=entry,
            lineage=lineage,
            trail=(*above.trail, above.entry.name) if above else (),
            leaf=entry.code not in parented,
            values=values,
        )
        return node

    for entry in entries:
        node = place(entry)
        if node is None or not node.leaf or not check_leaves:
            continue
        for key in ("urgency", "handling_limit"):
            if node.values[key] is None:
                problems.append(
                    f"{entry.where}：类别 {entry.code} 下面没有下级类别，案件会归入它，"
                    f"它却没有{field_words(key)}，它的上级类别也没有：请在它或它的上级类别中填写"
                )
    return sorted(nodes.values(), key=lambda n: n.depth)
