"""Every table, imported once so that Alembic and the tests see the whole schema."""

from server.auth.models import User
from server.grid.models import Grid, GridAssignment, GridPart

__all__ = ["Grid", "GridAssignment", "GridPart", "User"]
