"""User routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from server.auth import service
from server.auth.dependencies import AdminRequired
from server.auth.schemas import Role, UserCreate, UserOut
from server.deps import DB

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserOut], dependencies=[AdminRequired], summary="List users")
def list_users(db: DB, role: Annotated[Role | None, Query(description="Only users with this role")] = None):
    return service.list_users(db=db, role=role)


@router.post("", response_model=UserOut, status_code=201, dependencies=[AdminRequired], summary="Add a user")
def create_user(data: UserCreate, db: DB):
    return service.create_user(db=db, data=data)
