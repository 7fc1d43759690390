"""Alembic, driven from code: ``gridops migrate`` and the tests use these."""

from __future__ import annotations

from alembic.config import Config

from alembic import command
from server.config import PROJECT_DIR


def alembic_config(url: str) -> Config:
    config = Config(str(PROJECT_DIR / "alembic.ini"))
    config.attributes["url"] = url
    config.attributes["skip_logging"] = True
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)
