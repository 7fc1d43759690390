"""Reading a taxonomy file, without the database (its entries, and the checks both formats share, are
``server.category.taxonomy``).

A YAML file holds the whole taxonomy: ``departments``, ``major_classes``, ``categories`` and ``tags``;
loading it replaces the stored one. A CSV file holds categories only, one a row (``CSV_COLUMNS``): the
departments it names are added or renamed, the other departments and the tags stay as they are, and the
major-class names come from the starter taxonomy (kind and major class follow from the code).

Every problem is collected with where it is ("row 17: ...", "category 12 (E06010): ..."; CSV rows are
numbered as in a spreadsheet, the header being row 1), and any problem means nothing is loaded.
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
    DepartmentEntry,
    MajorClass,
    TagEntry,
    Taxonomy,
    category_entry,
    check_document,
    invalid_taxonomy,
    key_field,
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
)
CSV_REQUIRED = CSV_COLUMNS[:4]
YAML_SECTIONS = ("departments", "major_classes", "categories", "tags")
DEPARTMENT_FIELDS = ("code", "name", "phone")
CATEGORY_FIELDS = (
    "code",
    "name",
    "urgency",
    "handling_limit",
    "department",
    "legal_basis",
    "district_overrides",
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
    raise Invalid(f"cannot tell the format of '{filename}': name it .yaml, .yml or .csv, or give the format")


def load_taxonomy(path_or_bytes: str | Path | bytes, fmt: TaxonomyFormat | None = None) -> Taxonomy:
    """Read and check a taxonomy file (the format from ``fmt``, else from the file name); raise ``Invalid``
    with every problem in ``details["errors"]``."""
    if isinstance(path_or_bytes, bytes):
        if fmt is None:
            raise Invalid("say whether the taxonomy is yaml or csv")
        data = path_or_bytes
    else:
        path = Path(path_or_bytes)
        fmt = fmt or format_of(path.name)
        data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise invalid_taxonomy(["the file is not UTF-8 text"]) from None
    return _from_yaml(text) if TaxonomyFormat(fmt) is TaxonomyFormat.YAML else _from_csv(text)


# -- YAML ---------------------------------------------------------------------------------------


def _entries(items, label: str, fields: tuple[str, ...], problems: list[str]) -> Iterator[tuple[str, dict]]:
    """``(where, mapping)`` for each entry of a section, reporting those that are not mappings and fields
    nobody knows."""
    for i, raw in enumerate(items, 1):
        where = f"{label} {i}"
        if not isinstance(raw, dict):
            problems.append(f"{where}: expected a mapping of field: value")
            continue
        if isinstance(raw.get("code"), str):
            where += f" ({raw['code']})"
        unknown = sorted(set(map(str, raw)) - set(fields))
        if unknown:
            problems.append(
                f"{where}: unknown field {', '.join(unknown)} (the fields are {', '.join(fields)})"
            )
        yield where, raw


def _major_classes(section, problems: list[str]) -> list[MajorClass]:
    majors = []
    if not isinstance(section, dict):
        problems.append("major_classes must map component and event to {code: name}")
        return majors
    for kind, classes in section.items():
        if kind not in set(Kind):
            problems.append(f"major_classes: unknown kind '{kind}' (component or event)")
            continue
        if not isinstance(classes, dict):
            problems.append(f"major_classes.{kind} must map two-digit codes to names")
            continue
        for code, name in classes.items():
            if not isinstance(code, str) or not MAJOR.match(code):
                problems.append(f'major_classes.{kind}: code {code!r} is not two digits (quote it: "01")')
                continue
            text = text_field(name, "name", f"{kind} major class {code}", problems)
            if text is not None:
                majors.append(MajorClass(kind=Kind(kind), code=code, name=text))
    return majors


def _from_yaml(text: str) -> Taxonomy:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise invalid_taxonomy([f"the file is not valid YAML: {exc}"]) from None
    if not isinstance(doc, dict):
        raise invalid_taxonomy([f"the file must be a mapping with the sections {', '.join(YAML_SECTIONS)}"])
    problems = [f"unknown section '{key}'" for key in doc if key not in YAML_SECTIONS]
    problems += [f"the file has no '{key}' section" for key in YAML_SECTIONS if key not in doc]
    for key in ("departments", "categories", "tags"):
        if key in doc and not isinstance(doc[key], list):
            problems.append(f"the '{key}' section must be a list")
            doc[key] = []

    departments = []
    for where, raw in _entries(doc.get("departments", []), "department", DEPARTMENT_FIELDS, problems):
        code = key_field(raw.get("code"), "code", where, problems)
        name = text_field(raw.get("name"), "name", where, problems)
        phone = text_field(raw.get("phone"), "phone", where, problems, required=False, max_len=PHONE_MAX)
        if code and name:
            departments.append(DepartmentEntry(code=code, name=name, phone=phone, where=where))
    categories = []
    for where, raw in _entries(doc.get("categories", []), "category", CATEGORY_FIELDS, problems):
        entry = category_entry(raw, where, problems)
        if entry is not None:
            categories.append(entry)
    tags = []
    for where, raw in _entries(doc.get("tags", []), "tag", TAG_FIELDS, problems):
        code = key_field(raw.get("code"), "code", where, problems)
        name = text_field(raw.get("name"), "name", where, problems)
        description = text_field(
            raw.get("description"), "description", where, problems, required=False, max_len=None
        )
        if code and name:
            tags.append(TagEntry(code=code, name=name, description=description, where=where))
    majors = _major_classes(doc.get("major_classes", {}), problems)

    taxonomy = Taxonomy(departments=departments, major_classes=majors, categories=categories, tags=tags)
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
            problems.append(f"{where}: district_overrides '{part}' is not district_code=department_code")
        elif district in overrides:
            problems.append(f"{where}: district {district} appears twice in district_overrides")
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
            [f"row 1: missing column {c}" for c in missing]
            + [f"row 1: unknown column '{c}' (the columns are {', '.join(CSV_COLUMNS)})" for c in unknown]
        )

    problems: list[str] = []
    categories = []
    departments: dict[str, DepartmentEntry] = {}
    for number, row in enumerate(reader, 2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"row {number}"
        if len(row) != len(header):
            problems.append(f"{where}: {len(row)} columns where the header has {len(header)}")
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
        }
        entry = category_entry(raw, where, problems)
        if entry is None:
            continue
        categories.append(entry)
        department_name = text_field(
            values.get("department_name"), "department_name", where, problems, required=False
        )
        if department_name is None:
            continue
        if entry.department is None:
            problems.append(f"{where}: department_name '{department_name}' without a department_code")
            continue
        named = departments.setdefault(
            entry.department, DepartmentEntry(code=entry.department, name=department_name, where=where)
        )
        if named.name != department_name:
            problems.append(
                f"{where}: department {entry.department} is named '{department_name}' here "
                f"and '{named.name}' on {named.where}"
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
