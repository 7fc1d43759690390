"""User routes (administrators): list users with their live devices, add, edit (name, roles, home grid,
department, enable or disable), set a user's password, end a user's sessions; the roles in words."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from server.auth import service as auth_service
from server.auth.dependencies import AdminRequired
from server.auth.principal import Principal
from server.auth.schemas import PasswordSet, Role, UserCreate, UserOut
from server.deps import DB
from server.messages import role_name
from server.users import service
from server.users.schemas import RevokedOut, RoleOut, UserEdit, UserListed

router = APIRouter(prefix="/users", tags=["users"])
UserId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The user's id")]
Admin = Annotated[Principal, AdminRequired]


@router.get("", response_model=list[UserListed], dependencies=[AdminRequired], summary="List users")
def list_users(db: DB, role: Annotated[Role | None, Query(description="Only users with this role")] = None):
    devices = service.live_devices(db=db)
    return [
        UserListed(**UserOut.model_validate(user).model_dump(), devices=devices.get(user.id, 0))
        for user in service.list_users(db=db, role=role)
    ]


@router.get(
    "/roles", response_model=list[RoleOut], dependencies=[AdminRequired], summary="The roles, in words"
)
def list_roles():
    return [RoleOut(role=role, name=role_name(role)) for role in Role]


@router.post("", response_model=UserOut, status_code=201, dependencies=[AdminRequired], summary="Add a user")
def create_user(data: UserCreate, db: DB):
    return service.create_user(db=db, data=data)


@router.patch(
    "/{user_id}",
    response_model=UserOut,
    summary="Edit a user: name, roles, home grid, department; disable (ends every session) or enable",
    responses={
        404: {"description": "No such user, grid or department"},
        409: {"description": "An administrator taking their own admin role or disabling themselves"},
    },
)
def edit_user(user_id: UserId, data: UserEdit, db: DB, principal: Admin):
    user = auth_service.get_user(db=db, user_id=user_id)
    return service.edit_user(db=db, user=user, data=data, by=principal)


@router.post(
    "/{user_id}/password",
    response_model=UserOut,
    dependencies=[AdminRequired],
    summary="Set a user's password (the user's sessions stay)",
)
def set_password(user_id: UserId, body: PasswordSet, db: DB):
    user = auth_service.get_user(db=db, user_id=user_id)
    return service.set_password(db=db, user=user, password=body.password)


@router.post(
    "/{user_id}/revoke",
    response_model=RevokedOut,
    dependencies=[AdminRequired],
    summary="End every session of a user (each device must log in again)",
)
def revoke(user_id: UserId, db: DB):
    user = auth_service.get_user(db=db, user_id=user_id)
    return RevokedOut(revoked_sessions=auth_service.revoke_all(db=db, user=user))
