"""A taxonomy as a file holds it (departments, major classes, categories, tags), and the checks of its entries
that the YAML and CSV readers (``server.category.loader``) share. Every problem is collected with where it
is ("row 17: ...", "category 12 (E06010): ...")."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from server.category.schemas import Kind, Urgency
from server.errors import Invalid

CATEGORY_CODE = re.compile(r"^[CE][0-9]{5}$")
HANDLING_LIMIT = re.compile(r"^[0-9]+(\.[0-9]+)?[mhd]$")
KEY = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
DISTRICT = re.compile(r"^[0-9]{6}$")
KIND_OF_PREFIX = {"C": Kind.COMPONENT, "E": Kind.EVENT}
NAME_MAX = 100


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


def text_field(
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


def key_field(value, what: str, where: str, problems: list[str], *, required=True) -> str | None:
    text = text_field(value, what, where, problems, required=required, max_len=None)
    if text is not None and not KEY.match(text):
        problems.append(
            f"{where}: {what} '{text}' must be 2 to 40 lowercase ascii letters, digits or _, "
            "starting with a letter"
        )
        return None
    return text


def category_entry(raw: dict, where: str, problems: list[str]) -> CategoryEntry | None:
    """A category from its fields (the same for YAML and CSV), or None after reporting its problems."""
    before = len(problems)
    code = text_field(raw.get("code"), "code", where, problems, max_len=None)
    if code is not None and not CATEGORY_CODE.match(code):
        problems.append(
            f"{where}: code '{code}' is not C (component) or E (event) followed by 5 digits "
            "(2 for the major class, 3 for the subclass)"
        )
    name = text_field(raw.get("name"), "name", where, problems)
    urgency = text_field(raw.get("urgency"), "urgency", where, problems)
    if urgency is not None and urgency not in set(Urgency):
        problems.append(f"{where}: urgency '{urgency}' is not one of {', '.join(Urgency)}")
    limit = text_field(raw.get("handling_limit"), "handling_limit", where, problems)
    if limit is not None and not HANDLING_LIMIT.match(limit):
        problems.append(f"{where}: handling_limit '{limit}' is not a number followed by m, h or d")
    department = key_field(raw.get("department"), "department", where, problems, required=False)
    legal_basis = text_field(
        raw.get("legal_basis"), "legal_basis", where, problems, required=False, max_len=None
    )
    overrides = raw.get("district_overrides") or {}
    if not isinstance(overrides, dict):
        problems.append(f"{where}: district_overrides must map district codes to department codes")
        overrides = {}
    districts = {}
    for district, dep in overrides.items():
        district = str(district)
        if not DISTRICT.match(district):
            problems.append(f"{where}: district '{district}' in district_overrides is not a 6-digit code")
        districts[district] = key_field(dep, f"department for district {district}", where, problems)
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


def check_document(taxonomy: Taxonomy, problems: list[str]) -> None:
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
