"""People and login: the user table, device sessions (refresh tokens) and failed logins (throttling)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    SmallInteger,
    String,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from server.database import Base
from server.tenant import CityOwned


class User(CityOwned, Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    username: Mapped[str | None] = mapped_column(String(50))  # unique whatever the case (index below)
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(20)), server_default="{}")
    active: Mapped[bool] = mapped_column(server_default=true())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    password_hash: Mapped[str | None] = mapped_column(String(200))  # argon2; NULL: cannot log in
    department_code: Mapped[str | None] = mapped_column(String(40))  # a department user's, in their city
    grid_code: Mapped[str | None] = mapped_column(String(15))  # a command-center user's scope; NULL: the city
    # the cities besides their own (``city_id``) the user works in: a province's administrators
    also_cities: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger), server_default="{}")

    __table_args__ = (
        Index("uq_app_user_lower_username", func.lower(username), unique=True),
        ForeignKeyConstraint(
            ["city_id", "department_code"], ["department.city_id", "department.code"], ondelete="RESTRICT"
        ),
    )

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None


class DeviceSession(Base):
    """A login on one device: the refresh token (kept as a sha256 hash) that keeps it alive.

    One live session per user and device; every refresh token issued from the login belongs to it (the
    session is the token family). ``previous_hash`` is the refresh token before the last rotation, still
    accepted until the new one is used, in case the answer carrying the new one was lost. Tokens rotated
    away for good are kept in ``retired_refresh_token``: one presented again is a reuse."""

    __tablename__ = "device_session"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    device_id: Mapped[str] = mapped_column(String(100))
    device_name: Mapped[str] = mapped_column(String(100))
    refresh_hash: Mapped[str] = mapped_column(String(64), unique=True)
    previous_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_ip: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index(
            "uq_device_session_user_id_device_id_live",
            "user_id",
            "device_id",
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
        ),
        Index("ix_device_session_previous_hash", "previous_hash"),
    )


class RetiredRefreshToken(Base):
    """A refresh token of a session that is no longer accepted (sha256 hash), kept as long as the token
    could have lived: presenting it again means a copy of it is in other hands, and ends its session."""

    __tablename__ = "retired_refresh_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("device_session.id", ondelete="CASCADE"))
    retired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_retired_refresh_token_session_id", "session_id"),
        Index("ix_retired_refresh_token_retired_at", "retired_at"),
    )


class LoginFailure(Base):
    """A failed login, kept for the throttling window only."""

    __tablename__ = "login_failure"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    login_key: Mapped[str] = mapped_column(String(100))
    ip: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_login_failure_login_key_at", "login_key", "at"),
        Index("ix_login_failure_ip_at", "ip", "at"),
        Index("ix_login_failure_at", "at"),
    )
