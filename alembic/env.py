"""Alembic environment: the owner's URL and the application's role come from the caller (``gridops migrate``,
tests) or the settings (``alembic`` run by hand)."""

from __future__ import annotations

from logging.config import fileConfig

from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine

from alembic import context
from server import models  # noqa: F401  (registers every table on Base.metadata)
from server.database import Base, app_role, owner_database_url

config = context.config
if config.config_file_name and not config.attributes.get("skip_logging"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    return config.attributes.get("url") or owner_database_url()


if not config.attributes.get("app_role"):  # read by the migrations that grant privileges
    config.attributes["app_role"] = app_role()


def _include_object(obj, name, type_, reflected, compare_to):
    if type_ == "table" and reflected and compare_to is None and name == "spatial_ref_sys":
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    engine = None
    if connection is None:
        engine = create_engine(_url())
        connection = engine.connect()
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            include_object=_include_object,
            process_revision_directives=alembic_helpers.writer,
            render_item=alembic_helpers.render_item,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        if engine is not None:
            connection.commit()
    finally:
        if engine is not None:
            connection.close()
            engine.dispose()


run_migrations()
