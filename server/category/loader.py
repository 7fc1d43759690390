"""Reading a taxonomy file, without the database (its entries, and the checks both formats share, are
``server.category.taxonomy``).

A YAML file holds the whole taxonomy: ``departments``, ``categories`` and ``tags``, optionally
``major_classes`` (the top nodes of a two-level taxonomy, named by kind and two-digit code) and
``request_types`` (诉求类型 with their limits; without it the stored ones stay); loading it replaces the
stored one. Its categories form a tree: an entry lists the categories under it in ``children:`` (nested as
deep as the settings allow), and a child's code starts with its parent's code. A CSV file holds categories
only, one a row (``CSV_COLUMNS``), every level of the tree in one list: a row's parent is the row whose code
is the longest beginning of its own (E0101 under E01); the departments it names are added or renamed, the
other departments and the tags stay as they are, and a two-level code (E06010) without a parent row is under
the starter taxonomy's major class (E06). The tree and the inheritance down it: ``server.category.taxonomy``.

Every problem is collected, in Chinese, with where it is ("第 17 行：...", "第 12 个问题类别（E06010）：...";
CSV rows are numbered as in a spreadsheet, the header being row 1), and any problem means nothing is
loaded.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import yaml

from server.category.schemas import Kind, TaxonomyFormat
from server.category.taxonomy import (
    KIND_WORDS,
    CategoryEntry,
    DepartmentEntry,
    MajorClass,
    RequestTypeEntry,
    TagEntry,
    Taxonomy,
    category_entry,
    check_document,
    field_words,
    invalid_taxonomy,
    key_field,
    limit_field,
    reference_errors,
    text_field,
)
from server.errors import Invalid

STARTER_TAXONOMY = Path(__file__).parent / "data" / "taxonomy.yaml"
CSV_COLUMNS = (
    "code",
    "name",
    "urgency",
    "handling_limit",
    "department_code",
    "department_name",
    "legal_basis",
    "district_overrides",
    "aliases",
    "phrases",
    "clock",
    "simple_flow",
    "request_limits",
    "layer",
)
CSV_REQUIRED = CSV_COLUMNS[:4]
YAML_SECTIONS = ("departments", "categories", "tags")
YAML_OPTIONAL = ("major_classes", "request_types")
REQUEST_TYPE_FIELDS = ("code", "name", "response_limit", "handling_limit")
REQUEST_TYPE_CODE_MAX = 12
DEPARTMENT_FIELDS = ("code", "name", "phone")
CATEGORY_FIELDS = (
    "code",
    "name",
    "urgency",
    "handling_limit",
    "department",
    "legal_basis",
    "district_overrides",
    "aliases",
    "phrases",
    "clock",
    "simple_flow",
    "request_limits",
    "layer",
    "children",
)
TAG_FIELDS = ("code", "name", "description")
MAJOR = re.compile(r"^[0-9]{2}$")
PHONE_MAX = 20


def format_of(filename: str) -> TaxonomyFormat:
    """The format a file name says (.yaml, .yml or .csv)."""
    suffix = Path(filename).suffix.lower()
    if suffix in (".yaml", ".yml"):
        return TaxonomyFormat.YAML
    if suffix == ".csv":
        return TaxonomyFormat.CSV
    raise Invalid("category.unknown_format", filename=filename)


def load_taxonomy(path_or_bytes: str | Path | bytes, fmt: TaxonomyFormat | None = None) -> Taxonomy:
    """Read and check a taxonomy file (the format from ``fmt``, else from the file name); raise ``Invalid``
    with every problem in ``params["errors"]``."""
    if isinstance(path_or_bytes, bytes):
        if fmt is None:
            raise Invalid("category.format_required")
        data = path_or_bytes
    else:
        path = Path(path_or_bytes)
        fmt = fmt or format_of(path.name)
        data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise invalid_taxonomy(
            ["文件不是 UTF-8 编码的文字：请在表格软件中另存为 UTF-8 编码后重新导入"]
        ) from None
    return _from_yaml(text) if TaxonomyFormat(fmt) is TaxonomyFormat.YAML else _from_csv(text)


# -- YAML ---------------------------------------------------------------------------------------


def _entries(
    items, label: str, fields: tuple[str, ...], problems: list[str], within: str = ""
) -> Iterator[tuple[str, dict]]:
    """``(where, mapping)`` for each entry of a section (``within``: the entry it is nested in), reporting
    those that are not mappings and fields nobody knows."""
    for i, raw in enumerate(items, 1):
        where = f"{within}第 {i} 个{label}"
        if not isinstance(raw, dict):
            problems.append(f"{where}：应写成“字段: 值”的形式")
            continue
        if isinstance(raw.get("code"), str):
            where += f"（{raw['code']}）"
        unknown = sorted(set(map(str, raw)) - set(fields))
        if unknown:
            problems.append(f"{where}：不认识的字段 {'、'.join(unknown)}（可用的字段有 {'、'.join(fields)}）")
        yield where, raw


def _major_classes(section, problems: list[str]) -> list[MajorClass]:
    majors = []
    if not isinstance(section, dict):
        problems.append(
            "大类（major_classes）应分为 component（部件）和 event（事件）两组，每组写“编号: 名称”"
        )
        return majors
    for kind, classes in section.items():
        if kind not in set(Kind):
            problems.append(
                f"大类（major_classes）中不认识的分组“{kind}”：应为 component（部件）或 event（事件）"
            )
            continue
        words = KIND_WORDS[Kind(kind)]
        if not isinstance(classes, dict):
            problems.append(f"{words}大类（major_classes.{kind}）应写成“两位编号: 名称”")
            continue
        for code, name in classes.items():
            if not isinstance(code, str) or not MAJOR.match(code):
                problems.append(f'{words}大类的编号“{code}”应为两位数字，并加上引号，如 "01"')
                continue
            text = text_field(name, field_words("name"), f"{words}大类 {code}", problems)
            if text is not None:
                majors.append(MajorClass(kind=Kind(kind), code=code, name=text))
    return majors


def _categories(
    items, label: str, under: str | None, within: str, out: list[CategoryEntry], problems: list[str]
) -> None:
    """The categories of a YAML list into ``out``, each followed by those nested in its ``children``."""
    for where, raw in _entries(items, label, CATEGORY_FIELDS, problems, within):
        entry = category_entry(raw, where, problems, under)
        if entry is not None:
            out.append(entry)
        children = raw.get("children")
        if children is None:
            continue
        if not isinstance(children, list):
            problems.append(f"{where}：{field_words('children')}应为列表（每项以“- ”开头）")
        elif entry is not None:
            _categories(children, "下级类别", entry.code, f"{where}下的", out, problems)


def _yaml_error(exc: yaml.YAMLError) -> str:
    """The parser's complaint as a problem: where it is (the parser's own words are English)."""
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return "文件不是有效的 YAML，请对照示例文件检查格式"
    return (
        f"文件不是有效的 YAML：第 {mark.line + 1} 行第 {mark.column + 1} 列附近格式有误，"
        "请检查缩进、冒号和引号"
    )


def _from_yaml(text: str) -> Taxonomy:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise invalid_taxonomy([_yaml_error(exc)]) from None
    if not isinstance(doc, dict):
        raise invalid_taxonomy([f"文件应由 {'、'.join(YAML_SECTIONS)} 几部分组成，请对照示例文件检查格式"])
    problems = [
        f"不认识的部分“{key}”（文件由 {'、'.join(YAML_SECTIONS + YAML_OPTIONAL)} 几部分组成）"
        for key in doc
        if key not in YAML_SECTIONS + YAML_OPTIONAL
    ]
    problems += [f"文件缺少 {key} 部分，请补上" for key in YAML_SECTIONS if key not in doc]
    for key in ("departments", "categories", "tags", "request_types"):
        if key in doc and not isinstance(doc[key], list):
            problems.append(f"{key} 部分应为列表（每项以“- ”开头）")
            doc[key] = []

    departments = []
    for where, raw in _entries(doc.get("departments", []), "部门", DEPARTMENT_FIELDS, problems):
        code = key_field(raw.get("code"), field_words("code"), where, problems)
        name = text_field(raw.get("name"), field_words("name"), where, problems)
        phone = text_field(
            raw.get("phone"), field_words("phone"), where, problems, required=False, max_len=PHONE_MAX
        )
        if code and name:
            departments.append(DepartmentEntry(code=code, name=name, phone=phone, where=where))
    categories: list[CategoryEntry] = []
    _categories(doc.get("categories", []), "问题类别", None, "", categories, problems)
    tags = []
    for where, raw in _entries(doc.get("tags", []), "标签", TAG_FIELDS, problems):
        code = key_field(raw.get("code"), field_words("code"), where, problems)
        name = text_field(raw.get("name"), field_words("name"), where, problems)
        description = text_field(
            raw.get("description"), field_words("description"), where, problems, required=False, max_len=None
        )
        if code and name:
            tags.append(TagEntry(code=code, name=name, description=description, where=where))
    majors = _major_classes(doc.get("major_classes", {}), problems)
    request_types = []
    for where, raw in _entries(doc.get("request_types", []), "诉求类型", REQUEST_TYPE_FIELDS, problems):
        code = key_field(raw.get("code"), field_words("code"), where, problems)
        if code and len(code) > REQUEST_TYPE_CODE_MAX:
            problems.append(f"{where}：诉求类型的编号最多 {REQUEST_TYPE_CODE_MAX} 个字符，请改短")
        name = text_field(raw.get("name"), field_words("name"), where, problems, max_len=20)
        response = limit_field(raw.get("response_limit"), "response_limit", where, problems, required=False)
        handling = limit_field(raw.get("handling_limit"), "handling_limit", where, problems, required=False)
        if code and name:
            request_types.append(RequestTypeEntry(code, name, response, handling, where=where))

    taxonomy = Taxonomy(
        departments=departments,
        major_classes=majors,
        categories=categories,
        tags=tags,
        request_types=request_types,
    )
    check_document(taxonomy, problems)
    problems += reference_errors(taxonomy)
    if problems:
        raise invalid_taxonomy(problems)
    return taxonomy


# -- CSV ----------------------------------------------------------------------------------------


def _parse_overrides(text: str, where: str, problems: list[str]) -> dict[str, str]:
    """``370102=sanitation_lx;370103=...`` as a mapping."""
    overrides: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        district, sep, department = (s.strip() for s in part.partition("="))
        if not (sep and district and department):
            problems.append(
                f"{where}：{field_words('district_overrides')}中的“{part}”应写成“区县编号=部门编号”"
            )
        elif district in overrides:
            problems.append(f"{where}：区县 {district} 在{field_words('district_overrides')}中出现了两次")
        else:
            overrides[district] = department
    return overrides


def _from_csv(text: str) -> Taxonomy:
    reader = csv.reader(io.StringIO(text))
    header = [column.strip() for column in next(reader, [])]
    missing = [column for column in CSV_REQUIRED if column not in header]
    unknown = [column for column in header if column not in CSV_COLUMNS]
    if missing or unknown:
        raise invalid_taxonomy(
            [f"第 1 行：缺少 {c} 列，请在标题行补上" for c in missing]
            + [f"第 1 行：不认识的列“{c}”（可用的列有 {'、'.join(CSV_COLUMNS)}）" for c in unknown]
        )

    problems: list[str] = []
    categories = []
    departments: dict[str, DepartmentEntry] = {}
    for number, row in enumerate(reader, 2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"第 {number} 行"
        if len(row) != len(header):
            problems.append(f"{where}：有 {len(row)} 列，而标题行有 {len(header)} 列，请补齐或删去多余的列")
            continue
        values = dict(zip(header, (cell.strip() for cell in row), strict=True))
        raw = {
            "code": values["code"],
            "name": values["name"],
            "urgency": values["urgency"],
            "handling_limit": values["handling_limit"],
            "department": values.get("department_code"),
            "legal_basis": values.get("legal_basis"),
            "district_overrides": _parse_overrides(values.get("district_overrides", ""), where, problems),
            "aliases": values.get("aliases"),
            "phrases": values.get("phrases"),
            "clock": values.get("clock"),
            "simple_flow": values.get("simple_flow"),
            "request_limits": values.get("request_limits"),
            "layer": values.get("layer"),
        }
        entry = category_entry(raw, where, problems)
        if entry is None:
            continue
        categories.append(entry)
        department_name = text_field(
            values.get("department_name"), field_words("department_name"), where, problems, required=False
        )
        if department_name is None:
            continue
        if entry.department is None:
            problems.append(
                f"{where}：填写了部门名称“{department_name}”，却没有部门编号（department_code），请补上"
            )
            continue
        named = departments.setdefault(
            entry.department, DepartmentEntry(code=entry.department, name=department_name, where=where)
        )
        if named.name != department_name:
            problems.append(
                f"{where}：部门 {entry.department} 在这里名为“{department_name}”，"
                f"在{named.where}名为“{named.name}”，请统一"
            )

    starter = load_taxonomy(STARTER_TAXONOMY).major_classes
    taxonomy = Taxonomy(
        departments=list(departments.values()),
        major_classes=starter,
        categories=categories,
        tags=[],
        complete=False,
    )
    check_document(taxonomy, problems)
    if problems:
        raise invalid_taxonomy(problems)
    return taxonomy
