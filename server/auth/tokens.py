"""Tokens: short-lived access tokens (JWT, HS256) naming the user and the device session, and opaque
refresh tokens, of which the server keeps only the sha256 hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import jwt

from server.auth.errors import Unauthorized
from server.config import get_settings

ALGORITHM = "HS256"


def access_token(*, user_id: int, session_id: int, now: datetime) -> str:
    expires = now + timedelta(minutes=get_settings().access_token_minutes)
    claims = {"sub": str(user_id), "sid": session_id, "iat": now, "exp": expires}
    return jwt.encode(claims, get_settings().resolved_secret_key(), algorithm=ALGORITHM)


def read_access_token(token: str) -> tuple[int, int]:
    """The user id and session id an access token carries, once its signature and expiry are checked."""
    try:
        claims = jwt.decode(
            token,
            get_settings().resolved_secret_key(),
            algorithms=[ALGORITHM],
            options={"require": ["sub", "sid", "iat", "exp"]},
        )
        return int(claims["sub"]), int(claims["sid"])
    except jwt.ExpiredSignatureError:
        raise Unauthorized("auth.token_expired") from None
    except (jwt.InvalidTokenError, TypeError, ValueError):
        raise Unauthorized("auth.token_invalid") from None


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def digest(refresh_token: str) -> str:
    """What the server keeps of a refresh token: its sha256, in hex."""
    return hashlib.sha256(refresh_token.encode()).hexdigest()
