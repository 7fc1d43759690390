"""Reading a taxonomy file, without the database.

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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from server.category.schemas import Kind, TaxonomyFormat, Urgency
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

CATEGORY_CODE = re.compile(r"^[CE][0-9]{5}$")
HANDLING_LIMIT = re.compile(r"^[0-9]+(\.[0-9]+)?[mhd]$")
KEY = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
DISTRICT = re.compile(r"^[0-9]{6}$")
MAJOR = re.compile(r"^[0-9]{2}$")
KIND_OF_PREFIX = {"C": Kind.COMPONENT, "E": Kind.EVENT}
NAME_MAX = 100
PHONE_MAX = 20


@dataclass(frozen=True)
class DepartmentEntry:
    code: str
    name: str
    phone: str | None = None
    where: str = field(default="", compare=False)


@dataclass(frozen=True)
class MajorClass:
    kind: Kind
    code: str
    name: str


@dataclass(frozen=True)
class CategoryEntry:
    code: str
    name: str
    urgency: Urgency
    handling_limit: str
    department: str | None  # a department code; None: the dispatcher routes by hand
    legal_basis: str | None = None
    district_overrides: dict[str, str] = field(default_factory=dict)  # district code -> department code
    where: str = field(default="", compare=False)

    @property
    def kind(self) -> Kind:
        return KIND_OF_PREFIX[self.code[0]]

    @property
    def major_code(self) -> str:
        return self.code[1:3]


@dataclass(frozen=True)
class TagEntry:
    code: str
    name: str
    description: str | None = None
    where: str = field(default="", compare=False)


@dataclass
class Taxonomy:
    departments: list[DepartmentEntry]
    major_classes: list[MajorClass]
    categories: list[CategoryEntry]
    tags: list[TagEntry]
    complete: bool = True  # the file replaces departments and tags too (YAML); False: categories only (CSV)

    @property
    def major_names(self) -> dict[tuple[Kind, str], str]:
        return {(m.kind, m.code): m.name for m in self.major_classes}


def invalid_taxonomy(problems: list[str]) -> Invalid:
    n = len(problems)
    return Invalid(f"the taxonomy has {n} error{'' if n == 1 else 's'}: nothing was loaded", errors=problems)


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


def reference_errors(taxonomy: Taxonomy, known: Iterable[str] = ()) -> list[str]:
    """A problem for each department a category names that is neither in the file nor in ``known``."""
    declared = {d.code for d in taxonomy.departments} | set(known)
    problems = []
    for entry in taxonomy.categories:
        if entry.department and entry.department not in declared:
            problems.append(f"{entry.where}: unknown department '{entry.department}'")
        for district, department in entry.district_overrides.items():
            if department not in declared:
                problems.append(f"{entry.where}: unknown department '{department}' for district {district}")
    return problems


# -- fields -------------------------------------------------------------------------------------


def _text(
    value, what: str, where: str, problems: list[str], *, required=True, max_len=NAME_MAX
) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append(f"{where}: {what} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        problems.append(f"{where}: {what} must be text")
        return None
    text = str(value).strip()
    if max_len is not None and len(text) > max_len:
        problems.append(f"{where}: {what} is longer than {max_len} characters")
        return None
    return text


def _key(value, what: str, where: str, problems: list[str], *, required=True) -> str | None:
    text = _text(value, what, where, problems, required=required, max_len=None)
    if text is not None and not KEY.match(text):
        problems.append(
            f"{where}: {what} '{text}' must be 2 to 40 lowercase ascii letters, digits or _, "
            "starting with a letter"
        )
        return None
    return text


def _category(raw: dict, where: str, problems: list[str]) -> CategoryEntry | None:
    """A category from its fields (the same for YAML and CSV), or None after reporting its problems."""
    before = len(problems)
    code = _text(raw.get("code"), "code", where, problems, max_len=None)
    if code is not None and not CATEGORY_CODE.match(code):
        problems.append(
            f"{where}: code '{code}' is not C (component) or E (event) followed by 5 digits "
            "(2 for the major class, 3 for the subclass)"
        )
    name = _text(raw.get("name"), "name", where, problems)
    urgency = _text(raw.get("urgency"), "urgency", where, problems)
    if urgency is not None and urgency not in set(Urgency):
        problems.append(f"{where}: urgency '{urgency}' is not one of {', '.join(Urgency)}")
    limit = _text(raw.get("handling_limit"), "handling_limit", where, problems)
    if limit is not None and not HANDLING_LIMIT.match(limit):
        problems.append(f"{where}: handling_limit '{limit}' is not a number followed by m, h or d")
    department = _key(raw.get("department"), "department", where, problems, required=False)
    legal_basis = _text(raw.get("legal_basis"), "legal_basis", where, problems, required=False, max_len=None)
    overrides = raw.get("district_overrides") or {}
    if not isinstance(overrides, dict):
        problems.append(f"{where}: district_overrides must map district codes to department codes")
        overrides = {}
    districts = {}
    for district, dep in overrides.items():
        district = str(district)
        if not DISTRICT.match(district):
            problems.append(f"{where}: district '{district}' in district_overrides is not a 6-digit code")
        districts[district] = _key(dep, f"department for district {district}", where, problems)
    if len(problems) > before:
        return None
    return CategoryEntry(
        code=code,
        name=name,
        urgency=Urgency(urgency),
        handling_limit=limit,
        department=department,
        legal_basis=legal_basis,
        district_overrides=districts,
        where=where,
    )


def _check_document(taxonomy: Taxonomy, problems: list[str]) -> None:
    """Problems across entries: repeated codes, categories outside every major class, no categories."""
    for label, entries in (
        ("department", taxonomy.departments),
        ("category", taxonomy.categories),
        ("tag", taxonomy.tags),
    ):
        first: dict[str, str] = {}
        for entry in entries:
            if entry.code in first:
                problems.append(
                    f"{entry.where}: {label} {entry.code} is already defined by {first[entry.code]}"
                )
            first.setdefault(entry.code, entry.where)
    majors = taxonomy.major_names
    for entry in taxonomy.categories:
        if (entry.kind, entry.major_code) not in majors:
            problems.append(f"{entry.where}: there is no {entry.kind} major class {entry.major_code}")
    if not taxonomy.categories and not problems:
        problems.append("the file holds no categories")


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
            text = _text(name, "name", f"{kind} major class {code}", problems)
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
        code = _key(raw.get("code"), "code", where, problems)
        name = _text(raw.get("name"), "name", where, problems)
        phone = _text(raw.get("phone"), "phone", where, problems, required=False, max_len=PHONE_MAX)
        if code and name:
            departments.append(DepartmentEntry(code=code, name=name, phone=phone, where=where))
    categories = []
    for where, raw in _entries(doc.get("categories", []), "category", CATEGORY_FIELDS, problems):
        entry = _category(raw, where, problems)
        if entry is not None:
            categories.append(entry)
    tags = []
    for where, raw in _entries(doc.get("tags", []), "tag", TAG_FIELDS, problems):
        code = _key(raw.get("code"), "code", where, problems)
        name = _text(raw.get("name"), "name", where, problems)
        description = _text(
            raw.get("description"), "description", where, problems, required=False, max_len=None
        )
        if code and name:
            tags.append(TagEntry(code=code, name=name, description=description, where=where))
    majors = _major_classes(doc.get("major_classes", {}), problems)

    taxonomy = Taxonomy(departments=departments, major_classes=majors, categories=categories, tags=tags)
    _check_document(taxonomy, problems)
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
        entry = _category(raw, where, problems)
        if entry is None:
            continue
        categories.append(entry)
        department_name = _text(
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
    _check_document(taxonomy, problems)
    if problems:
        raise invalid_taxonomy(problems)
    return taxonomy
