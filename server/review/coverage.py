"""Coverage of a grid over a period (the day, or Monday to the day, local dates in ``settings.timezone``): the
share of its area within ``review_coverage_m`` of its inspectors' tracks. A track is the line through the
points of one shift in time order, leaving out fixes less accurate than the patrol service's
``MAX_ACCURACY_M``; a point counts for a grid when its inspector was assigned (as ``server.review.staffing``
says) on the point's local date, so tracks walked before a move count for the old grid and after it for the
new one. PostGIS buffers the lines and measures the areas in the CGCS2000 3-degree Gauss-Kruger zone holding
the reviewed grid's centre (EPSG:4534-4554, ``gis.crs.gk_epsg``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gis.crs import gk_epsg
from server.config import get_settings
from server.errors import Invalid
from server.grid.models import Grid
from server.grid.subtree import within_sql
from server.patrol import service as patrol_service

COVERAGE = text(
    f"""
    WITH duty AS (
        SELECT a.id, a.user_id, a.starts_on, a.ends_on, g.path
        FROM grid_assignment a
        JOIN grid g ON g.code = a.grid_code AND g.valid_to IS NULL
        WHERE a.role = 'inspector' AND a.starts_on <= :day AND (a.ends_on IS NULL OR a.ends_on >= :week_from)
          AND ({within_sql("g.path", ":root")} OR g.path @> CAST(:root AS ltree))
    ),
    track AS (
        SELECT d.path,
               ST_MakeLine(p.location ORDER BY p.recorded_at) AS week,
               ST_MakeLine(p.location ORDER BY p.recorded_at)
                   FILTER (WHERE p.recorded_at >= :day_start) AS today
        FROM duty d
        JOIN patrol_shift s ON s.user_id = d.user_id AND s.started_at < :end
             AND (s.ended_at IS NULL OR s.ended_at >= :week_start)
        JOIN track_point p ON p.shift_id = s.id
        WHERE p.recorded_at >= :week_start AND p.recorded_at < :end
          AND (p.accuracy_m IS NULL OR p.accuracy_m <= :accuracy)
          AND (p.recorded_at AT TIME ZONE :tz)::date BETWEEN d.starts_on AND COALESCE(d.ends_on, :day)
        GROUP BY d.id, d.path, s.id
    ),
    band AS (
        SELECT path,
               ST_Buffer(ST_Transform(week, :epsg), :metres) AS week,
               ST_Buffer(ST_Transform(today, :epsg), :metres) AS today
        FROM track
    ),
    area AS (
        SELECT code, path, ST_Transform(geom, :epsg) AS geom
        FROM grid WHERE valid_to IS NULL AND code = ANY(:codes)
    )
    SELECT a.code,
           COALESCE(ST_Area(ST_Intersection(a.geom, ST_Union(b.today))) / NULLIF(ST_Area(a.geom), 0), 0)
               AS today,
           COALESCE(ST_Area(ST_Intersection(a.geom, ST_Union(b.week))) / NULLIF(ST_Area(a.geom), 0), 0)
               AS week
    FROM area a
    LEFT JOIN band b
      ON ({within_sql("b.path", "a.path")} OR b.path @> a.path) AND ST_Intersects(b.week, a.geom)
    GROUP BY a.code, a.geom
    """
)


@dataclass(frozen=True)
class Period:
    """The day reviewed and its week (Monday to the day), as local dates and UTC instants."""

    day: date
    week_from: date
    day_start: datetime
    week_start: datetime
    end: datetime  # the next midnight

    @classmethod
    def of(cls, day: date) -> Period:
        tz = ZoneInfo(get_settings().timezone)
        week_from = day - timedelta(days=day.weekday())
        midnight = lambda d: datetime.combine(d, time(), tz)  # noqa: E731
        return cls(day, week_from, midnight(day), midnight(week_from), midnight(day + timedelta(days=1)))


def coverage_of(db: Session, root: Grid, rows: list[Grid], period: Period, epsg: int) -> dict[str, tuple]:
    settings = get_settings()
    found = db.execute(
        COVERAGE,
        {
            "root": root.path,
            "codes": [g.code for g in rows],
            "day": period.day,
            "week_from": period.week_from,
            "day_start": period.day_start,
            "week_start": period.week_start,
            "end": period.end,
            "accuracy": patrol_service.MAX_ACCURACY_M,
            "tz": settings.timezone,
            "epsg": epsg,
            "metres": settings.review_coverage_m,
        },
    )
    return {row.code: (round(row.today, 4), round(row.week, 4)) for row in found}


def epsg_of(db: Session, grid: Grid) -> int:
    centre = func.ST_Centroid(func.ST_Envelope(Grid.geom))
    lon = db.scalar(select(func.ST_X(centre)).where(Grid.id == grid.id))
    try:
        return gk_epsg(lon)
    except ValueError:
        raise Invalid("review.outside_projection", grid=grid.code) from None
