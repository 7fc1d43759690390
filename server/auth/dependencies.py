"""Route guards. Until login exists, every write route requires the admin token from the settings."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from server.config import get_settings

bearer = HTTPBearer(auto_error=False, description="The admin token (GRIDOPS_ADMIN_TOKEN or var/admin-token).")


def require_admin(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "this route changes data and needs the admin token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    expected = get_settings().resolved_admin_token()
    if not secrets.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the admin token is wrong")


AdminRequired = Depends(require_admin)
