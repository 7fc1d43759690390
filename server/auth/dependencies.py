"""Route guards: who is calling (a logged-in user's access token, or the admin token from the settings)
and whether they hold a role."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import Depends, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from server.auth import service
from server.auth.errors import Unauthorized
from server.auth.principal import ADMINISTRATOR, Principal
from server.config import get_settings
from server.deps import DB, REQUESTED_CITY
from server.errors import Forbidden
from server.messages import role_names

bearer = HTTPBearer(
    auto_error=False,
    description="An access token from POST /api/auth/login, or the admin token (GRIDOPS_ADMIN_TOKEN "
    "or var/admin-token).",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _principal(db: Session, token: str | None) -> Principal:
    """The one path every token takes: the admin token (any city), else a verified access token on a live
    session. From then on ``db`` works in the caller's city: the one the request names
    (``server.deps.request_city``) if it is theirs (else 403), else their own."""
    if not token:
        raise Unauthorized("auth.login_required")
    if secrets.compare_digest(token.encode(), get_settings().resolved_admin_token().encode()):
        return ADMINISTRATOR
    user, session = service.authenticate(db=db, access_token=token, city=db.info.get(REQUESTED_CITY))
    return Principal.of(user, session.id)


def current_principal(db: DB, credentials: Credentials) -> Principal:
    """The caller, from the ``Authorization: Bearer`` header; 401 when missing, expired or ended."""
    return _principal(db, credentials.credentials if credentials else None)


def stream_principal(
    db: DB,
    credentials: Credentials,
    access_token: Annotated[
        str | None, Query(description="The access token, for clients that cannot send headers (EventSource)")
    ] = None,
) -> Principal:
    """Like ``current_principal``, also accepting ``?access_token=`` (browsers' EventSource sends no
    headers)."""
    return _principal(db, credentials.credentials if credentials else access_token)


def optional_principal(db: DB, credentials: Credentials) -> Principal | None:
    """The caller when a token is sent (401 when it fails, as ``current_principal``), else None: for
    routes open to the public that tell logged-in users more."""
    return None if credentials is None else _principal(db, credentials.credentials)


CurrentUser = Annotated[Principal, Depends(current_principal)]
MaybeUser = Annotated[Principal | None, Depends(optional_principal)]


def require_roles(*roles: str) -> Any:
    """A dependency returning the caller when they hold any of ``roles``, else 403 saying what is needed."""

    def guard(principal: CurrentUser) -> Principal:
        if not principal.has(*roles):
            raise Forbidden("auth.role_required", roles=role_names(roles))
        return principal

    return Depends(guard)


AdminRequired = require_roles("admin")
