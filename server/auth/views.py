"""Login routes: log in, refresh, log out, who is calling, devices, one's own password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from server.auth import service
from server.auth.dependencies import CurrentUser
from server.auth.models import DeviceSession
from server.auth.principal import Principal
from server.auth.schemas import (
    LoginIn,
    MeOut,
    PasswordChange,
    PasswordChanged,
    RefreshIn,
    Role,
    SessionOut,
    TokenOut,
    UserOut,
)
from server.deps import DB, ClientAddress
from server.errors import Forbidden

auth_router = APIRouter(prefix="/auth", tags=["login"])


def _token_out(issued: service.Issued) -> TokenOut:
    return TokenOut(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        refresh_token=issued.refresh_token,
        refresh_expires_at=issued.session.expires_at,
        user=UserOut.model_validate(issued.user),
    )


def _session_out(session: DeviceSession, principal: Principal) -> SessionOut:
    return SessionOut.model_validate(session).model_copy(
        update={"current": session.id == principal.session_id}
    )


def _own_user_id(principal: Principal) -> int:
    return principal.own_user().id


@auth_router.post(
    "/login",
    response_model=TokenOut,
    summary="Log in from a device (phone or username, password): access and refresh tokens",
    responses={
        401: {"description": "Wrong login or password"},
        403: {"description": "The account is disabled or has no password yet"},
        429: {"description": "Too many failed logins: the Retry-After header says for how long"},
    },
)
def login(body: LoginIn, ip: ClientAddress, db: DB):
    issued = service.login(
        db=db,
        login=body.login,
        password=body.password,
        device_id=body.device_id,
        device_name=body.device_name,
        ip=ip,
    )
    return _token_out(issued)


@auth_router.post(
    "/refresh",
    response_model=TokenOut,
    summary="A new access token and a rotated refresh token (the login lasts while it is refreshed)",
    responses={
        401: {"description": "The refresh token was revoked, has expired or is unknown: log in again"}
    },
)
def refresh(body: RefreshIn, ip: ClientAddress, db: DB):
    return _token_out(service.refresh(db=db, refresh_token=body.refresh_token, ip=ip))


@auth_router.post("/logout", response_model=SessionOut, summary="Log out: end the current session")
def logout(principal: CurrentUser, db: DB):
    owner_id = _own_user_id(principal)
    session = service.revoke_session(db=db, session_id=principal.session_id, owner_id=owner_id)
    return _session_out(session, principal)


@auth_router.get("/me", response_model=MeOut, summary="Who is calling: the user, roles and session")
def me(principal: CurrentUser, db: DB):
    session = None
    if principal.session_id is not None:
        session = _session_out(service.get_session(db=db, session_id=principal.session_id), principal)
    return MeOut(
        user=None if principal.user is None else UserOut.model_validate(principal.user),
        name=principal.name,
        roles=sorted(principal.roles),
        session=session,
    )


@auth_router.get(
    "/devices",
    response_model=list[SessionOut],
    summary="The live sessions (devices) of the caller, or of any user for an administrator",
)
def devices(
    principal: CurrentUser,
    db: DB,
    user_id: Annotated[int | None, Query(description="Another user's sessions (administrators)")] = None,
):
    if user_id is None:
        user_id = _own_user_id(principal)
    elif user_id != principal.user_id:
        if not principal.has(Role.ADMIN):
            raise Forbidden("auth.others_devices")
        service.get_user(db=db, user_id=user_id)
    return [_session_out(s, principal) for s in service.list_sessions(db=db, user_id=user_id)]


@auth_router.post(
    "/devices/{session_id}/revoke",
    response_model=SessionOut,
    summary="End a session (a lost phone): one's own, or anyone's for an administrator",
)
def revoke_device(session_id: int, principal: CurrentUser, db: DB):
    owner_id = None if principal.has(Role.ADMIN) else principal.user_id
    return _session_out(service.revoke_session(db=db, session_id=session_id, owner_id=owner_id), principal)


@auth_router.post(
    "/password",
    response_model=PasswordChanged,
    summary="Change one's own password (ends one's other sessions)",
    responses={403: {"description": "The current password is wrong"}},
)
def change_password(body: PasswordChange, principal: CurrentUser, ip: ClientAddress, db: DB):
    _own_user_id(principal)
    revoked = service.change_password(
        db=db,
        user=principal.user,
        session_id=principal.session_id,
        old_password=body.old_password,
        new_password=body.new_password,
        ip=ip,
    )
    return PasswordChanged(revoked_sessions=revoked)
