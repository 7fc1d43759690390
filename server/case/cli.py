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
from server.case.schemas import PHOTO_KIND_LABELS, ReportIn
from server.case.scope import scope_of
from server.case.states import STATE_LABELS, State
from server.category.schemas import URGENCY_LABELS
from server.cli_common import console, fail_invalid, session
from server.messages import role_name

cases_app = typer.Typer(help="案件：上报、列表、详情、办理、照片、督办。", no_args_is_help=True)
AS_USER = typer.Option(None, "--as", help="以这位用户的身份操作（手机号、用户名或编号）；默认为管理员。")
LIGHTS = {"green": "绿灯", "yellow": "黄灯", "red": "红灯"}
EVENTS = {"report": "上报", "add_photo": "上传照片"}  # timeline entries, no actions


def _principal(db, key: str | None) -> Principal:
    return ADMINISTRATOR if key is None else Principal.of(user_service.find_user(db=db, key=key))


def _validated(model, **fields):
    try:
        return model(**fields)
    except ValidationError as exc:
        fail_invalid(exc)


def _time(value: datetime | None) -> str:
    return value.astimezone(clock.calendar().tz).strftime("%Y-%m-%d %H:%M") if value else "-"


def _state(state: str | None) -> str:
    return STATE_LABELS[State(state)] if state else "-"


def _light(light: str | None) -> str:
    return LIGHTS[light] if light else "不计时"


def _action(name: str) -> str:
    """An action in words, with its name as ``gridops cases act`` takes it, or a timeline entry that is no
    action one takes (a report, an added photo) in words."""
    return f"{ACTIONS[name].label}（{name}）" if name in ACTIONS else EVENTS[name]


@cases_app.command("report")
def report(
    category: str = typer.Option(..., help="问题类别的编码，如 E06010。"),
    lon: float = typer.Option(..., help="经度。"),
    lat: float = typer.Option(..., help="纬度。"),
    crs: CRS = typer.Option(CRS.WGS84, help="经纬度所用的坐标系。"),
    description: str = typer.Option("", help="问题描述。"),
    urgency: str = typer.Option(
        None, help="紧急程度：urgent（紧急）、important（重要）或 normal（一般）；默认按类别。"
    ),
    channel: str = typer.Option(
        None, help="受理员代为上报时的渠道：hotline（热线）、citizen（市民）或 system（系统）。"
    ),
    client_uuid: str = typer.Option(None, "--uuid", help="这次上报的 UUID（默认新生成一个）。"),
    as_user: str = AS_USER,
) -> None:
    """上报一个问题，输出案件编号（用同一个 UUID 再次上报，得到的是同一个案件）。"""
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
        said = "已收到上报，新案件" if created else "这次上报已经收到过，案件"
        console.print(
            f"{said} {case.code}（{_state(case.state)}）：用 gridops cases show 查看", highlight=False
        )
        print(case.code)


@cases_app.command("list")
def list_cases(
    state: list[State] = typer.Option([], help="只列这些状态的案件（可重复）。"),
    grid: str = typer.Option(None, help="只列这个网格及其下级网格的案件。"),
    overdue: bool = typer.Option(None, "--overdue/--not-overdue", help="只列超期的，或只列未超期的。"),
    limit: int = typer.Option(50, min=1, max=10_000, help="最多列出的件数。"),
    as_user: str = AS_USER,
) -> None:
    """案件列表，最紧急、最先到期的在前：编号、状态、灯色、时限、紧急程度、类别、网格。"""
    with session() as db:
        principal = _principal(db, as_user)
        filters = queries.CaseFilter(states=[s.value for s in state], grid=grid, overdue=overdue)
        cases, total = queries.list_cases(
            db=db, scope=scope_of(db=db, principal=principal), filters=filters, limit=limit
        )
        for case in present.describe(db=db, cases=cases):
            print(
                f"{case.code}\t{_state(case.state)}\t{_light(case.light)}\t{_time(case.due_at)}\t"
                f"{URGENCY_LABELS[case.urgency]}\t{case.category.code} {case.category.name}\t{case.grid_code}"
            )
        more = "；列出更多请加大 --limit" if len(cases) < total else ""
        console.print(f"共 {total} 件，列出 {len(cases)} 件{more}", highlight=False)


@cases_app.command("show")
def show(code: str = typer.Argument(..., help="案件编号。"), as_user: str = AS_USER) -> None:
    """一个案件及其流转记录（每一步的办理人、时间、之后的状态和时限）。"""
    with session() as db:
        principal = _principal(db, as_user)
        scope = scope_of(db=db, principal=principal)
        detail = present.detail(
            db=db, principal=principal, scope=scope, case=queries.get_case(db=db, scope=scope, code=code)
        )
        print(f"{detail.code}  {detail.state_label}  第 {detail.version} 版")
        print(f"类别 {detail.category.code} {detail.category.name}  {URGENCY_LABELS[detail.urgency]}  "
              f"{detail.request_type.name}  网格 {detail.grid_code}")  # fmt: skip
        print(f"时限 {_time(detail.due_at)}  {_light(detail.light)}  {detail.remaining_text or ''}  处置部门 "
              f"{detail.department.name if detail.department else '-'}")  # fmt: skip
        print(detail.description)
        for event in detail.timeline:
            print(
                f"  {_time(event.at)}  {_action(event.action)}  {event.actor}"
                f"（{role_name(event.role) if event.role else '-'}）  "
                f"{_state(event.state_before)} → {_state(event.state_after)}  时限 {_time(event.due_at)}"
                + (f"  {event.note}" if event.note else "")
            )
        allowed = [_action(name) for name, reason in detail.actions.items() if reason is None]
        if allowed:
            print(f"现在可以办理（gridops cases act 案件编号 操作）：{'、'.join(allowed)}")
        else:
            print("现在没有可以办理的操作")


@cases_app.command("act")
def act(
    code: str = typer.Argument(..., help="案件编号。"),
    action: str = typer.Argument(..., help=f"操作，可选：{'、'.join(map(_action, ACTIONS))}。"),
    note: str = typer.Option(None, help="办理意见。"),
    reason: str = typer.Option(None, help="理由：作废、回退、挂账、申请或驳回延期时填写。"),
    result: str = typer.Option(
        None,
        help="结果：核实填 confirmed（属实）或 not_found（不属实），核查填 pass（通过）或 rework（返工）。",
    ),
    lead_department: str = typer.Option(None, help="派遣：主办部门的编码（默认按类别）。"),
    parallel: list[str] = typer.Option([], help="派遣：一个协办部门的编码（可重复）。"),
    inspector_id: int = typer.Option(None, help="派核实、派核查：接任务的网格员的编号。"),
    extension: str = typer.Option(None, help="申请延期：延期的工作时长，如 2d、4h。"),
    kind: str = typer.Option(
        None, help="结案：normal（正常）、overdue（超期）、erroneous（误报）或 special（特殊）。"
    ),
    master: str = typer.Option(None, help="合并：主案件的编号。"),
    tag: str = typer.Option(None, help="加标签、去标签：标签的编码。"),
    version: int = typer.Option(None, help="你看到的案件版本（默认为当前版本）。"),
    as_user: str = AS_USER,
) -> None:
    """办理案件的一个流程操作。"""
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
        console.print(
            f"{case.code}：已{ACTIONS[action].label}，现在{_state(case.state)}；"
            f"时限 {_time(summary.due_at)}（{_light(summary.light)}）",
            highlight=False,
        )


@cases_app.command("photo")
def photo(
    code: str = typer.Argument(..., help="案件编号。"),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="照片文件：JPEG、PNG 或 WebP。"),
    role: str = typer.Option(
        "before", help="照片的用途：before（处置前）、after（处置后）、verification（核实）或 check（核查）。"
    ),
    as_user: str = AS_USER,
) -> None:
    """给案件添加一张照片。"""
    with session() as db:
        principal = _principal(db, as_user)
        row, created = case_photos.add_photo(
            db=db, principal=principal, scope=scope_of(db=db, principal=principal), code=code, role=role,
            data=file.read_bytes(),
        )  # fmt: skip
        said = "已添加为" if created else "之前已经添加过，是"
        flag = "；拍摄位置离上报位置较远，请核对是否拍的是这个问题" if row.far_from_report else ""
        console.print(f"照片 {row.id} {said}{PHOTO_KIND_LABELS[role]}照片{flag}", highlight=False)


@cases_app.command("sweep")
def sweep() -> None:
    """立即督办所有新超期的案件，并把逾期未答复的督办升级（服务运行时每分钟自动做一次）。"""
    with session() as db:
        flagged = case_supervision.sweep_overdue(db=db)
        raised = case_supervision.escalate_unanswered(db=db)
    console.print(f"{len(flagged)} 个超期案件已督办，{len(raised)} 个逾期未答复的督办已升级", highlight=False)
    for code in flagged + raised:
        print(code)


@cases_app.command("layer-grids")
def layer_grids() -> None:
    """为已有案件记下其他网格图层中所在的网格（导入或新增一个图层的网格后运行一次；新上报的案件自动记下）。"""
    with session() as db:
        recorded = intake.record_layer_grids(db=db)
    console.print(f"已为已有案件记下其他图层的网格 {recorded} 条", highlight=False)
