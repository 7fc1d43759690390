"""The demo cities, as ``gridops demo load`` loads them into one deployment: Jinan (济南市, the deployment's
own city: registered first) with its grids and each domain's demo in turn (the synthetic address register,
people, the starter taxonomy, cases in every state, this week's patrols); Beijing (北京市) with its grids,
the starter taxonomy, its people and a dozen reported cases; and a platform administrator who works in
both. The one module that knows every domain's demo, so that no domain loads another's."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta

from geoalchemy2.shape import to_shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grids.demo import BEIJING, generate_demo_city
from grids.records import GridRecord
from grids.topology import TopologyReport
from server import cli_common
from server.address.demo import load_demo_addresses
from server.auth.principal import Principal
from server.case import intake
from server.case.demo import NAMESPACE, PROBLEMS, inspectors_on_duty, load_demo_cases, point_in
from server.case.intake import record_layer_grids
from server.case.models import Case
from server.case.schemas import ReportIn
from server.category.loader import STARTER_TAXONOMY, load_taxonomy
from server.category.service import load, load_starter
from server.category.taxonomy import Taxonomy, build_tree, invalid_taxonomy
from server.city.service import ensure_city
from server.cli_common import console, fail, session
from server.grid.cli import import_records, print_report, progress_bar
from server.grid.demo import ENV, POLLUTION_CATEGORY, load_demo_layers
from server.grid.population import load_demo_populations
from server.knowledge import cli as answers_cli
from server.patrol.demo import load_demo_patrols
from server.source.demo import load_demo_sources
from server.users import demo as user_demo
from server.users.demo import load_demo_people, load_platform_admin

JINAN_CITY = ("370100", "济南市")  # registered first: the deployment's own city
BEIJING_CITY = ("110100", "北京市")
BEIJING_CASES = 12


def load_demo_city(*, seed: int) -> None:
    """Register the demo cities and load each while working in it (Jinan's grids from ``seed``), then the
    platform administrator, reporting each step on the console; running it again adds only Jinan's
    patrols of a new day."""
    with _working_in(None), session(in_city=False) as db:
        _, beijing = [ensure_city(db, code=code, name=name).id for code, name in (JINAN_CITY, BEIJING_CITY)]
    console.print(f"{JINAN_CITY[1]}：", highlight=False)
    with _working_in(JINAN_CITY[0]):
        _load_jinan(seed)
    console.print(f"{BEIJING_CITY[1]}：", highlight=False)
    with _working_in(BEIJING_CITY[0]):
        _load_beijing()
    with _working_in(JINAN_CITY[0]), session() as db:
        added = load_platform_admin(db=db, also_cities=[beijing])
    console.print(
        f"平台管理员（在{JINAN_CITY[1]}和{BEIJING_CITY[1]}工作）：新增 {added} 个用户", highlight=False
    )


@contextmanager
def _working_in(code: str | None) -> Iterator[None]:
    """Every ``cli_common.session()`` opened inside works in the city of ``code`` (None: the own city)."""
    before = cli_common.working_city
    cli_common.working_city = code
    try:
        yield
    finally:
        cli_common.working_city = before


def _import_grids(records: list[GridRecord]) -> None:
    report = TopologyReport(issues=[], checked=len(records))
    result = import_records(records, report, dry_run=False)
    if not result.report.ok:
        print_report(result.report)
        fail("生成的演示城市没有通过拓扑检查，什么都没有写入：这是演示数据的缺陷，请把上面的报告交给开发人员")
    console.print(
        f"演示网格：新增 {len(result.created)} 个，新版本 {len(result.new_versions)} 个，"
        f"未变 {result.unchanged} 个",
        highlight=False,
    )


def _load_jinan(seed: int) -> None:
    with progress_bar() as update:
        records = generate_demo_city(seed=seed, progress=update)
    _import_grids(records)
    with session() as db:
        populated = load_demo_populations(db=db, seed=seed)
        console.print(f"演示常住人口（合成数据）：{populated} 个社区/村新设人口", highlight=False)
        addresses = load_demo_addresses(db=db)
        console.print(
            f"演示地址库（示例数据，非真实地址库）：新增 {addresses.added} 个，更新 {addresses.changed} 个",
            highlight=False,
        )
        people_added = load_demo_people(db=db)
        console.print(f"演示人员：新增 {people_added} 个用户", highlight=False)
        layers = load_demo_layers(db=db)
        console.print(
            f"演示网格图层（示例数据）：新增 {layers.layers} 个图层、{layers.grids} 个责任网格、"
            f"{layers.assignments} 项任职",
            highlight=False,
        )
        console.print(f"演示分类：{load(db=db, taxonomy=demo_taxonomy()).summary()}", highlight=False)
        answers = answers_cli.load_file(db, answers_cli.STARTER_ANSWERS)
        console.print(f"演示知识库（示例内容）：{answers_cli.summary(answers)}", highlight=False)
        sources = load_demo_sources(db=db, seed=seed)
        console.print(
            f"演示污染源台账（示例数据，非真实台账）：新增 {sources.added} 个，更新 {sources.changed} 个",
            highlight=False,
        )
        console.print(f"演示案件：新增 {load_demo_cases(db=db)} 件", highlight=False)
        recorded = record_layer_grids(db=db)
        if recorded:
            console.print(f"已有案件记下其他图层的网格 {recorded} 条", highlight=False)
        console.print(f"演示巡查：新增 {load_demo_patrols(db=db)} 个班次", highlight=False)


def _load_beijing() -> None:
    with progress_bar() as update:
        records = generate_demo_city(city=BEIJING, progress=update)
    _import_grids(records)
    with session() as db:
        console.print(f"演示分类：{load_starter(db=db).summary()}", highlight=False)
        added = load_demo_people(db=db, people=user_demo.BEIJING)
        console.print(f"演示人员：新增 {added} 个用户", highlight=False)
        console.print(f"演示案件：新增 {_load_reported_cases(db)} 件", highlight=False)


def _load_reported_cases(db: Session) -> int:
    """A dozen cases the city's inspectors reported over the last day, each at a point of their village,
    unless they exist; return how many were created."""
    if db.scalar(select(Case.id).where(Case.client_uuid == _beijing_case_uuid(0))) is not None:
        return 0
    now = db.scalar(select(func.now()))
    rng = random.Random(BEIJING.seed)
    inspectors = inspectors_on_duty(db)
    for i in range(BEIJING_CASES):
        inspector, village = inspectors[i % len(inspectors)]
        category, description = PROBLEMS[i % len(PROBLEMS)]
        lon, lat = point_in(to_shape(village.geom), rng)
        at = now - timedelta(minutes=20 + 110 * i)
        data = ReportIn(
            client_uuid=_beijing_case_uuid(i),
            category=category,
            lon=lon,
            lat=lat,
            accuracy_m=round(rng.uniform(3, 25), 1),
            description=description,
            device_time=at - timedelta(seconds=rng.randint(5, 90)),
            address=f"{village.name}附近",
        )
        intake.accept(db=db, principal=Principal.of(inspector), data=data, at=at)
    return BEIJING_CASES


def _beijing_case_uuid(i: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"beijing-case-{i}")


def demo_taxonomy() -> Taxonomy:
    """The starter taxonomy, with 餐饮油烟污染 answered for by the environmental grid's people."""
    taxonomy = load_taxonomy(STARTER_TAXONOMY)
    taxonomy.categories = [
        replace(c, layer=ENV) if c.code == POLLUTION_CATEGORY else c for c in taxonomy.categories
    ]
    problems: list[str] = []
    taxonomy.nodes = build_tree(taxonomy, problems)
    if problems:
        raise invalid_taxonomy(problems)
    return taxonomy
