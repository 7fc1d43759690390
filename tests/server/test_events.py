"""The live stream of case changes and inspectors' positions: a real server on loopback over a fresh
database, users logged in through the API, cases reported and acted on and track points uploaded through
the API; and the listener's own behaviour."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from grids.loaders import load_features
from server.auth.schemas import UserCreate
from server.category import service as category_service
from server.database import get_engine, new_session
from server.events.listener import (
    APPLICATION_NAME,
    CASE_CHANNEL,
    OVERFLOW,
    READY,
    Listener,
    Notice,
)
from server.events.views import POSITION_FIELDS
from server.grid import importer as grid_importer
from server.grid import people as grid_people
from server.patrol.service import POSITION_CHANNEL
from server.users import service as user_service
from tests.conftest import ADMIN_TOKEN
from tests.server.grid_files import city_features, collection
from tests.server.live import live_server

PASSWORD = "stream-pass-1"
WEST = (117.005, 36.61)  # in district 370102
EAST = (117.035, 36.61)  # in district 370103
READ_SECONDS = 10  # bounds every read of a stream (the server's heartbeat is every 15 s)
EVENT_SECONDS = 20  # bounds the wait for one expected event


# -- a server on loopback ---------------------------------------------------------------------------


@contextmanager
def serving(database_url: str, log, **settings: str) -> Iterator[str]:
    """The app served on loopback on ``database_url`` with more ``settings``; it must stop cleanly."""
    with live_server(database_url, log, **settings) as server:
        yield server.url
    # uvicorn ends a graceful shutdown by re-raising the signal it received.
    assert server.exit_code == -signal.SIGTERM and "Application shutdown complete" in server.output(), (
        f"not a clean stop:\n{server.output()}"
    )


@pytest.fixture
def live_url(fresh_db_url, tmp_path) -> Iterator[str]:
    """The app served on loopback on the fresh database."""
    with serving(fresh_db_url, tmp_path / "server.log") as url:
        yield url


def setup_city(url: str, users: dict[str, str | None], inspectors: dict[str, str] | None = None) -> None:
    """Grids (a city of two districts), the starter taxonomy, acceptor/shift-lead users with passwords,
    each bound to a grid: ``{phone: grid code}``, and inspectors assigned to a grid each."""
    records, report = load_features(collection(city_features()))
    with new_session(url) as db:
        assert grid_importer.import_grids(db=db, records=records, report=report).report.ok
        category_service.load_starter(db=db)
        for phone, grid in users.items():
            data = UserCreate(
                name=f"值班{phone[-2:]}",
                phone=phone,
                roles=["acceptor", "shift_lead"],
                grid_code=grid,
                password=PASSWORD,
            )
            user_service.create_user(db=db, data=data)
        for phone, grid in (inspectors or {}).items():
            data = UserCreate(name=f"巡查{phone[-2:]}", phone=phone, roles=["inspector"], password=PASSWORD)
            user = user_service.create_user(db=db, data=data)
            grid_people.assign(db=db, grid_code=grid, user=user, role="inspector")
    get_engine(url).dispose()


def login(http: httpx.Client, phone: str) -> str:
    body = {"login": phone, "password": PASSWORD, "device_id": f"test-{phone}"}
    resp = http.post("/api/auth/login", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def report(http: httpx.Client, token: str, where: tuple[float, float]) -> dict:
    body = {"client_uuid": str(uuid.uuid4()), "category": "E06010", "lon": where[0], "lat": where[1]}
    resp = http.post("/api/cases", json=body, headers=bearer(token))
    assert resp.status_code == 201, resp.text
    return resp.json()


# -- reading a stream -------------------------------------------------------------------------------


class EventStream:
    """A ``text/event-stream`` read event by event: each event as its fields, comments skipped."""

    def __init__(self, response: httpx.Response) -> None:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        self.lines = response.iter_lines()

    def next(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        for line in self.lines:
            if not line:
                if fields:
                    return fields
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
        raise AssertionError("the stream ended")

    def until(self, wanted: Callable[[dict], bool]) -> tuple[dict, list[dict]]:
        """The first event ``wanted`` takes, and the events before it."""
        skipped = []
        deadline = time.monotonic() + EVENT_SECONDS
        while time.monotonic() < deadline:
            event = self.next()
            if wanted(event):
                return event, skipped
            skipped.append(event)
        raise AssertionError(f"no such event; got {skipped}")

    def case(self, code: str, state: str) -> tuple[dict, list[dict]]:
        """The next ``case`` event for case ``code`` in ``state`` (its data parsed), and the case codes
        of the case events before it."""
        event, skipped = self.until(lambda e: _is(e, code, state))
        return {**event, "data": json.loads(event["data"])}, [
            json.loads(e["data"])["code"] for e in skipped if e.get("event") == "case"
        ]


def _is(event: dict, code: str, state: str) -> bool:
    if event.get("event") != "case":
        return False
    data = json.loads(event["data"])
    return data["code"] == code and data["state"] == state


@contextmanager
def opened(http: httpx.Client, **request) -> Iterator[EventStream]:
    """A stream, checked to be live: ``retry`` first, then ``ready``."""
    with http.stream("GET", "/api/events/stream", **request) as response:
        stream = EventStream(response)
        assert stream.next() == {"retry": "3000"}
        assert stream.next() == {"event": "ready", "data": "{}"}
        yield stream


def client(base: str) -> httpx.Client:
    return httpx.Client(base_url=base, timeout=httpx.Timeout(READ_SECONDS))


# -- the stream, end to end -------------------------------------------------------------------------


def test_each_user_receives_the_changes_of_the_cases_in_its_scope(fresh_db_url, live_url):
    west_phone, east_phone = "13900000101", "13900000102"
    setup_city(fresh_db_url, {west_phone: "370102", east_phone: "370103"})
    with client(live_url) as http, ExitStack() as streams:
        west, east = login(http, west_phone), login(http, east_phone)
        west_stream = streams.enter_context(opened(http, headers=bearer(west)))
        east_stream = streams.enter_context(opened(http, params={"access_token": east}))

        west_case = report(http, west, WEST)
        event, _ = west_stream.case(west_case["code"], "reported")
        assert set(event["data"]) == {"code", "state", "version", "seq", "grid_path"}
        assert event["id"] == str(event["data"]["seq"])
        assert event["data"]["grid_path"].startswith("370100.370102.")

        east_case = report(http, east, EAST)
        _, before = east_stream.case(east_case["code"], "reported")
        assert west_case["code"] not in before  # the west case was never sent to the east user

        body = {"version": west_case["version"], "reason": "上报重复"}
        resp = http.post(f"/api/cases/{west_case['code']}/actions/void", json=body, headers=bearer(west))
        assert resp.status_code == 200, resp.text
        event, before = west_stream.case(west_case["code"], "voided")
        assert event["data"]["version"] == west_case["version"] + 1
        assert east_case["code"] not in before  # nor the east case to the west user


def test_positions_reach_the_streams_whose_scope_sees_the_inspector(fresh_db_url, live_url):
    west_phone, east_phone = "13900000111", "13900000112"
    west_inspector, east_inspector = "13900000121", "13900000122"
    setup_city(
        fresh_db_url,
        {west_phone: "370102", east_phone: "370103"},
        {west_inspector: "370102001", east_inspector: "370103002"},
    )
    began = datetime.now(UTC) - timedelta(minutes=1)
    with client(live_url) as http, ExitStack() as streams:
        west = streams.enter_context(opened(http, headers=bearer(login(http, west_phone))))
        east = streams.enter_context(opened(http, headers=bearer(login(http, east_phone))))
        city = streams.enter_context(opened(http, headers=bearer(ADMIN_TOKEN)))

        shifts = {}
        for phone in (west_inspector, east_inspector):
            token, shift = login(http, phone), str(uuid.uuid4())
            body = {"client_uuid": shift, "started_at": began.isoformat()}
            assert http.post("/api/patrol/shifts", json=body, headers=bearer(token)).status_code == 201
            shifts[phone] = (token, shift)

        def walk(phone: str, step: int) -> dict:
            """Upload a batch of two points; the position event it should cause (the newer point)."""
            token, shift = shifts[phone]
            points = [
                {
                    "recorded_at": (began + timedelta(seconds=10 * step + i)).isoformat(),
                    "lon": round((WEST if phone == west_inspector else EAST)[0] + 0.0001 * step, 7),
                    "lat": WEST[1],
                    "accuracy_m": 4.0 + i,
                }
                for i in range(2)
            ]
            resp = http.post(
                f"/api/patrol/shifts/{shift}/points", json={"points": points}, headers=bearer(token)
            )
            assert resp.status_code == 200 and resp.json()["stored"] == 2, resp.text
            newer = points[1] | {"recorded_at": datetime.fromisoformat(points[1]["recorded_at"])}
            user = {"user_id": resp.json()["shift"]["user_id"], "user_name": f"巡查{phone[-2:]}"}
            return {**user, "client_uuid": shift, **newer}

        sent = [walk(west_inspector, 1), walk(east_inspector, 1)]
        sent += [walk(west_inspector, 2), walk(east_inspector, 2)]

        def positions(stream: EventStream, count: int) -> list[dict]:
            """The data of the next ``count`` position events."""
            found = []
            for _ in range(count):
                data = json.loads(stream.until(lambda e: e.get("event") == "position")[0]["data"])
                assert set(data) == set(POSITION_FIELDS)
                found.append(data | {"recorded_at": datetime.fromisoformat(data["recorded_at"])})
            return found

        assert positions(city, 4) == sent
        assert positions(west, 2) == sent[0::2]  # the east inspector's first position never came
        assert positions(east, 2) == sent[1::2]  # nor any of the west inspector's


def test_the_stream_needs_a_valid_token(client):
    assert client.get("/api/events/stream").status_code == 401
    assert client.get("/api/events/stream", params={"access_token": "not-a-token"}).status_code == 401
    assert client.get("/api/events/stream", headers=bearer("not-a-token")).status_code == 401


def test_the_stream_goes_on_after_the_database_connection_is_killed(fresh_db_url, live_url, pg_cluster):
    setup_city(fresh_db_url, {})
    with client(live_url) as http, opened(http, headers=bearer(ADMIN_TOKEN)) as stream:
        first = report(http, ADMIN_TOKEN, WEST)
        stream.case(first["code"], "reported")

        conn = pg_cluster.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %s AND datname = %s",
                    (APPLICATION_NAME, make_url(fresh_db_url).database),
                )
                assert cur.fetchall() == [(True,)]
        finally:
            conn.close()

        stream.until(lambda e: e.get("event") == "ready")  # the listener is back: re-read lists
        second = report(http, ADMIN_TOKEN, EAST)
        stream.case(second["code"], "reported")


# -- the stream follows the login and the scope -------------------------------------------------------

NEVER = str(24 * 3600)  # a re-check interval no test reaches: only the end of a session can end a stream


def add_user(url: str, name: str, phone: str, roles: list[str]) -> int:
    with new_session(url) as db:
        data = UserCreate(name=name, phone=phone, roles=roles, password=PASSWORD)
        user_id = user_service.create_user(db=db, data=data).id
    get_engine(url).dispose()
    return user_id


def ended(stream: EventStream) -> list[dict]:
    """The events before the last one, which must be ``end`` saying what to do; the stream closes after."""
    event, before = stream.until(lambda e: e.get("event") == "end")
    assert "重新登录" in json.loads(event["data"])["message"]
    with pytest.raises(AssertionError, match="the stream ended"):
        stream.next()
    return before


def test_a_stream_ends_at_logout_and_carries_no_change_after_it(fresh_db_url, tmp_path):
    phone = "13900000131"
    setup_city(fresh_db_url, {}, {phone: "370102001"})
    with (
        serving(fresh_db_url, tmp_path / "server.log", GRIDOPS_EVENTS_RECHECK_SECONDS=NEVER) as url,
        client(url) as http,
    ):
        token = login(http, phone)
        with opened(http, params={"access_token": token}) as stream:
            mine = report(http, token, WEST)
            stream.case(mine["code"], mine["state"])

            assert http.post("/api/auth/logout", headers=bearer(token)).status_code == 200
            body = {"version": mine["version"], "reason": "上报重复"}
            resp = http.post(
                f"/api/cases/{mine['code']}/actions/void", json=body, headers=bearer(ADMIN_TOKEN)
            )
            assert resp.status_code == 200, resp.text
            assert all(e.get("event") != "case" for e in ended(stream))  # the void never reached it


def test_a_leaders_stream_gets_no_position_after_his_sessions_are_revoked(fresh_db_url, tmp_path):
    inspector_phone, leader_phone = "13900000141", "13900000142"
    setup_city(fresh_db_url, {}, {inspector_phone: "370102001"})
    leader_id = add_user(fresh_db_url, "领导甲", leader_phone, ["leader"])
    began = datetime.now(UTC) - timedelta(minutes=1)
    with (
        serving(fresh_db_url, tmp_path / "server.log", GRIDOPS_EVENTS_RECHECK_SECONDS=NEVER) as url,
        client(url) as http,
        opened(http, headers=bearer(login(http, leader_phone))) as stream,
    ):
        token, shift = login(http, inspector_phone), str(uuid.uuid4())
        body = {"client_uuid": shift, "started_at": began.isoformat()}
        assert http.post("/api/patrol/shifts", json=body, headers=bearer(token)).status_code == 201

        def walk(step: int) -> None:
            point = {
                "recorded_at": (began + timedelta(seconds=step)).isoformat(),
                "lon": WEST[0],
                "lat": WEST[1],
            }
            resp = http.post(
                f"/api/patrol/shifts/{shift}/points", json={"points": [point]}, headers=bearer(token)
            )
            assert resp.status_code == 200, resp.text

        walk(1)
        stream.until(lambda e: e.get("event") == "position")  # the leader sees the whole city

        admin = bearer(ADMIN_TOKEN)
        sessions = http.get("/api/auth/devices", params={"user_id": leader_id}, headers=admin).json()
        assert len(sessions) == 1
        assert http.post(f"/api/auth/devices/{sessions[0]['id']}/revoke", headers=admin).status_code == 200
        walk(2)
        assert all(e.get("event") != "position" for e in ended(stream))


def test_a_stream_takes_the_narrower_scope_at_the_next_recheck(fresh_db_url, tmp_path):
    """A grid head whose assignment ends (no session ends: no notice) loses the grid at the next re-check;
    the stream goes on with what is left (the head's own reports)."""
    phone = "13900000151"
    setup_city(fresh_db_url, {})
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    with new_session(fresh_db_url) as db:
        data = UserCreate(name="网格长甲", phone=phone, roles=["grid_head", "inspector"], password=PASSWORD)
        head = user_service.create_user(db=db, data=data)
        starts_on = today - timedelta(days=30)
        assignment_id = grid_people.assign(
            db=db, grid_code="370102", user=head, role="head", starts_on=starts_on
        ).id
    get_engine(fresh_db_url).dispose()
    with (
        serving(fresh_db_url, tmp_path / "server.log", GRIDOPS_EVENTS_RECHECK_SECONDS="0.2") as url,
        client(url) as http,
    ):
        token = login(http, phone)
        with opened(http, headers=bearer(token)) as stream:
            in_grid = report(http, ADMIN_TOKEN, WEST)
            stream.case(in_grid["code"], "reported")

            body = {"ends_on": (today - timedelta(days=1)).isoformat()}
            resp = http.post(f"/api/assignments/{assignment_id}/end", json=body, headers=bearer(ADMIN_TOKEN))
            assert resp.status_code == 200, resp.text

            def grid_case_comes() -> bool:
                """Whether a new case of the grid still comes, before the head's own report after it."""
                other = report(http, ADMIN_TOKEN, WEST)
                own = report(http, token, WEST)
                _, before = stream.case(own["code"], own["state"])
                return other["code"] in before

            deadline = time.monotonic() + EVENT_SECONDS
            while grid_case_comes():  # until the next re-check
                assert time.monotonic() < deadline, "the stream kept the grid of the ended assignment"
            assert not grid_case_comes()  # and from then on


# -- the listener -----------------------------------------------------------------------------------


def notify(url: str, payloads: list[str], channel: str = CASE_CHANNEL) -> None:
    with get_engine(url).begin() as conn:
        for payload in payloads:
            conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": channel, "p": payload})


def test_a_client_that_falls_behind_is_dropped_with_a_last_overflow(fresh_db_url):
    listener = Listener(fresh_db_url, queue_size=3)

    async def run() -> None:
        even = listener.subscribe(lambda notice: notice.payload["n"] % 2 == 0)

        async def get():
            return await asyncio.wait_for(even.get(), READ_SECONDS)

        try:
            assert await get() == READY
            # What is not a JSON object is skipped; the rest is filtered, in order, with its channel.
            notify(fresh_db_url, ["not json", "[1]"] + [json.dumps({"n": n}) for n in range(3)])
            assert [await get(), await get()] == [
                Notice(CASE_CHANNEL, {"n": 0}),
                Notice(CASE_CHANNEL, {"n": 2}),
            ]
            notify(fresh_db_url, [json.dumps({"n": n}) for n in (5, 4)], channel=POSITION_CHANNEL)
            assert await get() == Notice(POSITION_CHANNEL, {"n": 4})
            # Ten more in one commit, five of them wanted, unread: more than the queue holds.
            notify(fresh_db_url, [json.dumps({"n": n}) for n in range(10)])
            received = [await get()]
            while received[-1] != OVERFLOW:
                received.append(await get())
            assert len(received) <= 3 and all(
                item in (Notice(CASE_CHANNEL, {"n": n}) for n in range(0, 10, 2)) for item in received[:-1]
            )
            assert listener.subscriptions == 0
        finally:
            even.close()
            listener.stop()

    asyncio.run(run())
