"""`gridops demo load` into a fresh database: two cities (济南市, 北京市), each whose people see only its own
cases and grids, and a platform administrator who works in both; a second load adds nothing."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from server.auth.models import User
from server.case.models import Case
from server.database import get_engine, new_session
from server.grid.models import Grid
from server.tenant import City, use_cities
from tests.conftest import api_client
from tests.server.test_admin_api import log_in
from tests.server.test_auth import bearer
from tests.server.test_cli import gridops

BEIJING = {"X-GridOps-City": "110100"}


@pytest.fixture(scope="module")
def loaded(pg_cluster, template_db) -> Iterator[tuple[str, dict[str, str]]]:
    """A database the demo was loaded into once, with the environment of the command that loaded it."""
    name = f"cities_{uuid.uuid4().hex[:12]}"
    url = pg_cluster.ensure_database(name, template=template_db)
    env = {**os.environ, "DATABASE_URL": url, "COLUMNS": "200"}
    gridops("demo", "load", env=env)
    yield url, env
    get_engine(url).dispose()
    pg_cluster.drop_database(name)


def counts(url: str) -> dict[str, int]:
    """Rows of every city: cities, users, current and past grids, cases."""
    with new_session(url) as db:
        use_cities(db, db.scalars(select(City.id)).all(), None)
        return {
            model.__name__: db.scalar(select(func.count()).select_from(model))
            for model in (City, User, Grid, Case)
        }


def case_codes(client, headers) -> set[str]:
    answer = client.get("/api/cases", params={"limit": 500}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["total"] == len(answer.json()["items"])
    return {case["code"] for case in answer.json()["items"]}


def test_two_cities_each_sees_its_own_and_the_platform_both(loaded):
    url, _ = loaded
    with new_session(url) as db, api_client(db) as client:
        jinan = bearer(log_in(client, "zhaomin"))
        beijing = bearer(log_in(client, "zhoujing"))
        platform = bearer(log_in(client, "platform"))

        jinan_cases, beijing_cases = case_codes(client, jinan), case_codes(client, beijing)
        assert jinan_cases and all(code.startswith("370102-") for code in jinan_cases)
        assert len(beijing_cases) == 12 and all(code.startswith("110101-") for code in beijing_cases)
        assert client.get("/api/grids/370100", headers=jinan).status_code == 200
        assert client.get("/api/grids/110100", headers=jinan).status_code == 404
        assert client.get("/api/grids/110100", headers=beijing).status_code == 200
        assert client.get("/api/grids/370100", headers=beijing).status_code == 404
        assert client.get("/api/cities", headers=beijing).json() == [
            {"code": "110100", "name": "北京市", "current": True}
        ]

        cities = client.get("/api/cities", headers=platform).json()
        assert [(c["code"], c["name"], c["current"]) for c in cities] == [
            ("370100", "济南市", True),
            ("110100", "北京市", False),
        ]
        assert case_codes(client, platform) == jinan_cases
        assert case_codes(client, {**platform, **BEIJING}) == beijing_cases
        assert client.get("/api/cities", headers={**platform, **BEIJING}).json()[1]["current"] is True
        overview = client.get("/api/cities/overview", headers=platform)
        assert overview.status_code == 200, overview.text
        figures = {city["code"]: city for city in overview.json()}
        assert set(figures) == {"370100", "110100"}
        assert figures["110100"]["open"] == 12  # reported, none closed
        assert 0 < figures["370100"]["open"] < len(jinan_cases)


def test_a_second_load_adds_nothing(loaded):
    url, env = loaded
    before = counts(url)
    assert before["City"] == 2
    again = gridops("demo", "load", env=env)
    for city in ("济南市：", "北京市："):
        assert city in again.stderr
    assert "演示案件：新增 0 件" in again.stderr and "新增 0 个用户" in again.stderr
    assert counts(url) == before
