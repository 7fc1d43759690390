"""The reports' charts as inline SVG drawn here (no script: the PDF renders them as the page does): bars,
lines and the map of an area's grids shaded by a figure, with its legend."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

WIDTH = 660
FONT = 'font-family="Noto Sans CJK SC, Noto Serif CJK SC, sans-serif"'
BAR = "#3b73b9"
LINES = ("#3b73b9", "#9aa5b1")  # this period, the one before
SHADES = ("#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704")  # light to dark: low to high
NO_DATA = "#e5e7eb"
NAMED = 20  # the areas named on a map: those with the highest figures
NAME_STYLE = 'text-anchor="middle" font-size="10"'  # 10 px: a name is 10 px wide a character


def _svg(height: float, body: str, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0f}" width="100%" '
        f'role="img" aria-label="{escape(label)}" {FONT} font-size="12">{body}</svg>'
    )


def _number(value: float) -> str:
    return f"{value:.1f}" if isinstance(value, float) and not value.is_integer() else f"{value:.0f}"


def rounded_up(value: float) -> float:
    """The axis' top: 1, 2, 4, 8 or 10 times a power of ten, at or above ``value`` (1 for nothing), so
    its quarters read as round numbers."""
    power = 1.0
    while power * 10 < value:
        power *= 10
    return next(power * k for k in (1, 2, 4, 8, 10) if power * k >= value) if value > 0 else 1.0


def bars(rows: list[tuple[str, float]], label: str) -> str:
    """Horizontal bars, one per (name, value), the longest the largest value."""
    left, row_h, right = 170, 24, 60
    largest = max((v for _, v in rows), default=0) or 1
    parts = []
    for i, (name, value) in enumerate(rows):
        y = i * row_h + 4
        w = (WIDTH - left - right) * value / largest
        parts.append(
            f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{escape(name)}</text>'
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" fill="{BAR}"/>'
            f'<text x="{left + w + 4:.1f}" y="{y + 15}">{_number(value)}</text>'
        )
    return _svg(len(rows) * row_h + 8, "".join(parts), label)


def lines(x_labels: list[str], series: list[tuple[str, list[float]]], label: str) -> str:
    """Lines over the x labels (a series may be shorter or longer: drawn as far as the labels go), with
    a y axis from 0 and a key naming each series."""
    left, top, bottom, right, height = 50, 28, 30, 16, 240
    n = max(len(x_labels), 2)
    largest = rounded_up(max((v for _, values in series for v in values), default=0))
    plot_w, plot_h = WIDTH - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + plot_w * i / (n - 1)

    def y(v: float) -> float:
        return top + plot_h * (1 - v / largest)

    parts = []
    for k in range(5):  # the y axis: 0 to the largest in quarters
        v = largest * k / 4
        parts.append(
            f'<line x1="{left}" x2="{WIDTH - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e5e7eb"/>'
            f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{_number(v)}</text>'
        )
    step = max(1, len(x_labels) // 8)
    for i, name in enumerate(x_labels):
        if i % step == 0 or i == len(x_labels) - 1:
            parts.append(f'<text x="{x(i):.1f}" y="{height - 10}" text-anchor="middle">{escape(name)}</text>')
    for s, (name, values) in enumerate(series):
        colour = LINES[s % len(LINES)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values[: len(x_labels)]))
        if len(values) == 1:
            parts.append(f'<circle cx="{x(0):.1f}" cy="{y(values[0]):.1f}" r="3" fill="{colour}"/>')
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        kx = left + s * 200
        parts.append(
            f'<line x1="{kx}" x2="{kx + 24}" y1="12" y2="12" stroke="{colour}" stroke-width="2"/>'
            f'<text x="{kx + 30}" y="16">{escape(name)}</text>'
        )
    return _svg(height, "".join(parts), label)


@dataclass(frozen=True)
class Area:
    """One grid of the map: its outline (SVG path data in the map's coordinates), where its name goes, and
    its figure (None: not known)."""

    name: str
    outline: str
    label_x: float
    label_y: float
    value: float | None


def classes(values: list[float]) -> list[float]:
    """The upper bounds of up to five classes of equal width from 0 to the largest value."""
    largest = max(values, default=0)
    if largest <= 0:
        return [0.0]
    return [largest * k / len(SHADES) for k in range(1, len(SHADES) + 1)]


def shade(value: float | None, bounds: list[float]) -> str:
    if value is None:
        return NO_DATA
    for colour, bound in zip(SHADES, bounds, strict=False):
        if value <= bound:
            return colour
    return SHADES[len(bounds) - 1]


def choropleth(areas: list[Area], box: tuple[float, float, float, float], measure: str, label: str) -> str:
    """The areas shaded by their figure (the highest ones above zero named), in the box (min x, min y,
    width, height, in the outlines' coordinates), with a legend of the classes below."""
    map_h = 420
    bx, by, bw, bh = box
    scale = min(WIDTH / bw, map_h / bh) if bw and bh else 1
    bounds = classes([a.value for a in areas if a.value is not None])
    shapes = [
        f'<path d="{a.outline}" fill="{shade(a.value, bounds)}" stroke="#555" '
        f'stroke-width="{1 / scale:.3g}"><title>{escape(a.name)}</title></path>'
        for a in areas
    ]
    # the highest ones named, but for a name that would overlap one already placed
    names, placed = [], []
    for a in sorted((a for a in areas if a.value), key=lambda a: -a.value)[:NAMED]:
        x, y = (a.label_x - bx) * scale, (a.label_y - by) * scale
        if any(abs(x - px) < 5 * (len(a.name) + len(n)) and abs(y - py) < 12 for px, py, n in placed):
            continue
        placed.append((x, y, a.name))
        names.append(f'<text x="{x:.1f}" y="{y:.1f}" {NAME_STYLE}>{escape(a.name)}</text>')
    moved = f'transform="scale({scale:.6g}) translate({-bx:.1f} {-by:.1f})"'
    drawn = f"<g {moved}>{''.join(shapes)}</g>{''.join(names)}"
    legend, low = [f'<text x="0" y="{map_h + 24}">{escape(measure)}：</text>'], 0.0
    for i, bound in enumerate(bounds):
        x = 150 + i * 100
        legend.append(
            f'<rect x="{x}" y="{map_h + 12}" width="16" height="14" fill="{SHADES[i]}" stroke="#555"/>'
            f'<text x="{x + 20}" y="{map_h + 24}">{_number(low)}–{_number(bound)}</text>'
        )
        low = bound
    if any(a.value is None for a in areas):
        x = 150 + len(bounds) * 100
        legend.append(
            f'<rect x="{x}" y="{map_h + 12}" width="16" height="14" fill="{NO_DATA}" stroke="#555"/>'
            f'<text x="{x + 20}" y="{map_h + 24}">无数据</text>'
        )
    return _svg(map_h + 36, drawn + "".join(legend), label)
