"""The taxonomy: load a file (upsert by code, deactivate what it no longer holds), read categories,
departments and tags, and find the department responsible for a category in a district."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, joinedload, selectinload

from server.category.loader import STARTER_TAXONOMY, load_taxonomy
from server.category.models import Category, CategoryDistrictDepartment, Department, Tag
from server.category.taxonomy import Taxonomy, invalid_taxonomy, reference_errors
from server.errors import Invalid, NotFound

# -- reading ------------------------------------------------------------------------------------


def _with_departments(query):
    return query.options(
        joinedload(Category.department),
        selectinload(Category.district_overrides).joinedload(CategoryDistrictDepartment.department),
    )


def get_category(*, db: Session, code: str, include_inactive: bool = False) -> Category:
    """A category with its department and district overrides, in one query; NotFound without one, Invalid
    when it is no longer in the taxonomy unless ``include_inactive`` (reading old cases)."""
    query = (
        select(Category)
        .where(Category.code == code)
        .options(
            joinedload(Category.department),
            joinedload(Category.district_overrides).joinedload(CategoryDistrictDepartment.department),
        )
    )
    category = db.scalar(query)
    if category is None:
        raise NotFound("category.no_category", category=code)
    if not (category.active or include_inactive):
        raise Invalid("category.category_retired", category=code, name=category.name)
    return category


def list_categories(
    *, db: Session, since: datetime | None = None, kind: str | None = None, include_inactive: bool = False
) -> list[Category]:
    """Categories by code: those changed after ``since`` (the phone app's sync, which also asks for the
    inactive ones to learn what to hide), of one ``kind``."""
    query = _with_departments(select(Category)).order_by(Category.code)
    if since is not None:
        query = query.where(Category.updated_at > since)
    if kind is not None:
        query = query.where(Category.kind == kind)
    if not include_inactive:
        query = query.where(Category.active)
    return list(db.scalars(query))


def responsible_department(*, db: Session, category: Category, district_code: str) -> Department | None:
    """Who handles ``category`` in a district (``district_code``: its 6-digit code, or any longer grid code
    under it): the district's override, else the category's department; None when the dispatcher decides."""
    if not re.fullmatch(r"[0-9]{6,}", district_code):
        raise Invalid("category.not_a_district", district=district_code)
    district = district_code[:6]
    override = next((o.department for o in category.district_overrides if o.district_code == district), None)
    return override or category.department


def get_department(*, db: Session, code: str, include_inactive: bool = False) -> Department:
    """A department, as ``get_category`` finds a category."""
    department = db.scalar(select(Department).where(Department.code == code))
    if department is None:
        raise NotFound("category.no_department", department=code)
    if not (department.active or include_inactive):
        raise Invalid("category.department_retired", department=code, name=department.name)
    return department


def get_tag(*, db: Session, code: str, include_inactive: bool = False) -> Tag:
    """A tag, as ``get_category`` finds a category."""
    tag = db.scalar(select(Tag).where(Tag.code == code))
    if tag is None:
        raise NotFound("category.no_tag", tag=code)
    if not (tag.active or include_inactive):
        raise Invalid("category.tag_retired", tag=code, name=tag.name)
    return tag


def list_departments(*, db: Session) -> list[Department]:
    """The active departments, by code."""
    return list(db.scalars(select(Department).where(Department.active).order_by(Department.code)))


def list_tags(*, db: Session) -> list[Tag]:
    """The active tags, by code."""
    return list(db.scalars(select(Tag).where(Tag.active).order_by(Tag.code)))


# -- loading ------------------------------------------------------------------------------------


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    deactivated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"新增 {self.created}，更新 {self.updated}，停用 {self.deactivated}，未变 {self.unchanged}"


@dataclass
class LoadResult:
    departments: Counts = field(default_factory=Counts)
    categories: Counts = field(default_factory=Counts)
    tags: Counts = field(default_factory=Counts)
    written: bool = False

    def summary(self) -> str:
        return f"部门：{self.departments}；问题类别：{self.categories}；标签：{self.tags}"


def _apply(row, values: dict) -> bool:
    """Set the values that differ; say whether any did."""
    changed = {key: value for key, value in values.items() if getattr(row, key) != value}
    for key, value in changed.items():
        setattr(row, key, value)
    return bool(changed)


def _set_overrides(category: Category, wanted: dict[str, int]) -> bool:
    """Make the category's district overrides ``wanted`` (district code -> department id)."""
    current = {o.district_code: o for o in category.district_overrides}
    changed = False
    for district, override in current.items():
        if district not in wanted:
            category.district_overrides.remove(override)
            changed = True
    for district, department_id in wanted.items():
        if district not in current:
            category.district_overrides.append(
                CategoryDistrictDepartment(district_code=district, department_id=department_id)
            )
            changed = True
        elif current[district].department_id != department_id:
            current[district].department_id = department_id
            changed = True
    return changed


def _apply_category(category: Category, values: dict) -> bool:
    """Like ``_apply``, plus the district overrides (when given); moves ``updated_at`` on any change."""
    columns = {key: value for key, value in values.items() if key != "district_overrides"}
    changed = _apply(category, columns)
    if "district_overrides" in values:
        changed = _set_overrides(category, values["district_overrides"]) or changed
    if changed:
        category.updated_at = func.now()
    return changed


def _sync(
    db: Session,
    stored: dict[str, object],
    model,
    wanted: dict[str, dict],
    counts: Counts,
    *,
    replace: bool,
    apply: Callable[[object, dict], bool] = _apply,
) -> None:
    """Upsert ``wanted`` (code -> values) into ``stored`` (code -> row); with ``replace``, deactivate the
    active rows it does not hold."""
    for code, values in wanted.items():
        row = stored.get(code)
        if row is None:
            row = stored[code] = model(code=code)
            db.add(row)
            apply(row, values)
            counts.created += 1
        elif apply(row, values):
            counts.updated += 1
        else:
            counts.unchanged += 1
    if replace:
        for code, row in stored.items():
            if code not in wanted and row.active:
                apply(row, {"active": False})
                counts.deactivated += 1


def load(*, db: Session, taxonomy: Taxonomy, dry_run: bool = False) -> LoadResult:
    """Load a checked taxonomy in one transaction: upsert departments, categories (with their district
    overrides) and tags by code, and deactivate, never delete, what the file no longer holds (a CSV file
    replaces the categories only). With ``dry_run`` count, then roll back."""
    # One load at a time; readers are not blocked.
    db.execute(text("LOCK TABLE category IN SHARE ROW EXCLUSIVE MODE"))
    departments = {d.code: d for d in db.scalars(select(Department))}
    known = [] if taxonomy.complete else [code for code, d in departments.items() if d.active]
    problems = reference_errors(taxonomy, known)
    if problems:
        db.rollback()
        raise invalid_taxonomy(problems)

    result = LoadResult()
    _sync(
        db,
        departments,
        Department,
        {d.code: {"name": d.name, "phone": d.phone, "active": True} for d in taxonomy.departments},
        result.departments,
        replace=taxonomy.complete,
    )
    db.flush()  # new departments get their ids
    department_id = {code: d.id for code, d in departments.items()}
    majors = taxonomy.major_names
    categories = {
        c.code: c for c in db.scalars(select(Category).options(selectinload(Category.district_overrides)))
    }
    _sync(
        db,
        categories,
        Category,
        {
            c.code: {
                "kind": c.kind.value,
                "major_code": c.major_code,
                "major_name": majors[c.kind, c.major_code],
                "name": c.name,
                "urgency": c.urgency.value,
                "handling_limit": c.handling_limit,
                "department_id": department_id[c.department] if c.department else None,
                "legal_basis": c.legal_basis,
                "aliases": list(c.aliases),
                "phrases": list(c.phrases),
                "active": True,
                "district_overrides": {d: department_id[dep] for d, dep in c.district_overrides.items()},
            }
            for c in taxonomy.categories
        },
        result.categories,
        replace=True,
        apply=_apply_category,
    )
    if taxonomy.complete:
        _sync(
            db,
            {t.code: t for t in db.scalars(select(Tag))},
            Tag,
            {t.code: {"name": t.name, "description": t.description, "active": True} for t in taxonomy.tags},
            result.tags,
            replace=True,
        )
    if dry_run:
        db.rollback()
    else:
        db.commit()
        result.written = True
    return result


def load_starter(*, db: Session) -> LoadResult:
    """Load the starter taxonomy shipped with GridOps (``server/category/data/taxonomy.yaml``)."""
    return load(db=db, taxonomy=load_taxonomy(STARTER_TAXONOMY))
