"""Login throttling: failed logins counted per account and per client address over a sliding window.

Failures older than the window are pruned whenever one is recorded, so the table stays small.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from server.auth.errors import TooManyAttempts
from server.auth.models import LoginFailure
from server.config import get_settings


def _window() -> timedelta:
    return timedelta(minutes=get_settings().login_window_minutes)


def check(*, db: Session, key: str, ip: str | None, now: datetime) -> None:
    """Refuse (429) while the account or the address has reached its limit of failures in the window."""
    settings = get_settings()
    limits = [(LoginFailure.login_key, key, settings.login_max_failures, "for this account")]
    if ip is not None:
        limits.append((LoginFailure.ip, ip, settings.login_ip_max_failures, "from this address"))
    for column, value, limit, whose in limits:
        # The limit-th newest failure in the window: once it leaves the window, fewer than limit remain.
        blocking = db.scalar(
            select(LoginFailure.at)
            .where(column == value, LoginFailure.at > now - _window())
            .order_by(LoginFailure.at.desc())
            .offset(limit - 1)
            .limit(1)
        )
        if blocking is not None:
            seconds = max(1, math.ceil((blocking + _window() - now).total_seconds()))
            minutes = math.ceil(seconds / 60)
            raise TooManyAttempts(
                f"too many failed logins {whose}: try again in {minutes} minute{'s' if minutes > 1 else ''}",
                retry_after=seconds,
            )


def record_failure(*, db: Session, key: str, ip: str | None, now: datetime) -> None:
    db.execute(delete(LoginFailure).where(LoginFailure.at <= now - _window()))
    db.add(LoginFailure(login_key=key, ip=ip, at=now))


def clear(*, db: Session, key: str) -> None:
    """Forget an account's failures (after a successful login)."""
    db.execute(delete(LoginFailure).where(LoginFailure.login_key == key))
