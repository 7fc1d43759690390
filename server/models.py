"""Every table, imported once so that Alembic and the tests see the whole schema."""

from server.address.models import Address
from server.anticipate.models import Forecast
from server.auth.models import DeviceSession, LoginFailure, User
from server.case.models import (
    Case,
    CaseCounter,
    CaseDispatch,
    CaseEvent,
    CaseLayerGrid,
    CasePhoto,
    DemoHistory,
)
from server.category.models import Category, CategoryDistrictDepartment, Department, Tag
from server.grid.models import Grid, GridAssignment, GridLayer, GridPart
from server.knowledge.models import AnswerTemplate
from server.open311.models import Open311Client, Open311Request
from server.patrol.models import PatrolShift, PatrolTask, TrackPoint
from server.public.models import PublicRating, PublicReport
from server.report.models import Report
from server.source.models import PollutionSource
from server.stats.models import StatsAreaDay, StatsCategoryDay, StatsHourDay, StatsInspectorDay
from server.tiles.models import CaseCell
from server.triage.models import TriageModel
from server.warning.models import Warning, WarningEvent, WarningLetterCounter

__all__ = [
    "Address",
    "AnswerTemplate",
    "Case",
    "CaseCell",
    "CaseCounter",
    "CaseDispatch",
    "CaseEvent",
    "CaseLayerGrid",
    "CasePhoto",
    "Category",
    "CategoryDistrictDepartment",
    "DemoHistory",
    "Department",
    "DeviceSession",
    "Forecast",
    "Grid",
    "GridAssignment",
    "GridLayer",
    "GridPart",
    "LoginFailure",
    "Open311Client",
    "Open311Request",
    "PatrolShift",
    "PatrolTask",
    "PollutionSource",
    "PublicRating",
    "PublicReport",
    "Report",
    "StatsAreaDay",
    "StatsCategoryDay",
    "StatsHourDay",
    "StatsInspectorDay",
    "Tag",
    "TrackPoint",
    "TriageModel",
    "User",
    "Warning",
    "WarningEvent",
    "WarningLetterCounter",
]
