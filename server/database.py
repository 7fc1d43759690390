"""Engine, sessions and the declarative base (with a constraint naming convention)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from sqlalchemy import MetaData, create_engine
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from server.config import Settings, get_settings
from server.localdb import OWNER_ROLE, Cluster

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def embedded_cluster(settings: Settings) -> Cluster:
    return Cluster(settings.pg_dir)


def _running_cluster(settings: Settings) -> Cluster:
    cluster = embedded_cluster(settings)
    if not cluster.running():
        raise RuntimeError(
            "内置数据库没有运行：请先运行 gridops db start 或 make run 启动它"
            "（或把 DATABASE_URL 设为另一个 PostgreSQL/PostGIS 数据库的连接地址）"
        )
    return cluster


def database_url(settings: Settings | None = None) -> str:
    """The application's URL: ``DATABASE_URL`` when set, else the embedded cluster's database (which must be
    running) as the application role."""
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    return _running_cluster(settings).url()


def owner_database_url(settings: Settings | None = None) -> str:
    """The URL of the role that owns the schema (migrations, maintenance): ``GRIDOPS_OWNER_DATABASE_URL``
    beside ``DATABASE_URL``, else the embedded cluster's database as the owner role."""
    settings = settings or get_settings()
    if settings.owner_database_url:
        return settings.owner_database_url
    if settings.database_url:
        raise RuntimeError(
            "数据库结构须由拥有它的角色修改，应用的角色无权修改：请把 GRIDOPS_OWNER_DATABASE_URL 设为"
            "该拥有者角色的连接地址（见 README 的「Database roles」一节），再运行本命令"
        )
    return _running_cluster(settings).url(user=OWNER_ROLE)


def app_role(settings: Settings | None = None) -> str:
    """The application's database role, which the migrations grant to: the user of its URL."""
    role = make_url(database_url(settings)).username
    if not role:
        raise RuntimeError(
            "DATABASE_URL 里没有用户名，无法知道给应用的哪个数据库角色授权：请在 DATABASE_URL 中写明应用"
            "使用的用户名，再运行本命令"
        )
    return role


@lru_cache
def get_engine(url: str | None = None) -> Engine:
    # JIT compilation costs a few hundred milliseconds per statement and pays off only for long
    # analytical scans; our statements are short (a 10,000-point lookup runs 3x faster without it).
    # The deployment's own city, where the database places what no session placed (server.tenant).
    own_city = get_settings().city
    options = "-c jit=off" + (f" -c gridops.own_city={own_city}" if own_city else "")
    return create_engine(
        url or database_url(),
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        connect_args={"options": options},
    )


@lru_cache
def _sessionmaker(url: str | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


def new_session(url: str | None = None) -> Session:
    return _sessionmaker(url)()


CITY_INFO = "gridops_cities"  # session.info: the cities a session works in (server.tenant)
NOWHERE = "-"  # the settings' word for no city
FOLLOWS_INFO = "gridops_follows"  # session.info: the session whose cities this one works in


def get_db() -> Iterator[Session]:
    """FastAPI dependency: one session per request, closed (never committed) afterwards. It sees no city
    until the caller's is known (server.tenant)."""
    with new_session() as session:
        session.info[CITY_INFO] = (NOWHERE, NOWHERE)
        yield session
