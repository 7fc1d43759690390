"""Case routes: intake, lists and details by scope, actions, photos, the supervision sweep."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Path, Query, Response, UploadFile
from fastapi.responses import JSONResponse

from gis.geojson import feature_collection
from server.address import service as address_service
from server.address.schemas import SyncAddresses
from server.auth.dependencies import AdminRequired, CurrentUser, require_roles
from server.auth.principal import Principal
from server.case import actions as case_actions
from server.case import callers as case_callers
from server.case import intake, present, queries, search, tiers
from server.case import photos as case_photos
from server.case import supervision as case_supervision
from server.case import sync as case_sync
from server.case.clock import calendar
from server.case.flows import ACTIONS, ActionSpec
from server.case.models import PHOTO_ROLES
from server.case.queues import QUEUES
from server.case.schemas import (
    ActionIn,
    ActionOut,
    CallerOut,
    CaseDetail,
    CaseList,
    CaseOut,
    Choice,
    DepartmentChoice,
    DepartmentReturns,
    DuplicateOut,
    FormField,
    PhotoOut,
    QueueOut,
    ReportIn,
    RevealOut,
    SpecialReporterIn,
    SpecialReporterOut,
    SpecialReporterUpdate,
    StateOut,
    SweepOut,
    SyncCases,
    SyncGrids,
    SyncLayer,
    WorkflowOut,
)
from server.case.scope import Scope, scope_of
from server.case.states import STATE_LABELS, TERMINAL, State
from server.config import get_settings
from server.deps import DB, GEOJSON, TEXT_MAX, BBox, ClientAddress, Instant
from server.grid import service as grid_service
from server.grid.models import day_start
from server.messages import role_name

router = APIRouter(prefix="/cases", tags=["cases"])
photos_router = APIRouter(prefix="/photos", tags=["cases"])
CaseCode = Annotated[
    str, Path(pattern=r"^[0-9]{6,15}-[0-9]{8}-[0-9]{4,}$", examples=["370102-20261122-0042"])
]
QueueName = Literal[tuple(QUEUES)]  # type: ignore[valid-type]


def current_scope(principal: CurrentUser, db: DB) -> Scope:
    return scope_of(db=db, principal=principal)


ScopeDep = Annotated[Scope, Depends(current_scope)]
# Reporting is for inspectors (their own reports), acceptors (hotline, citizen, system) and administrators;
# every other case route is open to any user and answers within the user's scope, the workflow's actions
# checking each action's roles (server/case/flows.py).
Reporter = Annotated[Principal, require_roles("inspector", "acceptor", "admin")]


@router.post(
    "",
    response_model=CaseOut,
    status_code=201,
    summary="Report a problem (any channel); idempotent by client_uuid",
    responses={
        200: {"description": "This client_uuid was already received with the same content: the same case"},
        409: {"description": "This client_uuid was already received with other content"},
        422: {"description": "Invalid report, or its position lies outside every grid"},
    },
)
def report(data: ReportIn, principal: Reporter, db: DB, response: Response):
    summary, created = intake.report(db=db, principal=principal, data=data)
    if not created:
        response.status_code = 200
    return summary


def case_filter(
    state: Annotated[list[State], Query(description="Only these states (repeat)")] = (),
    category: Annotated[str | None, Query(max_length=TEXT_MAX, description="Category code")] = None,
    grid: Annotated[
        str | None, Query(max_length=TEXT_MAX, description="Grid code: cases in its subtree")
    ] = None,
    department: Annotated[
        str | None, Query(max_length=TEXT_MAX, description="Department code: the cases it leads now")
    ] = None,
    tag: Annotated[str | None, Query(max_length=TEXT_MAX, description="Tag code")] = None,
    overdue: Annotated[bool | None, Query(description="Only overdue (true) or not overdue (false)")] = None,
    supervised: Annotated[
        bool | None, Query(description="Under supervision (督办), or flagged as overdue for it")
    ] = None,
    channel: Annotated[str | None, Query(max_length=TEXT_MAX)] = None,
    q: Annotated[
        str | None, Query(max_length=TEXT_MAX, description="Text in the code, description or address")
    ] = None,
    queue: Annotated[QueueName | None, Query(description="A desk queue (GET /api/cases/queues)")] = None,
    since: Annotated[date | None, Query(description="Received on or after this local day")] = None,
    until: Annotated[date | None, Query(description="Received on or before this local day")] = None,
    request_type: Annotated[
        str | None, Query(max_length=TEXT_MAX, description="Request type code (complaint, consult, ...)")
    ] = None,
    light: Annotated[
        Literal["green", "yellow", "red"] | None, Query(description="The current step's light now")
    ] = None,
) -> queries.CaseFilter:
    return queries.CaseFilter(
        states=[s.value for s in state],
        category=category,
        grid=grid,
        department=department,
        tag=tag,
        overdue=overdue,
        supervised=supervised,
        channel=channel,
        q=q,
        queue=queue,
        since=day_start(since) if since else None,
        until=day_start(until + timedelta(days=1)) if until else None,
        request_type=request_type,
        light=light,
    )


Filters = Annotated[queries.CaseFilter, Depends(case_filter)]


@router.get("", response_model=CaseList, summary="Cases you may see, most urgent and soonest due first")
def list_cases(
    db: DB,
    scope: ScopeDep,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
):
    cases, total = queries.list_cases(db=db, scope=scope, filters=filters, limit=limit, offset=offset)
    return CaseList(total=total, items=present.describe(db=db, cases=cases))


def form_of(model: type[ActionIn], leave_out: Iterable[str] = ()) -> list[FormField]:
    """The fields of a form: those of the input model that say how a form asks for them (but ``leave_out``),
    a text with the most characters it takes."""
    fields = []
    for name, info in model.model_fields.items():
        how = dict((info.json_schema_extra or {}).get("form", {}))
        if not how or name in leave_out:
            continue
        choices = [Choice(value=v, label=t) for v, t in how.pop("choices", {}).items()]
        if how.get("kind", "text") == "text":
            # Field(max_length=...) is kept as a constraint of the field's metadata
            how["max_length"] = next((m.max_length for m in info.metadata if hasattr(m, "max_length")), None)
        fields.append(FormField(name=name, label=info.title, choices=choices, **how))
    return fields


def _common_fields(model: type[ActionIn]) -> list[str]:
    """The fields of ``model`` every action takes as they are: an action asking for one in its own words (督办
    for its 督办意见, required) shows it in its own form instead."""
    common = ActionIn.model_fields.items()
    return [n for n, f in common if model.model_fields[n].json_schema_extra is f.json_schema_extra]


@router.get("/workflow", response_model=WorkflowOut, summary="The workflow's states and actions, with labels")
def workflow():
    return WorkflowOut(
        states=[StateOut(name=s.value, label=STATE_LABELS[s], terminal=s in TERMINAL) for s in State],
        actions=[
            ActionOut(
                name=a.name,
                label=a.label,
                sources=sorted(a.sources),
                roles=sorted(a.roles),
                fields=form_of(a.form, leave_out=_common_fields(a.form)),
            )
            for a in ACTIONS.values()
        ],
        common=form_of(ActionIn),
    )


@router.get(
    "/queues",
    response_model=list[QueueOut],
    summary="The desk's queues you work, with how many cases wait in each (and how many are overdue)",
)
def queues(principal: CurrentUser, scope: ScopeDep, db: DB):
    return [
        QueueOut(name=queue.name, label=queue.label, count=count, overdue=late)
        for queue, count, late in queries.queue_counts(db=db, principal=principal, scope=scope)
    ]


@router.get(
    "/search",
    response_model=list[CaseOut],
    summary="Find cases you may see by code (or its tail, e.g. 0042), caller's phone (or its last four "
    "digits) or name (both for those who may see the caller: acceptors, shift leads, the department leading "
    "the case), address, place or words of the description: best first (exact code, code tail, phone, then "
    "words by relevance), the newest first among equals",
    responses={422: {"description": "Empty, too long, too many words, or only one-character words"}},
)
def search_cases(
    principal: CurrentUser,
    scope: ScopeDep,
    db: DB,
    q: Annotated[
        str,
        Query(
            description="A case code or its tail, a phone number or its last four digits or more, or up to "
            "five words (any order; Chinese words of two characters or more)",
            examples=["0042", "山大 垃圾"],
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
):
    found = search.search(db=db, principal=principal, scope=scope, text=q, limit=limit)
    return present.describe(db=db, cases=found)


@router.get(
    "/returns",
    response_model=list[DepartmentReturns],
    summary="Returns (回退) per department in a period, with its dispatched cases and the ratio (推诿)",
)
def returns(
    principal: Annotated[Principal, require_roles("leader", "shift_lead", "dispatcher", "admin")],
    scope: ScopeDep,
    db: DB,
    since: Annotated[date | None, Query(description="From this local day (default: the 1st)")] = None,
    until: Annotated[date | None, Query(description="To this local day, included (default: today)")] = None,
):
    today = datetime.now(calendar().tz).date()
    since = since or today.replace(day=1)
    return case_supervision.returns_by_department(db=db, scope=scope, since=since, until=until or today)


@router.get(
    "/bbox",
    summary="Cases you may see in a bounding box, as GeoJSON points (most urgent first, up to the tile cap)",
    response_class=JSONResponse,
    responses={200: {"content": {GEOJSON: {}}}, 422: {"description": "A malformed bbox or filter"}},
)
def in_bbox(db: DB, scope: ScopeDep, bbox: BBox, filters: Filters):
    filters = replace(filters, bbox=bbox)
    cases, total = queries.list_cases(
        db=db, scope=scope, filters=filters, limit=get_settings().tile_max_features
    )
    features = [
        {
            "type": "Feature",
            "id": case.code,
            "geometry": {"type": "Point", "coordinates": [case.lon, case.lat]},
            "properties": case.model_dump(mode="json", exclude={"lon", "lat"}),
        }
        for case in present.describe(db=db, cases=cases)
    ]
    body = {**feature_collection(features), "total": total}
    return JSONResponse(body, media_type=GEOJSON)


@router.post(
    "/sweep",
    response_model=SweepOut,
    dependencies=[AdminRequired],
    summary="Flag overdue cases for supervision now (the server also does it every minute)",
)
def sweep(db: DB):
    flagged = case_supervision.sweep_overdue(db=db)
    return SweepOut(flagged=flagged, escalated=case_supervision.escalate_unanswered(db=db))


@router.get(
    "/{code}", response_model=CaseDetail, summary="A case: timeline, photos, dispatches, your actions"
)
def get_case(code: CaseCode, principal: CurrentUser, scope: ScopeDep, db: DB):
    case = queries.get_case(db=db, scope=scope, code=code)
    return present.detail(db=db, principal=principal, scope=scope, case=case)


@router.get(
    "/{code}/duplicates",
    response_model=list[DuplicateOut],
    summary="Open cases of the same category near this one and reported about the same time: "
    "candidates to merge it into",
)
def duplicates(code: CaseCode, scope: ScopeDep, db: DB):
    case = queries.get_case(db=db, scope=scope, code=code)
    found = queries.duplicate_candidates(db=db, scope=scope, case=case)
    described = present.describe(db=db, cases=[c for c, _ in found])
    distances = [round(d, 1) for _, d in found]
    return [
        DuplicateOut(**out.model_dump(), distance_m=d) for out, d in zip(described, distances, strict=True)
    ]


@router.get(
    "/{code}/departments",
    response_model=list[DepartmentChoice],
    summary="The departments this case may be dispatched to: the city's and the districts', then the own "
    "teams of the street it lies in (街道队伍)",
)
def department_choices(code: CaseCode, scope: ScopeDep, db: DB):
    case = queries.get_case(db=db, scope=scope, code=code)
    choices = tiers.choices(db, case)
    return [DepartmentChoice(code=d.code, name=d.name, street=street) for d, street in choices]


@router.post(
    "/{code}/caller",
    response_model=CallerOut,
    summary="The caller's full name and phone, for those who contact them (acceptors, shift leads, the "
    "department leading the case now); each showing is recorded",
    responses={
        403: {"description": "Not yours to see: the others see the caller masked"},
        404: {"description": "No such case in your scope"},
        409: {"description": "The case has no caller"},
    },
)
def reveal_caller(code: CaseCode, principal: CurrentUser, scope: ScopeDep, db: DB, ip: ClientAddress):
    case = queries.get_case(db=db, scope=scope, code=code)
    name, phone = case_callers.reveal(db=db, principal=principal, scope=scope, case=case, ip=ip)
    return CallerOut(name=name, phone=phone)


@router.get(
    "/{code}/caller/reveals",
    response_model=list[RevealOut],
    dependencies=[require_roles("admin", "leader")],
    summary="Who saw the case's caller in full, when, in which role and from where (administrators, leaders)",
)
def caller_reveals(code: CaseCode, scope: ScopeDep, db: DB):
    case = queries.get_case(db=db, scope=scope, code=code)
    return [
        RevealOut(at=r.at, user=user, role=r.role, role_label=role_name(r.role) if r.role else None, ip=r.ip)
        for r, user in case_callers.reveals(db=db, case=case)
    ]


@router.get(
    "/{code}/caller/cases",
    response_model=list[CaseOut],
    summary="The caller's other cases (the same phone) that you see, newest first: for those who contact "
    "the caller",
    responses={403: {"description": "Not yours to see"}, 404: {"description": "No such case in your scope"}},
)
def caller_cases(
    code: CaseCode,
    principal: CurrentUser,
    scope: ScopeDep,
    db: DB,
    limit: Annotated[int, Query(ge=1, le=case_callers.OTHER_CASES_MAX)] = 20,
):
    case = queries.get_case(db=db, scope=scope, code=code)
    found = case_callers.other_cases(db=db, principal=principal, scope=scope, case=case, limit=limit)
    return present.describe(db=db, cases=found)


def _action_route(spec: ActionSpec) -> None:
    """``POST /cases/{code}/actions/<name>``, its body the action's own model."""

    def take(code: CaseCode, body, principal: CurrentUser, scope: ScopeDep, db: DB):
        case = case_actions.act(
            db=db, principal=principal, scope=scope, code=code, action=spec.name, body=body
        )
        return present.detail(db=db, principal=principal, scope=scope, case=case)

    take.__annotations__["body"] = spec.form
    take.__name__ = f"act_{spec.name}"
    router.post(
        f"/{{code}}/actions/{spec.name}",
        response_model=CaseDetail,
        summary=f"{spec.label} ({spec.name}); 409 when the state forbids it or your version is stale",
        responses={
            403: {"description": "Your roles or your part in the case do not allow it"},
            404: {"description": "No such case in your scope"},
            409: {"description": "Not allowed in the case's current state, or a stale version"},
        },
    )(take)


for _spec in ACTIONS.values():
    _action_route(_spec)


@router.post(
    "/{code}/photos",
    response_model=PhotoOut,
    status_code=201,
    summary="Add a photo to a case (JPEG, PNG or WebP; the same photo again returns the stored one)",
    responses={200: {"description": "Already stored"}, 413: {}, 415: {}, 422: {}},
)
def add_photo(
    code: CaseCode,
    principal: CurrentUser,
    scope: ScopeDep,
    db: DB,
    response: Response,
    file: Annotated[UploadFile, File(description="The photo")],
    role: Annotated[
        Literal[PHOTO_ROLES], Query(description="before, after, verification or check")
    ] = "before",  # type: ignore[valid-type]
):
    limit = get_settings().photo_max_bytes
    data = file.file.read(limit + 1)
    photo, created = case_photos.add_photo(
        db=db, principal=principal, scope=scope, code=code, role=role, data=data
    )
    if not created:
        response.status_code = 200
    return present.photo_out(photo)


@photos_router.get(
    "/{photo_id}/{variant}",
    summary="A photo: the original (evidence, with its metadata), the public copy or the thumbnail",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}},
)
def photo(photo_id: int, variant: Literal["original", "public", "thumbnail"], scope: ScopeDep, db: DB):
    data, mime = case_photos.photo_blob(db=db, scope=scope, photo_id=photo_id, variant=variant)
    return Response(data, media_type=mime, headers={"Cache-Control": "private, max-age=31536000, immutable"})


sync_router = APIRouter(prefix="/sync", tags=["sync"])
SYNC_LIMIT = 200


@sync_router.get(
    "/grids",
    response_model=SyncGrids,
    summary="My grids and everything below them, with geometry, for offline lookup on the phone",
)
def sync_grids(
    scope: ScopeDep,
    db: DB,
    since: Annotated[Instant | None, Query(description="The cursor of the previous answer")] = None,
):
    codes, changed = case_sync.my_grids(db=db, scope=scope, since=since)
    features = grid_service.geojson_of(db=db, grids=changed)
    cursor = max((g.valid_from for g in changed), default=since)
    layers = [
        SyncLayer(
            code=layer.code, name=layer.name, is_default=layer.is_default, codes=codes.get(layer.code, [])
        )
        for layer in case_sync.my_layers(db=db, scope=scope)
    ]
    every = list(dict.fromkeys(code for layer in layers for code in layer.codes))
    return SyncGrids(cursor=cursor, codes=every, features=features, layers=layers)


@sync_router.get(
    "/addresses",
    response_model=SyncAddresses,
    summary="The register's addresses in my grids changed since a cursor, for the phone's offline search",
)
def sync_addresses(
    scope: ScopeDep,
    db: DB,
    since: Annotated[int, Query(ge=0, description="The cursor of the previous answer (0: everything)")] = 0,
):
    return address_service.sync_page(db=db, paths=scope.grid_paths, since=since)


@sync_router.get(
    "/{kind}",
    response_model=SyncCases,
    summary="My verification and check tasks, or my reports, changed since a cursor (for the phone app)",
)
def sync_cases(
    kind: Literal["tasks", "reports"],
    principal: CurrentUser,
    scope: ScopeDep,
    db: DB,
    since: Annotated[int, Query(ge=0, description="The cursor of the previous answer (0: everything)")] = 0,
):
    return case_sync.sync_cases(db=db, principal=principal, kind=kind, since=since, limit=SYNC_LIMIT)


# The special reporters (人大代表, 政协委员, 困难群众) whose calls are flagged at intake: the administrators'.
special_router = APIRouter(prefix="/special-reporters", tags=["callers"], dependencies=[AdminRequired])


@special_router.get("", response_model=list[SpecialReporterOut], summary="The special reporters")
def special_reporters(
    db: DB, include_inactive: Annotated[bool, Query(description="Also the deactivated ones")] = False
):
    rows = case_callers.list_special(db=db, include_inactive=include_inactive)
    return [case_callers.special_out(r) for r in rows]


@special_router.post(
    "",
    response_model=SpecialReporterOut,
    status_code=201,
    summary="Add a special reporter: their later calls are tagged and queued apart",
    responses={
        200: {"description": "The number was deactivated: it is active again, with these details"},
        409: {"description": "The number is on the list already"},
    },
)
def add_special_reporter(data: SpecialReporterIn, db: DB, response: Response):
    row, created = case_callers.add_special(db=db, data=data)
    if not created:
        response.status_code = 200
    return case_callers.special_out(row)


@special_router.patch(
    "/{reporter_id}",
    response_model=SpecialReporterOut,
    summary="Change a special reporter's name, kind or note (what is left out stays; a null note clears it)",
)
def update_special_reporter(reporter_id: int, data: SpecialReporterUpdate, db: DB):
    return case_callers.special_out(case_callers.update_special(db=db, reporter_id=reporter_id, data=data))


@special_router.post(
    "/{reporter_id}/deactivate",
    response_model=SpecialReporterOut,
    summary="Take a special reporter off the list: later calls are no longer flagged",
)
def deactivate_special_reporter(reporter_id: int, db: DB):
    return case_callers.special_out(case_callers.deactivate_special(db=db, reporter_id=reporter_id))
