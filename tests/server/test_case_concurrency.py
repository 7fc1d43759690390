"""Intake under concurrency, against a live server: uvicorn in its own process on 127.0.0.1 over a clone of
the demo city, an inspector logged in over HTTP, many clients posting at the same moment."""

from __future__ import annotations

import re
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select

from server import messages
from server.case.models import Case
from server.database import get_engine, new_session
from tests.server.case_world import DISTRICT, PASSWORD, make_user, village_point
from tests.server.live import live_server

THREADS = 16
REQUEST_SECONDS = 60  # bounds every request, the start barrier and every thread
OUTSIDE = (100.0, 30.0)  # a valid position far from the demo city
CODE = re.compile(rf"^{DISTRICT}-(\d{{8}})-(\d{{4}})$")
# The whole answer to a client UUID already used for other content: nothing of the case it made.
TAKEN = {"detail": messages.text("case.client_uuid_taken"), "code": "case.client_uuid_taken", "params": {}}


@dataclass(frozen=True)
class Live:
    url: str
    headers: dict[str, str]
    points: list[tuple[float, float]]  # one point in each of THREADS villages of 历下区
    database_url: str


@pytest.fixture
def live(demo_clone_url, tmp_path) -> Iterator[Live]:
    """The app on a clone of the demo city, served on loopback, and an inspector of a 历下区 village
    logged in through it."""
    with new_session(demo_clone_url) as db:
        points = [village_point(db, DISTRICT, i) for i in range(THREADS)]
        inspector = make_user(db, ["inspector"], inspects=points[0][0])
        phone = inspector.user.phone
    get_engine(demo_clone_url).dispose()

    with live_server(demo_clone_url, tmp_path / "server.log") as server:
        body = {"login": phone, "password": PASSWORD, "device_id": "concurrency-test", "device_name": "test"}
        resp = httpx.post(f"{server.url}/api/auth/login", json=body, timeout=REQUEST_SECONDS)
        assert resp.status_code == 200, resp.text
        headers = {"Authorization": f"Bearer {resp.json()['access_token']}"}
        yield Live(server.url, headers, [(lon, lat) for _, lon, lat in points], demo_clone_url)


def together(live: Live, work: Callable[[int, httpx.Client], list[httpx.Response]]) -> list[list]:
    """Run ``work(i, client)`` in THREADS threads, each with its own connected client, released at the
    same moment; the responses of each thread."""
    barrier = threading.Barrier(THREADS, timeout=REQUEST_SECONDS)

    def run(i: int) -> list[httpx.Response]:
        with httpx.Client(base_url=live.url, headers=live.headers, timeout=REQUEST_SECONDS) as client:
            client.get("/health").raise_for_status()  # the connection is open before the start
            barrier.wait()
            return work(i, client)

    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(run, i) for i in range(THREADS)]
        return [f.result(timeout=REQUEST_SECONDS * 3) for f in futures]


def report(live: Live, i: int = 0, **fields) -> dict:
    lon, lat = live.points[i % len(live.points)]
    return {"client_uuid": str(uuid.uuid4()), "category": "E06010", "lon": lon, "lat": lat, **fields}


def stored(live: Live) -> list[str]:
    with new_session(live.database_url) as db:
        codes = list(db.scalars(select(Case.code)))
        assert db.scalar(select(func.count()).select_from(Case)) == len(codes)
    get_engine(live.database_url).dispose()
    return codes


def test_concurrent_duplicate_posts_make_one_case(live):
    body = report(live, description="同一上报并发重试")
    answers = [r for rs in together(live, lambda i, c: [c.post("/api/cases", json=body)]) for r in rs]
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] * (THREADS - 1) + [201], [r.text for r in answers]
    assert len({r.json()["code"] for r in answers}) == 1
    assert stored(live) == [answers[0].json()["code"]]


def test_one_uuid_with_other_content_at_the_same_moment_is_refused(live):
    bodies = [report(live, description="第一版"), report(live, description="第二版")]
    bodies[1]["client_uuid"] = bodies[0]["client_uuid"]
    answers = [resp for (resp,) in together(live, lambda i, c: [c.post("/api/cases", json=bodies[i % 2])])]
    created = [i for i, resp in enumerate(answers) if resp.status_code == 201]
    assert len(created) == 1, [r.text for r in answers]
    winner = created[0] % 2  # the content that made the case; the other content is refused
    code = answers[created[0]].json()["code"]
    assert answers[created[0]].json()["description"] == bodies[winner]["description"]
    for i, resp in enumerate(answers):
        if i % 2 == winner:
            assert resp.status_code in (200, 201) and resp.json()["code"] == code, resp.text
        else:
            assert resp.status_code == 409, resp.text
            assert resp.json() == TAKEN
    assert stored(live) == [code]


def test_codes_stay_gap_free_under_concurrent_intake_and_failures(live):
    per_thread = 10

    def work(i: int, client: httpx.Client) -> list[httpx.Response]:
        answers = []
        for k in range(per_thread):
            answers.append(client.post("/api/cases", json=report(live, i, description=f"{i}-{k}")))
            if k % 3 == 1:  # a refused report between accepted ones: unknown category, or off the map
                refused = {"category": "X99999"} if i % 2 else dict(zip(("lon", "lat"), OUTSIDE, strict=True))
                answers.append(client.post("/api/cases", json=report(live, i, **refused)))
        return answers

    answers = [r for rs in together(live, work) for r in rs]
    created = [r for r in answers if r.status_code == 201]
    refused = [r for r in answers if r.status_code != 201]
    assert len(created) == THREADS * per_thread, [r.text for r in refused]
    assert sorted(r.status_code for r in refused) == [404] * (THREADS * 3 // 2) + [422] * (THREADS * 3 // 2)
    assert all(r.json()["code"] == "case.outside_city" for r in refused if r.status_code == 422)

    codes = [r.json()["code"] for r in created]
    assert sorted(codes) == sorted(stored(live))
    numbers_by_day = defaultdict(list)  # a run across local midnight starts a new day at 1
    for code in codes:
        day, number = CODE.fullmatch(code).groups()
        numbers_by_day[day].append(int(number))
    for numbers in numbers_by_day.values():
        assert sorted(numbers) == list(range(1, len(numbers) + 1))
