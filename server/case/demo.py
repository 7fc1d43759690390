"""Demo cases: a few dozen realistic cases in 历下区, in every state of the workflow, made by running the
real intake and actions as the demo people with back-dated clocks over the last days."""

from __future__ import annotations

import io
import random
import uuid
from datetime import datetime, timedelta

import shapely
from geoalchemy2.shape import to_shape
from PIL import Image, ImageDraw
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.auth.models import User
from server.auth.passwords import DEMO_PASSWORD
from server.auth.principal import Principal
from server.auth.schemas import Role, UserCreate
from server.case import actions as case_actions
from server.case import intake, photos, queries, supervision
from server.case.models import Case
from server.case.schemas import ReportIn
from server.case.scope import scope_of
from server.case.states import State
from server.category.models import Category
from server.grid.models import CURRENT, Grid, GridAssignment, in_force, today
from server.users import service as user_service

NAMESPACE = uuid.UUID("6f1c2a56-58a4-4c39-9a51-3c1d1f0e2b7a")
SEED = 2026
# Department staff (department code, name, phone, username).
DEPARTMENT_STAFF = [
    ("sanitation_lx", "孙丽", "13800000021", "sunli"),
    ("water", "钱勇", "13800000022", "qianyong"),
    ("enforcement", "周强", "13800000023", "zhouqiang"),
    ("traffic_police", "吴刚", "13800000024", "wugang"),
    ("municipal", "郑华", "13800000025", "zhenghua"),
    ("housing", "冯涛", "13800000026", "fengtao"),
    ("greening", "何芳", "13800000027", "hefang"),
    ("sanitation", "林涛", "13800000028", "lintao"),
    ("power", "韩雪", "13800000029", "hanxue"),
    ("market", "唐杰", "13800000030", "tangjie"),
    ("subdistrict", "曹颖", "13800000031", "caoying"),
]
# (category, description) pairs reported in the demo.
PROBLEMS = [
    ("E06010", "小区门口垃圾暴露堆放，约两立方米"),
    ("E01002", "人行道污水井盖缺失，有行人跌落风险"),
    ("E09009", "机动车占用盲道停放"),
    ("E06012", "路面油污大面积污染"),
    ("E07001", "电线杆上张贴大量小广告"),
    ("E09006", "流动摊贩占道经营水果"),
    ("E01037", "连续四盏路灯不亮"),
    ("E08005", "工地未覆盖裸土，扬尘明显"),
    ("E06029", "夜间露天烧烤，油烟扰民"),
]
# The states the demo shows, each reached by a script of (actor, action, fields) steps.
SCRIPTS: dict[str, list[tuple[str, str, dict]]] = {
    "reported": [],
    "verifying": [("acceptor", "request_verification", {})],
    "registered": [],
    "filed": [("lead", "file", {})],
    "dispatched": [("lead", "file", {}), ("lead", "dispatch", {})],
    "extension": [
        ("lead", "file", {}),
        ("lead", "dispatch", {}),
        ("department", "receive", {}),
        ("department", "request_extension", {"extension": "2h", "reason": "需协调产权单位，材料未到"}),
    ],
    "returned": [
        ("lead", "file", {}),
        ("lead", "dispatch", {"lead_department": "greening"}),
        ("department", "return", {"reason": "非本单位职责，应由环卫部门处置"}),
    ],
    "suspended": [
        ("lead", "file", {}),
        ("lead", "dispatch", {}),
        ("lead", "suspend", {"reason": "需结合道路改造工程一并处理"}),
    ],
    "handled": [
        ("lead", "file", {}),
        ("lead", "dispatch", {}),
        ("department", "receive", {}),
        ("department", "report_handling", {}),
    ],
    "checking": [
        ("lead", "file", {}),
        ("lead", "dispatch", {}),
        ("department", "receive", {}),
        ("department", "report_handling", {}),
        ("acceptor", "request_check", {}),
    ],
    "checked": [
        ("lead", "file", {}),
        ("lead", "dispatch", {}),
        ("department", "receive", {}),
        ("department", "report_handling", {}),
        ("acceptor", "request_check", {}),
        ("inspector", "reply_check", {"result": "pass"}),
    ],
    "rework": [
        ("lead", "file", {}),
        ("lead", "dispatch", {}),
        ("department", "receive", {}),
        ("department", "report_handling", {}),
        ("acceptor", "request_check", {}),
        ("inspector", "reply_check", {"result": "rework", "note": "现场仍有残留，需返工"}),
    ],
    "closed": [
        ("lead", "file", {}),
        ("lead", "dispatch", {}),
        ("department", "receive", {}),
        ("department", "report_handling", {}),
        ("acceptor", "request_check", {}),
        ("inspector", "reply_check", {"result": "pass"}),
        ("lead", "close", {}),
    ],
    "voided": [("lead", "void", {"reason": "重复上报，现场无此问题"})],
}
PER_SCRIPT = 3


def _photo(lon: float, lat: float, color: tuple[int, int, int], label: str) -> bytes:
    """A small JPEG standing in for a field photo, geotagged where it was taken."""
    image = Image.new("RGB", (640, 480), color)
    draw = ImageDraw.Draw(image)
    for k in range(0, 640, 40):
        draw.line([(k, 480), (k + 200, 0)], fill=tuple(min(255, c + 40) for c in color), width=6)
    draw.text((20, 20), label, fill=(255, 255, 255))
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)

    def dms(value: float) -> tuple:
        degrees = int(value)
        minutes = int((value - degrees) * 60)
        return (degrees, minutes, round(((value - degrees) * 60 - minutes) * 60, 4))

    gps.update({1: "N", 2: dms(lat), 3: "E", 4: dms(lon)})
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80, exif=exif)
    return out.getvalue()


def load_demo_cases(*, db: Session, now: datetime | None = None) -> int:
    """Create the demo cases unless they exist; return how many were created."""
    first = uuid.uuid5(NAMESPACE, "case-0")
    if db.scalar(select(Case.id).where(Case.client_uuid == first)) is not None:
        return 0
    now = now or db.scalar(select(func.now()))
    rng = random.Random(SEED)
    staff = _department_staff(db)
    operator = db.scalar(select(User).where(User.roles.contains([Role.SHIFT_LEAD.value])).order_by(User.id))
    inspectors = inspectors_on_duty(db)
    scripts = [(name, k) for k in range(PER_SCRIPT) for name in SCRIPTS] + [("merged", k) for k in range(2)]
    created = 0
    for i, (script, k) in enumerate(scripts):
        inspector, village = inspectors[i % len(inspectors)]
        category, description = PROBLEMS[(i + k) % len(PROBLEMS)]
        lon, lat = point_in(to_shape(village.geom), rng)
        if script == "merged":  # a second report of an open case, a few metres away
            master = _open_case(db, k)
            point = to_shape(master.location)
            lon, lat = round(point.x + 0.0001, 6), round(point.y + 0.00005, 6)
            category = db.get(Category, master.category_id).code
        from_inspector = script not in ("reported", "verifying") and i % 4 != 1
        steps = list(SCRIPTS.get(script, []))
        if script == "merged":
            steps = [("acceptor", "merge", {"master": master.code})]
        elif not from_inspector and script not in ("reported", "verifying"):
            steps = [
                ("acceptor", "request_verification", {}),
                ("inspector", "reply_verification", {}),
                *steps,
            ]
        gaps = [timedelta(minutes=25 + 40 * n + rng.randint(0, 40)) for n in range(len(steps))]
        # Open cases were last touched recently (green), a while ago or days ago (overdue); finished ones
        # ended one to six days ago.
        over = script in ("closed", "voided")
        tail = timedelta(days=(1, 3, 6)[k]) if over else timedelta(minutes=(8, 150, 4000)[k % 3])
        at = now - tail - sum(gaps, timedelta())
        reporter = inspector if from_inspector else operator
        data = ReportIn(
            client_uuid=uuid.uuid5(NAMESPACE, f"case-{i}"),
            category=category,
            lon=lon,
            lat=lat,
            accuracy_m=round(rng.uniform(3, 25), 1),
            description=description,
            device_time=at - timedelta(seconds=rng.randint(5, 90)),
            channel=None if from_inspector else "hotline",
            reporter_name=None if from_inspector else "市民王先生",
            reporter_phone=None if from_inspector else "13912345678",
            address=f"{village.name}附近",
        )
        case, _ = intake.accept(db=db, principal=Principal.of(reporter), data=data, at=at)
        created += 1
        if from_inspector:
            _add_photo(db, inspector, case, "before", at + timedelta(minutes=1), (120, 90, 60))
        for gap, (actor, action, fields) in zip(gaps, steps, strict=True):
            at += gap
            user = {"acceptor": operator, "lead": operator, "inspector": inspector}.get(actor)
            if actor == "department":
                user = staff[_lead_department(db, case)]
            if action in ("request_verification", "request_check"):
                fields = {**fields, "inspector_id": inspector.id}
            if action == "reply_verification":
                _add_photo(db, inspector, case, "verification", at - timedelta(minutes=2), (90, 110, 70))
                fields = {**fields, "result": "confirmed"}
            if action == "report_handling":
                _add_photo(db, user, case, "after", at - timedelta(minutes=2), (60, 120, 160))
            if action == "reply_check" and fields.get("result") == "pass":
                _add_photo(db, inspector, case, "check", at - timedelta(minutes=2), (70, 140, 90))
            _act(db, user, case, action, fields, at)
        if k == 0 and case.state not in (State.CLOSED, State.VOIDED, State.MERGED):
            _act(db, operator, case, "tag", {"tag": ("key_supervision", "repeat_complaint")[i % 2]}, at)
    supervision.sweep_overdue(db=db, at=now)
    return created


def inspectors_on_duty(db: Session) -> list[tuple[User, Grid]]:
    """The inspectors assigned today, each with the grid they inspect, in the order they were added."""
    return list(
        db.execute(
            select(User, Grid)
            .join(GridAssignment, GridAssignment.user_id == User.id)
            .join(Grid, (Grid.code == GridAssignment.grid_code) & CURRENT)
            .where(GridAssignment.role == "inspector", in_force(today()))
            .order_by(User.id)
        ).tuples()
    )


def point_in(polygon, rng: random.Random) -> tuple[float, float]:
    west, south, east, north = polygon.bounds
    inner = polygon.buffer(-0.0002) if polygon.area > 1e-7 else polygon
    while True:
        lon, lat = rng.uniform(west, east), rng.uniform(south, north)
        if inner.contains(shapely.Point(lon, lat)):
            return round(lon, 6), round(lat, 6)


def _act(db: Session, user: User, case: Case, action: str, fields: dict, at: datetime) -> None:
    principal = Principal.of(user)
    db.refresh(case)
    body = case_actions.body_of(action, version=case.version, **fields)
    case_actions.act(
        db=db, principal=principal, scope=scope_of(db=db, principal=principal), code=case.code, action=action,
        body=body, at=at,
    )  # fmt: skip


def _add_photo(db: Session, user: User, case: Case, role: str, at: datetime, color) -> None:
    point = to_shape(case.location)
    principal = Principal.of(user)
    data = _photo(point.x, point.y, color, f"{case.code} {role}")
    photos.add_photo(
        db=db, principal=principal, scope=scope_of(db=db, principal=principal), code=case.code, role=role,
        data=data, at=at,
    )  # fmt: skip


def _lead_department(db: Session, case: Case) -> str:
    db.refresh(case)
    return queries.code_of_department(db, case.department_id)


def _open_case(db: Session, k: int) -> Case:
    """The k-th case with a department, for a duplicate report to join."""
    return db.scalar(
        select(Case).where(Case.state == State.DISPATCHED.value).order_by(Case.id).offset(k).limit(1)
    )


def _department_staff(db: Session) -> dict[str, User]:
    staff = {}
    for department, name, phone, username in DEPARTMENT_STAFF:
        user = db.scalar(select(User).where(User.phone == phone))
        if user is None:
            user = user_service.create_user(
                db=db,
                data=UserCreate(
                    name=name,
                    phone=phone,
                    username=username,
                    roles=[Role.DEPARTMENT],
                    department_code=department,
                    password=DEMO_PASSWORD,
                ),
            )
        staff[department] = user
    return staff
