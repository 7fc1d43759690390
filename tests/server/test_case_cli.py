"""``gridops cases ...`` and ``gridops calendar due`` as real processes on a clone of the demo city."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from server import messages
from server.case.flows import ACTIONS
from server.case.models import Case, CaseEvent
from server.database import get_engine, new_session
from tests.server.case_world import DISTRICT, jpeg, make_user, village_point
from tests.server.test_cli import gridops, said


@pytest.fixture
def env(demo_clone_url) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": demo_clone_url, "COLUMNS": "200"}


def test_report_act_photo_show_list_sweep(env, demo_clone_url, tmp_path):
    with new_session(demo_clone_url) as db:
        village, lon, lat = village_point(db)
        inspector = make_user(db, ["inspector"], inspects=village).user.phone
        lead = make_user(db, ["shift_lead", "dispatcher"], grid=DISTRICT).user.phone
    get_engine(demo_clone_url).dispose()

    args = ["--category", "E06010", "--lon", str(lon), "--lat", str(lat), "--description", "垃圾", "--as"]
    reported = gridops(
        "cases", "report", *args, inspector, "--uuid", "1c3f6a3e-6d1b-4f59-9f3c-0d9e5b1a2c44", env=env
    )
    code = reported.stdout.strip()
    assert code.startswith(f"{DISTRICT}-") and "新案件" in reported.stderr
    again = gridops(
        "cases", "report", *args, inspector, "--uuid", "1c3f6a3e-6d1b-4f59-9f3c-0d9e5b1a2c44", env=env
    )
    assert again.stdout.strip() == code and "已经收到过" in again.stderr

    photo = tmp_path / "before.jpg"
    photo.write_bytes(jpeg(lon, lat))
    added = gridops("cases", "photo", code, str(photo), "--as", inspector, env=env)
    assert "已添加为处置前照片" in added.stderr

    refused = gridops("cases", "act", code, "dispatch", "--as", inspector, env=env, check=False)
    dispatch = ACTIONS["dispatch"]
    needs = messages.text(
        "case.role_required", action=dispatch.label, roles=messages.role_names(dispatch.roles)
    )
    assert refused.returncode == 1 and said(needs, refused.stderr), refused.stderr
    assert "已立案，现在待派遣" in gridops("cases", "act", code, "file", "--as", lead, env=env).stderr
    dispatched = gridops("cases", "act", code, "dispatch", "--as", lead, env=env)
    assert "已派遣，现在处置中" in dispatched.stderr

    shown = gridops("cases", "show", code, "--as", lead, env=env).stdout
    assert code in shown and "处置中" in shown
    for entry in ("上报", "上传照片", "立案（file）", "派遣（dispatch）"):
        assert f" {entry} " in shown
    assert "现在可以办理" in shown and "挂账（suspend）" in shown

    listed = gridops("cases", "list", "--state", "dispatched", "--as", lead, env=env).stdout
    assert code in listed.split()

    swept = gridops("cases", "sweep", env=env)
    assert "个超期案件已督办" in swept.stderr
    with new_session(demo_clone_url) as db:
        case = db.scalar(select(Case).where(Case.code == code))
        actions = list(db.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case.id)))
    assert actions[:4] == ["report", "add_photo", "file", "dispatch"]


def test_calendar_due_over_the_national_day_week(env):
    out = gridops("calendar", "due", "2026-09-30 16:00", "1d", env=env).stdout
    assert out.startswith("2026-10-08T16:00:00+08:00")
