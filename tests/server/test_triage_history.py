"""The triage suggester on the demo city's synthetic history (60 days, the colloquial descriptions of
server/case/history.py): the model beats both baselines on the newest cases held out; the commands train,
list, roll back and evaluate; the day's job trains a city whose model is due, and only then."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from server.case import history
from server.database import new_session
from server.stats import service as stats_service
from server.triage import evaluate, service
from server.triage.models import TriageModel
from tests.conftest import demo_clone
from tests.server.test_cli import gridops, said

NOW = datetime(2026, 11, 30, 20, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
DAYS = 60


@pytest.fixture(scope="module")
def city(pg_cluster, demo_engine, owner_url):
    """A clone of the demo city with a 60-day history; its URL."""
    with demo_clone(pg_cluster, demo_engine, prefix="triage") as url:
        with new_session(owner_url(url)) as db:
            history.generate(db=db, days=DAYS, seed=11, now=NOW)
            stats_service.rebuild(db=db)
        yield url


def test_the_model_beats_both_baselines_on_the_newest_cases(city):
    with new_session(city) as db:
        result = evaluate.run(db=db, held_out=0.1)
    s = result.scores
    assert s.held_out > 1000 and s.with_department > 500
    for what in ("category", "department"):
        for k in (1, 3):
            ours, rows = s.rate("model", what, k), result.rows()
            assert ours > s.rate("grid", what, k) and ours > s.rate("keywords", what, k), (what, k, rows)
    assert s.rate("model", "category", 3) > 0.9
    assert "| 本系统模型 |" in result.markdown()


def test_the_commands_train_list_roll_back_and_evaluate(city, tmp_path):
    env = {**os.environ, "DATABASE_URL": city, "COLUMNS": "200"}

    def run(*args: str) -> str:  # what the command told the operator (on stderr: stdout is for data)
        done = gridops("triage", *args, env=env)
        return done.stdout + done.stderr

    assert said("已训练并启用分拣模型第 1 版", run("train", "--note", "首次"))
    refused = gridops("triage", "rollback", env=env, check=False)
    assert refused.returncode == 1 and said("没有可回退的版本", refused.stderr)
    run("train")
    assert said("已回退到分拣模型第 1 版", run("rollback"))
    listed = run("versions")
    assert "首次" in listed and "命令行" in listed
    table = tmp_path / "triage.md"
    evaluated = run("evaluate", "--markdown", str(table))
    assert said("基线：仅关键词匹配", evaluated) and said("类别 top-1", evaluated)
    assert table.read_text(encoding="utf-8").count("| 基线") == 2
    with new_session(city) as db:
        assert [(r.version, r.active) for r in service.versions(db=db)] == [(2, False), (1, True)]


def test_the_days_job_trains_a_city_whose_model_is_due(city, setting):
    with new_session(city) as db:
        before = {r.version for r in service.versions(db=db)}
        assert service.retrain_if_due(db) is None or not before  # a fresh model is not due
        db.execute(update(TriageModel).values(trained_at=datetime.now(UTC) - timedelta(days=8)))
        db.commit()
        setting("GRIDOPS_TRIAGE_RETRAIN_DAYS", "0")
        assert service.retrain_if_due(db) is None  # by hand only
        setting("GRIDOPS_TRIAGE_RETRAIN_DAYS", "7")
        row = service.retrain_if_due(db)
        assert row is not None and row.active and row.trained_by == service.SCHEDULE
        assert service.retrain_if_due(db) is None
