"""The whole Jinan demo city, as ``gridops demo load`` loads it: the grids, then each domain's demo in turn
(the synthetic address register, people, the starter taxonomy, cases in every state, this week's patrols).
The one module that knows every domain's demo, so that no domain loads another's."""

from __future__ import annotations

from grids.demo import generate_demo_city
from grids.topology import TopologyReport
from server.address.demo import load_demo_addresses
from server.case.demo import load_demo_cases
from server.category.service import load_starter
from server.cli_common import console, fail, session
from server.grid.cli import import_records, print_report, progress_bar
from server.grid.population import load_demo_populations
from server.patrol.demo import load_demo_patrols
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
        console.print(f"演示分类：{load_starter(db=db).summary()}", highlight=False)
        console.print(f"演示人员：新增 {people_added} 个用户", highlight=False)
        console.print(f"演示案件：新增 {load_demo_cases(db=db)} 件", highlight=False)
        console.print(f"演示巡查：新增 {load_demo_patrols(db=db)} 个班次", highlight=False)
