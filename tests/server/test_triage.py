"""The triage suggester (server/triage): the model is scikit-learn's multinomial naive Bayes kept sparse; a
city's first suggestions come from its taxonomy; training learns the final category and department of the
closed cases (after a reclassification, after a return); versions are kept and rolled back; duplicates
are recent, near and alike; the routes are documented, limited and authorized."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from sklearn.naive_bayes import MultinomialNB
from sqlalchemy import select, update

from server.case.models import Case
from server.case.states import State
from server.errors import NotFound
from server.triage import model as triage_model
from server.triage import service
from server.triage.model import Doc, Example
from server.triage.models import TriageModel
from server.triage.schemas import SuggestIn
from tests.server.case_world import act, report, village_point
from tests.server.test_case_transitions import ADMIN, advance

WORDS = {  # category: how people in this test city say it
    "E06010": ["门口垃圾堆成小山了", "楼后面垃圾没人收", "垃圾袋丢得满地都是"],
    "E08001": ["半夜工地还在打桩", "凌晨还有机器轰轰响", "工地夜里施工吵死了"],
    "E01037": ["路灯一到晚上就不亮", "这条街黑灯瞎火的", "灯杆上的灯坏了好几天"],
}


def test_the_model_scores_as_scikit_learns_multinomial_naive_bayes():
    rng = np.random.default_rng(3)
    texts = [(t, c) for c, said in WORDS.items() for t in said]
    examples = [Example(Doc(t + "。" * int(rng.integers(0, 3))), c) for t, c in texts * 5]
    model = triage_model.train(examples)
    x = model.vector([e.doc for e in examples])[:, np.flatnonzero(model.kept)]
    theirs = MultinomialNB(alpha=triage_model.ALPHA).fit(x, [e.category for e in examples])
    ours = model.categories.log_scores(model.vector([e.doc for e in examples]))
    ours -= np.log(np.exp(ours - ours.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True)) + ours.max(
        axis=1, keepdims=True
    )
    assert list(theirs.classes_) == model.categories.classes
    assert np.allclose(theirs.predict_log_proba(x), ours, atol=1e-3)
    again = triage_model.Model.from_bytes(model.to_bytes())
    assert [s.code for s in again.suggest(Doc("工地半夜打桩"), 3)] == [
        s.code for s in model.suggest(Doc("工地半夜打桩"), 3)
    ]


def test_a_city_with_no_closed_cases_gets_suggestions_from_its_taxonomy(demo_db):
    found = service.suggest(db=demo_db, data=SuggestIn(text="小区门口有辆车违停，堵住了出口"))
    assert found.model_version is None
    top = found.categories[0]
    assert (top.code, top.name) == ("E09009", "机动车乱停放")  # by its alias 违停
    assert "违停" in top.words and top.department is not None
    assert found.urgency.code == top.urgency
    ten = service.suggest(db=demo_db, data=SuggestIn(text="乱停车", k=10)).categories
    assert len(ten) == 10 and ten[0].score >= ten[-1].score and sum(c.score for c in ten) <= 1.0001


def closed(db, category: str, text: str, where: tuple[float, float], *, to: str | None = None) -> Case:
    """A hotline case said in ``text``, filed under ``category``, reclassified to ``to`` when given, and
    closed."""
    case = report(db, ADMIN, *where, category=category, description=text, channel="hotline")
    if to:
        act(db, ADMIN, case, "reclassify", category=to, reason="来电所说实为另一类")
    return advance(db, case, State.CLOSED)


def test_training_learns_the_final_category_and_the_words_of_the_city(demo_db):
    db = demo_db
    where = village_point(db)[1:]
    for category, said in WORDS.items():
        for text in said:
            closed(db, category, text, where)
    # the operators first took 黑灯瞎火 for street lamps (its alias 黑灯); it was the power line
    for _ in range(4):
        closed(db, "E01037", "小区里黑灯瞎火，整栋楼都没电", where, to="E10004")
    before = service.suggest(db=db, data=SuggestIn(text="楼里黑灯瞎火的，没电了"))
    row = service.train(db=db, trained_by="测试")
    assert (row.version, row.active, row.cases) == (1, True, 13)
    found = service.suggest(db=db, data=SuggestIn(text="楼里黑灯瞎火的，没电了", lon=where[0], lat=where[1]))
    assert (before.model_version, before.categories[0].code) == (None, "E01037")
    assert found.model_version == 1
    assert found.categories[0].code == "E10004"
    assert "黑灯瞎火" in found.categories[0].words  # raised to it by the cases, above its lamp alias
    noise = service.suggest(db=db, data=SuggestIn(text="工地凌晨打桩，吵得睡不着"))
    assert noise.categories[0].code == "E08001"


def test_departments_are_learned_from_where_the_cases_were_finally_handled(demo_db):
    db = demo_db
    where = village_point(db)[1:]
    for _ in range(6):  # 商业噪声扰民 goes to city enforcement, who return it; the street office handles it
        case = report(
            db, ADMIN, *where, category="E09015", description="楼下商铺喇叭天天放歌", channel="hotline"
        )
        advance(db, case, State.DISPATCHED)
        act(db, ADMIN, case, "receive")
        act(db, ADMIN, case, "return", reason="属街道管理范围")
        act(db, ADMIN, case, "dispatch", lead_department="subdistrict", reason="改由街道处置")
        advance(db, case, State.CLOSED)
    service.train(db=db, trained_by="测试")
    category_id = db.scalar(select(Case.category_id).where(Case.id == case.id))
    shares = dict(service.likely_departments(db=db, category_id=category_id, district_code="370102"))
    assert shares == {"subdistrict": 1.0}
    found = service.suggest(db=db, data=SuggestIn(text="商铺的喇叭放歌太吵了", lon=where[0], lat=where[1]))
    assert found.categories[0].code == "E09015"
    assert found.categories[0].department.code == "enforcement"  # what the configuration says
    assert found.departments[0].code == "subdistrict"  # what the city's cases say


def test_versions_are_kept_and_rolled_back(demo_db, setting):
    setting("GRIDOPS_TRIAGE_KEEP_VERSIONS", "2")
    db = demo_db
    for _ in range(3):
        service.train(db=db, trained_by="测试")
    assert [(r.version, r.active) for r in service.versions(db=db)] == [(3, True), (2, False)]
    assert service.roll_back(db=db).version == 2
    with pytest.raises(NotFound):
        service.roll_back(db=db)
    assert service.activate(db=db, version=3).active
    assert db.scalar(select(TriageModel.version).where(TriageModel.active)) == 3
    with pytest.raises(NotFound):
        service.activate(db=db, version=1)


def test_duplicates_are_recent_nearby_cases_that_say_much_the_same(demo_db):
    db = demo_db
    _, lon, lat = village_point(db)
    _, far_lon, far_lat = village_point(db, index=5)
    same = report(db, ADMIN, lon, lat, description="小区门口垃圾堆了三天没人清", channel="hotline")
    report(db, ADMIN, lon, lat, description="路灯坏了", channel="hotline", category="E01037")
    report(db, ADMIN, far_lon, far_lat, description="小区门口垃圾堆了三天没人清", channel="hotline")
    old = report(db, ADMIN, lon, lat, description="小区门口垃圾堆了三天没人清", channel="hotline")
    db.execute(update(Case).where(Case.id == old.id).values(received_at=datetime(2026, 1, 1, tzinfo=UTC)))
    found = service.suggest(db=db, data=SuggestIn(text="门口的垃圾堆了好几天了没人清理", lon=lon, lat=lat))
    assert [d.code for d in found.duplicates] == [same.code]
    assert found.duplicates[0].distance_m < 1 and found.duplicates[0].state_label
    assert service.suggest(db=db, data=SuggestIn(text="门口的垃圾堆了好几天")).duplicates == []  # no place


def test_the_suggest_routes(demo_client, demo_db, admin_headers):
    c = demo_client
    assert c.post("/api/triage/suggest", json={"text": "井盖没了"}).status_code == 401
    ok = c.post("/api/triage/suggest", json={"text": "井盖没了，晚上很危险"}, headers=admin_headers)
    assert ok.status_code == 200 and ok.json()["categories"][0]["name"].endswith("井盖缺失破损")
    for bad in ({"text": ""}, {"text": "字" * 2001}, {"text": "井盖", "k": 11}, {"text": "井盖", "lon": 200}):
        answer = c.post("/api/triage/suggest", json=bad, headers=admin_headers)
        assert answer.status_code == 422, bad
    public = c.post("/api/public/triage", json={"text": "路边有人摆摊卖水果，占了半条路"})
    assert public.status_code == 200
    first = public.json()["categories"][0]
    assert (first["code"], first["label"]) == ("E09006", "占道经营摊贩")  # the public form's own words
    assert c.post("/api/triage/train", json={}).status_code == 401
    trained = c.post("/api/triage/train", json={"note": "上线前"}, headers=admin_headers)
    assert (
        trained.status_code == 200 and trained.json()["version"] == 1 and trained.json()["note"] == "上线前"
    )
    assert c.post("/api/triage/models/9/activate", headers=admin_headers).status_code == 404
    assert [m["version"] for m in c.get("/api/triage/models", headers=admin_headers).json()] == [1]
