"""Every table, imported once so that Alembic and the tests see the whole schema."""

from server.address.models import Address
from server.auth.models import DeviceSession, LoginFailure, User
from server.case.models import Case, CaseCounter, CaseDispatch, CaseEvent, CasePhoto, DemoHistory
from server.category.models import Category, CategoryDistrictDepartment, Department, Tag
from server.grid.models import Grid, GridAssignment, GridPart
from server.open311.models import Open311Client, Open311Request
from server.patrol.models import PatrolShift, TrackPoint
from server.public.models import PublicRating, PublicReport
from server.stats.models import StatsAreaDay, StatsCategoryDay, StatsHourDay, StatsInspectorDay
from server.tiles.models import CaseCell

__all__ = [
    "Address",
    "Case",
    "CaseCell",
    "CaseCounter",
    "CaseDispatch",
    "CaseEvent",
    "CasePhoto",
    "Category",
    "CategoryDistrictDepartment",
    "DemoHistory",
    "Department",
    "DeviceSession",
    "Grid",
    "GridAssignment",
    "GridPart",
    "LoginFailure",
    "Open311Client",
    "Open311Request",
    "PatrolShift",
    "PublicRating",
    "PublicReport",
    "StatsAreaDay",
    "StatsCategoryDay",
    "StatsHourDay",
    "StatsInspectorDay",
    "Tag",
    "TrackPoint",
    "User",
]
