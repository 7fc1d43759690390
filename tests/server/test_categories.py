"""Departments, the category taxonomy and case tags: the starter file, loading and replacing a
taxonomy (YAML and CSV), the errors a file can have, district overrides, the routes and the CLI."""

from __future__ import annotations

from functools import partial

import pytest
import yaml
from sqlalchemy import func, select
from typer.testing import CliRunner

from server.category import service
from server.category.loader import STARTER_TAXONOMY, load_taxonomy
from server.category.models import Category, Department, Tag
from server.errors import Invalid, NotFound
from tests.conftest import api_client

STARTER = load_taxonomy(STARTER_TAXONOMY)
CSV_HEADER = (
    "code,name,urgency,handling_limit,department_code,department_name,legal_basis,district_overrides\n"
)
GB_MAJOR_CLASSES = {("component", f"{n:02d}") for n in range(1, 6)} | {
    ("event", f"{n:02d}") for n in range(1, 11)
}
# code: (urgency, handling limit, department) as DOMAIN.md section 4 has them
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
    assert "nothing was loaded" in caught.value.message
    return caught.value.details["errors"]


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
        len(STARTER.categories),
        len(STARTER.tags),
    )
    assert 8 <= len(STARTER.departments) <= 12 and 60 <= len(STARTER.categories) <= 90
    assert db.scalar(select(func.count()).select_from(Category)) == len(STARTER.categories)
    assert db.scalar(select(func.count()).select_from(Department)) == len(STARTER.departments)
    assert db.scalar(select(func.count()).select_from(Tag)) == len(STARTER.tags)

    categories = service.list_categories(db=db)
    assert {(c.kind, c.major_code) for c in categories} == GB_MAJOR_CLASSES
    names = {(c.kind, c.major_code): c.major_name for c in categories}
    assert names["component", "01"] == "市政公用设施" and names["event", "06"] == "市容环境"
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
        (again.categories, len(STARTER.categories)),
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
    assert vars(result.categories) == {
        "created": 0,
        "updated": 1,
        "deactivated": len(dropped),
        "unchanged": kept - 1,
    }
    assert (result.departments.deactivated, result.tags.deactivated) == (1, 1)
    after = stamps(fresh_db)
    assert set(after) == set(before)  # deactivated, never deleted
    moved = {code for code in after if after[code] != before[code]}
    assert moved == dropped | {"E06010"}
    for code in dropped:
        with pytest.raises(Invalid, match="no longer in use"):
            service.get_category(db=fresh_db, code=code)
        assert not service.get_category(db=fresh_db, code=code, include_inactive=True).active
    assert {c.code for c in service.list_categories(db=fresh_db)}.isdisjoint(dropped)
    assert dropped <= {c.code for c in service.list_categories(db=fresh_db, include_inactive=True)}
    with pytest.raises(Invalid, match="market"):
        service.get_department(db=fresh_db, code="market")
    assert not service.get_department(db=fresh_db, code="market", include_inactive=True).active
    with pytest.raises(Invalid, match="campaign"):
        service.get_tag(db=fresh_db, code="campaign")

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
    with pytest.raises(Invalid, match="not a district"):
        service.responsible_department(db=db, category=garbage, district_code="37a1")
    with pytest.raises(NotFound, match="there is no category E99999"):
        service.get_category(db=db, code="E99999")
    with pytest.raises(NotFound, match="there is no department nobody"):
        service.get_department(db=db, code="nobody")


# -- CSV ----------------------------------------------------------------------------------------


def test_a_csv_file_replaces_the_categories_only(db):
    service.load_starter(db=db)
    csv_text = CSV_HEADER + (
        'E06010,暴露垃圾,important,4h,sanitation,,"《城市市容和环境卫生管理条例》, 地方规定",'
        "370102=sanitation_lx;370103=sanitation_sz\n"
        "E06011,积存垃圾渣土,normal,1d,sanitation_sz,市中区环境卫生服务中心,,\n"
        "E06099,共享单车堆积,normal,1d,bike_operator,共享单车运营企业,,\n"
        "C01002,污水井盖,urgent,2h,water,,,\n"
    )
    result = service.load(db=db, taxonomy=load_taxonomy(csv_text.encode(), "csv"))

    assert vars(result.categories) == {
        "created": 1,
        "updated": 2,
        "deactivated": len(STARTER.categories) - 3,
        "unchanged": 1,
    }
    assert vars(result.departments) == {"created": 2, "updated": 0, "deactivated": 0, "unchanged": 0}
    assert vars(result.tags) == {"created": 0, "updated": 0, "deactivated": 0, "unchanged": 0}
    assert len(service.list_tags(db=db)) == len(STARTER.tags)  # a CSV leaves tags and departments
    assert len(service.list_departments(db=db)) == len(STARTER.departments) + 2
    assert [c.code for c in service.list_categories(db=db)] == ["C01002", "E06010", "E06011", "E06099"]
    new = service.get_category(db=db, code="E06099")
    assert (new.kind, new.major_code, new.major_name, new.department.name) == (
        "event",
        "06",
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
    assert caught.value.details["errors"] == ["row 2: unknown department 'sanitation'"]
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
            "row 2: code 'X01002' is not C (component) or E (event) followed by 5 digits "
            "(2 for the major class, 3 for the subclass)",
        ),
        (
            "C01002,污水井盖,urgent,2x,water,,,",
            "row 2: handling_limit '2x' is not a number followed by m, h or d",
        ),
        ("C01002,污水井盖,high,2h,water,,,", "row 2: urgency 'high' is not one of urgent, important, normal"),
        ("C01002,污水井盖,urgent,2h,Water!,,,", "row 2: department 'Water!' must be 2 to 40 lowercase"),
        ("C01002,,urgent,2h,water,,,", "row 2: name is missing"),
        ("E11001,其他,normal,1d,,,,", "row 2: there is no event major class 11"),
        ("E06010,暴露垃圾,normal,1d,,,,3701=sanitation", "row 2: district '3701' in district_overrides"),
        ("E06010,暴露垃圾,normal,1d,,,,370102", "row 2: district_overrides '370102' is not district_code="),
        ("E06010,暴露垃圾,normal,1d,,,", "row 2: 7 columns where the header has 8"),
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
        "row 3: department sanitation is named '环卫' here and '环卫处' on row 2",
        "row 5: handling_limit '1z' is not a number followed by m, h or d",
        "row 4: category E06010 is already defined by row 2",
    ]
    assert errors_of(b"code,name,urgency,limit\n", "csv") == [
        "row 1: missing column handling_limit",
        "row 1: unknown column 'limit' (the columns are " + CSV_HEADER.strip().replace(",", ", ") + ")",
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
        "the file has no 'tags' section",
        "category 3 (C01003): urgency 'high' is not one of urgent, important, normal",
        "category 4 (C01004): unknown field limit (the fields are code, name, urgency, handling_limit, "
        "department, legal_basis, district_overrides)",
        "department 2 (sanitation): department sanitation is already defined by department 1 (sanitation)",
        f"category 2 ({first}): category {first} is already defined by category 1 ({first})",
        *[
            f"category {i} ({c['code']}): there is no event major class 10"
            for i, c in enumerate(doc["categories"], 1)
            if c["code"].startswith("E10")
        ],
        f"category 1 ({first}): unknown department 'nobody'",
        *[
            f"category {i} ({c['code']}): unknown department 'enforcement'"
            for i, c in enumerate(doc["categories"], 1)
            if c.get("department") == "enforcement"
        ],
    ]
    assert errors_of(b"departments: [\n", "yaml")[0].startswith("the file is not valid YAML")


# -- routes -------------------------------------------------------------------------------------


def test_routes_read_the_taxonomy_and_load_it_with_the_admin_token(client, admin_headers):
    files = {"file": ("taxonomy.yaml", STARTER_TAXONOMY.read_bytes(), "application/yaml")}
    assert client.post("/api/categories/load", files=files).status_code == 401
    loaded = client.post("/api/categories/load", files=files, headers=admin_headers)
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["categories"]["created"] == len(STARTER.categories) and loaded.json()["written"]

    everything = client.get("/api/categories").json()  # reading needs no token
    assert len(everything) == len(STARTER.categories)
    components = client.get("/api/categories", params={"kind": "component"}).json()
    assert components and all(c["code"].startswith("C") for c in components)
    assert len(components) == sum(c.kind == "component" for c in STARTER.categories)
    garbage = client.get("/api/categories/E06010").json()
    assert (garbage["name"], garbage["urgency"], garbage["handling_limit"]) == ("暴露垃圾", "important", "4h")
    assert garbage["department"]["code"] == "sanitation"
    assert [(o["district_code"], o["department"]["code"]) for o in garbage["district_overrides"]] == [
        ("370102", "sanitation_lx")
    ]
    missing = client.get("/api/categories/E99999")
    assert missing.status_code == 404 and missing.json()["detail"] == "there is no category E99999"
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
    assert refused.json()["detail"] == "the taxonomy has 2 errors: nothing was loaded"
    assert [e["msg"].split(":")[0] for e in refused.json()["errors"]] == ["row 2", "row 3"]
    unnamed = client.post(
        "/api/categories/load", files={"file": ("table.txt", bad.encode())}, headers=admin_headers
    )
    assert unnamed.status_code == 422 and "cannot tell the format" in unnamed.json()["detail"]
    assert len(client.get("/api/categories").json()) == len(STARTER.categories)

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


@pytest.fixture
def gridops(fresh_db_url, monkeypatch):
    """Run ``gridops`` in-process on a fresh database: ``(exit code, stdout, stderr as one line)``."""
    from server.cli import app
    from server.database import new_session

    monkeypatch.setattr("server.cli_common.new_session", partial(new_session, fresh_db_url))
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.stdout, " ".join(result.stderr.split())

    return run


def test_cli_loads_and_lists(gridops, tmp_path):
    code, _, err = gridops("categories", "load", str(STARTER_TAXONOMY), "--dry-run")
    assert code == 0 and "dry run: nothing was written" in err
    assert gridops("categories", "list") == (0, "", "")
    code, _, err = gridops("categories", "load", str(STARTER_TAXONOMY))
    assert code == 0, err
    assert f"categories: {len(STARTER.categories)} created, 0 updated, 0 deactivated, 0 unchanged" in err

    code, out, _ = gridops("categories", "list", "--kind", "event")
    lines = [line.split("\t") for line in out.splitlines()]
    assert len(lines) == sum(c.kind == "event" for c in STARTER.categories)
    assert ["E06010", "暴露垃圾", "市容环境", "important", "4h", "sanitation"] in lines
    departments = gridops("categories", "departments")[1].splitlines()
    assert len(departments) == len(STARTER.departments) and "power\t国网济南供电公司\t95598" in departments
    assert len(gridops("categories", "tags")[1].splitlines()) == len(STARTER.tags)

    bad = tmp_path / "bad.csv"
    bad.write_text(CSV_HEADER + "C01002,污水井盖,urgent,2x,water,,,\nE06010,暴露垃圾,urgent,2h,nobody,,,\n")
    code, _, err = gridops("categories", "load", str(bad))
    assert code == 1
    assert "row 2: handling_limit '2x' is not a number followed by m, h or d" in err
    assert "the taxonomy has 1 error: nothing was loaded" in err
    bad.write_text(CSV_HEADER + "E06010,暴露垃圾,urgent,2h,nobody,,,\nE06012,道路不洁,urgent,2h,nobody,,,\n")
    code, _, err = gridops("categories", "load", str(bad))
    assert code == 1 and "row 2: unknown department 'nobody'" in err and "row 3: unknown department" in err
    assert len(gridops("categories", "list")[1].splitlines()) == len(STARTER.categories)
    assert "Usage" in gridops("categories", "load", "--help")[1]
