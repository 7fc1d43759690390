"""The whole Jinan demo city, as ``gridops demo load`` loads it: the grids, then each domain's demo in turn
(the synthetic address register, people, the starter taxonomy, cases in every state, this week's patrols).
The one module that knows every domain's demo, so that no domain loads another's."""

from __future__ import annotations

from dataclasses import replace

from grids.demo import generate_demo_city
from grids.topology import TopologyReport
from server.address.demo import load_demo_addresses
from server.case.demo import load_demo_cases
from server.case.intake import record_layer_grids
from server.category.loader import STARTER_TAXONOMY, load_taxonomy
from server.category.service import load
from server.category.taxonomy import Taxonomy, build_tree, invalid_taxonomy
from server.cli_common import console, fail, session
from server.grid.cli import import_records, print_report, progress_bar
from server.grid.demo import ENV, POLLUTION_CATEGORY, load_demo_layers
from server.grid.population import load_demo_populations
from server.patrol.demo import load_demo_patrols
from server.source.demo import load_demo_sources
from server.users.demo import load_demo_people


def load_demo_city(*, seed: int) -> None:
    """Generate the demo grids from ``seed`` and import them, then load the demo address register,
    people, taxonomy, cases and patrols, reporting each step on the console; running it again adds only
    today's patrols on a new day."""
    with progress_bar() as update:
        records = generate_demo_city(seed=seed, progress=update)
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
