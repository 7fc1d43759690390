"""``gridops cases ...``: report, list, show, act on cases and add photos from the command line.

Commands act as the user named by ``--as`` (phone, username or id), with that user's roles and scope, or
as the system administrator when it is left out. Every action lands in the audit trail like one taken in
the web or the app."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

import typer
from pydantic import ValidationError

from gis.crs import CRS
from server.auth import service as user_service
from server.auth.principal import ADMINISTRATOR, Principal
from server.case import actions, clock, intake, present, queries
from server.case import photos as case_photos
from server.case import supervision as case_supervision
from server.case.flows import ACTIONS
from server.case.schemas import ReportIn
from server.case.scope import scope_of
from server.case.states import State
from server.cli_common import console, fail, session

cases_app = typer.Typer(help="Cases: report, list, show, act, photos, supervision.", no_args_is_help=True)
AS_USER = typer.Option(None, "--as", help="Act as this user (phone, username or id); default: administrator.")


def _principal(db, key: str | None) -> Principal:
    return ADMINISTRATOR if key is None else Principal.of(user_service.find_user(db=db, key=key))


def _validated(model, **fields):
    try:
        return model(**fields)
    except ValidationError as exc:
        fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))


def _time(value: datetime | None) -> str:
    return value.astimezone(clock.calendar().tz).strftime("%Y-%m-%d %H:%M") if value else "-"


@cases_app.command("report")
def report(
    category: str = typer.Option(..., help="Category code, e.g. E06010."),
    lon: float = typer.Option(...),
    lat: float = typer.Option(...),
    crs: CRS = typer.Option(CRS.WGS84, help="Coordinate system of lon/lat."),
    description: str = typer.Option("", help="What is wrong."),
    urgency: str = typer.Option(None, help="urgent, important or normal (default: the category's)."),
    channel: str = typer.Option(None, help="hotline, citizen or system for a report taken by an acceptor."),
    client_uuid: str = typer.Option(None, "--uuid", help="The report's UUID (default: a new one)."),
    as_user: str = AS_USER,
) -> None:
    """Report a problem; prints the case code (the same UUID again returns the same case)."""
    data = _validated(
        ReportIn,
        client_uuid=client_uuid or str(uuid.uuid4()),
        category=category,
        lon=lon,
        lat=lat,
        crs=crs,
        description=description,
        urgency=urgency,
        channel=channel,
    )
    with session() as db:
        case, created = intake.accept(db=db, principal=_principal(db, as_user), data=data)
        console.print(f"{'new case' if created else 'already received as'} {case.code} ({case.state})")
        print(case.code)


@cases_app.command("list")
def list_cases(
    state: list[State] = typer.Option([], help="Only these states (repeat)."),
    grid: str = typer.Option(None, help="Only this grid's subtree."),
    overdue: bool = typer.Option(None, "--overdue/--not-overdue", help="Only overdue, or only not overdue."),
    limit: int = typer.Option(50, min=1, max=10_000),
    as_user: str = AS_USER,
) -> None:
    """Cases, most urgent and soonest due first: code, state, light, due, urgency, category, grid."""
    with session() as db:
        principal = _principal(db, as_user)
        filters = queries.CaseFilter(states=[s.value for s in state], grid=grid, overdue=overdue)
        cases, total = queries.list_cases(
            db=db, scope=scope_of(db=db, principal=principal), filters=filters, limit=limit
        )
        for case in present.describe(db=db, cases=cases):
            print(
                f"{case.code}\t{case.state}\t{case.light or '-'}\t{_time(case.due_at)}\t{case.urgency}\t"
                f"{case.category.code} {case.category.name}\t{case.grid_code}"
            )
        console.print(f"{len(cases)} of {total} cases")


@cases_app.command("show")
def show(code: str = typer.Argument(..., help="Case code."), as_user: str = AS_USER) -> None:
    """A case and its timeline (every action with who, when, the state it led to and its due time)."""
    with session() as db:
        principal = _principal(db, as_user)
        scope = scope_of(db=db, principal=principal)
        detail = present.detail(
            db=db, principal=principal, scope=scope, case=queries.get_case(db=db, scope=scope, code=code)
        )
        print(f"{detail.code}  {detail.state} ({detail.state_label})  version {detail.version}")
        print(f"{detail.category.code} {detail.category.name}  {detail.urgency}  grid {detail.grid_code}")
        print(f"due {_time(detail.due_at)}  light {detail.light or '-'}  department "
              f"{detail.department.name if detail.department else '-'}")  # fmt: skip
        print(detail.description)
        for event in detail.timeline:
            print(
                f"  {_time(event.at)}  {event.action:<20} {event.actor} ({event.role or '-'})  "
                f"{event.state_before or '-'} -> {event.state_after}  due {_time(event.due_at)}"
                + (f"  {event.note}" if event.note else "")
            )
        allowed = [name for name, reason in detail.actions.items() if reason is None]
        print(f"you may: {', '.join(allowed) or 'nothing'}")


@cases_app.command("act")
def act(
    code: str = typer.Argument(..., help="Case code."),
    action: str = typer.Argument(..., help=f"One of: {', '.join(ACTIONS)}."),
    note: str = typer.Option(None),
    reason: str = typer.Option(None, help="void, return, suspend, extensions."),
    result: str = typer.Option(None, help="confirmed / not_found, or pass / rework."),
    lead_department: str = typer.Option(None, help="dispatch: the lead department's code."),
    parallel: list[str] = typer.Option([], help="dispatch: a parallel department (repeat)."),
    inspector_id: int = typer.Option(None, help="request_verification / request_check: the inspector."),
    extension: str = typer.Option(None, help="request_extension: e.g. 2d."),
    kind: str = typer.Option(None, help="close: normal, overdue, erroneous or special."),
    master: str = typer.Option(None, help="merge: the master case's code."),
    tag: str = typer.Option(None, help="tag / untag: the tag's code."),
    version: int = typer.Option(None, help="The version you saw (default: the current one)."),
    as_user: str = AS_USER,
) -> None:
    """Take a workflow action on a case."""
    with session() as db:
        principal = _principal(db, as_user)
        scope = scope_of(db=db, principal=principal)
        current = queries.get_case(db=db, scope=scope, code=code)
        body = actions.body_of(
            action,
            version=version or current.version,
            note=note,
            reason=reason,
            result=result,
            lead_department=lead_department,
            parallel_departments=parallel,
            inspector_id=inspector_id,
            extension=extension,
            close_kind=kind,
            master=master,
            tag=tag,
        )
        case = actions.act(db=db, principal=principal, scope=scope, code=code, action=action, body=body)
        (summary,) = present.describe(db=db, cases=[case])
        due = f"due {_time(summary.due_at)} ({summary.light or '-'})"
        console.print(f"{case.code}: {action} done, now {case.state}; {due}")


@cases_app.command("photo")
def photo(
    code: str = typer.Argument(..., help="Case code."),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JPEG, PNG or WebP."),
    role: str = typer.Option("before", help="before, after, verification or check."),
    as_user: str = AS_USER,
) -> None:
    """Add a photo to a case."""
    with session() as db:
        principal = _principal(db, as_user)
        row, created = case_photos.add_photo(
            db=db, principal=principal, scope=scope_of(db=db, principal=principal), code=code, role=role,
            data=file.read_bytes(),
        )  # fmt: skip
        flag = " (far from the reported position)" if row.far_from_report else ""
        console.print(f"photo {row.id} {'added' if created else 'already stored'} as {role}{flag}")


@cases_app.command("sweep")
def sweep() -> None:
    """Flag every overdue case for supervision now (the server does it every minute)."""
    with session() as db:
        flagged = case_supervision.sweep_overdue(db=db)
    console.print(f"{len(flagged)} cases flagged for supervision")
    for code in flagged:
        print(code)
