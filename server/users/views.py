"""User routes (administrators): list users, add a user, set a user's password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from server.auth import service as auth_service
from server.auth.dependencies import AdminRequired
from server.auth.schemas import PasswordSet, Role, UserCreate, UserOut
from server.deps import DB
from server.users import service

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserOut], dependencies=[AdminRequired], summary="List users")
def list_users(db: DB, role: Annotated[Role | None, Query(description="Only users with this role")] = None):
    return service.list_users(db=db, role=role)


@router.post("", response_model=UserOut, status_code=201, dependencies=[AdminRequired], summary="Add a user")
def create_user(data: UserCreate, db: DB):
    return service.create_user(db=db, data=data)


@router.post(
    "/{user_id}/password",
    response_model=UserOut,
    dependencies=[AdminRequired],
    summary="Set a user's password (the user's sessions stay)",
)
def set_password(user_id: int, body: PasswordSet, db: DB):
    user = auth_service.get_user(db=db, user_id=user_id)
    return service.set_password(db=db, user=user, password=body.password)
