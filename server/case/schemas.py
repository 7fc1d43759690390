"""Case shapes on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field

from gis.crs import CRS
from server.category.schemas import URGENCY_LABELS

Urgency = Literal["urgent", "important", "normal"]
Channel = Literal["inspector", "citizen", "hotline", "system", "open311"]
# The longest note or reason an action takes (the web's forms show and keep to it), and a report's
# description; codes (categories, departments, tags) are short.
NOTE_MAX = 500
DESCRIPTION_MAX = 2000
CODE_MAX = 40
Code = Annotated[str, Field(max_length=CODE_MAX)]


class ReportIn(BaseModel):
    """A report from any channel. ``client_uuid`` is made by the client once per report and sent again on
    every retry: the same UUID with the same content returns the same case, never a second one."""

    client_uuid: UUID = Field(description="Made by the client once per report (UUID 4), kept across retries")
    category: str = Field(
        max_length=CODE_MAX, description="Category code, e.g. E06010 (exposed garbage)", examples=["E06010"]
    )
    lon: float = Field(ge=-180, le=180, examples=[117.0231])
    lat: float = Field(ge=-90, le=90, examples=[36.6753])
    crs: CRS = Field(default=CRS.WGS84, description="Coordinate system of lon/lat: converted to WGS 84 here")
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000, description="GNSS accuracy radius")
    position_source: Literal["gps", "manual"] | None = Field(
        default=None,
        description="gps: the position of a fix (or of several averaged); manual: a pin the reporter placed "
        "on the map by hand (no fix, or a poor one); unknown when not given",
    )
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    urgency: Urgency | None = Field(default=None, description="Default: the category's")
    request_type: str | None = Field(
        default=None,
        max_length=12,
        pattern=r"^[a-z_]+$",
        description="What the caller asks (a request type's code: complaint 投诉, consult 咨询, "
        "suggest 建议, help 求助, tipoff 举报); default complaint",
    )
    address: str | None = Field(default=None, max_length=200)
    device_time: AwareDatetime | None = Field(default=None, description="When the device made the report")
    channel: Channel | None = Field(
        default=None,
        description="inspector for an inspector's own report; hotline, citizen or system for "
        "reports registered by an acceptor",
    )
    reporter_name: str | None = Field(default=None, max_length=100, description="A citizen caller's name")
    reporter_phone: str | None = Field(default=None, pattern=r"^\+?[0-9]{5,20}$")
    fixed_on_site: bool = Field(
        default=False,
        description="An inspector fixed it on the spot (即报即处: a category that allows it): the case waits "
        "only for closing, on the inspector's before and after photos",
    )


def form(label: str, kind: str = "text", **how) -> dict:
    """How the action forms of the web ask for a field (the workflow route sends it): ``label`` in Chinese,
    ``kind`` text, choice (``choices``: value to label; ``empty``: the label of choosing nothing),
    department (one of the departments the case may go to; ``empty``), departments (any of them),
    category (a leaf category, picked by name from the taxonomy) or photos (uploaded first with their
    ``role``);
    ``required`` when the form may not be sent without it."""
    return {"title": label, "json_schema_extra": {"form": {"kind": kind, **how}}}


# The values of the wire in words, as people read them.
CHANNEL_LABELS = {
    "inspector": "网格员上报",
    "citizen": "市民上报",
    "hotline": "热线",
    "system": "系统",
    "open311": "Open311",
}
PHOTO_KIND_LABELS = {"before": "处置前", "after": "处置后", "verification": "核实", "check": "核查"}
CLOSE_KIND_LABELS = {
    "normal": "正常结案",
    "overdue": "超期结案",
    "erroneous": "误报结案",
    "special": "特殊结案",
}
REASON = form("理由", required=True)
SUPERVISION_KIND_LABELS = {"supervise": "督办", "urge": "催办"}
SUPERVISION_LEVEL_LABELS = {1: "一般督办", 2: "重点督办", 3: "挂牌督办"}


class ActionIn(BaseModel):
    """What every action takes. ``version`` is the case version the user saw: a stale one is refused (409).
    Each action's own model adds its fields; fields it does not know are ignored."""

    version: int = Field(ge=1)
    note: str | None = Field(default=None, max_length=NOTE_MAX, **form("备注"))
    public_note: str | None = Field(
        default=None,
        max_length=NOTE_MAX,
        description="A note the citizens' tracking page shows (the note does not)",
        **form("公开说明（市民查询可见）"),
    )
    lon: float | None = Field(default=None, ge=-180, le=180, description="Where the action was taken")
    lat: float | None = Field(default=None, ge=-90, le=90)
    crs: CRS = CRS.WGS84


class TaskIn(ActionIn):
    """request_verification, request_check: the inspector the task goes to."""

    inspector_id: int | None = Field(
        default=None, description="Default: the reporting inspector (a check), else one of the case's grid"
    )


# The most photos one action reports.
PHOTOS_MAX = 20


def _photos(role: str, label: str, required: bool = False):
    """``required``: the action needs at least one photo of ``role`` (sent now, or uploaded during the
    step), which the form checks before sending; the server refuses it anyway."""
    return Field(
        default_factory=list,
        max_length=PHOTOS_MAX,
        description=f"The {role} photos this reply reports (default: those uploaded during the step)",
        **form(label, "photos", role=role, required=required),
    )


class VerificationReplyIn(ActionIn):
    result: Literal["confirmed", "not_found"] | None = Field(
        default=None, **form("结果", "choice", choices={"confirmed": "属实", "not_found": "不属实"})
    )
    photo_ids: list[int] = _photos("verification", "核实照片")


class CheckReplyIn(ActionIn):
    result: Literal["pass", "rework"] | None = Field(
        default=None, **form("结果", "choice", choices={"pass": "通过", "rework": "返工"})
    )
    photo_ids: list[int] = _photos("check", "核查照片")


class HandlingIn(ActionIn):
    photo_ids: list[int] = _photos("after", "处置后照片", required=True)


class FileIn(ActionIn):
    urgency: Urgency | None = Field(
        default=None,
        description="Change the urgency",
        **form("紧急程度", "choice", choices=URGENCY_LABELS, empty="不变"),
    )


class ReasonIn(ActionIn):
    """void, return, suspend, escalate: why."""

    reason: str | None = Field(default=None, max_length=NOTE_MAX, **REASON)


class ReclassifyIn(ActionIn):
    """reclassify (改类): the leaf category the case belongs to instead, and why."""

    category: str | None = Field(
        default=None,
        max_length=CODE_MAX,
        description="The new category's code (a leaf of the category tree, active)",
        **form("改为类别", "category", required=True),
    )
    reason: str | None = Field(default=None, max_length=NOTE_MAX, **REASON)


class DispatchIn(ActionIn):
    lead_department: str | None = Field(
        default=None,
        max_length=CODE_MAX,
        description="Default: the category's (the district's override first)",
        **form("主办部门", "department", empty="按类别默认"),
    )
    parallel_departments: list[Code] = Field(
        default_factory=list,
        max_length=20,
        description="Co-handling (协办) departments",
        **form("协办部门", "departments"),
    )
    reason: str | None = Field(
        default=None,
        max_length=NOTE_MAX,
        description="Required when the lead department is not the case's first one (首办负责制)",
        **form("改派理由（改派给首办部门以外的部门时必填）"),
    )


class SuperviseIn(ActionIn):
    """supervise (督办), urge (催办): to the department leading the case. A repeat while one is open goes at
    least one level above it."""

    note: str | None = Field(default=None, max_length=NOTE_MAX, **form("督办意见", required=True))
    level: int | None = Field(
        default=None,
        ge=1,
        le=3,
        description="1 一般督办, 2 重点督办, 3 挂牌督办; default 1",
        **form("督办级别", "choice", choices={str(k): v for k, v in SUPERVISION_LEVEL_LABELS.items()}),
    )
    new_due: datetime | None = Field(
        default=None,
        description="A new due time for the current step (local time of the city when no offset is given)",
        **form("限办时间（不填则不改时限）", "datetime"),
    )


class SupervisionAnswerIn(ActionIn):
    answer: str | None = Field(default=None, max_length=NOTE_MAX, **form("答复内容", required=True))


class ExtensionRequestIn(ActionIn):
    extension: str | None = Field(
        default=None,
        max_length=20,
        description="Working time, e.g. 2d, 4h",
        **form("延期时长（如 4h 为 4 小时，1d 为 1 个工作日）", required=True),
    )
    reason: str | None = Field(default=None, max_length=NOTE_MAX, **REASON)


class ExtensionRefusalIn(ActionIn):
    reason: str | None = Field(default=None, max_length=NOTE_MAX, **REASON)


class CloseIn(ActionIn):
    close_kind: Literal["normal", "overdue", "erroneous", "special"] | None = Field(
        default=None,
        description="Default: normal, or overdue when handled late",
        **form("结案类型", "choice", choices=CLOSE_KIND_LABELS),
    )


class AnswerIn(ActionIn):
    """answer (答复办结): a 咨询 answered at once, the reply (a template's, as edited) its public note."""

    template_id: int | None = Field(
        default=None, ge=1, description="The answer template the reply was made from (counted as used)"
    )
    reply: str | None = Field(
        default=None,
        max_length=DESCRIPTION_MAX,
        description="The reply; its placeholders (e.g. {案件编号}) are filled from the case",
        **form("答复内容（市民查询可见）", required=True),
    )
    public_note: str | None = Field(
        default=None, max_length=NOTE_MAX, description="Not taken: the reply is the public note"
    )


class MergeIn(ActionIn):
    master: str | None = Field(default=None, max_length=32, description="The master case's code")


class TagIn(ActionIn):
    tag: str | None = Field(default=None, max_length=CODE_MAX, description="The tag's code")


class CallbackIn(ActionIn):
    contacted: bool | None = Field(
        default=None,
        description="The caller was reached",
        **form("是否联系上来电人", "choice", choices={"true": "已联系上", "false": "未联系上"}),
    )
    solved: bool | None = Field(
        default=None,
        description="The caller says the problem is solved",
        **form("问题是否解决", "choice", choices={"true": "已解决", "false": "未解决"}),
    )
    satisfaction: Literal["satisfied", "basically_satisfied", "not_satisfied"] | None = Field(
        default=None,
        description="满意 / 基本满意 / 不满意",
        **form(
            "满意程度",
            "choice",
            choices={"satisfied": "满意", "basically_satisfied": "基本满意", "not_satisfied": "不满意"},
        ),
    )


class Ref(BaseModel):
    code: str
    name: str


class PhotoOut(BaseModel):
    id: int
    role: str
    mime: str
    width: int
    height: int
    size: int
    uploaded_at: datetime
    exif_lon: float | None
    exif_lat: float | None
    exif_taken_at: datetime | None
    distance_m: float | None
    far_from_report: bool
    url: str
    public_url: str
    thumbnail_url: str


class EventOut(BaseModel):
    id: int
    at: datetime
    actor: str
    role: str | None
    action: str
    state_before: str | None
    state_after: str
    note: str | None
    lon: float | None
    lat: float | None
    photo_ids: list[int]
    due_at: datetime | None
    data: dict


class DepartmentChoice(Ref):
    street: str | None = Field(description="A street's own team (街道队伍): its street's name")


class DispatchOut(BaseModel):
    department: Ref
    lead: bool
    dispatched_at: datetime
    ended_at: datetime | None


class SupervisionOut(BaseModel):
    kind: Literal["supervise", "urge"]
    kind_label: str
    level: int
    level_label: str
    note: str
    issued_at: datetime
    issuer: str
    department: Ref | None = Field(description="The department it was addressed to")
    new_due_at: datetime | None
    answer_due_at: datetime | None = Field(description="Unanswered by then, it goes one level up")
    acknowledged_at: datetime | None
    answered_at: datetime | None
    answer: str | None


class CaseOut(BaseModel):
    code: str
    client_uuid: UUID = Field(
        description="The reporting client's UUID: a client counts a report delivered "
        "only when an answer carries its case code with this UUID"
    )
    version: int
    state: str
    state_label: str
    channel: str
    category: Ref
    urgency: str
    request_type: Ref = Field(description="What the caller asks: 投诉, 咨询, 建议, 求助 or 举报")
    clock: Literal["work", "natural"] = Field(
        description="The clock the case's limits run on: working time, or natural time (24 h)"
    )
    description: str
    address: str | None
    lon: float
    lat: float
    accuracy_m: float | None
    position_source: Literal["gps", "manual"] | None = Field(description="manual: a pin placed by hand")
    grid_code: str
    grid_name: str | None = Field(description="The name of the unit grid holding the case")
    near_address: str | None = Field(
        default=None,
        description="The register address nearest to the point at intake, as people say it",
        examples=["山大南路27号附近（约 30 米）"],
    )
    district_code: str
    department: Ref | None
    # The caller, masked for everyone: shown in full only on request (POST /api/cases/{code}/caller).
    reporter_name: str | None = Field(description="The caller's name masked (张*)")
    reporter_phone: str | None = Field(description="The caller's phone masked (138****0000)")
    received_at: datetime
    device_time: datetime | None
    due_at: datetime | None = Field(description="The current step's due time (on the case's clock)")
    light: Literal["green", "yellow", "red"] | None
    remaining_minutes: float | None = Field(description="Minutes left of the step, on the case's clock")
    remaining_workdays: float | None = Field(
        description="The same working time in working days of the city's calendar (working time only)"
    )
    remaining_text: str | None = Field(
        description="The remaining or overdue time as people say it (剩余 2 小时 10 分, 已超时 1 天 4 小时)"
    )
    receipt_due_at: datetime | None = Field(description="When the lead department must acknowledge it (签收)")
    receipt_light: Literal["green", "yellow", "red"] | None = Field(
        description="The receipt clock's light while the department has not acknowledged it"
    )
    receipt_text: str | None = Field(description="The receipt clock's remaining or overdue time, in words")
    received_by_department_at: datetime | None
    handle_due_at: datetime | None
    supervised: bool = Field(
        description="Under supervision (an open one not yet answered), or flagged overdue in its current step"
    )
    supervision_level: int | None = Field(
        description="The open, unanswered supervision's level: 1 一般督办, 2 重点督办, 3 挂牌督办"
    )
    supervision: SupervisionOut | None = Field(description="The case's open supervision (督办 or 催办)")
    first_department: Ref | None = Field(description="The department first dispatched to (首办部门)")
    tags: list[str]
    duplicate_of: str | None
    repeat_of: str | None = Field(description="The caller's earlier case of this place and category")
    merged_into: str | None
    task_assignee: str | None
    patrol_task_id: int | None = Field(
        default=None,
        description="The proactive patrol task (主动巡查任务) its inspector was on when reporting it: the "
        "case was found proactively (主动发现)",
    )
    extension_request: dict | None
    rework_count: int
    handled_at: datetime | None
    closed_at: datetime | None
    close_kind: str | None


class NearbySource(BaseModel):
    """A pollution source (server.source) near a case."""

    code: str = Field(description="The register's own id")
    name: str
    kind_label: str = Field(examples=["餐饮油烟"])
    address: str
    responsible: str = Field(description="The name of the grid member responsible for it")
    distance_m: float


class LayerGridOut(BaseModel):
    layer: str = Field(description="The grid layer's code", examples=["duty"])
    layer_name: str = Field(examples=["责任网格"])
    code: str = Field(description="The layer's grid holding the case when it was reported")
    name: str


class CaseDetail(CaseOut):
    layer_grids: list[LayerGridOut] = Field(
        description="The grids of the other layers (not the default one, whose grid is grid_code) holding "
        "the case, in the layers' order"
    )
    timeline: list[EventOut]
    photos: list[PhotoOut]
    dispatches: list[DispatchOut]
    actions: dict[str, str | None] = Field(
        description="The actions the case's state allows and you hold a role for: null when you may take it "
        "now, else why not (in Chinese, for people)"
    )
    held_by: str | None = Field(
        description="Who works the case in its current state, in Chinese (null once it is closed, voided "
        "or merged)"
    )
    may_reveal_caller: bool = Field(
        description="You may see the caller's full name and phone (POST /api/cases/{code}/caller), each "
        "showing recorded: acceptors, shift leads and the department leading the case now"
    )
    nearby_sources: list[NearbySource] = Field(
        description="The active pollution sources within the near radius (GRIDOPS_SOURCE_NEAR_RADIUS_M), "
        "nearest first"
    )


class CaseList(BaseModel):
    total: int
    items: list[CaseOut]


class StateOut(BaseModel):
    name: str
    label: str
    terminal: bool


class Choice(BaseModel):
    value: str
    label: str


class FormField(BaseModel):
    """A field of an action's form, as the web asks for it."""

    name: str
    label: str
    kind: Literal["text", "choice", "department", "departments", "photos", "datetime", "category"]
    required: bool = False
    choices: list[Choice] = Field(default_factory=list, description="choice: the values and their labels")
    empty: str | None = Field(default=None, description="choice, department: the label of choosing nothing")
    role: str | None = Field(default=None, description="photos: the photos' role, uploaded first")
    max_length: int | None = Field(default=None, description="text: the most characters it takes")


class ActionOut(BaseModel):
    name: str
    label: str
    sources: list[str] = Field(description="The states it may start from")
    roles: list[str] = Field(description="The roles that may take it")
    fields: list[FormField] = Field(description="What its form asks for, besides the common fields")


class WorkflowOut(BaseModel):
    states: list[StateOut]
    actions: list[ActionOut]
    common: list[FormField] = Field(description="The fields every action's form takes besides its own")


class QueueOut(BaseModel):
    name: str = Field(description="List it with GET /api/cases?queue=<name>")
    label: str
    count: int = Field(description="Cases in the queue that you may see")
    overdue: int = Field(description="Of them, past their step's deadline")


class DuplicateOut(CaseOut):
    distance_m: float = Field(description="From the case asked about")


class SweepOut(BaseModel):
    flagged: list[str] = Field(description="The cases newly overdue, now under supervision")
    escalated: list[str] = Field(description="The cases whose supervision went unanswered: one level up")


class DepartmentReturns(BaseModel):
    """How often a department sent back the cases dispatched to it (回退), a measure of pushing work away."""

    department: Ref
    dispatched: int = Field(description="Cases dispatched to it as the lead department in the period")
    returned: int = Field(description="Cases it returned in the period")
    ratio: float | None = Field(description="returned / dispatched (null when nothing was dispatched)")


class TaskOut(CaseOut):
    kind: Literal["verification", "check"] | None = Field(description="What the inspector is asked to do")
    active: bool = Field(description="Still waiting for my reply (false: done, or taken from me)")
    photos: list[PhotoOut]
    handling_note: str | None = Field(description="The lead department's note on its last handling")


class SyncCases(BaseModel):
    cursor: int = Field(description="Send it back as since= to get what changed after this answer")
    more: bool = Field(description="More changes wait: ask again with the new cursor")
    items: list[TaskOut]
    photo_far_m: float = Field(
        description="A reply's photo taken farther than this from its case is flagged: the app warns first"
    )


class SyncLayer(BaseModel):
    code: str
    name: str
    is_default: bool
    codes: list[str] = Field(description="My grids in this layer's hierarchy (shared grids and its own)")


class SyncGrids(BaseModel):
    cursor: datetime | None = Field(description="Send it back as since= next time")
    codes: list[str] = Field(description="Every current grid of mine: drop cached grids not listed")
    features: list[dict] = Field(
        description="GeoJSON features of the grids changed since the cursor; each with its layer (null: "
        "shared by every layer) and layer_name"
    )
    layers: list[SyncLayer] = Field(
        description="The grid layers I work in (the default one, and those I am assigned in), in their order"
    )


# -- callers (server.case.callers) ---------------------------------------------------------------------------

SpecialKind = Literal["deputy", "cppcc", "vulnerable"]
SPECIAL_KIND_LABELS = {"deputy": "人大代表", "cppcc": "政协委员", "vulnerable": "困难群众"}
PHONE_PATTERN = r"^\+?[0-9]{5,20}$"


class CallerOut(BaseModel):
    """A case's caller in full: shown on request only, each showing recorded."""

    name: str | None
    phone: str | None


class RevealOut(BaseModel):
    """One showing of a caller in full."""

    at: datetime
    user: str = Field(description="Who saw it")
    role: str | None = Field(description="The role that allowed it")
    role_label: str | None
    ip: str | None = Field(description="The client's address")


class SpecialReporterIn(BaseModel):
    phone: str = Field(pattern=PHONE_PATTERN, description="A +86 prefix is dropped: one entry per number")
    name: str = Field(min_length=1, max_length=100)
    kind: SpecialKind = Field(description="deputy 人大代表, cppcc 政协委员 or vulnerable 困难群众")
    note: str | None = Field(default=None, max_length=NOTE_MAX)


class SpecialReporterUpdate(BaseModel):
    """What changes (the fields left out stay); a number changes by deactivating and adding."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    kind: SpecialKind | None = None
    note: str | None = Field(default=None, max_length=NOTE_MAX)


class SpecialReporterOut(BaseModel):
    id: int
    phone: str
    name: str
    kind: SpecialKind
    kind_label: str
    note: str | None
    active: bool
    created_at: datetime
