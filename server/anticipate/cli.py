"""``gridops forecast ...``: refresh and show the forecasts, the backtest, and the warnings' measurement on
the synthetic history (``evaluate``, registered as ``gridops warnings evaluate``)."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy import select

from server.anticipate import backtest as backtest_mod
from server.anticipate import evaluate as evaluate_mod
from server.anticipate.detect import SURGE_LEVELS
from server.anticipate.forecast import model_for
from server.anticipate.forecast import refresh as refresh_forecasts
from server.anticipate.models import Forecast
from server.anticipate.series import LEVEL_NAMES
from server.case.models import DemoHistory
from server.category.models import Category
from server.cli_common import console, fail, session
from server.config import get_settings
from server.grid.cli import progress_bar
from server.grid.models import CURRENT, Grid

forecast_app = typer.Typer(
    help="预测：下周、下月各区域各类别的案件量及其区间；回测；预警的检验。", no_args_is_help=True
)
HORIZON_NAMES = {"week": "下周", "month": "下月"}


@forecast_app.command("refresh")
def refresh() -> None:
    """按截至昨天的数据重新预测下周和下月，替换上一次的预测。"""
    with session() as db:
        for run in refresh_forecasts(db):
            console.print(
                f"{HORIZON_NAMES[run.horizon]}（{run.period_start} 至 {run.period_end}）：{run.rows} 行预测，"
                f"数据截至 {run.cutoff}"
            )


@forecast_app.command("show")
def show(
    horizon: str = typer.Option("week", help="week（下周）或 month（下月）"),
    level: str = typer.Option("village", help="village（社区）、street（街道）或 district（区县）"),
    limit: int = typer.Option(20, min=1, max=1000, help="最多列出的行数"),
) -> None:
    """列出最近一次预测中预计案件最多的区域和类别。"""
    if horizon not in HORIZON_NAMES or level not in LEVEL_NAMES:
        fail("周期请写 week 或 month，层级请写 village、street 或 district")
    with session() as db:
        rows = db.execute(
            select(Forecast, Grid.name, Category.name)
            .join(Category, Category.id == Forecast.category_id)
            .outerjoin(Grid, (Grid.code == Forecast.area_code) & CURRENT)
            .where(Forecast.horizon == horizon, Forecast.level == level)
            .order_by(Forecast.expected.desc())
            .limit(limit)
        ).all()
    if not rows:
        fail("还没有预测：请先运行 gridops forecast refresh")
    first = rows[0][0]
    table = Table(
        title=f"{HORIZON_NAMES[horizon]}预测（{first.period_start} 至 {first.period_end}，"
        f"数据截至 {first.cutoff}）"
    )
    for header in (LEVEL_NAMES[level], "类别", "预计", "区间", "上一周期实际"):
        table.add_column(header)
    for f, area, category in rows:
        table.add_row(
            area or f.area_code, category, f"{f.expected:.1f}", f"{f.low}–{f.high}", str(f.last_observed)
        )
    console.print(table)


def _models(db):
    history = db.scalar(select(DemoHistory).order_by(DemoHistory.id.desc()).limit(1))
    if history is None:
        fail("没有模拟历史：请先运行 gridops demo history")
    return {
        lv: model_for(db, lv, history.first_day, history.last_day, history.last_day) for lv in SURGE_LEVELS
    }


def backtest_tables(result: backtest_mod.Result) -> list[tuple[str, list[str], list[list[str]]]]:
    """The backtest as (title, headers, rows) tables: per level and horizon, then per category at the
    village level where a baseline does as well as the model."""
    pct = f"{result.interval:.0%}"
    headers = [
        "层级",
        "周期",
        "方法",
        "期数",
        "格数",
        "MAE",
        f"{pct}区间覆盖率",
        "本模型同期 MAE",
        "本模型同期覆盖率",
        "本模型更好",
    ]
    rows = []
    for (level, horizon, method), s in sorted(
        result.overall.items(),
        key=lambda kv: (SURGE_LEVELS.index(kv[0][0]), kv[0][1] != "week", kv[0][2] != "model"),
    ):
        better = "—" if method == "model" else ("是" if s.model_mae < s.mae else "否")
        rows.append(
            [
                LEVEL_NAMES[level],
                HORIZON_NAMES[horizon],
                backtest_mod.METHODS[method],
                str(s.periods),
                str(s.n),
                f"{s.mae:.3f}",
                f"{s.coverage:.1%}",
                f"{s.model_mae:.3f}",
                f"{s.model_coverage:.1%}",
                better,
            ]
        )
    losses = [
        [
            LEVEL_NAMES[lv],
            HORIZON_NAMES[h],
            backtest_mod.METHODS[m],
            f"{code} {result.category_names.get(code, '')}",
            f"{s.mae:.3f}",
            f"{s.model_mae:.3f}",
        ]
        for (lv, h, m, code) in result.losses()
        if code
        for s in [result.by_category[(lv, h, m, code)]]
    ]
    return [
        ("预测回测", headers, rows),
        ("基线不差于本模型的类别", ["层级", "周期", "基线", "类别", "基线 MAE", "本模型 MAE"], losses),
    ]


def evaluate_tables(outcome: evaluate_mod.Outcome) -> list[tuple[str, list[str], list[list[str]]]]:
    names = {m: evaluate_mod.method_name(m, outcome.rules) for m in evaluate_mod.methods(outcome.rules)}
    surge_rows = [
        [c.grid, c.category, f"{c.start} 至 {c.end}", f"{c.factor:g}"]
        + [("未发现" if c.delay.get(m) is None else f"第 {c.delay[m] + 1} 周") for m in names]
        for c in outcome.surges
    ]
    alarm_rows = []
    for m, label in names.items():
        caught = [c.delay[m] for c in outcome.surges if c.delay.get(m) is not None]
        alarm_rows.append(
            [
                label,
                f"{len(caught)}/{len(outcome.surges)}",
                f"{sum(caught) / len(caught):.1f}" if caught else "—",
            ]
            + [f"{outcome.per_week(m, lv):.2f}" for lv in SURGE_LEVELS]
            + [f"{outcome.per_week(m):.2f}"]
        )
    hot_rows = [
        [
            h["grid"],
            h["category"],
            f"{h['factor']:g}",
            str(h["first"] or "未发现"),
            "是" if h["last_week"] else "否",
        ]
        for h in outcome.hot_spots
    ]
    span = f"{outcome.first_week} 至 {outcome.last_week}，共 {outcome.weeks} 周"
    return [
        (
            f"预警检验（{span}）",
            ["方法", "发现的突增", "平均延迟（周）"]
            + [f"每周误报（{LEVEL_NAMES[lv]}）" for lv in SURGE_LEVELS]
            + ["每周误报（合计）"],
            alarm_rows,
        ),
        ("埋设的突增", ["网格", "类别", "时段", "倍数", *list(names.values())], surge_rows),
        (
            f"长期高频（其他被标记的社区×类别：曾标记 {outcome.other_persistent} 个，最后一周 "
            f"{outcome.other_persistent_last} 个）",
            ["社区", "类别", "倍数", "首次发现的周", "最后一周仍标记"],
            hot_rows,
        ),
    ]


def _print(tables, seconds: float, markdown: Path | None, command: str) -> None:
    for title, headers, rows in tables:
        table = Table(title=title)
        for h in headers:
            table.add_column(h)
        for r in rows:
            table.add_row(*r)
        console.print(table)
    console.print(f"用时 {seconds:.1f} 秒")
    if markdown:
        parts = [f"<!-- {command}，{date.today()}，用时 {seconds:.1f} 秒 -->"]
        for title, headers, rows in tables:
            parts += [f"**{title}**", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
            parts += ["| " + " | ".join(r) + " |" for r in rows]
            parts.append("")
        markdown.write_text("\n".join(parts), encoding="utf-8")
        console.print(f"表格已写入 {markdown}")


@forecast_app.command("backtest")
def backtest(
    weeks: int = typer.Option(None, min=1, max=520, help="只回测最近几周（默认整段历史）"),
    markdown: Path = typer.Option(None, help="把表格另存为 Markdown 文件"),
) -> None:
    """在模拟历史上逐周回放预测，与上一周期、去年同期、近4周均值比较平均绝对误差和区间覆盖率。"""
    started = time.monotonic()
    with session() as db, progress_bar() as update:
        models = _models(db)
        result = backtest_mod.run(
            models,
            interval=get_settings().forecast_interval,
            weeks=weeks,
            progress=lambda d, t: update("回放预测", d, t),
        )
    _print(backtest_tables(result), time.monotonic() - started, markdown, "gridops forecast backtest")


def evaluate(markdown: Path = typer.Option(None, help="把表格另存为 Markdown 文件")) -> None:
    """在模拟历史上逐周回放预警，对照埋设的突增和长期高频，统计发现、延迟和每周误报，并与原比值规则比较。"""
    started = time.monotonic()
    with session() as db, progress_bar() as update:
        try:
            outcome = evaluate_mod.run(db, progress=lambda d, t: update("回放预警", d, t))
        except LookupError:
            fail("没有模拟历史：请先运行 gridops demo history")
    _print(evaluate_tables(outcome), time.monotonic() - started, markdown, "gridops warnings evaluate")
