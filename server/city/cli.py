"""``gridops cities ...``: the deployment's cities."""

from __future__ import annotations

import typer

from server.city import service
from server.cli_common import console, session

cities_app = typer.Typer(help="本部署的城市：列出、登记。", no_args_is_help=True)


@cities_app.command("list")
def list_cities() -> None:
    """列出本部署登记的城市。"""
    with session(in_city=False) as db:
        cities = service.list_cities(db)
    if not cities:
        console.print("还没有登记城市：运行 gridops cities add 城市代码 城市名称 登记本市", highlight=False)
    for city in cities:
        console.print(f"{city.code}  {city.name}", highlight=False)


@cities_app.command("add")
def add(
    code: str = typer.Argument(..., help="城市的地级行政区划代码，如 370100。"),
    name: str = typer.Argument(..., help="城市名称，如 济南市。"),
) -> None:
    """登记一个城市；之后加上 --city 城市代码，在这个城市里导入网格、人员和分类。"""
    with session(in_city=False) as db:
        city = service.add_city(db, code=code, name=name)
    console.print(f"已登记 {city.code} {city.name}", highlight=False)
