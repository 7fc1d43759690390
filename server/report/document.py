"""The report as a printable document (HTML for A4, and its PDF): a title, then the sections of ``SECTIONS``,
each a function of the report's figures returning its title and body (or None when it has nothing to show
for the area). The figures are the dashboard's (``server.stats.service.dashboard``) for the area and the
period, and the days of the period before for the comparison."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape

import weasyprint
from PIL import ImageFile
from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from server.anticipate.models import Forecast
from server.anticipate.signals import KINDS
from server.case.schemas import CHANNEL_LABELS
from server.category.models import Category
from server.config import get_settings
from server.grid.models import Grid, day_start
from server.grid.population import populations
from server.grid.subtree import within, within_sql
from server.report import charts
from server.stats import sql
from server.stats.export import FORMS, HEADERS
from server.stats.figures import SUMMARY_TABLES, Query
from server.stats.request import Request
from server.stats.schemas import Dashboard
from server.stats.service import dashboard
from server.stats.three_rates import PER_RESIDENTS
from server.warning.models import STATE_NAMES
from server.warning.models import Warning as AreaWarning

# Importing WeasyPrint sets Pillow's global ``LOAD_TRUNCATED_IMAGES`` to True, for every image of the
# process: the photo pipeline (server/photo/processing.py) must refuse a truncated file, and the reports
# hold no raster image, so it is set back at once.
ImageFile.LOAD_TRUNCATED_IMAGES = False

KIND_NAMES = {"day": "日报", "week": "周报", "month": "月报"}
RANKED = 10  # rows of a ranking shown (the first ones), and of the lists of service quality


@dataclass(frozen=True)
class Figures:
    """What the sections are made from."""

    db: Session
    kind: str
    grid: Grid
    start: date
    end: date
    board: Dashboard
    previous: list[dict]  # the days of the period before (same length), as ``Query.days`` gives them


@dataclass(frozen=True)
class Section:
    title: str
    body: str


def figures(db: Session, kind: str, grid: Grid, start: date, end: date) -> Figures:
    board = dashboard(db=db, request=Request(start, end, grid, None))
    length = end - start + timedelta(days=1)
    before = Request(start - length, start - timedelta(days=1), grid, None)
    previous = Query(db, SUMMARY_TABLES, before, grid.path.count(".") + 1).days()
    return Figures(db, kind, grid, start, end, board, previous)


# -- words and numbers --------------------------------------------------------------------------------------


def day_text(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def period_text(kind: str, start: date, end: date) -> str:
    if kind == "day":
        return day_text(start)
    if kind == "month":
        return f"{start.year}年{start.month}月"
    return f"{day_text(start)}至{day_text(end)}"


def title(kind: str, grid_name: str, start: date, end: date) -> str:
    return f"{grid_name}城市管理{KIND_NAMES[kind]}（{period_text(kind, start, end)}）"


def pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def change(now: int, before: int) -> str:
    if before == 0:
        return "上期为零" if now else "与上期持平（均为零）"
    delta = (now - before) / before
    if delta == 0:
        return "与上期持平"
    return f"比上期{'增加' if delta > 0 else '减少'} {abs(100 * delta):.1f}%"


def table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def para(words: str) -> str:
    return f"<p>{escape(words)}</p>"


# -- the sections --------------------------------------------------------------------------------------------


def channels(f: Figures) -> list[tuple[str, int]]:
    """The cohort's cases (merged ones left out, as every dashboard count) by channel, most first."""
    rows = f.db.execute(
        text(
            f"""
            SELECT c.channel, count(*) FROM case_file c
            WHERE {within_sql("c.grid_path", ":area")} AND {sql.COHORT}
              AND c.received_at >= :since AND c.received_at < :until
            GROUP BY c.channel ORDER BY count(*) DESC, c.channel
            """
        ),
        {"area": f.grid.path, "since": day_start(f.start), "until": day_start(f.end + timedelta(days=1))},
    ).all()
    return [(CHANNEL_LABELS.get(channel, channel), n) for channel, n in rows]


def volumes(f: Figures) -> Section:
    t = f.board.totals
    before = sum(d["received"] for d in f.previous)
    words = (
        f"本期共受理案件 {t.received} 件，{change(t.received, before)}（上期 {before} 件）；"
        f"其中应结案 {t.due} 件，已结案 {t.closed} 件，结案率 {pct(t.closure_rate)}，"
        f"按期结案率 {pct(t.on_time_closure_rate)}，按期处置率 {pct(t.on_time_handling_rate)}，"
        f"返工率 {pct(t.rework_rate)}。"
    )
    by_channel = channels(f)
    body = para(words)
    if by_channel:
        body += "<h3>按上报渠道</h3>" + charts.bars(by_channel, "按上报渠道的受理数")
        body += table(
            ["上报渠道", "受理数", "占比"],
            [[name, str(n), pct(n / t.received if t.received else None)] for name, n in by_channel],
        )
    return Section("受理与办结概况", body)


def trend(f: Figures) -> Section:
    if f.kind == "day":
        hours = f.board.hours
        return Section(
            "各时段受理量",
            charts.bars([(f"{h.hour:02d}时", h.received) for h in hours if h.received], "各时段受理数")
            if any(h.received for h in hours)
            else para("本日没有受理案件。"),
        )
    days = f.board.trend_day
    labels = [f"{d.date.month}/{d.date.day}" for d in days]
    chart = charts.lines(
        labels,
        [("本期", [d.received for d in days]), ("上期", [d["received"] for d in f.previous])],
        "每日受理量走势",
    )
    rows = [
        [day_text(d.date), str(d.received), str(d.closed), str(p["received"])]
        for d, p in zip(days, f.previous, strict=True)
    ]
    heads = ["日期", "受理数", "结案数", "上期同序日受理数"]
    return Section("每日受理量走势（与上期对比）", chart + table(heads, rows))


def categories(f: Figures) -> Section:
    rows = f.board.categories
    if not rows:
        return Section("问题类别前十", para("本期没有受理案件。"))
    total = f.board.totals.received
    return Section(
        "问题类别前十",
        charts.bars([(r.name, r.received) for r in rows], "受理数前十的问题类别")
        + table(
            ["名次", "问题类别", "受理数", "占全部受理"],
            [[str(i), r.name, str(r.received), pct(r.received / total)] for i, r in enumerate(rows, 1)],
        ),
    )


def area_map(f: Figures) -> Section | None:
    """The streets of the area shaded by cases per 10,000 residents (by count when a population is not
    known), from their current outlines."""
    streets = {r.code: r for r in f.board.streets}
    if not streets:
        return None
    people = populations(f.db, f.grid.path)
    per_residents = all(people.get(code) for code in streets)
    outlines = f.db.execute(
        text(
            """
            WITH s AS (SELECT code, name, ST_Transform(geom, 3857) AS g FROM grid
                       WHERE valid_to IS NULL AND code = ANY(:codes))
            SELECT code, name, ST_AsSVG(ST_SimplifyPreserveTopology(g, 5), 0, 0) AS outline,
                   ST_X(ST_PointOnSurface(g)) AS x, -ST_Y(ST_PointOnSurface(g)) AS y,
                   (SELECT ARRAY[ST_XMin(e), -ST_YMax(e), ST_XMax(e) - ST_XMin(e), ST_YMax(e) - ST_YMin(e)]
                    FROM (SELECT ST_Extent(g)::geometry AS e FROM s) x) AS box
            FROM s ORDER BY code
            """
        ),
        {"codes": list(streets)},
    ).all()
    if not outlines:
        return None
    areas = []
    for o in outlines:
        received = streets[o.code].received
        value = PER_RESIDENTS * received / people[o.code] if per_residents else received
        areas.append(charts.Area(o.name, o.outline, o.x, o.y, value))
    measure = "每万人受理数" if per_residents else "受理数"
    svg = charts.choropleth(areas, tuple(outlines[0].box), measure, f"{f.grid.name}各街道{measure}")
    note = "按常住人口计算每万人受理数。" if per_residents else "部分街道未登记常住人口，按受理数着色。"
    return Section(f"各街道{measure}分布图", svg + para(note))


def rates(f: Figures) -> Section:
    form = f.board.rates_form
    if form == "beijing":
        fields = ["received", "called_back", "response_rate", "resolution_rate", "satisfaction_rate"]
    else:
        fields = ["received", "complaints", "complaint_rate", "completion_rate", "satisfaction_rate"]

    def cells(r) -> list[str]:
        row = r.model_dump()
        out = []
        for name in fields:
            v = row[name]
            if name == "complaint_rate":
                out.append(num(v) if v is not None else r.complaint_rate_note or "—")
            else:
                out.append(pct(v) if name.endswith("_rate") else str(v))
        return out

    heads = ["名次", "名称"] + [HEADERS[n] for n in fields] + ["得分", "等级"]

    def ranking(rows) -> str:
        shown = [r for r in rows if r.rank is not None][:RANKED]
        if not shown:
            return para("本期没有受理案件，不排名。")
        return table(heads, [[str(r.rank), r.name, *cells(r), num(r.score), r.grade or "—"] for r in shown])

    return Section(
        f"三率考核（{FORMS[form]}）",
        f"<h3>街道</h3>{ranking(f.board.rates_streets)}<h3>处置部门</h3>{ranking(f.board.rates_departments)}",
    )


def rankings(f: Figures) -> Section:
    fields = ["received", "due", "closed", "closure_rate", "on_time_closure_rate", "on_time_handling_rate"]
    heads = ["名次", "名称"] + [HEADERS[n] for n in fields] + ["得分", "等级"]

    def ranking(rows) -> str:
        shown = [r for r in rows if r.rank is not None][:RANKED]
        if not shown:
            return para("本期没有受理案件，不排名。")
        out = []
        for r in shown:
            row = r.model_dump()
            out.append(
                [str(r.rank), r.name]
                + [pct(row[n]) if n.endswith("_rate") else str(row[n]) for n in fields]
                + [num(r.score), r.grade or "—"]
            )
        return table(heads, out)

    return Section(
        "街道与部门综合排名",
        f"<h3>街道（前 {RANKED} 名）</h3>"
        + ranking(f.board.streets)
        + f"<h3>处置部门（前 {RANKED} 名）</h3>"
        + ranking(f.board.departments),
    )


def service(f: Figures) -> Section:
    b = f.board
    parts = []
    rated = b.ratings_streets[:RANKED]
    if rated:
        parts.append(
            "<h3>市民评价（按街道）</h3>"
            + table(
                ["街道", "评价数", "平均星级", "差评数（2星及以下）", "差评占比"],
                [[r.name, str(r.ratings), num(r.mean_stars), str(r.low), pct(r.low_share)] for r in rated],
            )
        )
    else:
        parts.append(para("本期受理的案件还没有市民评价。"))
    for heading, rows in (("街道", b.working_days_streets), ("处置部门", b.working_days_departments)):
        if not rows:
            continue
        parts.append(
            f"<h3>办结用时（按{heading}，用时最短在前）</h3>"
            + table(
                [heading, "结案数", "平均办结用时（工作日）", "最快办结案件", "类别", "用时（工作日）"],
                [
                    [
                        r.name,
                        str(r.closed),
                        num(r.mean_working_days, 2),
                        r.fastest_code,
                        r.fastest_category,
                        num(r.fastest_working_days, 2),
                    ]
                    for r in rows[:RANKED]
                ],
            )
        )
    by_speed = sorted(b.working_days_streets, key=lambda r: (r.fastest_working_days, r.fastest_code))
    fastest = by_speed[0] if by_speed else None
    if fastest:
        parts.append(
            para(
                f"本期办结最快的案件：{fastest.fastest_code}（{fastest.fastest_category}，{fastest.name}），"
                f"用时 {num(fastest.fastest_working_days, 2)} 个工作日。"
            )
        )
    returned = [r for r in b.returns if r.returned][:RANKED]
    if returned:
        parts.append(
            "<h3>部门回退</h3>"
            + table(
                ["处置部门", "主办派遣数", "回退数", "回退率"],
                [[r.name, str(r.dispatched), str(r.returned), pct(r.return_rate)] for r in returned],
            )
        )
    else:
        parts.append(para("本期没有部门回退案件。"))
    return Section("服务质量", "".join(parts))


def warnings(f: Figures) -> Section:
    """The warnings on areas of the report's area open at some time in the period (server/warning)."""
    rows = f.db.execute(
        select(AreaWarning, Category.name)
        .join(Category, Category.id == AreaWarning.category_id)
        .where(
            within(AreaWarning.area_path, [f.grid.path]),
            AreaWarning.raised_at < day_start(f.end + timedelta(days=1)),
            or_(AreaWarning.closed_at.is_(None), AreaWarning.closed_at >= day_start(f.start)),
        )
        .order_by(AreaWarning.raised_at, AreaWarning.id)
    ).all()
    if not rows:
        return Section("预警", para("本期没有预警。"))
    heads = ["类型", "区域", "问题类别", "受理数", "预期数", "提出时间", "当前状态", "提醒函"]
    cells = [
        [KINDS[w.kind], w.area_name, category, str(w.observed), num(w.expected),
         f"{w.raised_at.astimezone(day_start(f.start).tzinfo):%Y-%m-%d}", STATE_NAMES[w.state],
         w.letter_number or "未发"]
        for w, category in rows
    ]  # fmt: skip
    opened = sum(1 for w, _ in rows if day_start(f.start) <= w.raised_at)
    words = f"本期内有效的预警 {len(rows)} 条，其中本期新提出 {opened} 条。"
    return Section("预警", para(words) + table(heads, cells))


def forecast(f: Figures) -> Section | None:
    """Next week's expected reports: the streets x categories expected most in the latest forecast
    (server/anticipate) made from the data up to a day in the week after the period (a report made later
    than that has none: the section is left out)."""
    area = Grid.__table__.alias("area")
    rows = f.db.execute(
        select(Forecast, Category.name, area.c.name)
        .join(Category, Category.id == Forecast.category_id)
        .join(area, (area.c.code == Forecast.area_code) & area.c.valid_to.is_(None))
        .where(
            Forecast.horizon == "week",
            Forecast.level == "street",
            Forecast.cutoff.between(f.end, f.end + timedelta(days=6)),
            within(Forecast.area_path, [f.grid.path]),
        )
        .order_by(Forecast.expected.desc(), Forecast.area_code, Forecast.category_id)
        .limit(RANKED)
    ).all()
    if not rows:
        return None
    first = rows[0][0]
    words = (
        f"按截至{day_text(first.cutoff)}的数据预测，{day_text(first.period_start)}至{day_text(first.period_end)}"
        f"预计受理最多的街道和问题类别如下（区间为 {100 * get_settings().forecast_interval:.0f}% 预测区间）。"
    )
    cells = [
        [street, category, num(fc.expected), f"{fc.low}–{fc.high}", str(fc.last_observed)]
        for fc, category, street in rows
    ]
    heads = ["街道", "问题类别", "预计受理数", "预测区间", "最近一周受理数"]
    return Section("下周预测", para(words) + table(heads, cells))


SECTIONS: list[Callable[[Figures], Section | None]] = [
    volumes,
    trend,
    categories,
    area_map,
    rates,
    rankings,
    service,
    warnings,
    forecast,
]

# -- the document --------------------------------------------------------------------------------------------

NUMERALS = "一二三四五六七八九十"
STYLE = """
@page { size: A4; margin: 18mm 16mm 20mm;
  @bottom-center { content: "第 " counter(page) " 页，共 " counter(pages) " 页";
                   font-size: 9pt; color: #555; } }
body { font-family: "Noto Sans CJK SC", "Noto Serif CJK SC", sans-serif; font-size: 10.5pt; color: #111; }
h1 { font-size: 18pt; text-align: center; margin: 0 0 4mm; }
.meta { text-align: center; color: #555; margin-bottom: 8mm; }
h2 { font-size: 13pt; border-bottom: 1px solid #3b73b9; padding-bottom: 1mm; margin-top: 7mm; }
h3 { font-size: 11pt; margin: 4mm 0 2mm; }
table { border-collapse: collapse; width: 100%; margin: 2mm 0 4mm; font-size: 9pt; }
th, td { border: 1px solid #bbb; padding: 1mm 2mm; text-align: left; }
th { background: #eef3fa; }
tr { page-break-inside: avoid; }
svg { max-width: 100%; page-break-inside: avoid; }
@media screen { body { max-width: 210mm; margin: 10mm auto; } }
"""


def render(f: Figures, generated_at: datetime) -> str:
    """The document as HTML: the title, when and from what it was made, then every section."""
    head = title(f.kind, f.grid.name, f.start, f.end)
    sections = [s for make in SECTIONS if (s := make(f)) is not None]
    body = "".join(
        f"<section><h2>{NUMERALS[i]}、{escape(s.title)}</h2>{s.body}</section>"
        for i, s in enumerate(sections)
    )
    local = generated_at.astimezone(day_start(f.start).tzinfo)
    meta = (
        f"统计范围：{f.grid.name}（{f.grid.code}）　统计时段：{day_text(f.start)}至{day_text(f.end)}　"
        f"生成时间：{local:%Y-%m-%d %H:%M}"
    )
    return (
        f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(head)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{escape(head)}</h1>"
        f'<p class="meta">{escape(meta)}</p>{body}</body></html>'
    )


def pdf(html: str) -> bytes:
    return weasyprint.HTML(string=html).write_pdf()
