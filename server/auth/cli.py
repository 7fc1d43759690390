"""``gridops users ...``."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from server.auth import service
from server.auth.schemas import Role, UserCreate
from server.cli_common import console, fail, session

users_app = typer.Typer(help="People who use GridOps.", no_args_is_help=True)


@users_app.command("add")
def add(
    name: str = typer.Argument(..., help="Full name."),
    phone: str = typer.Option(..., help="Mobile phone number (unique)."),
    username: str = typer.Option(None, help="Login name (unique)."),
    role: list[Role] = typer.Option([], "--role", help="A role; repeat for several."),
) -> None:
    """Add a user."""
    try:
        data = UserCreate(name=name, phone=phone, username=username, roles=role)
    except ValidationError as exc:
        fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    with session() as db:
        user = service.create_user(db=db, data=data)
        console.print(f"added user {user.id}: {user.name} ({user.phone})")


@users_app.command("list")
def list_users(role: Role = typer.Option(None, help="Only users with this role.")) -> None:
    """List users: id, name, phone, username, roles."""
    with session() as db:
        for user in service.list_users(db=db, role=role):
            print(f"{user.id}\t{user.name}\t{user.phone}\t{user.username or ''}\t{','.join(user.roles)}")
