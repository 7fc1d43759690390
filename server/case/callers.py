"""Callers (来电人): who sees a caller's name and phone, the audit of every showing, the caller's other cases,
and what intake makes of a caller: repeat complaints (重复投诉) and special reporters (重点来电人).

- Whoever sees a case sees its caller masked (``mask_name``: 张*, ``mask_phone``: 138****0000). The full name
  and phone are shown only when asked for (``reveal``), and only to the people who must contact the caller:
  acceptors (they call back), shift leads, and the users of the department leading the case now (its open
  lead dispatch: a department the case was taken from no longer may). Each showing is one ``CallerReveal``
  row (who, in which role, when, from which address), which administrators and leaders list; they see the
  caller masked themselves. The caller's other cases (the same phone) are for the same people, since they
  link one person's calls. The public pages and Open311 never show a caller at all.
- At intake (``flag_at_intake``), a caller's report (not an inspector's own) is tagged 重复投诉 and linked to
  the latest earlier case of the same category received within ``repeat_complaint_days`` before it that is
  either the same caller's (the same phone, anywhere) or any caller's at the same place (the same unit grid
  or within ``repeat_complaint_radius_m``); inspectors' own reports never count. A report from the phone of
  an active special reporter is tagged 代表委员关注 (人大代表, 政协委员) or 特殊来电人 (困难群众), which
  puts it in the 重点来电 queue while it is open (``server.case.queues``).

``gridops callers special ...`` (below) keeps the special reporters, as ``/api/special-reporters`` does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import typer
from pydantic import ValidationError
from sqlalchemy import Exists, exists, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.auth.models import User
from server.auth.principal import Principal
from server.case.models import CallerReveal, Case, CaseDispatch, SpecialReporter
from server.case.schemas import (
    SPECIAL_KIND_LABELS,
    SpecialReporterIn,
    SpecialReporterOut,
    SpecialReporterUpdate,
)
from server.case.scope import Scope, visible
from server.cli_common import console, fail_invalid, session
from server.config import get_settings
from server.errors import Conflict, Forbidden, NotFound

# The roles that contact callers wherever the case is; a department's users only while it leads the case.
CONTACT_ROLES = ("acceptor", "shift_lead")
REPEAT_TAG = "repeat_complaint"
# The tag a special reporter's cases get, by the reporter's kind: these tags make the 重点来电 queue.
SPECIAL_TAGS = {"deputy": "deputy_concern", "cppcc": "deputy_concern", "vulnerable": "special_reporter"}
OTHER_CASES_MAX = 50


def mask_phone(phone: str | None) -> str | None:
    """138****0000: a number's first three digits and its last four (after +86 when it has it), a shorter
    number only its last two."""
    if not phone:
        return None
    prefix = "+86" if phone.startswith("+86") else ""
    number = phone.removeprefix(prefix)
    if len(number) >= 8:
        return f"{prefix}{number[:3]}{'*' * (len(number) - 7)}{number[-4:]}"
    return f"{prefix}{'*' * (len(number) - 2)}{number[-2:]}"


def mask_name(name: str | None) -> str | None:
    """张*: the first character and a star for each of the others (a one-character name: one star)."""
    name = (name or "").strip()
    if not name:
        return None
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def national(phone: str) -> str:
    """A number without the +86 prefix: how special reporters are kept, one entry per number."""
    return phone.removeprefix("+86")


def _forms(phone: str) -> list[str]:
    """The ways one number may be stored on cases (with or without +86)."""
    return sorted({national(phone), f"+86{national(phone)}"})


def has_caller(case: Case) -> bool:
    """Whether the case has a caller to contact: an inspector's own report has none, nor a report left
    without a name or phone."""
    return case.channel != "inspector" and bool(case.reporter_name or case.reporter_phone)


def led_by(department_id: int, case_id) -> Exists:
    """SQL: the department leads the case now (an open lead dispatch); ``case_id`` an id or ``Case.id``."""
    return exists().where(
        CaseDispatch.case_id == case_id,
        CaseDispatch.department_id == department_id,
        CaseDispatch.lead,
        CaseDispatch.ended_at.is_(None),
    )


def contact_role(*, db: Session, principal: Principal, scope: Scope, case: Case) -> str | None:
    """The role in which this user may see the caller of ``case`` in full; None when it may not."""
    role = next((r for r in CONTACT_ROLES if principal.has(r)), None)
    if role is None and principal.has("department") and scope.department_id is not None:
        role = "department" if db.scalar(select(led_by(scope.department_id, case.id))) else None
    return role


def _contact_role(*, db: Session, principal: Principal, scope: Scope, case: Case) -> str:
    """``contact_role``, or 403 saying who may."""
    role = contact_role(db=db, principal=principal, scope=scope, case=case)
    if role is None:
        if principal.has("department") and scope.department_id is not None:
            raise Forbidden("callers.not_lead_department")
        raise Forbidden("callers.contact_only")
    return role


def reveal(
    *, db: Session, principal: Principal, scope: Scope, case: Case, ip: str | None
) -> tuple[str | None, str | None]:
    """The caller's full name and phone, for those who must contact them (403 for the others, 409 when the
    case has no caller); the showing is recorded and committed before it is answered."""
    role = _contact_role(db=db, principal=principal, scope=scope, case=case)
    if not has_caller(case):
        raise Conflict("callers.no_caller")
    caller = case.reporter_name, case.reporter_phone
    db.add(CallerReveal(case_id=case.id, user_id=principal.user_id, role=role, at=datetime.now(UTC), ip=ip))
    db.commit()
    return caller


def reveals(*, db: Session, case: Case) -> list[tuple[CallerReveal, str]]:
    """Every showing of the case's caller, oldest first, with the name of who saw it."""
    query = (
        select(CallerReveal, User.name)
        .join(User, User.id == CallerReveal.user_id)
        .where(CallerReveal.case_id == case.id)
        .order_by(CallerReveal.id)
    )
    return [tuple(row) for row in db.execute(query)]


def other_cases(
    *, db: Session, principal: Principal, scope: Scope, case: Case, limit: int = OTHER_CASES_MAX
) -> list[Case]:
    """The caller's other cases that this user sees (the same phone, inspectors' own reports left out),
    newest first; for those who may contact the caller (403 for the others)."""
    _contact_role(db=db, principal=principal, scope=scope, case=case)
    if not has_caller(case) or not case.reporter_phone:
        return []
    query = (
        select(Case)
        .where(
            Case.reporter_phone.in_(_forms(case.reporter_phone)),
            Case.id != case.id,
            Case.channel != "inspector",
            visible(scope),
        )
        .order_by(Case.received_at.desc(), Case.id.desc())
        .limit(limit)
    )
    return list(db.scalars(query))


# One statement on the new case: the latest case it repeats (the same caller's anywhere, or any caller's at
# the same place: the latest of each search, then the later of the two) and the caller's special kind, and
# the tags and link they give it (no row changes, nor any trigger runs, when neither applies).
_SPECIAL_TAG = " ".join(f"WHEN '{kind}' THEN '{tag}'" for kind, tag in SPECIAL_TAGS.items())
_EARLIER = """SELECT e.id, e.code, e.received_at FROM case_file e
        WHERE e.id <> :id AND e.channel <> 'inspector' AND e.category_id = :category_id
          AND e.received_at BETWEEN :since AND :at AND ({})
        ORDER BY e.received_at DESC, e.id DESC LIMIT 1"""
_SAME_PLACE = """e.grid_code = :grid_code
          OR ST_DWithin(geography(e.location), geography(ST_Point(:lon, :lat, 4326)), :radius)"""
FLAG = text(
    f"""
    WITH earlier AS (
        SELECT x.id, x.code FROM (
            ({_EARLIER.format("e.reporter_phone = ANY(CAST(:phones AS text[]))")})
            UNION ALL ({_EARLIER.format(_SAME_PLACE)})
        ) x ORDER BY x.received_at DESC, x.id DESC LIMIT 1
    ), flags AS (
        SELECT (SELECT id FROM earlier) AS repeat_of_id, (SELECT code FROM earlier) AS repeat_of,
            array_remove(ARRAY[
                CASE WHEN EXISTS (SELECT 1 FROM earlier) THEN '{REPEAT_TAG}' END,
                (SELECT CASE s.kind {_SPECIAL_TAG} END FROM special_reporter s
                 WHERE s.phone = ANY(CAST(:phones AS text[])) AND s.active LIMIT 1)
            ]::varchar[], NULL) AS tags
    )
    UPDATE case_file c SET repeat_of_id = f.repeat_of_id, tags = c.tags || f.tags
    FROM flags f WHERE c.id = :id AND cardinality(f.tags) > 0
    RETURNING c.tags, c.repeat_of_id, f.repeat_of
    """
)


def flag_at_intake(*, db: Session, case: Case, lon: float, lat: float) -> str | None:
    """Tag a new caller's case as a repeat complaint and as a special reporter's (see the module), in the
    intake's transaction, and set the same on ``case``; the code of the case it repeats, if any."""
    if case.channel == "inspector":
        return None
    settings = get_settings()
    row = db.execute(
        FLAG,
        {
            "phones": _forms(case.reporter_phone) if case.reporter_phone else [],
            "id": case.id,
            "category_id": case.category_id,
            "since": case.received_at - timedelta(days=settings.repeat_complaint_days),
            "at": case.received_at,
            "grid_code": case.grid_code,
            "lon": lon,
            "lat": lat,
            "radius": settings.repeat_complaint_radius_m,
        },
    ).one_or_none()
    if row is None:
        return None
    case.tags, case.repeat_of_id = list(row.tags), row.repeat_of_id
    return row.repeat_of


# -- special reporters ---------------------------------------------------------------------------------------


def special_out(row: SpecialReporter) -> SpecialReporterOut:
    return SpecialReporterOut(
        id=row.id,
        phone=row.phone,
        name=row.name,
        kind=row.kind,
        kind_label=SPECIAL_KIND_LABELS[row.kind],
        note=row.note,
        active=row.active,
        created_at=row.created_at,
    )


def list_special(*, db: Session, include_inactive: bool = False) -> list[SpecialReporter]:
    query = select(SpecialReporter).order_by(SpecialReporter.id)
    if not include_inactive:
        query = query.where(SpecialReporter.active)
    return list(db.scalars(query))


def add_special(*, db: Session, data: SpecialReporterIn) -> tuple[SpecialReporter, bool]:
    """A special reporter added, or a deactivated one of the same number taken back with ``data``
    (``created`` False); an active one of the number: 409. Their later calls are flagged, not earlier ones."""
    phone = national(data.phone)
    row = db.scalar(select(SpecialReporter).where(SpecialReporter.phone == phone).with_for_update())
    if row is not None and row.active:
        raise Conflict("callers.special_exists", phone=phone, name=row.name)
    created = row is None
    if created:
        row = SpecialReporter(phone=phone)
        db.add(row)
    row.name, row.kind, row.note, row.active = data.name, data.kind, data.note, True
    try:
        db.commit()
    except IntegrityError:  # another administrator added the number at the same instant
        db.rollback()
        raise Conflict("callers.special_exists", phone=phone, name=data.name) from None
    return row, created


def _special(db: Session, reporter_id: int) -> SpecialReporter:
    row = db.get(SpecialReporter, reporter_id, with_for_update=True)
    if row is None:
        raise NotFound("callers.special_not_found", reporter_id=reporter_id)
    return row


def update_special(*, db: Session, reporter_id: int, data: SpecialReporterUpdate) -> SpecialReporter:
    row = _special(db, reporter_id)
    for name, value in data.model_dump(exclude_unset=True).items():
        if value is not None or name == "note":
            setattr(row, name, value)
    db.commit()
    return row


def deactivate_special(*, db: Session, reporter_id: int) -> SpecialReporter:
    """Off the list: their later calls are no longer flagged (the cases already tagged keep the tag)."""
    row = _special(db, reporter_id)
    row.active = False
    db.commit()
    return row


# -- gridops callers ---------------------------------------------------------------------------------------

callers_app = typer.Typer(help="来电人：重点来电人名单。", no_args_is_help=True)
special_app = typer.Typer(
    help="重点来电人（人大代表、政协委员、困难群众）：他们的来电自动加标签，进入“重点来电”队列。",
    no_args_is_help=True,
)
callers_app.add_typer(special_app, name="special")
KIND_HELP = "类别：deputy（人大代表）、cppcc（政协委员）或 vulnerable（困难群众）。"


def _print(row: SpecialReporter) -> None:
    state = "在用" if row.active else "已停用"
    print(f"{row.id}\t{row.phone}\t{row.name}\t{SPECIAL_KIND_LABELS[row.kind]}\t{state}\t{row.note or ''}")


@special_app.command("list")
def special_list(
    include_inactive: bool = typer.Option(False, "--all", help="也列出已停用的。"),
) -> None:
    """列出重点来电人：编号、电话、姓名、类别、在用或停用、备注。"""
    with session() as db:
        rows = list_special(db=db, include_inactive=include_inactive)
        for row in rows:
            _print(row)
        console.print(f"共 {len(rows)} 位", highlight=False)


@special_app.command("add")
def special_add(
    phone: str = typer.Argument(..., help="电话号码（+86 可省略）。"),
    name: str = typer.Argument(..., help="姓名。"),
    kind: str = typer.Option(..., help=KIND_HELP),
    note: str = typer.Option(None, help="备注，如所在代表团或需要照顾的情况。"),
) -> None:
    """把一位来电人列为重点来电人（已停用的同一号码重新启用）：此后的来电自动加标签。"""
    try:
        data = SpecialReporterIn(phone=phone, name=name, kind=kind, note=note)
    except ValidationError as exc:
        fail_invalid(exc)
    with session() as db:
        row, created = add_special(db=db, data=data)
        said = "已添加" if created else "已重新启用"
        label = SPECIAL_KIND_LABELS[row.kind]
        console.print(f"{said}重点来电人 {row.id}：{row.name}（{label}）", highlight=False)


@special_app.command("update")
def special_update(
    reporter_id: int = typer.Argument(..., help="重点来电人的编号（见 gridops callers special list）。"),
    name: str = typer.Option(None, help="新的姓名。"),
    kind: str = typer.Option(None, help=KIND_HELP),
    note: str = typer.Option(None, help="新的备注。"),
) -> None:
    """修改一位重点来电人的姓名、类别或备注（不填的不变）。"""
    given = {k: v for k, v in {"name": name, "kind": kind, "note": note}.items() if v is not None}
    try:
        data = SpecialReporterUpdate(**given)
    except ValidationError as exc:
        fail_invalid(exc)
    with session() as db:
        _print(update_special(db=db, reporter_id=reporter_id, data=data))


@special_app.command("deactivate")
def special_deactivate(
    reporter_id: int = typer.Argument(..., help="重点来电人的编号（见 gridops callers special list）。"),
) -> None:
    """停用一位重点来电人：此后的来电不再加标签，已加的标签保留。"""
    with session() as db:
        row = deactivate_special(db=db, reporter_id=reporter_id)
        console.print(f"已停用重点来电人 {row.id}：{row.name}", highlight=False)
