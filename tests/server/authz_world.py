"""The people, cases and tokens the route-authorization test sends its requests with, built once per module
on the demo city through the real services and the real login.

Callers: one user per role, each bound so that the matrix case is in its scope (see ``member``), an
administrator user, the settings' admin token, no token, a forged token, a logged-out session and a
disabled user. Scope subjects: grid heads and inspectors whose assignment is in force, ended yesterday or
scheduled to end, and command-center users and leaders with and without a home grid."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.auth.models import User
from server.auth.principal import ADMINISTRATOR, Principal
from server.case.models import Case
from server.case.states import State
from server.config import get_settings
from server.grid import people as grid_people
from server.grid import service as grid_service
from server.open311 import service as open311_service
from tests.conftest import ADMIN_TOKEN
from tests.server.case_world import (
    DISTRICT,
    OTHER_DISTRICT,
    PASSWORD,
    jpeg,
    make_user,
    photo,
    village_point,
)
from tests.server.test_case_transitions import LEAD_DEPARTMENT, advance, case_in, member

ROLES = ["inspector", "acceptor", "shift_lead", "dispatcher", "department", "grid_head", "leader", "admin"]
# Callers holding no usable login, each refused with 401 by every route that needs one.
UNAUTHENTICATED = ["anonymous", "forged_token", "logged_out", "disabled_user"]
CALLERS = [*ROLES, "admin_token", *UNAUTHENTICATED]
_devices = itertools.count(1)
_addresses = itertools.count(1)  # citizens reporting from 192.0.2.n


def local_today() -> date:
    """Today where the city is (assignments are valid by local date)."""
    return datetime.now(ZoneInfo(get_settings().timezone)).date()


def login(client: TestClient, who: Principal) -> dict:
    """A new session of ``who``: the login answer (tokens)."""
    body = {"login": who.user.phone, "password": PASSWORD, "device_id": f"authz-{next(_devices)}"}
    resp = client.post("/api/auth/login", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Subject:
    """A user whose scope is checked against the two cases: ``sees`` is what it must see of them."""

    name: str
    principal: Principal  # its roles (its user may be detached: a route may close the test's session)
    user_id: int
    headers: dict[str, str]
    sees: frozenset[str]  # "here" (in 历下区, the village of the matrix case), "there" (in 市中区)


@dataclass
class World:
    db: Session
    client: TestClient
    village: str
    other_village: str  # another village of 历下区
    lon: float
    lat: float
    here: Case  # dispatched to the lead department, overdue: in every role caller's scope
    there: Case  # in 市中区, dispatched to the other department, overdue
    photos: dict[str, int]  # "here"/"there": the id of a photo of the case
    points: dict[str, tuple[float, float]]  # "here"/"there": where the case is
    villages: dict[str, str]  # "here"/"there": the village the case is in
    grid_file: bytes  # a grid with no children as GeoJSON, for the (dry-run) import
    public_code: str  # a closed case reported on the public page
    public_token: str
    public_photo: int
    open311_key: str
    user_ids: dict[str, int] = field(default_factory=dict)  # the callers that are users
    reporter_tokens: dict[str, str] = field(default_factory=dict)  # by case code
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    subjects: list[Subject] = field(default_factory=list)

    def twin(self, caller: str) -> dict[str, str]:
        """Headers for ``caller`` on a route that ends or changes its login: a new session of a new user with
        the same roles and bindings (the admin token and the callers without a valid login: their own)."""
        if caller not in ROLES:
            return self.headers[caller]
        user = self.db.get(User, self.user_ids[caller])
        twin = make_user(self.db, list(user.roles), grid=user.grid_code, department=user.department_code)
        return bearer(login(self.client, twin)["access_token"])

    def fresh_case(self) -> Case:
        """A new case like ``here``: dispatched to the lead department in the matrix village."""
        return case_in(self.db, State.DISPATCHED, where=(self.lon, self.lat))

    def user(self, roles: list[str] | None = None) -> Principal:
        return make_user(self.db, roles or ["inspector"])

    def inspector_of_village(self) -> Principal:
        return make_user(self.db, ["inspector"], inspects=self.village)

    def assignment_of(self, who: Principal) -> int:
        """The id of ``who``'s one assignment."""
        ((assignment, _),) = grid_people.assignments(db=self.db, user_id=who.user_id)
        return assignment.id

    def fresh_public_report(self) -> Case:
        """A new citizen's report in the matrix village, over the public page from an address of its own
        (the per-address limit is not what is tested here)."""
        form = {
            "client_uuid": str(uuid.uuid4()),
            "category": "E06010",
            "lon": str(self.lon),
            "lat": str(self.lat),
        }
        files = [("photos", ("a.jpg", jpeg(self.lon, self.lat), "image/jpeg"))]
        citizen = TestClient(self.client.app, client=(f"192.0.2.{next(_addresses)}", 50000))
        resp = citizen.post("/api/public/reports", data=form, files=files)
        assert resp.status_code == 201, resp.text
        self.reporter_tokens[resp.json()["code"]] = resp.json()["reporter_token"]
        return self.db.scalar(select(Case).where(Case.code == resp.json()["code"]))


def _assignment(db: Session, who: Principal, grid: str, role: str, days: tuple[int, int | None]) -> None:
    """``who`` assigned to ``grid`` from ``days[0]`` to ``days[1]`` days from today (None: open-ended)."""
    today = local_today()
    first, last = days
    assignment = grid_people.assign(
        db=db, grid_code=grid, user=who.user, role=role, starts_on=today + timedelta(days=first)
    )
    if last is not None:
        grid_people.end_assignment(db=db, assignment_id=assignment.id, ends_on=today + timedelta(days=last))


def _public_case(world: World) -> None:
    """A citizen's report over the public page, then closed: its code, reporter token and photo."""
    case = world.fresh_public_report()
    advance(world.db, case, State.CLOSED)
    world.public_code, world.public_token = case.code, world.reporter_tokens[case.code]
    detail = world.client.get(f"/api/public/cases/{world.public_code}").json()
    url = detail["before"][0]["url"]  # /api/public/photos/{id}.jpg (its city: the own)
    world.public_photo = int(url.rsplit("/", 1)[1].removesuffix(".jpg"))


def _leaf(client: TestClient, code: str) -> str:
    """The last grid of ``code``'s subtree: one with no children."""
    return client.get(f"/api/grids/{code}/subtree").json()[-1]["code"]


def build(db: Session, client: TestClient) -> World:
    village, lon, lat = village_point(db)
    other_village = village_point(db, index=1)[0]
    away_village, away_lon, away_lat = village_point(db, OTHER_DISTRICT)
    long_ago = datetime.now(ZoneInfo(get_settings().timezone)) - timedelta(days=60)  # overdue by now
    # Named task holders, so that no caller or subject below holds these cases' tasks.
    here_inspector = make_user(db, ["inspector"], inspects=village)
    there_inspector = make_user(db, ["inspector"], inspects=away_village)
    here = case_in(db, State.DISPATCHED, at=long_ago, inspector=here_inspector, where=(lon, lat))
    there = case_in(db, State.DISPATCHED, at=long_ago, inspector=there_inspector, where=(away_lon, away_lat))
    photos = {
        "here": photo(db, ADMINISTRATOR, here, "before").id,
        "there": photo(db, ADMINISTRATOR, there, "before").id,
    }
    world = World(
        db=db,
        client=client,
        village=village,
        other_village=other_village,
        lon=lon,
        lat=lat,
        here=here,
        there=there,
        photos=photos,
        points={"here": (lon, lat), "there": (away_lon, away_lat)},
        villages={"here": village, "there": away_village},
        grid_file=client.get("/api/grids/export", params={"code": _leaf(client, village)}).content,
        public_code="",
        public_token="",
        public_photo=0,
        open311_key=open311_service.add_client(db=db, name="路由权限测试")[1],
    )
    _public_case(world)

    # The callers: each role bound so that ``here`` is in its scope.
    for role in ROLES:
        if role == "admin":
            who = make_user(db, ["admin"])
        else:
            who = member(db, role, village, department=LEAD_DEPARTMENT)
        world.user_ids[role] = who.user_id
        world.headers[role] = bearer(login(client, who)["access_token"])
    world.headers["admin_token"] = bearer(ADMIN_TOKEN)
    world.headers["anonymous"] = {}
    world.headers["forged_token"] = bearer("not-a-token")
    gone = make_user(db, ["acceptor"], grid=DISTRICT)
    world.headers["logged_out"] = bearer(login(client, gone)["access_token"])
    assert client.post("/api/auth/logout", headers=world.headers["logged_out"]).status_code == 200
    disabled = make_user(db, ["acceptor"], grid=DISTRICT)
    world.headers["disabled_user"] = bearer(login(client, disabled)["access_token"])
    disabled.user.active = False
    db.commit()

    # The scope subjects. Assignments from/to days relative to today: ended yesterday, in force (from a
    # month ago, open-ended), scheduled to end in 200 days. A grid has one head at a time: the ended and
    # the current head share the matrix village, the scheduled one heads its street (the demo's street head
    # started today and hands over the same day).
    street = grid_service.get_grid(db=db, code=village).parent_code
    here_only, nothing, both = frozenset({"here"}), frozenset(), frozenset({"here", "there"})

    def subject(name: str, who: Principal, sees: frozenset[str]) -> None:
        headers = bearer(login(client, who)["access_token"])
        world.subjects.append(Subject(name, who, who.user_id, headers, sees))

    for name, grid, days, sees in (
        ("grid head, assignment ended yesterday", village, (-60, -1), nothing),
        ("grid head, assignment in force", village, (0, None), here_only),
        ("grid head, assignment scheduled to end", street, (0, 200), here_only),
    ):
        head = make_user(db, ["grid_head"])
        _assignment(db, head, grid, "head", days)
        subject(name, head, sees)
    for name, days, sees in (
        ("inspector, assignment in force", (-30, None), here_only),
        ("inspector, assignment ended yesterday", (-30, -1), nothing),
        ("inspector, assignment scheduled to end", (-30, 200), here_only),
    ):
        inspector = make_user(db, ["inspector"])
        _assignment(db, inspector, village, "inspector", days)
        subject(name, inspector, sees)
    for role in ("leader", "acceptor", "shift_lead", "dispatcher"):
        subject(f"{role} with home grid 历下区", make_user(db, [role], grid=DISTRICT), here_only)
    # A leader who also heads a grid whose assignment ended: still city-wide, by role.
    city_leader = make_user(db, ["leader", "grid_head"])
    _assignment(db, city_leader, other_village, "head", (-30, -1))
    subject("leader without home grid (head of a grid until yesterday)", city_leader, both)
    lead_department = make_user(db, ["department"], department=LEAD_DEPARTMENT)
    subject("department user of the lead department", lead_department, here_only)
    subject("administrator", make_user(db, ["admin"]), both)
    assert here.department_id != there.department_id
    return world
