"""The taxonomy: load a file (upsert by code, deactivate what it no longer holds), read categories,
departments and tags, and find the department responsible for a category in a district."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from operator import attrgetter

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session, joinedload, selectinload

from server.category.loader import STARTER_TAXONOMY, load_taxonomy
from server.category.models import (
    Category,
    CategoryDistrictDepartment,
    CategoryRequestLimit,
    Department,
    DispatchCenter,
    RequestType,
    Tag,
)
from server.category.schemas import DepartmentEdit, DepartmentIn, DispatchCenterEdit, DispatchCenterIn
from server.category.taxonomy import Node, Taxonomy, invalid_taxonomy, reference_errors
from server.config import get_settings
from server.errors import Conflict, Invalid, NotFound
from server.grid import service as grid_service
from server.grid.models import GridLayer
from server.imports import end_import

STREET = "street"  # the level of a street team's grid

# -- reading ------------------------------------------------------------------------------------


def _with_departments(query):
    return query.options(
        joinedload(Category.department),
        selectinload(Category.district_overrides).joinedload(CategoryDistrictDepartment.department),
        selectinload(Category.request_limits),
    )


def get_category(
    *, db: Session, code: str, include_inactive: bool = False, leaf_only: bool = False
) -> Category:
    """A category with its department and district overrides, in one query; NotFound without one, Invalid
    when it is no longer in the taxonomy unless ``include_inactive`` (reading old cases), or, with
    ``leaf_only`` (a case is filed under it), when categories are under it."""
    query = (
        select(Category)
        .where(Category.code == code)
        .options(
            joinedload(Category.department),
            joinedload(Category.district_overrides).joinedload(CategoryDistrictDepartment.department),
            selectinload(Category.request_limits),
        )
    )
    category = db.scalar(query)
    if category is None:
        raise NotFound("category.no_category", category=code)
    if not (category.active or include_inactive):
        raise Invalid("category.category_retired", category=code, name=category.name)
    if leaf_only and not category.leaf:
        example = db.scalar(
            select(Category.code)
            .where(Category.lineage.contains([code]), Category.leaf, Category.active)
            .order_by(Category.code)
            .limit(1)
        )
        raise Invalid("category.not_a_leaf", category=code, name=category.name, example=example)
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


def list_departments(*, db: Session, include_inactive: bool = False) -> list[Department]:
    """The active departments (with ``include_inactive`` all of them), by code."""
    query = select(Department).order_by(Department.code)
    if not include_inactive:
        query = query.where(Department.active)
    return list(db.scalars(query))


def list_request_types(*, db: Session) -> list[RequestType]:
    """The request types in use, in the taxonomy's order."""
    return list(db.scalars(select(RequestType).where(RequestType.active).order_by(RequestType.position)))


def list_tags(*, db: Session) -> list[Tag]:
    """The active tags, by code."""
    return list(db.scalars(select(Tag).where(Tag.active).order_by(Tag.code)))


# -- departments and dispatch centers, as an administrator edits them ----------------------------


def _team_grid(db: Session, code: str) -> None:
    """A street team works in a street: its grid must be a current grid of the street level."""
    grid = grid_service.get_grid(db=db, code=code)
    if grid.level != STREET:
        level = get_settings().scheme.get(grid.level).label
        raise Invalid("category.team_grid_not_street", grid=code, name=grid.name, level=level)


def create_department(*, db: Session, data: DepartmentIn) -> Department:
    """Add a department (a street team with its street grid). A taxonomy file that replaces the
    departments deactivates one it does not hold, this one too."""
    clash = db.scalar(select(Department).where(Department.code == data.code))
    if clash is not None:
        raise Conflict("category.department_exists", department=data.code, name=clash.name)
    if data.grid_code:
        _team_grid(db, data.grid_code)
    department = Department(**data.model_dump())
    db.add(department)
    db.commit()
    return department


def edit_department(*, db: Session, code: str, data: DepartmentEdit) -> Department:
    """Change the fields ``data`` sends. A department still responsible for categories in use is not
    deactivated: its cases would have nowhere to go."""
    department = get_department(db=db, code=code, include_inactive=True)
    cleared = {"phone", "grid_code"}  # null clears these; a name or the state is never cleared
    sent = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None or k in cleared}
    if sent.get("grid_code"):
        _team_grid(db, sent["grid_code"])
    if sent.get("active") is False and department.active:
        overridden = select(CategoryDistrictDepartment.category_id).where(
            CategoryDistrictDepartment.department_id == department.id
        )
        count = db.scalar(
            select(func.count())
            .select_from(Category)
            .where(Category.active, or_(Category.department_id == department.id, Category.id.in_(overridden)))
        )
        if count:
            raise Conflict("category.department_in_use", department=code, name=department.name, count=count)
    for key, value in sent.items():
        setattr(department, key, value)
    db.commit()
    return department


def list_dispatch_centers(*, db: Session) -> list[DispatchCenter]:
    """Every dispatch center below the top one, active or not, by grid code."""
    return list(db.scalars(select(DispatchCenter).order_by(DispatchCenter.grid_code)))


def create_dispatch_center(*, db: Session, data: DispatchCenterIn) -> DispatchCenter:
    """Add a dispatch center on a current grid (a street's grid for a street sub-center), one per grid."""
    clash = db.scalar(select(DispatchCenter).where(DispatchCenter.grid_code == data.grid_code))
    if clash is not None:
        raise Conflict("category.dispatch_center_exists", grid=data.grid_code, name=clash.name)
    grid_service.get_grid(db=db, code=data.grid_code)
    center = DispatchCenter(**data.model_dump())
    db.add(center)
    db.commit()
    return center


def edit_dispatch_center(*, db: Session, grid_code: str, data: DispatchCenterEdit) -> DispatchCenter:
    """Rename, deactivate or reactivate a dispatch center."""
    center = db.scalar(select(DispatchCenter).where(DispatchCenter.grid_code == grid_code))
    if center is None:
        raise NotFound("category.no_dispatch_center", grid=grid_code)
    for key, value in data.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(center, key, value)
    db.commit()
    return center


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
    request_types: Counts = field(default_factory=Counts)
    written: bool = False

    def summary(self) -> str:
        return (
            f"部门：{self.departments}；问题类别：{self.categories}；标签：{self.tags}；"
            f"诉求类型：{self.request_types}"
        )


def _apply(row, values: dict) -> bool:
    """Set the values that differ; say whether any did."""
    changed = {key: value for key, value in values.items() if getattr(row, key) != value}
    for key, value in changed.items():
        setattr(row, key, value)
    return bool(changed)


def _set_children(children: list, key: str, value: str, wanted: dict, make: Callable[..., object]) -> bool:
    """Make a category's rows ``children`` (its district overrides, its request limits) hold ``wanted``
    (``key`` -> ``value``); say whether anything changed."""
    current = {getattr(child, key): child for child in children}
    changed = False
    for k, child in current.items():
        if k not in wanted:
            children.remove(child)
            changed = True
    for k, v in wanted.items():
        if k not in current:
            children.append(make(**{key: k, value: v}))
            changed = True
        elif getattr(current[k], value) != v:
            setattr(current[k], value, v)
            changed = True
    return changed


# A category's own rows, as the load gives them: attribute -> (key column, value column, model).
CHILDREN = {
    "district_overrides": ("district_code", "department_id", CategoryDistrictDepartment),
    "request_limits": ("request_type", "handling_limit", CategoryRequestLimit),
}


def _apply_category(category: Category, values: dict) -> bool:
    """Like ``_apply``, plus the category's own rows (``CHILDREN``) when given; moves ``updated_at`` on any
    change."""
    changed = _apply(category, {key: value for key, value in values.items() if key not in CHILDREN})
    for name, (key, value, model) in CHILDREN.items():
        if name in values:
            changed = _set_children(getattr(category, name), key, value, values[name], model) or changed
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
    _upsert(db, stored, model, wanted, counts, apply)
    if replace:
        _retire(stored, wanted.keys(), counts, apply)


def _upsert(db: Session, stored: dict, model, wanted: dict[str, dict], counts: Counts, apply) -> None:
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


def _retire(stored: dict, keep, counts: Counts, apply) -> None:
    """Deactivate the active rows of ``stored`` whose codes are not in ``keep``."""
    for code, row in stored.items():
        if code not in keep and row.active:
            apply(row, {"active": False})
            counts.deactivated += 1


def _category_values(node: Node, stored: dict[str, Category], department_id: dict[str, int]) -> dict:
    """A category row's values: its place in the tree, what it sets itself and its effective values."""
    entry, values = node.entry, node.values
    return {
        "parent_id": stored[node.parent].id if node.parent else None,
        "lineage": list(node.lineage),
        "trail": list(node.trail),
        "leaf": node.leaf,
        "own": entry.own,
        "kind": entry.kind.value,
        "name": entry.name,
        "urgency": values["urgency"],
        "handling_limit": values["handling_limit"],
        "department_id": department_id[values["department"]] if values["department"] else None,
        "legal_basis": values["legal_basis"],
        "aliases": list(entry.aliases),
        "phrases": list(entry.phrases),
        "clock": values["clock"],
        "simple_flow": values["simple_flow"],
        "layer": values["layer"],
        "request_limits": dict(values["request_limits"]),
        "district_overrides": {d: department_id[dep] for d, dep in values["district_overrides"].items()},
        "active": True,
    }


def load(*, db: Session, taxonomy: Taxonomy, dry_run: bool = False) -> LoadResult:
    """Load a checked taxonomy in one transaction: upsert departments, categories (with their district
    overrides) and tags by code, and deactivate, never delete, what the file no longer holds (a CSV file
    replaces the categories only). With ``dry_run`` count, then roll back."""
    # One load at a time; readers are not blocked.
    db.execute(text("LOCK TABLE category IN SHARE ROW EXCLUSIVE MODE"))
    departments = {d.code: d for d in db.scalars(select(Department))}
    known = [] if taxonomy.complete else [code for code, d in departments.items() if d.active]
    request_types = {t.code: t for t in db.scalars(select(RequestType))}
    known_types = [code for code, t in request_types.items() if t.active]
    problems = reference_errors(taxonomy, known, known_types)
    layers = set(db.scalars(select(GridLayer.code)))
    problems += [
        f"{entry.where}：没有编号为“{entry.layer}”的网格图层，请先添加这个图层（gridops grids layers add）"
        "或改用已有的图层编号"
        for entry in taxonomy.categories
        if entry.layer and entry.layer not in layers
    ]
    if problems:
        db.rollback()
        raise invalid_taxonomy(problems)

    result = LoadResult()
    wanted = {d.code: {"name": d.name, "phone": d.phone, "active": True} for d in taxonomy.departments}
    # A street's own teams are the administrator's (added on the 部门 page), not the taxonomy file's: a file
    # that does not list them leaves them as they are.
    teams = {code: d for code, d in departments.items() if d.grid_code and code not in wanted}
    listed = {code: d for code, d in departments.items() if code not in teams}
    _sync(db, listed, Department, wanted, result.departments, replace=taxonomy.complete)
    db.flush()  # new departments get their ids
    department_id = {code: d.id for code, d in {**listed, **teams}.items()}
    if taxonomy.request_types:
        _sync(
            db,
            request_types,
            RequestType,
            {
                t.code: {
                    "name": t.name,
                    "response_limit": t.response_limit,
                    "handling_limit": t.handling_limit,
                    "position": position,
                    "active": True,
                }
                for position, t in enumerate(taxonomy.request_types, 1)
            },
            result.request_types,
            replace=True,
        )
        db.flush()  # the categories' limits refer to them
    categories = {
        c.code: c
        for c in db.scalars(
            select(Category).options(
                selectinload(Category.district_overrides), selectinload(Category.request_limits)
            )
        )
    }
    for _, level in groupby(
        taxonomy.nodes, key=attrgetter("depth")
    ):  # parents first: children need their ids
        wanted = {node.entry.code: _category_values(node, categories, department_id) for node in level}
        _upsert(db, categories, Category, wanted, result.categories, _apply_category)
        db.flush()
    _retire(categories, {node.entry.code for node in taxonomy.nodes}, result.categories, _apply_category)
    if taxonomy.complete:
        _sync(
            db,
            {t.code: t for t in db.scalars(select(Tag))},
            Tag,
            {t.code: {"name": t.name, "description": t.description, "active": True} for t in taxonomy.tags},
            result.tags,
            replace=True,
        )
    end_import(db, result, dry_run=dry_run)
    return result


def load_starter(*, db: Session) -> LoadResult:
    """Load the starter taxonomy shipped with GridOps (``server/category/data/taxonomy.yaml``)."""
    return load(db=db, taxonomy=load_taxonomy(STARTER_TAXONOMY))
