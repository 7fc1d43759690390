"""Login throttling: failed logins counted over a sliding window, so that guessing is slow and nobody can
lock an account's owner out.

- One account from one address: a few free failures, then a wait after each failure that doubles, capped.
  The owner, from their own address, never waits for what is tried elsewhere.
- One address, whatever the account (password spraying): a limit, then 429 until failures age out.
- One account from every address (a botnet, a few guesses from each): past a high limit, an address the
  owner has no session from gets one attempt per spacing: slowed, never locked out.

Failures older than the window are pruned whenever one is recorded, so the table stays small.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, select
from sqlalchemy.orm import Session

from server.auth.errors import TooManyAttempts
from server.auth.models import LoginFailure
from server.config import get_settings


def _window() -> timedelta:
    return timedelta(minutes=get_settings().login_window_minutes)


def _pair(key: str, ip: str | None):
    return and_(LoginFailure.login_key == key, LoginFailure.ip.is_not_distinct_from(ip))


def _wait_text(seconds: int) -> str:
    return f"{seconds}秒" if seconds < 60 else f"{math.ceil(seconds / 60)}分钟"


def check(*, db: Session, key: str, ip: str | None, known_address: bool, now: datetime) -> None:
    """Refuse (429, with the seconds to wait) while the account from this address is backing off, the
    address has reached its limit, or the account is under attack from many addresses and this is not
    one the owner has a session from (``known_address``)."""
    settings = get_settings()
    since = now - _window()
    waits: list[tuple[datetime, str]] = []

    count, last = db.execute(
        select(func.count(), func.max(LoginFailure.at)).where(_pair(key, ip), LoginFailure.at > since)
    ).one()
    if count >= settings.login_free_failures:
        doublings = min(count - settings.login_free_failures, 30)
        backoff = min(settings.login_backoff_max_seconds, settings.login_backoff_seconds * 2**doublings)
        waits.append((last + timedelta(seconds=backoff), "这个账号在这个网络上"))

    if ip is not None:
        # The limit-th newest failure in the window: once it leaves the window, fewer than limit remain.
        blocking = db.scalar(
            select(LoginFailure.at)
            .where(LoginFailure.ip == ip, LoginFailure.at > since)
            .order_by(LoginFailure.at.desc())
            .offset(settings.login_ip_max_failures - 1)
            .limit(1)
        )
        if blocking is not None:
            waits.append((blocking + _window(), "这个网络"))

    if not known_address:
        count, last = db.execute(
            select(func.count(), func.max(LoginFailure.at)).where(
                LoginFailure.login_key == key, LoginFailure.at > since
            )
        ).one()
        if count >= settings.login_account_max_failures:
            spacing = timedelta(seconds=settings.login_account_spacing_seconds)
            waits.append((last + spacing, "这个账号近期"))

    until, whose = max(waits, default=(now, ""))
    if until > now:
        seconds = max(1, math.ceil((until - now).total_seconds()))
        raise TooManyAttempts(
            "auth.too_many_attempts", whose=whose, wait=_wait_text(seconds), retry_after=seconds
        )


def record_failure(*, db: Session, key: str, ip: str | None, now: datetime) -> None:
    db.execute(delete(LoginFailure).where(LoginFailure.at <= now - _window()))
    db.add(LoginFailure(login_key=key, ip=ip, at=now))


def clear(*, db: Session, key: str, ip: str | None) -> None:
    """Forget the failures of an account from an address (after a successful login from it); those from
    elsewhere stay."""
    db.execute(delete(LoginFailure).where(_pair(key, ip)))
