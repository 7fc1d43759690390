"""Column types SQLAlchemy does not ship."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql.base import ischema_names
from sqlalchemy.types import UserDefinedType


class LTree(UserDefinedType):
    """PostgreSQL ``ltree`` (extension ltree): a dotted label path, exchanged as text."""

    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        return "LTREE"


ischema_names["ltree"] = LTree  # so that reflection (and Alembic's comparison) knows the type
