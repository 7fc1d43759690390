"""The knowledge base (docs/DOMAIN.md section 5, "The knowledge base"): answer templates kept by shift leads,
searched by a caller's words, filled from a case, and the 答复办结 of a 咨询 that closes it in one step."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from server.case import replies
from server.case.models import CaseEvent
from server.case.states import State
from server.errors import Conflict, Invalid, NotFound
from server.knowledge import cli as answers_cli
from server.knowledge import service
from server.knowledge.models import AnswerTemplate
from server.knowledge.schemas import AnswerTemplateIn
from server.public import service as public
from tests.server.case_world import DISTRICT, act, make_user, report, village_point
from tests.server.test_case_http import login


@pytest.fixture
def desk(demo_db, demo_client) -> dict:
    _, lon, lat = village_point(demo_db)
    acceptor = make_user(demo_db, ["acceptor"], grid=DISTRICT)
    lead = make_user(demo_db, ["shift_lead"], grid=DISTRICT)
    return {
        "db": demo_db, "lon": lon, "lat": lat, "acceptor": acceptor, "lead": lead,
        "as_acceptor": login(demo_client, acceptor), "as_lead": login(demo_client, lead),
    }  # fmt: skip


def add(db, title: str, body: str = "您好，{来电人}。", **kw) -> AnswerTemplate:
    return service.create(db=db, data=AnswerTemplateIn(title=title, body=body, **kw))


def test_shift_leads_keep_templates_and_the_desk_reads_them(desk, demo_client):
    new = {"title": "井盖归属", "question": "井盖坏了归谁管", "body": "{来电人}您好，案件{案件编号}已登记。",
           "category": "E01002", "request_type": "consult"}  # fmt: skip
    refused = demo_client.post("/api/answers", json=new, headers=desk["as_acceptor"])
    assert refused.status_code == 403
    made = demo_client.post("/api/answers", json=new, headers=desk["as_lead"])
    assert made.status_code == 201, made.text
    one = made.json()
    assert (one["category_name"], one["request_type_name"], one["use_count"]) == (
        "污水井盖缺失破损",
        "咨询",
        0,
    )
    changed = demo_client.patch(
        f"/api/answers/{one['id']}", json={"title": "井盖归谁管"}, headers=desk["as_lead"]
    )
    assert changed.json()["title"] == "井盖归谁管" and changed.json()["category"] == "E01002"
    cleared = demo_client.patch(f"/api/answers/{one['id']}", json={"category": None}, headers=desk["as_lead"])
    assert cleared.json()["category"] is None
    listed = demo_client.get("/api/answers", params={"q": "井盖丢了找谁"}, headers=desk["as_acceptor"]).json()
    assert [t["title"] for t in listed["items"]] == ["井盖归谁管"] and "{案件编号}" in listed["placeholders"]
    gone = demo_client.post(f"/api/answers/{one['id']}/deactivate", headers=desk["as_lead"]).json()
    assert gone["active"] is False
    assert demo_client.get("/api/answers", headers=desk["as_acceptor"]).json()["items"] == []
    every = demo_client.get("/api/answers", params={"include_inactive": "true"}, headers=desk["as_acceptor"])
    assert [t["id"] for t in every.json()["items"]] == [one["id"]]
    missing = demo_client.get("/api/answers/999999", headers=desk["as_acceptor"])
    assert missing.status_code == 404 and "没有编号为 999999 的答复模板" in missing.json()["detail"]


@pytest.mark.parametrize(("field", "size"), [("title", 101), ("question", 501), ("body", 2001)])
def test_every_field_has_a_limit(desk, demo_client, field, size):
    body = {"title": "标题", "body": "答复", field: "字" * size}
    assert demo_client.post("/api/answers", json=body, headers=desk["as_lead"]).status_code == 422
    q = demo_client.get("/api/answers", params={"q": "字" * 201}, headers=desk["as_lead"])
    assert q.status_code == 422


def test_an_unknown_placeholder_is_refused_naming_the_allowed_ones(desk, demo_client):
    body = {"title": "错误占位符", "body": "您好，{姓名}，{案件编号}"}
    resp = demo_client.post("/api/answers", json=body, headers=desk["as_lead"])
    assert resp.status_code == 422
    detail = resp.json()["detail"]
    assert "{姓名} 不是可用的占位符" in detail and "{案件编号}、{问题类别}、{地点}" in detail


def test_placeholders_are_filled_from_the_case(desk):
    db = desk["db"]
    case = report(
        db, desk["acceptor"], desk["lon"], desk["lat"], category="E01002", channel="hotline",
        reporter_name="张三丰", reporter_phone="13800000000",
    )  # fmt: skip
    text = "{来电人}：{案件编号} {问题类别} {地点} {承办部门} {处置时限} {受理时间}"
    filled = replies.reply(db=db, case=case, text=text)
    assert filled.startswith(f"张**：{case.code} 污水井盖缺失破损 暂无 ")
    assert "2 小时" in filled and "年" in filled and "{" not in filled
    assert tuple(replies.VALUES) == service.PLACEHOLDERS  # every placeholder is read from the case


def test_matching_puts_the_categorys_templates_sharing_words_first(desk):
    db = desk["db"]
    own = add(db, "井盖归属", question="井盖坏了归谁管", category="E01002")
    faq = add(db, "井盖报修电话", question="井盖丢了打什么电话")
    silent = add(db, "排水设施说明", category="E01002")
    add(db, "供暖时间", question="什么时候供暖")
    popular = add(db, "井盖归属（旧）", question="井盖坏了归谁管", category="E01002")
    popular.use_count = 5
    db.commit()
    found = service.matching(db=db, text="井盖坏了", category_codes=["E01002"], limit=5)
    assert found == [popular, own, faq, silent]
    assert service.matching(db=db, text="井盖坏了", category_codes=["E01002"]) == [popular, own, faq]
    # another category's template sharing one word of a longer sentence (井盖) is not offered
    longer = service.matching(db=db, text="井盖坏了，晚上很危险", category_codes=["E01002"], limit=5)
    assert longer == [popular, own, silent]


def test_a_consult_is_answered_and_closed_in_one_step(desk):
    db = desk["db"]
    template = add(db, "井盖归属", body="{来电人}您好，您反映的{问题类别}（{案件编号}）由{承办部门}负责。",
                   category="E01002", request_type="consult")  # fmt: skip
    case = report(
        db, desk["acceptor"], desk["lon"], desk["lat"], category="E01002", channel="hotline",
        request_type="consult", reporter_name="李四", reporter_phone="13800000001",
    )  # fmt: skip
    department = case.department_id
    assert department is not None
    act(db, desk["acceptor"], case, "answer", template_id=template.id, reply=template.body)
    db.refresh(case), db.refresh(template)
    assert (case.state, case.close_kind, case.department_id) == (State.CLOSED, "normal", None)
    assert case.closed_at is not None
    assert (template.use_count, template.last_used_at) == (1, case.closed_at)
    event = db.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id.desc())
    ).first()
    assert event.action == "answer" and event.data["template_id"] == template.id
    reply = event.data["public_note"]
    assert reply.startswith(f"李*您好，您反映的污水井盖缺失破损（{case.code}）由") and "{" not in reply
    tracked = public.track(db=db, code=case.code)
    assert tracked.timeline[-1].label == "答复办结" and tracked.timeline[-1].note == reply
    assert all(stage.done for stage in tracked.stages)


def test_only_a_consult_may_be_answered_and_only_with_a_live_template(desk):
    db = desk["db"]
    complaint = report(db, desk["acceptor"], desk["lon"], desk["lat"], channel="hotline")
    with pytest.raises(Conflict) as exc:
        act(db, desk["lead"], complaint, "answer", reply="您好")
    assert exc.value.message.startswith("只有诉求类型为“咨询”的案件可以直接答复办结，这件是“投诉”")
    consult = report(
        db, desk["acceptor"], desk["lon"], desk["lat"], channel="hotline", request_type="consult"
    )
    with pytest.raises(Invalid):
        act(db, desk["acceptor"], consult, "answer")  # no reply
    with pytest.raises(NotFound):
        act(db, desk["acceptor"], consult, "answer", template_id=999999, reply="您好")
    old = add(db, "旧模板")
    service.deactivate(db=db, template_id=old.id)
    with pytest.raises(Conflict) as exc:
        act(db, desk["acceptor"], consult, "answer", template_id=old.id, reply="您好")
    assert "已停用" in exc.value.message
    with pytest.raises(Invalid):
        act(db, desk["acceptor"], consult, "answer", reply="您好，{不存在}")
    db.refresh(consult), db.refresh(old)
    assert consult.state == State.REPORTED and old.use_count == 0
    act(db, desk["acceptor"], consult, "answer", reply="您好，已答复")
    assert consult.state == State.CLOSED


def test_the_cli_loads_and_exports_a_file_round_trip(demo_db, monkeypatch, tmp_path):
    @contextmanager
    def session():
        yield demo_db

    monkeypatch.setattr(answers_cli, "session", session)
    runner = CliRunner()

    def said(*args) -> str:  # the output without the console's line wraps
        result = runner.invoke(answers_cli.answers_app, list(args))
        assert result.exit_code == 0, result.output
        return result.output.replace("\n", "")

    first = said("load", str(answers_cli.STARTER_ANSWERS))
    starter = yaml.safe_load(answers_cli.STARTER_ANSWERS.read_text(encoding="utf-8"))["templates"]
    assert f"新增 {len(starter)} 个，更新 0 个，未变 0 个" in first
    again = said("load", str(answers_cli.STARTER_ANSWERS))
    assert f"新增 0 个，更新 0 个，未变 {len(starter)} 个" in again
    add(demo_db, "本地新增模板")
    out = tmp_path / "知识库.yaml"
    assert f"已把 {len(starter) + 1} 个答复模板写入" in said("export", str(out))
    entries = yaml.safe_load(out.read_text(encoding="utf-8"))["templates"]
    assert entries[: len(starter)] == starter
    edited = entries[:1]
    edited[0]["body"] += "（已更新）"
    out.write_text(yaml.safe_dump({"templates": edited}, allow_unicode=True), encoding="utf-8")
    loaded = said("load", str(out))
    assert "新增 0 个，更新 1 个，未变 0 个" in loaded
    assert f"文件中没有的 {len(starter)} 个保持不变（未停用）" in loaded
    listed = runner.invoke(answers_cli.answers_app, ["list", "--text", "井盖坏了找谁"])
    assert listed.stdout.splitlines()[0].split("\t")[1:3] == ["井盖归属", "E01002"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"templates": [{"title": "坏的", "body": "{姓名}"}]}, allow_unicode=True))
    refused = runner.invoke(answers_cli.answers_app, ["load", str(bad)])
    assert refused.exit_code != 0 and isinstance(refused.exception, Invalid)
    assert "第 1 条（坏的）有错误" in refused.exception.message
