"""The whole Jinan demo city, as ``gridops demo load`` loads it: the grids, then each domain's demo in turn
(people, the starter taxonomy, cases in every state, this week's patrols). The one module that knows every
domain's demo, so that no domain loads another's."""

from __future__ import annotations

from grids.demo import generate_demo_city
from grids.topology import TopologyReport
from server.case.demo import load_demo_cases
from server.category.service import load_starter
from server.cli_common import console, fail, session
from server.grid.cli import import_records, print_report, progress_bar
from server.patrol.demo import load_demo_patrols
from server.users.demo import load_demo_people


def load_demo_city(*, seed: int) -> None:
    """Generate the demo grids from ``seed`` and import them, then load the demo people, taxonomy, cases
    and patrols, reporting each step on the console; running it again adds only today's patrols on a new
    day."""
    with progress_bar() as update:
        records = generate_demo_city(seed=seed, progress=update)
    report = TopologyReport(issues=[], checked=len(records))
    result = import_records(records, report, dry_run=False)
    if not result.report.ok:
        print_report(result.report)
        fail("the demo city does not pass the topology check")
    console.print(
        f"demo grids: {len(result.created)} new, {len(result.new_versions)} new versions, "
        f"{result.unchanged} unchanged"
    )
    with session() as db:
        people_added = load_demo_people(db=db)
        console.print(f"demo taxonomy: {load_starter(db=db).summary()}", highlight=False)
        console.print(f"demo people: {people_added} new users")
        console.print(f"demo cases: {load_demo_cases(db=db)} new")
        console.print(f"demo patrols: {load_demo_patrols(db=db)} new shifts")
