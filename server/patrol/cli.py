"""``gridops patrol ...``: the patrol shifts of a day and a shift's track, as an administrator sees them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Column, Table

from server.auth import service as user_service
from server.auth.principal import ADMINISTRATOR
from server.cli_common import console, session
from server.patrol import service, visibility

patrol_app = typer.Typer(help="Patrol shifts and their tracks.", no_args_is_help=True)


def _duration(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


@patrol_app.command("shifts")
def shifts(
    user: str = typer.Option(None, "--user", help="Only this user's shifts (phone, username or id)."),
    day: datetime = typer.Option(
        None, formats=["%Y-%m-%d"], help="The local date the shifts started (default: today)."
    ),
) -> None:
    """Patrol shifts started on a day: who, when, points, distance and time on shift."""
    on = day.date() if day else service.local_day(datetime.now(UTC))
    with session() as db:
        user_id = user_service.find_user(db=db, key=user).id if user else None
        viewer = visibility.viewer_of(db=db, principal=ADMINISTRATOR)
        found = service.describe(
            db=db, shifts=visibility.list_shifts(db=db, viewer=viewer, day=on, user_id=user_id)
        )
    figures = (Column(name, justify="right") for name in ("points", "distance (m)", "time on shift"))
    table = Table(Column("shift", no_wrap=True), "user", "started", "ended", *figures, title=f"patrol {on}")
    for shift in found:
        table.add_row(
            str(shift.client_uuid),
            f"{shift.user_name} ({shift.user_id})",
            service.local_time(shift.started_at),
            service.local_time(shift.ended_at) if shift.ended_at else "on shift",
            str(shift.points),
            f"{shift.distance_m:.1f}",
            _duration(shift.duration_s),
        )
    Console().print(table)
    console.print(f"{len(found)} shifts")


@patrol_app.command("track")
def track(
    client_uuid: UUID = typer.Argument(..., help="The shift's client_uuid."),
    geojson: bool = typer.Option(False, "--geojson", help="Print the track as a GeoJSON Feature."),
) -> None:
    """A shift's track: its figures and every point (time, position, whether the distance counts it)."""
    with session() as db:
        viewer = visibility.viewer_of(db=db, principal=ADMINISTRATOR)
        feature = service.track_feature(
            db=db, shift=visibility.get_shift(db=db, viewer=viewer, client_uuid=client_uuid)
        )
    if geojson:
        print(feature.model_dump_json())
        return
    shift = feature.properties
    started = service.local_time(shift.started_at)
    ended = service.local_time(shift.ended_at) if shift.ended_at else "on shift"
    print(f"{shift.client_uuid}  {shift.user_name} ({shift.user_id})  {started} - {ended}")
    print(f"{shift.points} points, {shift.distance_m:.1f} m, {_duration(shift.duration_s)} on shift")
    table = Table("#", "recorded", "lon", "lat", "counted")
    skipped = set(shift.skipped)
    coordinates = feature.geometry.coordinates if feature.geometry else []  # none below two points
    for i, (moment, (lon, lat)) in enumerate(zip(shift.times, coordinates, strict=False)):
        counted = "no" if i in skipped else "yes"
        table.add_row(str(i), service.local_time(moment), f"{lon:.7f}", f"{lat:.7f}", counted)
    Console().print(table)
