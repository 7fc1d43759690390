"""Departments, the category taxonomy and case tags: the starter file, loading and replacing a
taxonomy (YAML and CSV), the errors a file can have, district overrides, the routes and the CLI."""

from __future__ import annotations

from functools import partial

import pytest
import yaml
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from server import messages
from server.category import service
from server.category.loader import STARTER_TAXONOMY, load_taxonomy
from server.category.models import Category, Department, Tag
from server.errors import Invalid, NotFound
from tests.conftest import api_client

STARTER = load_taxonomy(STARTER_TAXONOMY)
CSV_HEADER = (
    "code,name,urgency,handling_limit,department_code,department_name,legal_basis,district_overrides\n"
)
GB_MAJOR_CLASSES = {("component", f"C{n:02d}") for n in range(1, 6)} | {
    ("event", f"E{n:02d}") for n in range(1, 11)
}
# code: (urgency, handling limit, department) as docs/DOMAIN.md section 4 has them
REPRESENTATIVE = {
    "C01002": ("urgent", "2h", "water"),
    "E01002": ("urgent", "2h", "water"),
    "C01037": ("normal", "1d", "municipal"),
    "E01037": ("normal", "1d", "municipal"),
    "E06001": ("important", "15d", "enforcement"),
    "E06010": ("important", "4h", "sanitation"),
    "E06012": ("important", "4h", "sanitation"),
    "E06029": ("urgent", "2h", "enforcement"),
    "E07001": ("normal", "1d", "sanitation"),
    "E09006": ("normal", "2h", "enforcement"),
    "E09009": ("normal", "4h", "traffic_police"),
}


def starter_doc() -> dict:
    return yaml.safe_load(STARTER_TAXONOMY.read_text())


def as_yaml(doc: dict) -> bytes:
    return yaml.safe_dump(doc, allow_unicode=True).encode()


def errors_of(data: bytes, fmt: str) -> list[str]:
    with pytest.raises(Invalid) as caught:
        load_taxonomy(data, fmt)
    errors = caught.value.params["errors"]
    assert caught.value.code == "category.taxonomy_invalid" and caught.value.params["count"] == len(errors)
    return errors


def stamps(db) -> dict[str, object]:
    return dict(db.execute(select(Category.code, Category.updated_at)).all())


@pytest.fixture
def fresh_db(fresh_db_url):
    """A session on a fresh database: every commit is its own transaction, so ``now()`` moves on."""
    from server.database import new_session

    with new_session(fresh_db_url) as session:
        yield session


# -- the starter taxonomy -----------------------------------------------------------------------


def test_the_starter_taxonomy_loads_whole(db):
    result = service.load_starter(db=db)
    assert result.written
    assert (result.departments.created, result.categories.created, result.tags.created) == (
        len(STARTER.departments),
        len(STARTER.nodes),  # the categories and the major classes above them
        len(STARTER.tags),
    )
    assert 8 <= len(STARTER.departments) <= 12 and 60 <= len(STARTER.categories) <= 90
    assert len(STARTER.nodes) == len(STARTER.categories) + len(GB_MAJOR_CLASSES)
    assert db.scalar(select(func.count()).select_from(Category)) == len(STARTER.nodes)
    assert db.scalar(select(func.count()).select_from(Department)) == len(STARTER.departments)
    assert db.scalar(select(func.count()).select_from(Tag)) == len(STARTER.tags)

    categories = service.list_categories(db=db)
    assert {(c.kind, c.major_code) for c in categories} == GB_MAJOR_CLASSES
    names = {(c.kind, c.major_code): c.major_name for c in categories}
    assert names["component", "C01"] == "市政公用设施" and names["event", "E06"] == "市容环境"
    # a two-level tree: the major classes at the top, the categories cases are filed under below them
    tops = [c for c in categories if c.parent_code is None]
    assert {(c.kind, c.code) for c in tops} == GB_MAJOR_CLASSES
    assert all(c.depth == 1 and not c.leaf and c.trail == [] and c.urgency is None for c in tops)
    garbage = service.get_category(db=db, code="E06010")
    assert (garbage.parent_code, garbage.depth, garbage.leaf, garbage.trail) == ("E06", 2, True, ["市容环境"])
    assert garbage.own["handling_limit"] == "4h" and "urgency" in garbage.own
    for code, (urgency, limit, department) in REPRESENTATIVE.items():
        category = service.get_category(db=db, code=code)
        assert (category.urgency, category.handling_limit, category.department.code) == (
            urgency,
            limit,
            department,
        ), code
    assert service.get_category(db=db, code="C01007").department is None  # routed by hand
    assert {t.name for t in service.list_tags(db=db)} >= {"重复投诉", "特殊来电人", "重点督办", "领导批示"}


def test_reloading_changes_nothing_and_keeps_updated_at(fresh_db):
    service.load_starter(db=fresh_db)
    before = stamps(fresh_db)
    again = service.load_starter(db=fresh_db)
    for counts, total in (
        (again.departments, len(STARTER.departments)),
        (again.categories, len(STARTER.nodes)),
        (again.tags, len(STARTER.tags)),
    ):
        assert (counts.created, counts.updated, counts.deactivated, counts.unchanged) == (0, 0, 0, total)
    assert stamps(fresh_db) == before


def test_a_replaced_table_deactivates_what_is_missing(fresh_db):
    service.load_starter(db=fresh_db)
    before = stamps(fresh_db)
    doc = starter_doc()
    doc["departments"] = [d for d in doc["departments"] if d["code"] != "market"]
    dropped = {c["code"] for c in doc["categories"] if c.get("department") == "market"} | {"E06032"}
    doc["categories"] = [c for c in doc["categories"] if c["code"] not in dropped]
    changed = next(c for c in doc["categories"] if c["code"] == "E06010")
    changed["handling_limit"] = "1d"
    doc["tags"] = [t for t in doc["tags"] if t["code"] != "campaign"]

    result = service.load(db=fresh_db, taxonomy=load_taxonomy(as_yaml(doc), "yaml"))

    kept = len(STARTER.categories) - len(dropped)
    tops = {c["code"][:3] for c in doc["categories"]}  # a major class without categories left goes too
    dropped |= {code for _, code in GB_MAJOR_CLASSES} - tops
    assert vars(result.categories) == {
        "created": 0,
        "updated": 1,
        "deactivated": len(dropped),
        "unchanged": kept - 1 + len(tops),
    }
    assert (result.departments.deactivated, result.tags.deactivated) == (1, 1)
    after = stamps(fresh_db)
    assert set(after) == set(before)  # deactivated, never deleted
    moved = {code for code in after if after[code] != before[code]}
    assert moved == dropped | {"E06010"}
    for code in dropped:
        with pytest.raises(Invalid) as retired:
            service.get_category(db=fresh_db, code=code)
        assert retired.value.code == "category.category_retired" and retired.value.params["category"] == code
        assert not service.get_category(db=fresh_db, code=code, include_inactive=True).active
    assert {c.code for c in service.list_categories(db=fresh_db)}.isdisjoint(dropped)
    assert dropped <= {c.code for c in service.list_categories(db=fresh_db, include_inactive=True)}
    with pytest.raises(Invalid) as retired:
        service.get_department(db=fresh_db, code="market")
    assert retired.value.code == "category.department_retired" and "market" in retired.value.message
    assert not service.get_department(db=fresh_db, code="market", include_inactive=True).active
    with pytest.raises(Invalid) as retired:
        service.get_tag(db=fresh_db, code="campaign")
    assert retired.value.code == "category.tag_retired" and "campaign" in retired.value.message

    back = service.load_starter(db=fresh_db)  # the starter again: everything returns
    assert back.categories.updated == len(dropped) + 1 and back.categories.created == 0
    assert service.get_tag(db=fresh_db, code="campaign").active


def test_district_overrides_come_first(db):
    service.load_starter(db=db)
    garbage = service.get_category(db=db, code="E06010")
    for district, expected in (
        ("370102", "sanitation_lx"),
        ("370102001001001", "sanitation_lx"),  # a unit grid of 历下区
        ("370103", "sanitation"),
    ):
        assert (
            service.responsible_department(db=db, category=garbage, district_code=district).code == expected
        )
    manhole = service.get_category(db=db, code="C01007")
    assert service.responsible_department(db=db, category=manhole, district_code="370102") is None
    with pytest.raises(Invalid) as caught:
        service.responsible_department(db=db, category=garbage, district_code="37a1")
    assert caught.value.code == "category.not_a_district" and caught.value.params == {"district": "37a1"}
    with pytest.raises(NotFound) as caught:
        service.get_category(db=db, code="E99999")
    assert caught.value.code == "category.no_category"
    assert caught.value.message == messages.text("category.no_category", category="E99999")
    with pytest.raises(NotFound) as caught:
        service.get_department(db=db, code="nobody")
    assert caught.value.code == "category.no_department" and caught.value.params == {"department": "nobody"}


# -- CSV ----------------------------------------------------------------------------------------


def test_a_csv_file_replaces_the_categories_only(db):
    service.load_starter(db=db)
    csv_text = CSV_HEADER.replace("\n", ",aliases\n") + (
        'E06010,暴露垃圾,important,4h,sanitation,,"《城市市容和环境卫生管理条例》, 地方规定",'
        "370102=sanitation_lx;370103=sanitation_sz,\n"
        "E06011,积存垃圾渣土,normal,1d,sanitation_sz,市中区环境卫生服务中心,,,\n"
        "E06099,共享单车堆积,normal,1d,bike_operator,共享单车运营企业,,,单车堆积、共享单车|单车堆积\n"
        "C01002,污水井盖,urgent,2h,water,,,,窨井、下水道井盖\n"  # as the starter file has it: unchanged
    )
    result = service.load(db=db, taxonomy=load_taxonomy(csv_text.encode(), "csv"))

    assert vars(result.categories) == {
        "created": 1,
        "updated": 2,
        "deactivated": len(STARTER.nodes) - 3 - 2,  # C01 and E06 stay: the starter's, above the rows
        "unchanged": 1 + 2,
    }
    assert vars(result.departments) == {"created": 2, "updated": 0, "deactivated": 0, "unchanged": 0}
    assert vars(result.tags) == {"created": 0, "updated": 0, "deactivated": 0, "unchanged": 0}
    assert len(service.list_tags(db=db)) == len(STARTER.tags)  # a CSV leaves tags and departments
    assert len(service.list_departments(db=db)) == len(STARTER.departments) + 2
    assert [c.code for c in service.list_categories(db=db)] == [
        "C01",
        "C01002",
        "E06",
        "E06010",
        "E06011",
        "E06099",
    ]
    new = service.get_category(db=db, code="E06099")
    assert new.aliases == ["单车堆积", "共享单车"]  # separated by 、 or |, repeats dropped
    assert (new.kind, new.major_code, new.major_name, new.department.name) == (
        "event",
        "E06",
        "市容环境",
        "共享单车运营企业",
    )
    garbage = service.get_category(db=db, code="E06010")
    assert garbage.legal_basis == "《城市市容和环境卫生管理条例》, 地方规定"
    assert (
        service.responsible_department(db=db, category=garbage, district_code="370103").code
        == "sanitation_sz"
    )


def test_a_csv_file_may_only_name_stored_departments(db):
    csv_text = CSV_HEADER + "E06010,暴露垃圾,important,4h,sanitation,,,\n"
    taxonomy = load_taxonomy(csv_text.encode(), "csv")
    with pytest.raises(Invalid) as caught:
        service.load(db=db, taxonomy=taxonomy)  # an empty database: nobody is called sanitation
    assert caught.value.params["errors"] == [
        "第 2 行：没有编号为“sanitation”的部门，请先添加这个部门或改用已有的部门编号"
    ]
    assert db.scalar(select(func.count()).select_from(Category)) == 0
    service.load_starter(db=db)
    assert service.load(db=db, taxonomy=taxonomy).categories.updated == 1  # its 历下区 override is gone
    garbage = service.get_category(db=db, code="E06010")
    department = service.responsible_department(db=db, category=garbage, district_code="370102")
    assert department.code == "sanitation"


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "error"),
    [
        (
            "X01002,污水井盖,urgent,2h,water,,,",
            "第 2 行：编号“X01002”不对：不符合本市的分类编号格式（如 E06 大类、E06010 小类，"
            "或三级编号 E01、E01001、E0100101）",
        ),
        (
            "C01002,污水井盖,urgent,2x,water,,,",
            "第 2 行：处置时限“2x”不对：应为数字加单位 m（分钟）、h（小时）或 d（天），如 4h",
        ),
        (
            "C01002,污水井盖,high,2h,water,,,",
            "第 2 行：紧急程度“high”不对：应为 urgent（紧急）、important（重要）或 normal（一般）",
        ),
        (
            "C01002,污水井盖,urgent,2h,Water!,,,",
            "第 2 行：部门（department）“Water!”不对：应为 2 到 40 个小写",
        ),
        ("C01002,,urgent,2h,water,,,", "第 2 行：缺少名称（name），请填写"),
        ("E11001,其他,normal,1d,,,,", "第 2 行：没有事件大类 11，请检查编号的第 2、3 位"),
        (
            "E06010,暴露垃圾,normal,1d,,,,3701=sanitation",
            "第 2 行：分区县部门（district_overrides）中的区县编号“3701”应为 6 位数字",
        ),
        (
            "E06010,暴露垃圾,normal,1d,,,,370102",
            "第 2 行：分区县部门（district_overrides）中的“370102”应写成“区县编号=部门编号”",
        ),
        ("E06010,暴露垃圾,normal,1d,,,", "第 2 行：有 7 列，而标题行有 8 列"),
    ],
)
def test_each_csv_error_says_where_and_why(row, error):
    (message,) = errors_of((CSV_HEADER + row + "\n").encode(), "csv")
    assert message.startswith(error)


def test_a_duplicate_code_and_every_other_error_are_reported_together(db):
    csv_text = CSV_HEADER + (
        "E06010,暴露垃圾,important,4h,sanitation,环卫处,,\n"
        "E06012,道路不洁,important,4h,sanitation,环卫,,\n"
        "E06010,暴露垃圾,important,1d,sanitation,环卫处,,\n"
        "E06013,水域不洁,normal,1z,water,,,\n"
    )
    assert errors_of(csv_text.encode(), "csv") == [
        "第 3 行：部门 sanitation 在这里名为“环卫”，在第 2 行名为“环卫处”，请统一",
        "第 5 行：处置时限“1z”不对：应为数字加单位 m（分钟）、h（小时）或 d（天），如 4h",
        "第 4 行：问题类别 E06010 已在第 2 行定义过，编号不能重复",
    ]
    assert errors_of(b"code,name,urgency,limit\n", "csv") == [
        "第 1 行：缺少 handling_limit 列，请在标题行补上",
        "第 1 行：不认识的列“limit”（可用的列有 "
        + CSV_HEADER.strip().replace(",", "、")
        + "、aliases、phrases、clock、simple_flow、request_limits、layer）",
    ]


def test_yaml_errors_name_the_entry():
    doc = starter_doc()
    doc["categories"][0]["department"] = "nobody"
    doc["categories"][1]["code"] = doc["categories"][0]["code"]
    doc["categories"][2]["urgency"] = "high"
    doc["categories"][3]["limit"] = "2h"
    doc["departments"][0]["code"] = doc["departments"][1]["code"]
    doc["major_classes"]["event"].pop("10")
    del doc["tags"]
    errors = errors_of(as_yaml(doc), "yaml")
    first = doc["categories"][0]["code"]
    assert errors == [
        "文件缺少 tags 部分，请补上",
        "第 3 个问题类别（C01003）：紧急程度“high”不对："
        "应为 urgent（紧急）、important（重要）或 normal（一般）",
        "第 4 个问题类别（C01004）：不认识的字段 limit（可用的字段有 code、name、urgency、handling_limit、"
        "department、legal_basis、district_overrides、aliases、phrases、clock、simple_flow、request_limits、layer、"
        "children）",
        "第 2 个部门（sanitation）：部门 sanitation 已在第 1 个部门（sanitation）定义过，编号不能重复",
        f"第 2 个问题类别（{first}）：问题类别 {first} 已在第 1 个问题类别（{first}）定义过，编号不能重复",
        *[
            f"第 {i} 个问题类别（{c['code']}）：没有事件大类 10，请检查编号的第 2、3 位"
            for i, c in enumerate(doc["categories"], 1)
            if c["code"].startswith("E10")
        ],
        f"第 1 个问题类别（{first}）：没有编号为“nobody”的部门，请先添加这个部门或改用已有的部门编号",
        *[
            f"第 {i} 个问题类别（{c['code']}）：没有编号为“enforcement”的部门，"
            "请先添加这个部门或改用已有的部门编号"
            for i, c in enumerate(doc["categories"], 1)
            if c.get("department") == "enforcement"
        ],
    ]
    assert errors_of(b"departments: [\n", "yaml") == [
        "文件不是有效的 YAML：第 2 行第 1 列附近格式有误，请检查缩进、冒号和引号"
    ]


# -- routes -------------------------------------------------------------------------------------


def test_routes_read_the_taxonomy_and_load_it_with_the_admin_token(client, admin_headers):
    files = {"file": ("taxonomy.yaml", STARTER_TAXONOMY.read_bytes(), "application/yaml")}
    assert client.post("/api/categories/load", files=files).status_code == 401
    loaded = client.post("/api/categories/load", files=files, headers=admin_headers)
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["categories"]["created"] == len(STARTER.nodes) and loaded.json()["written"]

    everything = client.get("/api/categories").json()  # reading needs no token
    assert len(everything) == len(STARTER.nodes)
    components = client.get("/api/categories", params={"kind": "component"}).json()
    assert components and all(c["code"].startswith("C") for c in components)
    assert len(components) == sum(n.entry.kind == "component" for n in STARTER.nodes)
    garbage = client.get("/api/categories/E06010").json()
    assert (garbage["name"], garbage["urgency"], garbage["handling_limit"]) == ("暴露垃圾", "important", "4h")
    assert garbage["department"]["code"] == "sanitation"
    assert {k: garbage[k] for k in ("parent_code", "depth", "leaf", "trail", "major_code", "major_name")} == {
        "parent_code": "E06",
        "depth": 2,
        "leaf": True,
        "trail": ["市容环境"],
        "major_code": "E06",
        "major_name": "市容环境",
    }
    assert [(o["district_code"], o["department"]["code"]) for o in garbage["district_overrides"]] == [
        ("370102", "sanitation_lx")
    ]
    missing = client.get("/api/categories/E99999")
    assert missing.status_code == 404 and missing.json() == {
        "detail": messages.text("category.no_category", category="E99999"),
        "code": "category.no_category",
        "params": {"category": "E99999"},
    }
    assert len(client.get("/api/departments").json()) == len(STARTER.departments)
    assert [t["code"] for t in client.get("/api/tags").json()] == sorted(t.code for t in STARTER.tags)

    bad = CSV_HEADER + "C01002,污水井盖,urgent,2x,water,,,\nC01003,雨水井盖,soon,2h,water,,,\n"
    refused = client.post(
        "/api/categories/load",
        files={"file": ("table.txt", bad.encode(), "text/csv")},
        params={"format": "csv"},
        headers=admin_headers,
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "category.taxonomy_invalid" and refused.json()["params"] == {"count": 2}
    assert refused.json()["detail"] == messages.text("category.taxonomy_invalid", count=2)
    assert [e["msg"].split("：")[0] for e in refused.json()["errors"]] == ["第 2 行", "第 3 行"]
    unnamed = client.post(
        "/api/categories/load", files={"file": ("table.txt", bad.encode())}, headers=admin_headers
    )
    assert unnamed.status_code == 422 and unnamed.json()["code"] == "category.unknown_format"
    assert unnamed.json()["params"] == {"filename": "table.txt"}
    assert len(client.get("/api/categories").json()) == len(STARTER.nodes)

    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/categories", "/api/categories/{code}", "/api/categories/load", "/api/departments"):
        assert all(op.get("summary") for op in paths[path].values()), path


def test_the_app_syncs_categories_changed_since(fresh_db, admin_headers):
    with api_client(fresh_db) as client:
        files = {"file": ("taxonomy.yaml", STARTER_TAXONOMY.read_bytes())}
        assert client.post("/api/categories/load", files=files, headers=admin_headers).status_code == 200
        synced = max(c["updated_at"] for c in client.get("/api/categories").json())
        assert client.get("/api/categories", params={"since": synced}).json() == []

        doc = starter_doc()
        doc["categories"] = [c for c in doc["categories"] if c["code"] != "E06032"]
        next(c for c in doc["categories"] if c["code"] == "E09009")["handling_limit"] = "2h"
        files = {"file": ("taxonomy.yml", as_yaml(doc))}
        assert client.post("/api/categories/load", files=files, headers=admin_headers).status_code == 200

        changed = client.get("/api/categories", params={"since": synced}).json()
        assert [(c["code"], c["handling_limit"]) for c in changed] == [("E09009", "2h")]
        with_hidden = client.get("/api/categories", params={"since": synced, "include_inactive": True}).json()
        assert [(c["code"], c["active"]) for c in with_hidden] == [("E06032", False), ("E09009", True)]
        earlier = client.get("/api/categories", params={"since": synced[:19]})
        assert earlier.status_code == 422  # a time without a zone is ambiguous
        dry = client.post(
            "/api/categories/load",
            files={"file": ("taxonomy.yaml", STARTER_TAXONOMY.read_bytes())},
            params={"dry_run": True},
            headers=admin_headers,
        ).json()
        assert not dry["written"] and dry["categories"]["updated"] == 2
        assert len(client.get("/api/categories", params={"since": synced}).json()) == 1


# -- CLI ----------------------------------------------------------------------------------------


def gridops_on(url: str, monkeypatch):
    """Run ``gridops`` in-process on the database at ``url``: ``(exit code, stdout, stderr as one line)``."""
    from server.cli import app
    from server.database import new_session

    monkeypatch.setattr("server.cli_common.new_session", partial(new_session, url))
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.stdout, " ".join(result.stderr.split())

    return run


@pytest.fixture
def gridops(fresh_db_url, monkeypatch):
    """``gridops`` on a fresh database."""
    return gridops_on(fresh_db_url, monkeypatch)


def test_cli_loads_and_lists(gridops, tmp_path):
    code, _, err = gridops("categories", "load", str(STARTER_TAXONOMY), "--dry-run")
    assert code == 0 and "只做了检查，没有写入" in err
    assert gridops("categories", "list") == (0, "", "")
    code, _, err = gridops("categories", "load", str(STARTER_TAXONOMY))
    assert code == 0, err
    assert f"问题类别：新增 {len(STARTER.nodes)}，更新 0，停用 0，未变 0" in err

    code, out, _ = gridops("categories", "list", "--kind", "event")
    lines = [line.split("\t") for line in out.splitlines()]
    assert len(lines) == sum(n.entry.kind == "event" for n in STARTER.nodes)
    assert ["E06010", "暴露垃圾", "市容环境", "重要", "4h", "sanitation"] in lines
    assert ["E06", "市容环境", "", "", "", ""] in lines  # a major class: nothing of its own
    departments = gridops("categories", "departments")[1].splitlines()
    assert len(departments) == len(STARTER.departments) and "power\t国网济南供电公司\t95598" in departments
    assert len(gridops("categories", "tags")[1].splitlines()) == len(STARTER.tags)

    bad = tmp_path / "bad.csv"
    bad.write_text(CSV_HEADER + "C01002,污水井盖,urgent,2x,water,,,\nE06010,暴露垃圾,urgent,2h,nobody,,,\n")
    code, _, err = gridops("categories", "load", str(bad))
    assert code == 1
    assert "第 2 行：处置时限“2x”不对：应为数字加单位 m（分钟）、h（小时）或 d（天），如 4h" in err
    assert messages.text("category.taxonomy_invalid", count=1) in err
    bad.write_text(CSV_HEADER + "E06010,暴露垃圾,urgent,2h,nobody,,,\nE06012,道路不洁,urgent,2h,nobody,,,\n")
    code, _, err = gridops("categories", "load", str(bad))
    assert (
        code == 1
        and "第 2 行：没有编号为“nobody”的部门" in err
        and "第 3 行：没有编号为“nobody”的部门" in err
    )
    assert len(gridops("categories", "list")[1].splitlines()) == len(STARTER.nodes)
    assert "用法" in gridops("categories", "load", "--help")[1]


def test_aliases_are_words_people_use_and_the_api_gives_them(demo_client):
    doc = starter_doc()
    doc["categories"][0]["aliases"] = {"乱停车": 1}
    doc["categories"][1]["aliases"] = ["井盖坏了", "这是一个远远超过二十个字的别名，没人会这样说话的吧真的"]
    doc["categories"][2]["aliases"] = [f"别名{i}" for i in range(31)]
    first, second, third = (doc["categories"][i]["code"] for i in range(3))
    assert errors_of(as_yaml(doc), "yaml") == [
        f"第 1 个问题类别（{first}）：别名（aliases）应为列表，如 [乱停车, 违停]",
        f"第 2 个问题类别（{second}）：别名（aliases）每个最多 20 个字，“这是一个远远超过二十个字的别名，"
        "没人会这样说话的吧真的”太长",
        f"第 3 个问题类别（{third}）：别名（aliases）最多 30 个，这里有 31 个",
    ]
    parking = next(c for c in demo_client.get("/api/categories").json() if c["code"] == "E09009")
    assert {"乱停车", "违停", "停车"} <= set(parking["aliases"])  # the starter file's words
    assert {"jdcltf", "ltc", "wt", "tc"} <= set(parking["initials"])  # 机动车乱停放 and its aliases in pinyin
    assert "机动车停放在人行道上，影响通行" in parking["phrases"]


def test_phrases_are_sentences_a_report_may_start_with():
    doc = starter_doc()
    doc["categories"][0]["phrases"] = "井盖缺失，存在安全隐患"  # one phrase: a YAML string is split by | only
    doc["categories"][1]["phrases"] = [f"常用语{i}" for i in range(11)]
    doc["categories"][2]["phrases"] = ["这是一句很长很长的常用语" * 6]
    second, third = (doc["categories"][i]["code"] for i in (1, 2))
    assert errors_of(as_yaml(doc), "yaml") == [
        f"第 2 个问题类别（{second}）：常用语（phrases）最多 10 个，这里有 11 个",
        f"第 3 个问题类别（{third}）：常用语（phrases）每个最多 60 个字，"
        f"“{'这是一句很长很长的常用语' * 6}”太长",
    ]
    csv_text = (
        "code,name,urgency,handling_limit,phrases\n"
        "E06010,暴露垃圾,important,4h,路边垃圾堆放，无人清运|绿化带内有垃圾\n"
    )
    (entry,) = load_taxonomy(csv_text.encode(), "csv").categories  # under the starter's major class E06
    assert entry.phrases == ("路边垃圾堆放，无人清运", "绿化带内有垃圾")


# -- a taxonomy of three levels ---------------------------------------------------------------------

TREE = """
departments:
  - {code: urban_admin, name: 城市管理局}
  - {code: water, name: 水务局}
  - {code: street, name: 街道办}
tags: []
categories:
  - code: E01
    name: 市容环境
    urgency: normal
    handling_limit: 2d
    department: urban_admin
    request_limits: {consult: 1d}
    children:
      - code: E0101
        name: 垃圾问题
        handling_limit: 4h
        district_overrides: {"370102": street}
        children:
          - {code: E0101001, name: 垃圾乱堆乱放}
          - {code: E0101002, name: 垃圾未及时清运, urgency: urgent, clock: natural, department: water}
      - code: E0102
        name: 积水问题
        children:
          - {code: E0102001, name: 道路积水, request_limits: {suggest: 3d}}
"""


def test_a_tree_passes_its_values_down_and_a_node_may_set_its_own():
    taxonomy = load_taxonomy(TREE.encode(), "yaml")
    nodes = {n.entry.code: n for n in taxonomy.nodes}
    assert [n.entry.code for n in taxonomy.nodes] == [
        "E01",
        "E0101",
        "E0102",
        "E0101001",
        "E0101002",
        "E0102001",
    ]
    piled, late, water = nodes["E0101001"], nodes["E0101002"], nodes["E0102001"]
    assert (piled.lineage, piled.trail, piled.leaf, piled.depth) == (
        ("E01", "E0101"),
        ("市容环境", "垃圾问题"),
        True,
        3,
    )
    assert not nodes["E0101"].leaf and nodes["E0101"].parent == "E01"
    assert (
        piled.entry.own == {}
    )  # everything inherited: the limit and the override from E0101, the rest from E01
    assert {
        k: piled.values[k] for k in ("urgency", "handling_limit", "department", "district_overrides")
    } == {
        "urgency": "normal",
        "handling_limit": "4h",
        "department": "urban_admin",
        "district_overrides": {"370102": "street"},
    }
    assert {k: late.values[k] for k in ("urgency", "clock", "department", "handling_limit")} == {
        "urgency": "urgent",
        "clock": "natural",
        "department": "water",
        "handling_limit": "4h",
    }
    assert water.values["handling_limit"] == "2d"  # from the top, past a middle class that sets none
    assert water.values["request_limits"] == {"consult": "1d", "suggest": "3d"}  # merged, its own added

    # the same tree as a CSV file: one row a category, each under the row whose code begins its own
    csv_text = (
        "code,name,urgency,handling_limit,department_code,district_overrides,clock\n"
        "E01,市容环境,normal,2d,urban_admin,,\n"
        "E0101,垃圾问题,,4h,,370102=street,\n"
        "E0101001,垃圾乱堆乱放,,,,,\n"
        "E0101002,垃圾未及时清运,urgent,,water,,natural\n"
    )
    flat = {n.entry.code: n for n in load_taxonomy(csv_text.encode(), "csv").nodes}
    for code in ("E0101001", "E0101002"):
        assert flat[code].lineage == nodes[code].lineage
        assert {
            k: flat[code].values[k] for k in ("urgency", "handling_limit", "department", "district_overrides")
        } == {
            k: nodes[code].values[k]
            for k in ("urgency", "handling_limit", "department", "district_overrides")
        }


def test_a_tree_file_s_errors_say_where_and_why(setting):
    doc = yaml.safe_load(TREE)
    top = doc["categories"][0]
    top["children"][0]["children"][0]["code"] = "E0201001"  # not under E0101
    top["children"][1]["children"][0]["children"] = [{"code": "E010200101", "name": "太深的类别"}]
    where = "第 1 个问题类别（E01）下的"
    assert errors_of(as_yaml(doc), "yaml") == [
        f"{where}第 1 个下级类别（E0101）下的第 1 个下级类别（E0201001）："
        "编号“E0201001”应以上级类别的编号“E0101”开头（下级类别的编号在上级类别的编号后面加位数）",
        f"{where}第 2 个下级类别（E0102）下的第 1 个下级类别（E0102001）下的第 1 个下级类别（E010200101）："
        "类别 E010200101 在第 4 层，本市的分类最多 3 层：请把它并入上一层，或请管理员调整分类层数",
    ]

    doc = yaml.safe_load(TREE)
    del doc["categories"][0]["urgency"]  # E0101002 sets its own; the others had it from the top
    assert errors_of(as_yaml(doc), "yaml") == [
        f"{where}第 {i} 个下级类别（E010{i}）下的第 1 个下级类别（E010{i}001）："
        f"类别 E010{i}001 下面没有下级类别，案件会归入它，它却没有紧急程度（urgency），"
        "它的上级类别也没有：请在它或它的上级类别中填写"
        for i in (1, 2)
    ]

    doc = yaml.safe_load(TREE)
    doc["categories"][0]["children"].append({"code": "E0101003", "name": "垃圾桶满溢"})  # under E0101's code
    assert errors_of(as_yaml(doc), "yaml") == [
        f"{where}第 3 个下级类别（E0101003）：编号“E0101003”以“E0101”开头，是它的下级类别："
        "请把它移到“E0101”的下级类别中"
    ]

    setting("GRIDOPS_CATEGORY_MAX_DEPTH", "2")
    assert len(errors_of(TREE.encode(), "yaml")) == 3  # each class at the third level
    setting("GRIDOPS_CATEGORY_MAX_DEPTH", "3")
    setting("GRIDOPS_CATEGORY_CODE_PATTERN", "^E[0-9]{2}([0-9]{2}([0-9]{3})?)?$")  # a city's own form
    assert load_taxonomy(TREE.encode(), "yaml").nodes
    doc = yaml.safe_load(TREE)
    doc["categories"][0]["children"][1]["code"] = "E01020"
    assert errors_of(as_yaml(doc), "yaml")[0].startswith(
        f"{where}第 2 个下级类别（E01020）：编号“E01020”不对：不符合本市的分类编号格式"
    )


def test_a_pingshan_shaped_taxonomy_loads_and_files_cases_under_leaves(demo_clone_url, monkeypatch, tmp_path):
    from server.database import new_session
    from tests.server.case_world import report, team

    gridops = gridops_on(demo_clone_url, monkeypatch)
    sample = tmp_path / "pingshan.yaml"
    code, _, err = gridops("categories", "sample", str(sample), "--seed", "7")
    assert code == 0 and "大类17个，中类189个，小类1007个" in err.replace(" ", ""), err  # as wrapped
    code, _, err = gridops("categories", "load", str(sample))
    assert code == 0, err
    taxonomy = load_taxonomy(sample)
    tree = yaml.safe_load(sample.read_text())["categories"]

    with new_session(demo_clone_url) as db:
        active = service.list_categories(db=db)
        assert [sum(c.depth == d for c in active) for d in (1, 2, 3)] == [17, 189, 1007]
        assert {c.code for c in active} == {n.entry.code for n in taxonomy.nodes}  # the demo's own retired
        by_code = {c.code: c for c in active}
        for c in active:
            assert c.leaf == (c.depth == 3) and c.major_code == c.code[:3]
            if c.parent_code:
                parent = by_code[c.parent_code]
                assert c.code.startswith(parent.code) and c.trail == [*parent.trail, parent.name]
            if c.leaf:
                assert c.urgency and c.handling_limit and c.department  # from itself or an ancestor

        # a middle class with a department of its own: its leaves go there, not to the major class's
        top, middle = next(
            (t, m)
            for t in tree
            for m in t["children"]
            if m.get("department", t["department"]) != t["department"]
        )
        for leaf in middle["children"]:
            row = by_code[leaf["code"]]
            assert row.department.code == leaf.get("department", middle["department"])
            assert "department" not in row.own or "department" in leaf
        assert by_code[middle["code"]].own["department"] == middle["department"]

        # a leaf that sets nothing of its own: a case of it goes to the major class's department
        top, middle, leaf = next(
            (t, m, leaf)
            for t in tree
            for m in t["children"]
            if "department" not in m and not m.get("district_overrides")
            for leaf in m["children"]
            if set(leaf) == {"code", "name"}
        )
        world = team(db, department=top["department"])
        case = report(db, world["inspector"], world["lon"], world["lat"], category=leaf["code"])
        assert db.get(Department, case.department_id).code == top["department"]
        assert case.urgency == top["urgency"]

        # a major or middle class is not a class a case is filed under
        for node in (top, middle):
            with pytest.raises(Invalid) as refused:
                report(db, world["inspector"], world["lon"], world["lat"], category=node["code"])
            assert refused.value.code == "category.not_a_leaf" and refused.value.status == 422
            assert refused.value.params["category"] == node["code"]
            assert refused.value.params["example"].startswith(node["code"])
            assert "请从它下面选择最细一级的类别" in refused.value.message


def test_the_migration_makes_the_major_classes_top_nodes_and_back(fresh_db_url, owner_url):
    from grids.loaders import load_features
    from server import migrate
    from server.database import get_engine, new_session
    from server.grid import importer
    from tests.server.grid_files import city_features, collection

    records, report = load_features(collection(city_features()))
    with new_session(fresh_db_url) as db:
        importer.import_grids(db=db, records=records, report=report)  # its root names the city again
        service.load_starter(db=db)
        ids = dict(
            db.execute(select(Category.code, Category.id).where(Category.parent_id.is_not(None))).all()
        )
    get_engine(fresh_db_url).dispose()
    migrate.downgrade(owner_url(fresh_db_url), "0024")
    with new_session(fresh_db_url) as db:
        old = db.execute(text("SELECT code, id, major_code, major_name FROM category ORDER BY code")).all()
        assert {r.code: r.id for r in old} == ids  # the major classes are columns again
        assert ("E06010", ids["E06010"], "06", "市容环境") in old
    get_engine(fresh_db_url).dispose()
    migrate.upgrade(owner_url(fresh_db_url))
    with new_session(fresh_db_url) as db:
        again = {c.code: c for c in service.list_categories(db=db)}
        assert {code: again[code].id for code in ids} == ids  # cases refer to them by id
        garbage, top = again["E06010"], again["E06"]
        assert (garbage.parent_id, garbage.trail, garbage.leaf, top.leaf, top.name) == (
            top.id,
            ["市容环境"],
            True,
            False,
            "市容环境",
        )
        assert garbage.own == {
            "urgency": "important",
            "handling_limit": "4h",
            "department": "sanitation",
            "district_overrides": {"370102": "sanitation_lx"},
        }
        reload = service.load_starter(db=db)  # what the migration made is what the starter file says
        assert reload.categories.updated == 0 and reload.categories.created == 0

        service.load(db=db, taxonomy=load_taxonomy(TREE.encode(), "yaml"))
    get_engine(fresh_db_url).dispose()
    with pytest.raises(RuntimeError, match="在第三层或更深"):
        migrate.downgrade(owner_url(fresh_db_url), "0024")
