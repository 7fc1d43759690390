"""Grid layers in the store (``grids.layers`` holds their rules): which layers there are, the default one,
and each layer's level scheme (the shared levels of ``settings.level_scheme`` and its own)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from grids.layers import layer_scheme, shared_levels
from grids.levels import Level, LevelScheme
from server.config import get_settings
from server.errors import NotFound
from server.grid.models import Grid, GridLayer

# The default layer's code, as an SQL expression (what a lookup uses when it names no layer).
DEFAULT_LAYER_SQL = "(SELECT code FROM grid_layer WHERE is_default)"


def shared() -> list[Level]:
    """The levels every layer shares (``settings.shared_levels``, the first of ``settings.level_scheme``)."""
    settings = get_settings()
    return shared_levels(settings.scheme, settings.shared_levels.split(","))


def scheme_of(layer: GridLayer) -> LevelScheme:
    return layer_scheme(shared(), layer.levels)


def all_layers(*, db: Session) -> list[GridLayer]:
    return list(db.scalars(select(GridLayer).order_by(GridLayer.position, GridLayer.code)))


def get_layer(*, db: Session, code: str | None = None) -> GridLayer:
    """The layer ``code``, or the default layer when ``code`` is None."""
    query = select(GridLayer).where(GridLayer.code == code if code else GridLayer.is_default)
    layer = db.scalar(query)
    if layer is None:
        names = "、".join(f"{lay.code}（{lay.name}）" for lay in all_layers(db=db))
        raise NotFound("grid.no_layer", layer=code, layers=names)
    return layer


def of_layer(layer: str) -> ColumnElement[bool]:
    """The SQL condition on ``Grid`` for the grids of a layer's hierarchy: the shared ones and its own."""
    return or_(Grid.layer.is_(None), Grid.layer == layer)


def layer_of_record(layer: GridLayer, level: str) -> str | None:
    """The ``grid.layer`` of a grid of ``level`` imported into ``layer``: None for a shared level."""
    return None if level in {lv.name for lv in shared()} else layer.code
