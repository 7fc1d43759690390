"""Column types SQLAlchemy does not ship."""

from __future__ import annotations

from sqlalchemy.types import UserDefinedType


class LTree(UserDefinedType):
    """PostgreSQL ``ltree`` (extension ltree): a dotted label path, exchanged as text."""

    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        return "LTREE"
