"""Who may call each route, generated from the application's route table: every route x every caller, and
every route that reads case data x the states of a user's grid assignment.

``RULES`` is the one table: for each route (method and path template) who may call it (``PUBLIC``,
``LOGIN``: any logged-in user, a set of roles, ``ADMIN``: administrators only; an administrator, user or
admin token, may call every route but those a rule closes to it: a caller's full phone), whether it answers
with case data within the caller's scope, and a valid request for it. A route the application has and the
table lacks fails ``test_every_route_has_a_rule`` by name, and so does a rule for a route that is gone.

For each route, every caller (a user of each role whose scope holds the matrix case, an administrator user,
the settings' admin token, no token, a forged token, a logged-out session, a disabled user) sends the
route's request: an allowed caller gets a success (or an answer the rule names, never 401 or 403), a
refused one 401 without a valid login and 403 without the role, never a success and never a 500.

The scope rules (a case is seen through the case routes exactly when it is in the caller's scope):
assignments count only while in force (``starts_on <= today <= ends_on``, local dates); an administrator
sees everything; the command center (acceptor, shift lead, dispatcher) and leaders see the city, narrowed to
their home grid's subtree when they have one, whatever their assignments; grid heads and inspectors see the
subtrees of their assignments in force (and of their home grid); a department user the cases dispatched to
its department; everyone their own reports and tasks."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import mapbox_vector_tile
import pytest
from fastapi.routing import iter_route_contexts
from sqlalchemy import select
from starlette.routing import Mount

from gis.tiles import tile_for_point
from server.anticipate.signals import SURGE, Signal
from server.auth.models import User
from server.auth.principal import ADMINISTRATOR, Principal
from server.case import callers as case_callers
from server.case import queries
from server.case.flows import ACTIONS
from server.case.queues import WATCHERS
from server.case.schemas import SpecialReporterIn
from server.case.scope import scope_of, sees_notification
from server.category.loader import STARTER_TAXONOMY
from server.category.models import Category
from server.grid.models import CURRENT, Grid
from server.knowledge import service as knowledge
from server.knowledge.schemas import AnswerTemplateIn
from server.main import create_app
from server.patrol import tasks as patrol_tasks
from server.stats.schemas import TABLES
from server.warning import service as warning_service
from server.web.views import CHARTJS_DIR, MAPLIBRE_DIR
from tests.conftest import api_client, rolled_back
from tests.server.authz_world import (
    CALLERS,
    UNAUTHENTICATED,
    Subject,
    World,
    bearer,
    build,
    jpeg,
    local_today,
    login,
)
from tests.server.case_world import DISTRICT, PASSWORD

PUBLIC, LOGIN, ADMIN = "public", "login", frozenset({"admin"})
COMMAND_CENTER = frozenset({"acceptor", "shift_lead", "dispatcher"})
DASHBOARD = frozenset({*COMMAND_CENTER, "leader", "grid_head", "department"})
REVIEWERS = frozenset({"grid_head", "leader", "shift_lead"})
PATROLLERS = frozenset({"inspector", "grid_head"})
CONTACTS = frozenset({"acceptor", "shift_lead", "department"})  # who may see a caller in full
SOURCE_READERS = frozenset({*COMMAND_CENTER, "leader", "department", "grid_head", "inspector"})
ANSWER_READERS = frozenset({*COMMAND_CENTER, "leader"})  # the knowledge base
ANSWER_WRITERS = frozenset({"shift_lead"})
TILE_Z = 16  # case points, not clusters
NO_CHANGES = "2100-01-01T00:00:00Z"  # a sync cursor after every change: the codes without the geometries


@dataclass(frozen=True)
class Call:
    """A request: the URL and what ``TestClient.request`` takes besides (params, json, data, files); the
    caller's own headers unless ``headers`` is given."""

    url: str
    headers: dict[str, str] | None = None
    kwargs: dict = field(default_factory=dict)


def call(url: str, headers: dict[str, str] | None = None, **kwargs) -> Call:
    return Call(url, headers, kwargs)


@dataclass(frozen=True)
class Rule:
    who: str | frozenset[str]  # PUBLIC, LOGIN, or the roles (the administrator always may)
    request: Callable[[World, str], Call]  # a valid request from the world, for a caller
    scoped: bool = False  # answers with case data within the caller's scope: see SCOPE_PROBES
    also: frozenset[int] = frozenset()  # besides 2xx, what an allowed caller may get (and why, by the rule)
    refused_also: frozenset[int] = frozenset()  # besides 401/403, what a refused caller may get (and why)
    admins: bool = True  # False: administrators are refused too (the callers' full phones are not theirs)

    def allows(self, caller: str) -> bool | int:
        """True, or the status a refusal must have."""
        if self.who == PUBLIC:
            return True
        if caller in UNAUTHENTICATED:
            return 401
        if caller in ("admin", "admin_token") and not self.admins:
            return 403
        if caller in ("admin", "admin_token") or self.who == LOGIN:
            return True
        return True if caller in self.who else 403


def public(request, **kw) -> Rule:
    return Rule(PUBLIC, request, **kw)


def login_(request, **kw) -> Rule:
    return Rule(LOGIN, request, **kw)


def roles(who, request, **kw) -> Rule:
    return Rule(frozenset(who), request, **kw)


def url(text: str) -> Callable[[World, str], Call]:
    """A request without body: ``text`` formatted with the world (``{w.here.code}``)."""
    return lambda w, caller: call(text.format(w=w))


def get(text: str, **params) -> Callable[[World, str], Call]:
    return lambda w, caller: call(text.format(w=w), params={k: v.format(w=w) for k, v in params.items()})


NO_REPORT = frozenset({404})  # the world holds no report
NO_SOURCE = frozenset({404})  # the world holds no pollution source (the import's is a dry run)
OWN_USER = frozenset({422})  # the admin token acts as no user: "log in as a user" (on a user's own routes)
NO_LAYER = frozenset({404})  # no base layer is configured here


# -- the requests that need more than a URL -------------------------------------------------------------


def bbox(w: World, d: float = 0.002) -> str:
    return f"{w.lon - d},{w.lat - d},{w.lon + d},{w.lat + d}"


def tile(w: World, layer: str) -> str:
    x, y = tile_for_point(w.lon, w.lat, TILE_Z)
    return f"/tiles/{layer}/{TILE_Z}/{x}/{y}.mvt"


def new_report(w: World, caller: str) -> Call:
    body = {"client_uuid": str(uuid.uuid4()), "category": "E06010", "lon": w.lon, "lat": w.lat}
    return call("/api/cases", json=body)


def make_report(w: World, caller: str) -> Call:
    """Last week's 周报 of the district of the matrix village (the role callers' home grid)."""
    return call("/api/reports", json={"kind": "week", "grid": w.village[:6]})


def stale_action(name: str) -> Callable[[World, str], Call]:
    """Action ``name`` on the case "here" with a version it never had: refused by role (403), else by scope
    (404), else as stale (409); never taken, so the world stays as it is."""
    return lambda w, caller: call(
        f"/api/cases/{w.here.code}/actions/{name}", json={"version": w.here.version + 1000}
    )


def add_photo(w: World, caller: str) -> Call:
    data = jpeg(w.lon, w.lat, color=(CALLERS.index(caller) * 10, 90, 90))
    return call(f"/api/cases/{w.here.code}/photos", files={"file": ("p.jpg", data, "image/jpeg")})


def grid_import(w: World, caller: str) -> Call:
    files = {"file": ("grids.geojson", w.grid_file, "application/geo+json")}  # a grid as it is: unchanged
    return call("/api/grids/import", params={"dry_run": "true"}, files=files)


def population_import(w: World, caller: str) -> Call:
    files = {"file": ("人口.csv", "网格编码,常住人口\n".encode(), "text/csv")}  # no row: changes nothing
    return call("/api/grids/population", files=files)


def address_import(w: World, caller: str) -> Call:
    row = f"T-AUTH-1,济南市历下区测试路1号,{w.lon},{w.lat}\n"
    files = {"file": ("地址库.csv", ("编码,地址,经度,纬度\n" + row).encode(), "text/csv")}
    return call("/api/addresses/import", params={"dry_run": "true"}, files=files)


def source_import(w: World, caller: str) -> Call:
    row = (
        f"T-AUTH-1,测试餐馆,餐饮油烟,济南市历下区测试路1号,{w.lon},{w.lat},13900000001,\n"  # a demo inspector
    )
    files = {
        "file": ("台账.csv", ("编号,名称,类型,地址,经度,纬度,责任人手机号,备注\n" + row).encode(), "text/csv")
    }
    return call("/api/sources/import", params={"dry_run": "true"}, files=files)


def taxonomy_load(w: World, caller: str) -> Call:
    data = STARTER_TAXONOMY.read_bytes()
    files = {"file": ("taxonomy.yaml", data, "application/yaml")}
    return call("/api/categories/load", params={"dry_run": "true"}, files=files)


def assign(w: World, caller: str) -> Call:
    return call(
        f"/api/grids/{w.village}/assignments", json={"user": str(w.user().user_id), "role": "inspector"}
    )


def end_assignment(w: World, caller: str) -> Call:
    return call(f"/api/assignments/{w.assignment_of(w.inspector_of_village())}/end", json={})


def new_user(w: World, caller: str) -> Call:
    phone = f"1660{uuid.uuid4().int % 10**7:07d}"
    return call("/api/users", json={"name": "新同事", "phone": phone, "roles": ["inspector"]})


def set_password(w: World, caller: str) -> Call:
    return call(f"/api/users/{w.user().user_id}/password", json={"password": "another horse 43"})


def edit_user(w: World, caller: str) -> Call:
    return call(f"/api/users/{w.user().user_id}", json={"name": "改名的同事"})


def revoke_user(w: World, caller: str) -> Call:
    return call(f"/api/users/{w.user().user_id}/revoke")


def new_department(w: World, caller: str) -> Call:
    return call("/api/departments", json={"code": f"team_{uuid.uuid4().hex[:8]}", "name": "新队伍"})


_cities = itertools.count(1)


def new_city(w: World, caller: str) -> Call:
    return call("/api/cities", json={"code": f"9{next(_cities):03d}00", "name": "新城市"})


def edit_department(w: World, caller: str) -> Call:
    return call("/api/departments/sanitation_lx", json={})  # an empty edit: nothing changes


def new_center(w: World, caller: str) -> Call:
    """A sub-center on a village (one per grid: each allowed caller adds its own)."""
    grid = w.village if caller == "admin" else w.other_village
    return call("/api/dispatch-centers", json={"grid_code": grid, "name": "新分中心"})


def edit_center(w: World, caller: str) -> Call:
    """An empty edit (nothing changes) of a sub-center the administrator added (or had added) on the
    matrix village."""
    body = {"grid_code": w.village, "name": "分中心"}
    w.client.post("/api/dispatch-centers", json=body, headers=w.headers["admin_token"])  # 201 or 409
    return call(f"/api/dispatch-centers/{w.village}", json={})


def holiday_check(w: World, caller: str) -> Call:
    files = {"file": ("holidays.yaml", b"holidays:\n  - 2027-01-01\n", "application/yaml")}
    return call("/api/calendar/holiday-file", params={"dry_run": "true"}, files=files)  # writes nothing


def log_in(w: World, caller: str) -> Call:
    body = {"login": w.user().user.phone, "password": PASSWORD, "device_id": f"login-{caller}"}
    return call("/api/auth/login", json=body)


def refresh(w: World, caller: str) -> Call:
    return call("/api/auth/refresh", json={"refresh_token": login(w.client, w.user())["refresh_token"]})


def logout(w: World, caller: str) -> Call:
    return call("/api/auth/logout", headers=w.twin(caller))


def session_of(w: World, headers: dict[str, str]) -> int | None:
    me = w.client.get("/api/auth/me", headers=headers)
    return me.json()["session"]["id"] if me.status_code == 200 and me.json()["session"] else None


def revoke(w: World, caller: str) -> Call:
    """A user ends one of its own sessions; an administrator someone else's."""
    headers = w.twin(caller)
    session = session_of(w, headers) or session_of(w, bearer(login(w.client, w.user())["access_token"]))
    return call(f"/api/auth/devices/{session}/revoke", headers=headers)


def change_password(w: World, caller: str) -> Call:
    body = {"old_password": PASSWORD, "new_password": "another horse 43"}
    return call("/api/auth/password", headers=w.twin(caller), json=body)


def start_shift(w: World, caller: str) -> Call:
    body = {"client_uuid": str(uuid.uuid4()), "started_at": datetime.now(UTC).isoformat()}
    return call("/api/patrol/shifts", json=body)


def own_shift(w: World, caller: str) -> str:
    """A shift ``caller`` started (when it may): its client UUID."""
    started = start_shift(w, caller)
    w.client.post(started.url, json=started.kwargs["json"], headers=w.headers[caller])
    return started.kwargs["json"]["client_uuid"]


def end_shift(w: World, caller: str) -> Call:
    body = {"ended_at": datetime.now(UTC).isoformat()}
    return call(f"/api/patrol/shifts/{own_shift(w, caller)}/end", json=body)


def add_points(w: World, caller: str) -> Call:
    point = {"recorded_at": datetime.now(UTC).isoformat(), "lon": w.lon, "lat": w.lat}
    return call(f"/api/patrol/shifts/{own_shift(w, caller)}/points", json={"points": [point]})


def track(w: World, caller: str) -> Call:
    return call(f"/api/patrol/shifts/{own_shift(w, 'inspector')}/track")


def new_task(w: World, caller: str) -> Call:
    """A proactive patrol task for an inspector of the matrix village, today."""
    today = local_today().isoformat()
    body = {"grid": w.village, "assignee_id": w.inspector_of_village().user_id, "reason": "垃圾问题增多"}
    return call("/api/patrol/tasks", json=body | {"starts_on": today, "ends_on": today})


def cancel_task(w: World, caller: str) -> Call:
    """Cancel a task the system's rule gave an inspector of the matrix village."""
    task = patrol_tasks.assign(
        w.db,
        grid=w.village,
        category=None,
        assignee=w.inspector_of_village().user_id,
        by=None,
        source="forecast",
        reason="预测本周垃圾问题增多",
        starts_on=local_today(),
        ends_on=local_today(),
    )
    return call(f"/api/patrol/tasks/{task.id}/cancel")


def fresh_warning(w: World, caller: str, *, letter: bool = False) -> int:
    """A new warning on 暴露垃圾 (E06010, the lead department's in 历下区): in the matrix village, its letter
    (with ``letter``) to the lead department; for a grid-head caller district-wide (the caller heads 历下区),
    its letter to the district's grid heads. An open one of the same area is closed first."""
    area = DISTRICT if caller == "grid_head" else w.village
    grid = w.db.scalar(select(Grid).where(CURRENT, Grid.code == area))
    category = w.db.scalar(select(Category).where(Category.code == "E06010"))
    scope = scope_of(db=w.db, principal=ADMINISTRATOR)
    for open_one in warning_service.listing(w.db, scope, grid_path=grid.path):
        warning_service.close(w.db, ADMINISTRATOR, scope, open_one.id, reason="重新测试")
    signal = Signal(
        SURGE, grid.level, grid.code, grid.name, category.id, category.code, category.name,
        date(2026, 11, 16), date(2026, 11, 22), 21, 3.5, 1e-6, "本周暴露垃圾明显增多",
    )  # fmt: skip
    (warning,) = warning_service.raise_signals(w.db, [signal])
    if letter:
        to = "street" if caller == "grid_head" else "department"
        warning_service.send_letter(w.db, ADMINISTRATOR, scope, warning.id, to=to)
    return warning.id


def warning_action(action: str, body: dict | None = None, *, letter: bool = False):
    return lambda w, caller: call(
        f"/api/warnings/{fresh_warning(w, caller, letter=letter)}/{action}", json=body or {}
    )


def reassign(w: World, caller: str) -> Call:
    inspector = w.inspector_of_village()
    body = {"user_id": inspector.user_id, "from_grid": w.village, "to_grid": w.other_village}
    return call("/api/review/reassign", json=body)


def public_report(w: World, caller: str) -> Call:
    form = {"client_uuid": str(uuid.uuid4()), "category": "E06010", "lon": str(w.lon), "lat": str(w.lat)}
    files = [("photos", ("a.jpg", jpeg(w.lon, w.lat), "image/jpeg"))]
    return call("/api/public/reports", data=form, files=files)


def rating(w: World, caller: str) -> Call:
    body = {"reporter_token": w.public_token, "speed": 5, "result": 5, "attitude": 5, "system": 5}
    return call(f"/api/public/cases/{w.public_code}/rating", json=body)


def spam(w: World, caller: str) -> Call:
    case = w.fresh_public_report()
    return call(f"/api/public/cases/{case.code}/spam", json={"version": case.version, "reason": "广告"})


def open311_post(w: World, caller: str) -> Call:
    form = {
        "api_key": w.open311_key,
        "service_code": "E06010",
        "lat": str(w.lat),
        "long": str(w.lon),
        "attribute[client_uuid]": str(uuid.uuid4()),
        "description": "垃圾",
    }
    return call("/open311/v2/requests.json", data=form)


def new_special_reporter(w: World, caller: str) -> Call:
    body = {"phone": f"1590{uuid.uuid4().int % 10**7:07d}", "name": "代表", "kind": "deputy"}
    return call("/api/special-reporters", json=body)


def special_reporter(w: World) -> int:
    """The id of a new special reporter."""
    phone = f"1591{uuid.uuid4().int % 10**7:07d}"
    data = SpecialReporterIn(phone=phone, name="委员", kind="cppcc")
    return case_callers.add_special(db=w.db, data=data)[0].id


def update_special(w: World, caller: str) -> Call:
    return call(f"/api/special-reporters/{special_reporter(w)}", json={"note": "市人大代表"})


def deactivate_special(w: World, caller: str) -> Call:
    return call(f"/api/special-reporters/{special_reporter(w)}/deactivate")


def answer_template(w: World) -> int:
    """The id of a new answer template."""
    return knowledge.create(db=w.db, data=AnswerTemplateIn(title="授权测试", body="{案件编号}已答复")).id


def new_answer(w: World, caller: str) -> Call:
    return call("/api/answers", json={"title": "授权测试", "body": "您好", "request_type": "consult"})


def first_file(directory) -> str:
    return next(p.name for p in sorted(directory.iterdir()) if p.is_file())


# -- the table ------------------------------------------------------------------------------------------

RULES: dict[tuple[str, str], Rule] = {
    # The API's own description and the liveness check.
    ("GET", "/openapi.json"): public(url("/openapi.json")),
    ("GET", "/docs"): public(url("/docs")),
    ("GET", "/docs/oauth2-redirect"): public(url("/docs/oauth2-redirect")),
    ("GET", "/redoc"): public(url("/redoc")),
    ("GET", "/health"): public(url("/health")),
    # Grids: the map of the city is public (the citizens' report page locates a point); the people looking
    # after a grid are staff data, for logged-in users.
    # The cities: the caller's (anyone logged in), the side-by-side figures (leaders), registering (admins).
    ("GET", "/api/cities"): login_(url("/api/cities")),
    ("GET", "/api/cities/overview"): roles({"leader"}, url("/api/cities/overview")),
    ("POST", "/api/cities"): roles(ADMIN, new_city),
    ("GET", "/api/grids"): public(url("/api/grids")),
    ("GET", "/api/grids/search"): public(get("/api/grids/search", q="历下")),
    ("GET", "/api/grids/locate"): public(get("/api/grids/locate", lon="{w.lon}", lat="{w.lat}")),
    ("GET", "/api/grids/layers"): public(url("/api/grids/layers")),
    ("POST", "/api/grids/layers"): roles(
        ADMIN, lambda w, c: call("/api/grids/layers", json={"code": f"t_{c}", "name": f"测试图层{c}"})
    ),
    ("POST", "/api/grids/locate"): public(
        lambda w, c: call("/api/grids/locate", json={"points": [[w.lon, w.lat]]})
    ),
    ("GET", "/api/grids/bbox"): public(lambda w, c: call("/api/grids/bbox", params={"bbox": bbox(w)})),
    ("GET", "/api/grids/check"): roles(ADMIN, url("/api/grids/check")),
    ("GET", "/api/grids/export"): public(get("/api/grids/export", code="{w.village}")),
    ("POST", "/api/grids/import"): roles(ADMIN, grid_import),
    ("POST", "/api/grids/population"): roles(ADMIN, population_import),
    # The address register: found by anyone (the citizens' report page finds places); imported by admins.
    ("GET", "/api/addresses/search"): public(get("/api/addresses/search", q="历下")),
    ("GET", "/api/addresses/nearest"): public(get("/api/addresses/nearest", lon="{w.lon}", lat="{w.lat}")),
    ("POST", "/api/addresses/import"): roles(ADMIN, address_import),
    # The pollution-source register: read by the command center, leaders, departments and inspectors (the
    # cases near a source within the reader's scope); imported by admins.
    ("GET", "/api/sources"): roles(SOURCE_READERS, url("/api/sources")),
    ("GET", "/api/sources/bbox"): roles(
        SOURCE_READERS, lambda w, c: call("/api/sources/bbox", params={"bbox": bbox(w)})
    ),
    ("GET", "/api/sources/{code}"): roles(SOURCE_READERS, url("/api/sources/T-AUTH-1"), also=NO_SOURCE),
    ("POST", "/api/sources/import"): roles(ADMIN, source_import),
    ("GET", "/api/grids/{code}"): public(url("/api/grids/{w.village}")),
    ("GET", "/api/grids/{code}/children.geojson"): public(url("/api/grids/{w.village}/children.geojson")),
    ("GET", "/api/grids/{code}/subtree"): public(url("/api/grids/{w.village}/subtree")),
    ("GET", "/api/grids/{code}/history"): public(url("/api/grids/{w.village}/history")),
    ("GET", "/api/grids/{code}/assignments"): login_(url("/api/grids/{w.village}/assignments")),
    ("POST", "/api/grids/{code}/assignments"): roles(ADMIN, assign),
    ("POST", "/api/assignments/{assignment_id}/end"): roles(ADMIN, end_assignment),
    # Users and logins.
    ("GET", "/api/users"): roles(ADMIN, url("/api/users")),
    ("POST", "/api/users"): roles(ADMIN, new_user),
    ("POST", "/api/users/{user_id}/password"): roles(ADMIN, set_password),
    ("GET", "/api/users/roles"): roles(ADMIN, url("/api/users/roles")),
    ("PATCH", "/api/users/{user_id}"): roles(ADMIN, edit_user),
    ("POST", "/api/users/{user_id}/revoke"): roles(ADMIN, revoke_user),
    ("POST", "/api/auth/login"): public(log_in),
    ("POST", "/api/auth/refresh"): public(refresh),
    ("POST", "/api/auth/logout"): login_(logout, also=OWN_USER),
    ("GET", "/api/auth/me"): login_(url("/api/auth/me")),
    ("GET", "/api/auth/devices"): login_(url("/api/auth/devices"), also=OWN_USER),
    ("POST", "/api/auth/devices/{session_id}/revoke"): login_(revoke, also=OWN_USER),
    ("POST", "/api/auth/password"): login_(change_password, also=OWN_USER),
    # The taxonomy is public; loading one is the administrators'.
    ("GET", "/api/categories"): public(url("/api/categories")),
    ("GET", "/api/request-types"): public(url("/api/request-types")),
    ("POST", "/api/categories/load"): roles(ADMIN, taxonomy_load),
    ("GET", "/api/categories/{code}"): public(url("/api/categories/E06010")),
    ("GET", "/api/departments"): public(url("/api/departments")),
    ("POST", "/api/departments"): roles(ADMIN, new_department),
    ("PATCH", "/api/departments/{code}"): roles(ADMIN, edit_department),
    ("GET", "/api/dispatch-centers"): roles(ADMIN, url("/api/dispatch-centers")),
    ("POST", "/api/dispatch-centers"): roles(ADMIN, new_center),
    ("PATCH", "/api/dispatch-centers/{grid_code}"): roles(ADMIN, edit_center),
    # The working-time calendar and its holiday file: the administrators' (a check writes nothing).
    ("GET", "/api/calendar/years/{year}"): roles(ADMIN, url("/api/calendar/years/2027")),
    ("GET", "/api/calendar/holiday-file"): roles(ADMIN, url("/api/calendar/holiday-file")),
    ("POST", "/api/calendar/holiday-file"): roles(ADMIN, holiday_check),
    ("GET", "/api/tags"): public(url("/api/tags")),
    # Cases: reporting by role; reading within the scope; each action by its own roles.
    ("POST", "/api/cases"): roles({"inspector", "acceptor"}, new_report),
    ("GET", "/api/cases"): login_(url("/api/cases"), scoped=True),
    ("GET", "/api/cases/workflow"): public(url("/api/cases/workflow")),  # labels only, no case data
    ("GET", "/api/cases/queues"): login_(url("/api/cases/queues"), scoped=True),
    ("GET", "/api/cases/returns"): roles({"leader", "shift_lead", "dispatcher"}, url("/api/cases/returns")),
    ("GET", "/api/cases/search"): login_(get("/api/cases/search", q="{w.here.code}"), scoped=True),
    ("GET", "/api/cases/bbox"): login_(
        lambda w, c: call("/api/cases/bbox", params={"bbox": bbox(w)}), scoped=True
    ),
    ("POST", "/api/cases/sweep"): roles(ADMIN, url("/api/cases/sweep")),
    ("GET", "/api/cases/{code}"): login_(url("/api/cases/{w.here.code}"), scoped=True),
    ("GET", "/api/cases/{code}/duplicates"): login_(url("/api/cases/{w.here.code}/duplicates"), scoped=True),
    ("GET", "/api/cases/{code}/departments"): login_(
        url("/api/cases/{w.here.code}/departments"), scoped=True
    ),
    ("GET", "/api/cases/{code}/dispatch-advice"): roles(
        {"dispatcher", "shift_lead"}, url("/api/cases/{w.here.code}/dispatch-advice"), scoped=True
    ),
    **{
        ("POST", f"/api/cases/{{code}}/actions/{name}"): roles(
            spec.roles - ADMIN,
            stale_action(name),
            scoped=True,
            also=frozenset({404, 409}),
            refused_also=frozenset({404}),
        )
        for name, spec in ACTIONS.items()
    },
    # The caller in full: for those who contact callers, administrators not among them. The matrix case has
    # no caller: they get 409 (tests/server/test_callers.py shows one).
    ("POST", "/api/cases/{code}/caller"): roles(
        CONTACTS, url("/api/cases/{w.here.code}/caller"), scoped=True, admins=False, also=frozenset({409})
    ),
    ("GET", "/api/cases/{code}/caller/cases"): roles(
        CONTACTS, url("/api/cases/{w.here.code}/caller/cases"), scoped=True, admins=False
    ),
    ("GET", "/api/cases/{code}/caller/reveals"): roles(
        {"leader"}, url("/api/cases/{w.here.code}/caller/reveals"), scoped=True
    ),
    ("GET", "/api/special-reporters"): roles(ADMIN, url("/api/special-reporters")),
    ("POST", "/api/special-reporters"): roles(ADMIN, new_special_reporter),
    ("PATCH", "/api/special-reporters/{reporter_id}"): roles(ADMIN, update_special),
    ("POST", "/api/special-reporters/{reporter_id}/deactivate"): roles(ADMIN, deactivate_special),
    ("GET", "/api/answers"): roles(ANSWER_READERS, get("/api/answers", q="井盖坏了")),
    ("GET", "/api/answers/{template_id}"): roles(
        ANSWER_READERS, lambda w, c: call(f"/api/answers/{answer_template(w)}")
    ),
    ("POST", "/api/answers"): roles(ANSWER_WRITERS, new_answer),
    ("PATCH", "/api/answers/{template_id}"): roles(
        ANSWER_WRITERS, lambda w, c: call(f"/api/answers/{answer_template(w)}", json={"question": "问"})
    ),
    ("POST", "/api/answers/{template_id}/deactivate"): roles(
        ANSWER_WRITERS, lambda w, c: call(f"/api/answers/{answer_template(w)}/deactivate")
    ),
    # Triage: suggestions for the staff who write or route reports (duplicates only of cases they see), the
    # public form's own (categories only); the models are trained and rolled back by administrators.
    ("POST", "/api/triage/suggest"): roles(
        {"acceptor", "shift_lead", "dispatcher", "leader", "inspector"},
        lambda w, c: call("/api/triage/suggest", json={"text": "井盖没了", "lon": w.lon, "lat": w.lat}),
    ),
    ("POST", "/api/public/triage"): public(
        lambda w, c: call("/api/public/triage", json={"text": "井盖没了"})
    ),
    ("GET", "/api/triage/models"): roles({"shift_lead", "leader"}, url("/api/triage/models")),
    ("POST", "/api/triage/train"): roles(ADMIN, lambda w, c: call("/api/triage/train", json={})),
    ("POST", "/api/triage/models/{version}/activate"): roles(
        ADMIN, lambda w, c: call("/api/triage/models/1/activate"), also=frozenset({404})
    ),
    ("POST", "/api/cases/{code}/photos"): roles({"inspector", "acceptor"}, add_photo),  # a "before" photo
    ("GET", "/api/photos/{photo_id}/{variant}"): login_(
        url("/api/photos/{w.photos[here]}/thumbnail"), scoped=True
    ),
    ("GET", "/api/sync/grids"): login_(get("/api/sync/grids", since=NO_CHANGES), scoped=True),
    ("GET", "/api/sync/{kind}"): login_(url("/api/sync/tasks")),  # the caller's own tasks and reports
    ("GET", "/api/sync/addresses"): login_(url("/api/sync/addresses")),  # those of the caller's own grids
    ("GET", "/api/events/stream"): login_(url("/api/events/stream"), scoped=True),
    # Patrols: inspectors and grid heads patrol; the others see the shifts of the people they may see.
    ("POST", "/api/patrol/shifts"): roles(PATROLLERS, start_shift, also=OWN_USER),
    ("POST", "/api/patrol/shifts/{client_uuid}/end"): roles(PATROLLERS, end_shift, also=OWN_USER | {404}),
    ("POST", "/api/patrol/shifts/{client_uuid}/points"): roles(PATROLLERS, add_points, also=OWN_USER | {404}),
    ("GET", "/api/patrol/shifts"): login_(url("/api/patrol/shifts")),
    ("GET", "/api/patrol/shifts/{client_uuid}/track"): login_(track, also=frozenset({404})),  # not in view
    ("GET", "/api/patrol/today"): login_(url("/api/patrol/today"), also=OWN_USER),
    ("GET", "/api/patrol/positions"): login_(url("/api/patrol/positions")),
    ("GET", "/api/patrol/tracks/today"): login_(
        lambda w, c: call("/api/patrol/tracks/today", params={"bbox": bbox(w)})
    ),
    # Proactive patrol tasks: those who review grids assign them in their scope; an inspector reads their own.
    ("POST", "/api/patrol/tasks"): roles(REVIEWERS, new_task),
    ("GET", "/api/patrol/tasks"): roles(REVIEWERS, url("/api/patrol/tasks")),
    ("GET", "/api/patrol/tasks/mine"): login_(url("/api/patrol/tasks/mine"), also=OWN_USER),
    ("POST", "/api/patrol/tasks/{task_id}/cancel"): roles(REVIEWERS, cancel_task),
    # The grid heads' review, and the dashboards.
    ("GET", "/api/review"): roles(REVIEWERS, get("/api/review", grid="{w.village}"), scoped=True),
    ("GET", "/api/review/grids"): roles(REVIEWERS, url("/api/review/grids")),
    ("GET", "/api/review/assignments"): roles(
        REVIEWERS, get("/api/review/assignments", grid="{w.village}"), scoped=True
    ),
    ("POST", "/api/review/reassign"): roles(REVIEWERS, reassign),
    ("GET", "/api/stats/dashboard"): roles(DASHBOARD, url("/api/stats/dashboard"), scoped=True),
    ("GET", "/api/stats/export/{table}.csv"): roles(DASHBOARD, url(f"/api/stats/export/{TABLES[0]}.csv")),
    # The reports: listed and read by dashboard users (within their grids: the world holds no report, so
    # an allowed caller's read finds none), made on demand by leaders and shift leads for their district.
    ("GET", "/api/reports"): roles(DASHBOARD, url("/api/reports")),
    ("GET", "/api/reports/{report_id}/html"): roles(DASHBOARD, url("/api/reports/1/html"), also=NO_REPORT),
    ("GET", "/api/reports/{report_id}/pdf"): roles(DASHBOARD, url("/api/reports/1/pdf"), also=NO_REPORT),
    ("POST", "/api/reports"): roles({"leader", "shift_lead"}, make_report),
    # Forecasts: the dashboard's users and scope (a department: its categories, whatever the grid).
    ("GET", "/api/forecasts"): roles(DASHBOARD, url("/api/forecasts"), scoped=True),
    # Warnings: dashboard users see those of their area and those addressed to them; the command center
    # acts on them, the addressee (a department, a street's grid heads) acknowledges the letter.
    ("GET", "/api/warnings"): roles(DASHBOARD, url("/api/warnings")),
    ("GET", "/api/warnings/{warning_id}"): roles(
        DASHBOARD, lambda w, c: call(f"/api/warnings/{fresh_warning(w, c, letter=True)}")
    ),
    ("GET", "/api/warnings/{warning_id}/letter.html"): roles(
        DASHBOARD, warning_action("letter.html", letter=True)
    ),
    ("POST", "/api/warnings/{warning_id}/seen"): roles({*COMMAND_CENTER, "leader"}, warning_action("seen")),
    ("POST", "/api/warnings/{warning_id}/letter"): roles(
        {*COMMAND_CENTER, "leader"}, warning_action("letter")
    ),
    ("POST", "/api/warnings/{warning_id}/acknowledge"): roles(
        {"department", "grid_head"}, warning_action("acknowledge", {"reply": "已核查并整治"}, letter=True)
    ),
    ("POST", "/api/warnings/{warning_id}/close"): roles(
        {"shift_lead", "leader"}, warning_action("close", {"reason": "已处理"})
    ),
    # The citizens' side: public, but for marking spam (a shift lead's void).
    ("GET", "/api/public/categories"): public(url("/api/public/categories")),
    ("GET", "/api/public/limits"): public(url("/api/public/limits")),
    ("POST", "/api/public/reports"): public(public_report, also=frozenset({429})),  # the per-address limit
    ("GET", "/api/public/cases/{code}"): public(url("/api/public/cases/{w.public_code}")),
    ("POST", "/api/public/cases/{code}/rating"): public(rating, also=frozenset({409})),  # rated once
    # A department user sees no case before it is dispatched: 404 before its role is looked at.
    ("POST", "/api/public/cases/{code}/spam"): roles({"shift_lead"}, spam, refused_also=frozenset({404})),
    ("GET", "/api/public/photos/{photo_id}.jpg"): public(url("/api/public/photos/{w.public_photo}.jpg")),
    ("GET", "/open311/v2/discovery.{response_format}"): public(url("/open311/v2/discovery.json")),
    ("GET", "/open311/v2/services.{response_format}"): public(url("/open311/v2/services.json")),
    ("GET", "/open311/v2/services/{service_code}.{response_format}"): public(
        url("/open311/v2/services/E06010.json")
    ),
    ("POST", "/open311/v2/requests.{response_format}"): public(open311_post),
    ("GET", "/open311/v2/requests.{response_format}"): public(url("/open311/v2/requests.json")),
    ("GET", "/open311/v2/requests/{service_request_id}.{response_format}"): public(
        url("/open311/v2/requests/{w.public_code}.json")
    ),
    # Map tiles: the grids for logged-in users (the web app), the cases within the scope.
    ("GET", "/tiles/grids/{z}/{x}/{y}.mvt"): login_(lambda w, c: call(tile(w, "grids"))),
    ("GET", "/tiles/cases/{z}/{x}/{y}.mvt"): login_(lambda w, c: call(tile(w, "cases")), scoped=True),
    # Base maps are not secret (the citizens' page draws them too); this world configures none: 404.
    ("GET", "/basemaps/{layer}/{z}/{x}/{y}"): public(url("/basemaps/streets/1/0/0"), also=NO_LAYER),
    ("GET", "/basemaps/{layer}/style.json"): public(url("/basemaps/streets/style.json"), also=NO_LAYER),
    ("GET", "/basemaps/{layer}.pmtiles"): public(url("/basemaps/streets.pmtiles"), also=NO_LAYER),
    # Pages and the web app's static files (the app logs in from there).
    ("GET", "/report"): public(url("/report")),
    ("GET", "/track"): public(url("/track")),
    ("GET", "/track/{code}"): public(url("/track/{w.public_code}")),
    ("GET", "/"): public(url("/")),
    ("GET", "/api/web/config"): public(url("/api/web/config")),
    ("MOUNT", "/static"): public(url("/static/app.js")),
    ("MOUNT", "/vendor/maplibre-gl"): public(
        lambda w, c: call(f"/vendor/maplibre-gl/{first_file(MAPLIBRE_DIR)}")
    ),
    ("MOUNT", "/vendor/chart.js"): public(lambda w, c: call(f"/vendor/chart.js/{first_file(CHARTJS_DIR)}")),
}
# Routes whose allowed callers are not sent in-process, and why (their refusals are).
NOT_SENT_WHEN_ALLOWED = {
    ("GET", "/api/grids/check"): "it checks the topology of the whole city (half a minute on two cores): "
    "tests/server/test_grid_lookup.py calls it as the administrator",
    ("GET", "/api/events/stream"): "the stream never ends: tests/server/test_events.py opens it on a live "
    "server; its scope is checked below through the function the stream filters with",
}


def app_routes() -> Iterator[tuple[str, str]]:
    """Every route of the application: (method, path template); a mount as ("MOUNT", path)."""
    for route in iter_route_contexts(create_app().routes):
        if isinstance(route.original_route, Mount):
            yield "MOUNT", route.path
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            yield method, route.path


def test_every_route_has_a_rule():
    routes = set(app_routes())
    missing = sorted(routes - set(RULES))
    gone = sorted(set(RULES) - routes)
    assert not missing, "routes without a rule in RULES: " + ", ".join(f"{m} {p}" for m, p in missing)
    assert not gone, "rules for routes the application no longer has: " + ", ".join(
        f"{m} {p}" for m, p in gone
    )


# -- the world, once per module -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(demo_engine) -> Iterator[World]:
    with rolled_back(demo_engine) as db, api_client(db) as client:
        yield build(db, client)


def send(w: World, method: str, caller: str, request: Call):
    method = "GET" if method == "MOUNT" else method
    headers = w.headers[caller] if request.headers is None else request.headers
    return w.client.request(method, request.url, headers=headers, **request.kwargs)


def verdict(rule: Rule, caller: str, status: int) -> str | None:
    """None when ``status`` is what ``caller`` must get, else what was expected."""
    allowed = rule.allows(caller)
    if status >= 500:
        return "never a server error"
    if allowed is True:
        ok = 200 <= status < 300 or status == 304 or status in rule.also
        # A public route may refuse a token that is not valid (the caller then drops it), never a missing one.
        ok = ok or (status == 401 and caller in UNAUTHENTICATED and caller != "anonymous")
        return None if ok else "allowed: a success" + (f" or {sorted(rule.also)}" if rule.also else "")
    ok = status == allowed or (allowed == 403 and status in rule.refused_also)
    return (
        None
        if ok
        else f"refused: {allowed}" + (f" or {sorted(rule.refused_also)}" if rule.refused_also else "")
    )


@pytest.mark.parametrize(("method", "path"), list(RULES), ids=[f"{m} {p}" for m, p in RULES])
def test_each_caller_is_allowed_or_refused_by_the_rule(world, method, path):
    rule = RULES[(method, path)]
    wrong = []
    for caller in CALLERS:
        if (method, path) in NOT_SENT_WHEN_ALLOWED and rule.allows(caller) is True:
            continue
        resp = send(world, method, caller, rule.request(world, caller))
        problem = verdict(rule, caller, resp.status_code)
        if problem:
            wrong.append(f"{caller}: {resp.status_code} ({problem}) {resp.text[:160]}")
    assert not wrong, f"{method} {path}:\n" + "\n".join(wrong)


# -- scope: what each route shows of the two cases, for users in each state of their assignment ----------


def seen_each(is_seen: Callable[[World, Subject, str], bool]) -> Callable[[World, Subject], frozenset[str]]:
    """A probe asking ``is_seen`` about each of the two cases ("here" and "there")."""
    return lambda w, s: frozenset(name for name in ("here", "there") if is_seen(w, s, name))


def answer(resp, seen: int, unseen: tuple[int, ...]) -> bool:
    """Whether a case was seen, from the status: ``seen`` or one of ``unseen``; anything else is wrong."""
    if resp.status_code == seen:
        return True
    if resp.status_code in unseen:
        return False
    raise AssertionError(
        f"{resp.request.method} {resp.request.url.path}: {resp.status_code} {resp.text[:200]}"
    )


def case_of(w: World, name: str):
    return w.here if name == "here" else w.there


def ok_json(resp):
    answer(resp, 200, ())
    return resp.json()


def listed(w, s, name):
    code = case_of(w, name).code
    items = ok_json(w.client.get("/api/cases", params={"q": code}, headers=s.headers))["items"]
    return code in {c["code"] for c in items}


def searched(w, s, name):
    code = case_of(w, name).code
    found = ok_json(w.client.get("/api/cases/search", params={"q": code}, headers=s.headers))
    return code in {c["code"] for c in found}


def detail(suffix: str):
    return lambda w, s, name: answer(
        w.client.get(f"/api/cases/{case_of(w, name).code}{suffix}", headers=s.headers), 200, (404,)
    )


def in_bbox(w, s, name):
    lon, lat = w.points[name]
    box = f"{lon - 0.001},{lat - 0.001},{lon + 0.001},{lat + 0.001}"
    body = ok_json(w.client.get("/api/cases/bbox", params={"bbox": box}, headers=s.headers))
    return case_of(w, name).code in {f["id"] for f in body["features"]}


def action(action_name: str) -> Callable[[World, Subject, str], bool]:
    """An action with a stale version (refused by role or as stale, never taken) is 404 when unseen."""

    def seen(w, s, name):
        case = case_of(w, name)
        resp = w.client.post(
            f"/api/cases/{case.code}/actions/{action_name}",
            json={"version": case.version + 1000},
            headers=s.headers,
        )
        return answer(resp, 409, (404,)) if resp.status_code != 403 else True

    return seen


def photo_of(w, s, name):
    return answer(w.client.get(f"/api/photos/{w.photos[name]}/thumbnail", headers=s.headers), 200, (404,))


def in_tile(w, s, name):
    lon, lat = w.points[name]
    x, y = tile_for_point(lon, lat, TILE_Z)
    resp = w.client.get(f"/tiles/cases/{TILE_Z}/{x}/{y}.mvt", headers=s.headers)
    if resp.status_code == 204:
        return False
    answer(resp, 200, ())
    layer = mapbox_vector_tile.decode(resp.content).get("cases", {"features": []})
    return case_of(w, name).code in {f["properties"].get("code") for f in layer["features"]}


def overdue_count(w, s):
    """Both cases are overdue, no other case of the module is: the overdue queue counts those seen."""
    queues = {q["name"]: q for q in ok_json(w.client.get("/api/cases/queues", headers=s.headers))}
    return queues["overdue"]["count"]


def by_grid(route: str):
    """A route taking ``grid``: 200 for a grid in the scope, 403 outside it."""
    return lambda w, s, name: answer(
        w.client.get(route, params={"grid": w.villages[name]}, headers=s.headers), 200, (403,)
    )


def synced_grids(w, s, name):
    synced = w.client.get("/api/sync/grids", params={"since": NO_CHANGES}, headers=s.headers)
    return w.villages[name] in ok_json(synced)["codes"]


def notified(w, s, name):
    """The event stream sends a case change to a connection when ``sees_notification`` says so, for the
    scope taken when the stream opens (``scope_of``); here on the payload the database's trigger sends."""
    case = case_of(w, name)
    payload = {
        "grid_path": str(case.grid_path),
        "reporter_id": case.reporter_id,
        "task_assignee_id": case.task_assignee_id,
        "departments": sorted({d.department_id for d, _ in queries.dispatches(db=w.db, case=case)}),
    }
    principal = Principal.of(w.db.get(User, s.user_id))  # as the stream loads it
    return sees_notification(scope_of(db=w.db, principal=principal), payload)


def has(*roles_: str) -> Callable[[Subject], bool]:
    return lambda s: s.principal.has(*roles_, "admin")


def contacts(s: Subject) -> bool:
    """Those who may see a caller in full (not the administrators)."""
    return s.principal.has(*CONTACTS)


def revealed(w, s, name):
    resp = w.client.post(f"/api/cases/{case_of(w, name).code}/caller", headers=s.headers)
    return answer(resp, 409, (404,))


def grid_bound(s: Subject) -> bool:
    """Bound to grids (not city-wide, not a department): what sync/grids lists."""
    return not s.principal.has("admin", "department") and s.sees != {"here", "there"}


@dataclass(frozen=True)
class Probe:
    seen: Callable[[World, Subject], object]  # what the route shows the subject of the two cases
    applies: Callable[[Subject], bool] = lambda s: True  # the subjects the route is for
    expect: Callable[[frozenset[str]], object] = lambda sees: sees  # from what the subject must see


SCOPE_PROBES: dict[tuple[str, str], Probe] = {
    ("GET", "/api/cases"): Probe(seen_each(listed)),
    ("GET", "/api/cases/queues"): Probe(overdue_count, has(*WATCHERS), len),
    ("GET", "/api/cases/search"): Probe(seen_each(searched)),
    ("GET", "/api/cases/bbox"): Probe(seen_each(in_bbox)),
    ("GET", "/api/cases/{code}"): Probe(seen_each(detail(""))),
    ("GET", "/api/cases/{code}/duplicates"): Probe(seen_each(detail("/duplicates"))),
    ("GET", "/api/cases/{code}/departments"): Probe(seen_each(detail("/departments"))),
    ("GET", "/api/cases/{code}/dispatch-advice"): Probe(
        seen_each(detail("/dispatch-advice")), has("dispatcher", "shift_lead")
    ),
    # a case with no caller: 409 when seen
    ("POST", "/api/cases/{code}/caller"): Probe(seen_each(revealed), contacts),
    ("GET", "/api/cases/{code}/caller/cases"): Probe(seen_each(detail("/caller/cases")), contacts),
    ("GET", "/api/cases/{code}/caller/reveals"): Probe(seen_each(detail("/caller/reveals")), has("leader")),
    **{("POST", f"/api/cases/{{code}}/actions/{name}"): Probe(seen_each(action(name))) for name in ACTIONS},
    ("GET", "/api/photos/{photo_id}/{variant}"): Probe(seen_each(photo_of)),
    ("GET", "/api/sync/grids"): Probe(seen_each(synced_grids), grid_bound),
    ("GET", "/api/events/stream"): Probe(seen_each(notified)),
    ("GET", "/api/review"): Probe(seen_each(by_grid("/api/review")), has(*REVIEWERS)),
    ("GET", "/api/review/assignments"): Probe(seen_each(by_grid("/api/review/assignments")), has(*REVIEWERS)),
    # A department's dashboard is its own department's, whatever the grid: by grid for the others.
    ("GET", "/api/stats/dashboard"): Probe(
        seen_each(by_grid("/api/stats/dashboard")),
        lambda s: has(*DASHBOARD)(s) and not s.principal.has("department"),
    ),
    ("GET", "/api/forecasts"): Probe(
        seen_each(by_grid("/api/forecasts")),
        lambda s: has(*DASHBOARD)(s) and not s.principal.has("department"),
    ),
    ("GET", "/tiles/cases/{z}/{x}/{y}.mvt"): Probe(seen_each(in_tile)),
}


def test_every_scoped_route_has_a_probe():
    scoped = {route for route, rule in RULES.items() if rule.scoped}
    assert scoped == set(SCOPE_PROBES), (
        sorted(scoped - set(SCOPE_PROBES)),
        sorted(set(SCOPE_PROBES) - scoped),
    )


@pytest.mark.parametrize(("method", "path"), list(SCOPE_PROBES), ids=[f"{m} {p}" for m, p in SCOPE_PROBES])
def test_each_user_sees_exactly_its_scope(world, method, path):
    """Grid heads and inspectors with an assignment in force, ended yesterday, or scheduled to end; command
    center and leaders with a home grid; a leader without one; a department user; an administrator: each
    sees "here" (历下区) and "there" (市中区) exactly as its scope says."""
    probe = SCOPE_PROBES[(method, path)]
    wrong = []
    for subject in world.subjects:
        if not probe.applies(subject):
            continue
        want = probe.expect(subject.sees)
        try:
            got = probe.seen(world, subject)
        except AssertionError as exc:
            wrong.append(f"{subject.name}: {exc}")
            continue
        if got != want:
            wrong.append(
                f"{subject.name}: sees {sorted(got) if isinstance(got, frozenset) else got}, "
                f"must see {sorted(want) if isinstance(want, frozenset) else want}"
            )
    assert not wrong, f"{method} {path}:\n" + "\n".join(wrong)
