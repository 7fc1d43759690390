"""Alembic, driven from code: ``gridops migrate`` and the tests use these.

``url`` is the owner role's (the migrations create and alter what it owns); ``app_role`` is the application's
role, which the migrations grant what it may do (the embedded cluster's by default).
"""

from __future__ import annotations

from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from alembic import command
from server.config import PROJECT_DIR
from server.localdb import APP_ROLE


def alembic_config(url: str, app_role: str = APP_ROLE) -> Config:
    config = Config(str(PROJECT_DIR / "alembic.ini"))
    config.attributes["url"] = url
    config.attributes["app_role"] = app_role
    config.attributes["skip_logging"] = True
    return config


def upgrade(url: str, revision: str = "head", *, app_role: str = APP_ROLE) -> None:
    command.upgrade(alembic_config(url, app_role), revision)


def downgrade(url: str, revision: str, *, app_role: str = APP_ROLE) -> None:
    command.downgrade(alembic_config(url, app_role), revision)


def comparisons_leakproof(url: str) -> bool:
    """Whether a superuser marked the path and geometry comparisons leakproof (``server.localdb``'s
    ``LEAKPROOF_SQL``): without it the city policies keep those conditions off the indexes."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return bool(
                conn.scalar(
                    text(
                        "SELECT bool_and(proleakproof) FROM pg_proc "
                        "WHERE oid IN ('ltree_risparent(ltree,ltree)'::regprocedure,"
                        " 'geometry_overlaps(geometry,geometry)'::regprocedure)"
                    )
                )
            )
    finally:
        engine.dispose()
