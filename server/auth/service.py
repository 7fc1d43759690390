"""Identity and login: looking users up, one's own password, enabling and disabling, device sessions with
rotating refresh tokens, throttled logins. Adding users and setting their passwords is ``server.users``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NoReturn

from sqlalchemy import delete, exists, func, or_, select, text, update
from sqlalchemy.orm import Session

from server.auth import passwords, throttle, tokens
from server.auth.errors import Unauthorized
from server.auth.models import DeviceSession, RetiredRefreshToken, User
from server.config import get_settings
from server.errors import Forbidden, NotFound
from server.tenant import City, use_city

SESSION_CHANNEL = "session_end"  # the notification channel ``notify_session_end`` sends on


def _now() -> datetime:
    return datetime.now(UTC)


def _named(login: str):
    """The condition for the user a login names: its phone, or its username whatever the case."""
    return or_(User.phone == login, func.lower(User.username) == login.lower())


# -- users --------------------------------------------------------------------------------------


def enter_city(db: Session, user_id: int, code: str | None = None) -> None:
    """Work in the user's city from now on: the one of ``code`` (a city they work in, else 403), else their
    own. An unknown user leaves the session where it was (the lookups that follow find no one)."""
    cities = db.scalar(text("SELECT gridops_user_cities(:id)"), {"id": user_id})
    if not cities:
        return
    city = cities[0] if code is None else db.scalar(select(City.id).where(City.code == code))
    if city not in cities:
        raise Forbidden("auth.city_not_yours")
    use_city(db, city)


def get_user(*, db: Session, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound("auth.no_user")
    return user


def find_user(*, db: Session, key: str) -> User:
    """A user by phone or username, else by id."""
    user = db.scalar(select(User).where(_named(key)).limit(1))
    if user is None and key.isdigit() and len(key) < 19:
        user = db.get(User, int(key))
    if user is None:
        raise NotFound("auth.no_user_named", login=key)
    return user


def change_password(
    *, db: Session, user: User, session_id: int, old_password: str, new_password: str, ip: str | None
) -> int:
    """The user's own change: the old password is checked (and throttled like a login), the user's other
    sessions are ended. Returns how many were."""
    now = _now()
    throttle.check(db=db, key=user.phone, ip=ip, known_address=True, now=now)  # the caller is logged in
    if not passwords.verify(user.password_hash, old_password):
        throttle.record_failure(db=db, key=user.phone, ip=ip, now=now)
        db.commit()
        raise Forbidden("auth.wrong_password")
    user.password_hash = passwords.new_hash(new_password)
    revoked = _revoke(db, user_id=user.id, now=now, keep=session_id)
    db.commit()
    return revoked


def set_active(*, db: Session, user: User, active: bool) -> User:
    """Enable or disable a user; disabling also ends every session of the user."""
    user.active = active
    if not active:
        _revoke(db, user_id=user.id, now=_now())
    db.commit()
    return user


# -- login and device sessions --------------------------------------------------------------------


@dataclass(frozen=True)
class Issued:
    """What a login or a refresh hands to the device."""

    user: User
    session: DeviceSession
    access_token: str
    expires_in: int  # seconds
    refresh_token: str


def _issue(db: Session, user: User, session: DeviceSession, now: datetime) -> Issued:
    """A new refresh token for the session (sliding its expiry) and an access token; flushes."""
    refresh_token = tokens.new_refresh_token()
    session.refresh_hash = tokens.digest(refresh_token)
    session.last_seen_at = now
    session.expires_at = now + timedelta(days=get_settings().refresh_token_days)
    db.flush()
    return Issued(
        user=user,
        session=session,
        access_token=tokens.access_token(user_id=user.id, session_id=session.id, now=now),
        expires_in=get_settings().access_token_minutes * 60,
        refresh_token=refresh_token,
    )


def notify_session_end(db: Session, user_id: int) -> None:
    """Tell the open streams, when ``db`` commits, that sessions of user ``user_id`` ended: theirs re-check
    their caller at once (``server.events.views``)."""
    payload = json.dumps({"user_id": user_id})
    db.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": SESSION_CHANNEL, "payload": payload})


def _revoke(
    db: Session, *, user_id: int, now: datetime, keep: int | None = None, device_id: str | None = None
) -> int:
    """End a user's live sessions (but ``keep``; only ``device_id``'s when given); returns how many. The
    user's open event streams hear of it at commit (``notify_session_end``) and re-check at once."""
    query = update(DeviceSession).where(DeviceSession.user_id == user_id, DeviceSession.revoked_at.is_(None))
    if keep is not None:
        query = query.where(DeviceSession.id != keep)
    if device_id is not None:
        query = query.where(DeviceSession.device_id == device_id)
    revoked = db.execute(query.values(revoked_at=now)).rowcount
    if revoked:
        notify_session_end(db, user_id)
    return revoked


def _known_address(db: Session, user: User | None, ip: str | None) -> bool:
    """Whether the user has (or had) a session from this address: the owner's own places."""
    if user is None or ip is None:
        return False
    return db.scalar(select(exists().where(DeviceSession.user_id == user.id, DeviceSession.last_ip == ip)))


def login(
    *, db: Session, login: str, password: str, device_id: str, device_name: str, ip: str | None
) -> Issued:
    """Log in by phone or username from a device, replacing that device's earlier session.

    Failures count per account and address, per address, and per account (``throttle``); past the limits
    the login is refused (429) before the password is looked at. An unknown login costs the same hashing
    time as a wrong password and gets the same answer."""
    now = _now()
    login = login.strip()
    home = db.scalar(text("SELECT gridops_login_city(:login)"), {"login": login})
    if home is not None:
        use_city(db, home)
    user = db.scalar(select(User).where(_named(login)).limit(1).with_for_update())
    key = user.phone if user is not None else login.lower()
    throttle.check(db=db, key=key, ip=ip, known_address=_known_address(db, user, ip), now=now)
    if user is not None and user.password_hash is None:
        raise Forbidden("auth.no_password")
    if not passwords.verify(user.password_hash if user else None, password):
        throttle.record_failure(db=db, key=key, ip=ip, now=now)
        db.commit()
        raise Unauthorized("auth.wrong_login")
    if not user.active:
        raise Forbidden("auth.account_disabled")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    throttle.clear(db=db, key=key, ip=ip)
    _revoke(db, user_id=user.id, now=now, device_id=device_id)
    session = DeviceSession(
        user_id=user.id, device_id=device_id, device_name=device_name, created_at=now, last_ip=ip
    )
    db.add(session)
    issued = _issue(db, user, session, now)
    db.commit()
    return issued


def _check_live(session: DeviceSession, user: User, now: datetime) -> None:
    if session.revoked_at is not None:
        raise Unauthorized("auth.session_ended")
    if session.expires_at <= now:
        raise Unauthorized("auth.session_expired")
    if not user.active:
        raise Unauthorized("auth.account_disabled")


def _retire(db: Session, session: DeviceSession, token_hash: str | None, now: datetime) -> None:
    """Keep a refresh token that is no longer accepted, so that presenting it again is seen as a reuse;
    forget those retired longer ago than a token lives (such a token would have expired anyway)."""
    db.execute(
        delete(RetiredRefreshToken).where(
            RetiredRefreshToken.retired_at < now - timedelta(days=get_settings().refresh_token_days)
        )
    )
    if token_hash is not None:
        db.add(RetiredRefreshToken(token_hash=token_hash, session_id=session.id, retired_at=now))


def _refuse_unknown(db: Session, digest: str, now: datetime) -> NoReturn:
    """401 for a refresh token no session accepts. A retired one presented again means a copy of it is
    in other hands (OAuth 2.0 Security BCP): the session it came from ends, every token of it with it."""
    session_id = db.scalar(
        select(RetiredRefreshToken.session_id).where(RetiredRefreshToken.token_hash == digest)
    )
    if session_id is not None:
        user_id = db.scalar(
            update(DeviceSession)
            .where(DeviceSession.id == session_id, DeviceSession.revoked_at.is_(None))
            .values(revoked_at=now)
            .returning(DeviceSession.user_id)
        )
        if user_id is not None:
            notify_session_end(db, user_id)
        db.commit()
        if user_id is not None:
            raise Unauthorized("auth.refresh_reused")
    raise Unauthorized("auth.refresh_invalid")


def refresh(*, db: Session, refresh_token: str, ip: str | None) -> Issued:
    """A new access token and a rotated refresh token, the session's expiry slid forward.

    The token before the last rotation stays accepted until the newest one has been used: a phone that
    never received the answer to its refresh can refresh again with the token it still holds. Any other
    token the session ever issued is a reuse and ends the session (``_refuse_unknown``)."""
    now = _now()
    digest = tokens.digest(refresh_token)
    owner = db.scalar(
        select(DeviceSession.user_id).where(
            or_(DeviceSession.refresh_hash == digest, DeviceSession.previous_hash == digest)
        )
    )
    if owner is not None:
        enter_city(db, owner)
    row = db.execute(
        select(DeviceSession, User)
        .join(User, User.id == DeviceSession.user_id)
        .where(or_(DeviceSession.refresh_hash == digest, DeviceSession.previous_hash == digest))
        .with_for_update(of=DeviceSession)
    ).first()
    if row is None:
        _refuse_unknown(db, digest, now)
    session, user = row
    _check_live(session, user, now)
    if session.refresh_hash == digest:  # the newest used: its predecessor is done
        _retire(db, session, session.previous_hash, now)
        session.previous_hash = digest
    else:  # the predecessor again (the answer was lost): the newest, never received, is done
        _retire(db, session, session.refresh_hash, now)
    session.last_ip = ip
    issued = _issue(db, user, session, now)
    db.commit()
    return issued


def authenticate(*, db: Session, access_token: str, city: str | None = None) -> tuple[User, DeviceSession]:
    """The user and the live session an access token speaks for, else 401; the session ``db`` works in the
    user's city from then on (``city``'s, a code, when given: 403 unless the user works there)."""
    user_id, session_id = tokens.read_access_token(access_token)
    enter_city(db, user_id, city)
    row = db.execute(
        select(User, DeviceSession)
        .join(DeviceSession, DeviceSession.user_id == User.id)
        .where(DeviceSession.id == session_id, User.id == user_id)
    ).first()
    if row is None:
        raise Unauthorized("auth.session_ended")
    user, session = row
    _check_live(session, user, _now())
    return user, session


def list_sessions(*, db: Session, user_id: int) -> list[DeviceSession]:
    """A user's live sessions, the most recently seen first."""
    return list(
        db.scalars(
            select(DeviceSession)
            .where(
                DeviceSession.user_id == user_id,
                DeviceSession.revoked_at.is_(None),
                DeviceSession.expires_at > _now(),
            )
            .order_by(DeviceSession.last_seen_at.desc())
        )
    )


def get_session(*, db: Session, session_id: int, owner_id: int | None = None) -> DeviceSession:
    """A session; with ``owner_id``, only if it is that user's."""
    session = db.get(DeviceSession, session_id)
    if session is None or (owner_id is not None and session.user_id != owner_id):
        raise NotFound("auth.no_session")
    return session


def revoke_session(*, db: Session, session_id: int, owner_id: int | None = None) -> DeviceSession:
    """End one session (a logout, a lost phone); with ``owner_id``, only if it is that user's."""
    session = get_session(db=db, session_id=session_id, owner_id=owner_id)
    if session.revoked_at is None:
        session.revoked_at = _now()
        notify_session_end(db, session.user_id)
        db.commit()
    return session


def revoke_all(*, db: Session, user: User) -> int:
    """End every session of a user; returns how many were live."""
    revoked = _revoke(db, user_id=user.id, now=_now())
    db.commit()
    return revoked
