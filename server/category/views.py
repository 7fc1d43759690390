"""Taxonomy routes: categories, departments and tags are readable by anyone; loading a file, adding and
editing departments, and the dispatch centers need an administrator."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Path, Query, UploadFile

from server.auth.dependencies import AdminRequired
from server.category import service
from server.category.loader import format_of, load_taxonomy
from server.category.schemas import (
    DEPARTMENT_CODE,
    GRID_CODE,
    CategoryOut,
    DepartmentEdit,
    DepartmentIn,
    DepartmentOut,
    DispatchCenterEdit,
    DispatchCenterIn,
    DispatchCenterOut,
    Kind,
    LoadOut,
    RequestTypeOut,
    TagOut,
    TaxonomyFormat,
)
from server.deps import DB, Instant
from server.limits import read_upload

router = APIRouter(tags=["categories"])
MAX_TAXONOMY_BYTES = 10 * 1024 * 1024


@router.get("/categories", response_model=list[CategoryOut], summary="Categories (部件 and 事件), by code")
def list_categories(
    db: DB,
    since: Annotated[
        Instant | None,
        Query(description="Only categories changed after this time (ISO 8601 with a zone): the app's sync"),
    ] = None,
    kind: Annotated[Kind | None, Query(description="Only components or only events")] = None,
    include_inactive: Annotated[
        bool, Query(description="Also categories no longer in use (a syncing app hides them)")
    ] = False,
):
    return service.list_categories(db=db, since=since, kind=kind, include_inactive=include_inactive)


@router.post(
    "/categories/load",
    response_model=LoadOut,
    dependencies=[AdminRequired],
    summary="Load a taxonomy file (YAML: the whole taxonomy; CSV: categories), replacing the stored one",
    responses={
        413: {"description": "The file is too large"},
        422: {"description": "The file has errors: nothing was loaded; `errors` lists every one"},
    },
)
def load(
    db: DB,
    file: Annotated[UploadFile, File(description="taxonomy.yaml or categories.csv (UTF-8)")],
    fmt: Annotated[
        TaxonomyFormat | None, Query(alias="format", description="Default: from the file name")
    ] = None,
    dry_run: Annotated[bool, Query(description="Only check and count, write nothing")] = False,
):
    data = read_upload(file, MAX_TAXONOMY_BYTES, "category.file_too_large")
    taxonomy = load_taxonomy(data, fmt or format_of(file.filename or ""))
    return service.load(db=db, taxonomy=taxonomy, dry_run=dry_run)


@router.get("/categories/{code}", response_model=CategoryOut, summary="One category, in use or not")
def get_category(
    code: Annotated[str, Path(description="Category code", examples=["E06010"])],
    db: DB,
):
    return service.get_category(db=db, code=code, include_inactive=True)


@router.get(
    "/request-types",
    response_model=list[RequestTypeOut],
    summary="What a request may ask (咨询, 建议, 投诉, 求助, 举报), with each one's limits",
)
def list_request_types(db: DB):
    return service.list_request_types(db=db)


@router.get("/departments", response_model=list[DepartmentOut], summary="The departments in use, by code")
def list_departments(
    db: DB,
    include_inactive: Annotated[
        bool, Query(description="Also departments no longer in use (the administrator's list)")
    ] = False,
):
    return service.list_departments(db=db, include_inactive=include_inactive)


DepartmentCode = Annotated[str, Path(pattern=DEPARTMENT_CODE, description="Department code")]
CenterGrid = Annotated[str, Path(pattern=GRID_CODE, description="The dispatch center's grid code")]
EDIT_REFUSALS = {
    404: {"description": "No such department, dispatch center or grid"},
    409: {"description": "The code is taken, or the department still handles categories in use"},
}


@router.post(
    "/departments",
    response_model=DepartmentOut,
    status_code=201,
    dependencies=[AdminRequired],
    summary="Add a department (a street team: with its street grid)",
    responses=EDIT_REFUSALS,
)
def create_department(data: DepartmentIn, db: DB):
    return service.create_department(db=db, data=data)


@router.patch(
    "/departments/{code}",
    response_model=DepartmentOut,
    dependencies=[AdminRequired],
    summary="Edit a department: name, phone, street grid, in use or not",
    responses=EDIT_REFUSALS,
)
def edit_department(code: DepartmentCode, data: DepartmentEdit, db: DB):
    return service.edit_department(db=db, code=code, data=data)


@router.get(
    "/dispatch-centers",
    response_model=list[DispatchCenterOut],
    dependencies=[AdminRequired],
    tags=["dispatch centers"],
    summary="The dispatch centers below the top one (street sub-centers), by grid code",
)
def list_dispatch_centers(db: DB):
    return service.list_dispatch_centers(db=db)


@router.post(
    "/dispatch-centers",
    response_model=DispatchCenterOut,
    status_code=201,
    dependencies=[AdminRequired],
    tags=["dispatch centers"],
    summary="Add a dispatch center on a grid (a street's grid for a street sub-center)",
    responses=EDIT_REFUSALS,
)
def create_dispatch_center(data: DispatchCenterIn, db: DB):
    return service.create_dispatch_center(db=db, data=data)


@router.patch(
    "/dispatch-centers/{grid_code}",
    response_model=DispatchCenterOut,
    dependencies=[AdminRequired],
    tags=["dispatch centers"],
    summary="Rename, deactivate or reactivate a dispatch center",
    responses=EDIT_REFUSALS,
)
def edit_dispatch_center(grid_code: CenterGrid, data: DispatchCenterEdit, db: DB):
    return service.edit_dispatch_center(db=db, grid_code=grid_code, data=data)


@router.get("/tags", response_model=list[TagOut], summary="The case tags in use, by code")
def list_tags(db: DB):
    return service.list_tags(db=db)
