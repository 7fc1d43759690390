"""The reminder letter (提醒函) as a printable HTML page (A4): its number, addressee, the finding in
words, the figures with the last 12 weeks' counts as a small bar chart, a map of the area's grid and the
period's cases (inline SVG drawn from the stored geometries, no tiles), what is asked, the sender and
the date."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from html import escape

from sqlalchemy import text
from sqlalchemy.orm import Session

from server.anticipate.signals import KINDS
from server.category.models import Category
from server.config import get_settings
from server.grid.models import today
from server.warning.models import Warning

WEEKS = 12
MAP_W, MAP_H = 480, 320
MAX_POINTS = 2000

STYLE = """
@page { size: A4; margin: 20mm 18mm; }
body { font-family: "Noto Serif CJK SC", "Songti SC", SimSun, serif; color: #111; max-width: 174mm;
       margin: auto; }
h1 { text-align: center; font-size: 26pt; letter-spacing: 0.5em; color: #b00; margin: 0 0 4mm; }
.number { text-align: center; margin: 0 0 6mm; }
hr { border: 0; border-top: 2px solid #b00; margin: 0 0 6mm; }
table { border-collapse: collapse; width: 100%; margin: 3mm 0; }
td, th { border: 1px solid #444; padding: 1.5mm 2mm; text-align: left; }
figure { margin: 3mm 0; page-break-inside: avoid; }
figcaption { font-size: 9pt; color: #444; }
.sign { text-align: right; margin-top: 10mm; line-height: 1.8; }
@media print { .noprint { display: none; } }
"""


def week_counts(db: Session, warning: Warning) -> list[tuple[str, int]]:
    """The area x category's cases in each of the 12 weeks (Monday to Sunday) ending with the period's."""
    last = warning.period_end - timedelta(days=warning.period_end.weekday())
    rows = db.execute(
        text(
            """
            SELECT w.start, count(c.id)
            FROM generate_series(CAST(:first AS date), CAST(:last AS date), interval '7 days') AS w(start)
            LEFT JOIN case_file c
              ON c.category_id = :category AND c.grid_path <@ CAST(:area AS ltree)
             AND c.merged_into_id IS NULL AND c.state <> 'voided'
             AND c.received_at >= (w.start::date)::timestamp AT TIME ZONE :tz
             AND c.received_at < ((w.start::date) + 7)::timestamp AT TIME ZONE :tz
            GROUP BY w.start ORDER BY w.start
            """
        ),
        {
            "first": last - timedelta(weeks=WEEKS - 1),
            "last": last,
            "category": warning.category_id,
            "area": warning.area_path,
            "tz": get_settings().timezone,
        },
    )
    return [(start.strftime("%m-%d"), count) for start, count in rows]


def bars(weeks: list[tuple[str, int]], expected: float) -> str:
    width, height, pad = 480, 150, 20
    top = max([c for _, c in weeks] + [expected, 1])
    step = (width - 2 * pad) / len(weeks)
    parts = []
    for i, (label, count) in enumerate(weeks):
        h = (height - 2 * pad) * count / top
        x = pad + i * step
        fill = "#c0392b" if i == len(weeks) - 1 else "#7f8c8d"
        parts.append(
            f'<rect x="{x + 2:.1f}" y="{height - pad - h:.1f}" width="{step - 4:.1f}" height="{h:.1f}" '
            f'fill="{fill}"><title>{label} 起一周：{count} 件</title></rect>'
            f'<text x="{x + step / 2:.1f}" y="{height - pad - h - 2:.1f}" font-size="9" '
            f'text-anchor="middle">{count}</text>'
            f'<text x="{x + step / 2:.1f}" y="{height - 6}" font-size="8" text-anchor="middle">{label}</text>'
        )
    y = height - pad - (height - 2 * pad) * expected / top
    parts.append(
        f'<line x1="{pad}" x2="{width - pad}" y1="{y:.1f}" y2="{y:.1f}" stroke="#2471a3" '
        f'stroke-dasharray="4 3"/><text x="{width - pad}" y="{y - 3:.1f}" font-size="9" '
        f'text-anchor="end" fill="#2471a3">预期 {expected:.1f}</text>'
    )
    return f'<svg class="weeks" viewBox="0 0 {width} {height}" width="100%" role="img">{"".join(parts)}</svg>'


def area_map(db: Session, warning: Warning) -> str:
    """The area's grid outline and the period's cases, projected plainly (longitude scaled by the cosine of
    the latitude) into the box."""
    outline = db.scalar(
        text(
            "SELECT ST_AsGeoJSON(ST_Simplify(geom, 0.00002), 6) FROM grid"
            " WHERE code = :c AND valid_to IS NULL"
        ),
        {"c": warning.area_code},
    )
    points = db.execute(
        text(
            """
            SELECT ST_X(location), ST_Y(location) FROM case_file
            WHERE category_id = :category AND grid_path <@ CAST(:area AS ltree)
              AND merged_into_id IS NULL AND state <> 'voided'
              AND received_at >= CAST(:start AS date)::timestamp AT TIME ZONE :tz
              AND received_at < (CAST(:end AS date) + 1)::timestamp AT TIME ZONE :tz
            LIMIT :most
            """
        ),
        {
            "category": warning.category_id,
            "area": warning.area_path,
            "start": warning.period_start,
            "end": warning.period_end,
            "tz": get_settings().timezone,
            "most": MAX_POINTS,
        },
    ).all()
    rings = [ring for polygon in json.loads(outline)["coordinates"] for ring in polygon] if outline else []
    coords = [p for ring in rings for p in ring] + [tuple(p) for p in points]
    if not coords:
        return ""
    xs, ys = [c[0] for c in coords], [c[1] for c in coords]
    k = math.cos(math.radians(sum(ys) / len(ys)))
    span = max((max(xs) - min(xs)) * k, max(ys) - min(ys), 1e-6)
    scale = min((MAP_W - 20) / span, (MAP_H - 20) / span)

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return 10 + (lon - min(xs)) * k * scale, MAP_H - 10 - (lat - min(ys)) * scale

    paths = " ".join(
        "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in (xy(*p[:2]) for p in ring)) + " Z" for ring in rings
    )
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5"/>' for x, y in (xy(*p) for p in points))
    return (
        f'<svg class="map" viewBox="0 0 {MAP_W} {MAP_H}" width="100%" role="img">'
        f'<path d="{paths}" fill="#fdf2e9" stroke="#b00" stroke-width="1.5" fill-rule="evenodd"/>'
        f'<g fill="#c0392b" fill-opacity="0.7">{dots}</g></svg>'
    )


def render(db: Session, warning: Warning, *, sender: str) -> str:
    """The letter of ``warning`` (addressed and numbered) as a whole HTML page."""
    category = db.get(Category, warning.category_id)
    weeks = week_counts(db, warning)
    days = get_settings().warning_reply_days
    ratio = warning.observed / warning.expected if warning.expected else None
    rows = [
        ("预警类型", KINDS.get(warning.kind, warning.kind)),
        ("区域", f"{warning.area_name}（{warning.area_code}）"),
        ("问题类别", f"{category.name}（{category.code}）"),
        ("统计时段", f"{warning.period_start} 至 {warning.period_end}"),
        ("实际案件数", f"{warning.observed} 件"),
        ("预期案件数", f"{warning.expected:.1f} 件" + (f"（实际为预期的 {ratio:.1f} 倍）" if ratio else "")),
        ("偶然出现的概率", "小于万分之一" if warning.p_value < 1e-4 else f"{warning.p_value:.4f}"),
    ]
    table = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    chart = bars(weeks, warning.expected) if weeks else ""
    the_map = area_map(db, warning)
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(warning.letter_number or "提醒函")}</title>
<style>{STYLE}</style></head><body>
<h1>提醒函</h1>
<p class="number">{escape(warning.letter_number or "")}</p>
<hr>
<p class="to"><strong>{escape(warning.addressee_name or "")}：</strong></p>
<p class="finding">经城市运行管理平台监测，{escape(warning.message.rstrip("。"))}。</p>
<table class="figures">{table}</table>
<figure>{chart}<figcaption>近 {len(weeks)} 周每周案件数（红色为本期，虚线为预期）</figcaption></figure>
<figure>{the_map}<figcaption>{escape(warning.area_name)}网格范围及本期案件位置</figcaption></figure>
<p class="ask">请于 {days} 个工作日内（{warning.letter_due_on} 前）核查上述问题的原因，采取相应措施，
并在系统中反馈核查和处理情况。</p>
<p class="sign">{escape(sender)}<br>城市运行管理指挥中心<br>{today():%Y 年 %m 月 %d 日}</p>
</body></html>
"""
