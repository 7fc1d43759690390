"""``gridops users ...``: add, list, passwords, sessions, enable and disable."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError

from server.auth import service as auth_service
from server.auth.schemas import Role, UserCreate
from server.cli_common import console, fail, session
from server.users import service

users_app = typer.Typer(help="People who use GridOps.", no_args_is_help=True)

USER_HELP = "Phone, username or id."
PASSWORD_STDIN_HELP = "Read the password from one line of standard input."


def _stdin_password() -> str:
    return sys.stdin.readline().rstrip("\r\n")


@users_app.command("add")
def add(
    name: str = typer.Argument(..., help="Full name."),
    phone: str = typer.Option(..., help="Mobile phone number (unique)."),
    username: str = typer.Option(None, help="Login name (unique, starts with a letter)."),
    role: list[Role] = typer.Option([], "--role", help="A role; repeat for several."),
    department: str = typer.Option(None, help="Code of the department a department user works for."),
    grid: str = typer.Option(None, help="Grid code whose subtree a command-center user works on."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=PASSWORD_STDIN_HELP),
) -> None:
    """Add a user. Without --password-stdin the user cannot log in until `gridops users passwd`."""
    password = _stdin_password() if password_stdin else None
    try:
        data = UserCreate(
            name=name,
            phone=phone,
            username=username,
            roles=role,
            department_code=department,
            grid_code=grid,
            password=password,
        )
    except ValidationError as exc:
        fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    with session() as db:
        user = service.create_user(db=db, data=data)
        console.print(f"added user {user.id}: {user.name} ({user.phone})")


@users_app.command("list")
def list_users(role: Role = typer.Option(None, help="Only users with this role.")) -> None:
    """List users: id, name, phone, username, roles, department, grid, active or disabled."""
    with session() as db:
        for user in service.list_users(db=db, role=role):
            columns = (user.id, user.name, user.phone, user.username, ",".join(user.roles))
            columns += (user.department_code, user.grid_code, "active" if user.active else "disabled")
            print("\t".join("" if c is None else str(c) for c in columns))


@users_app.command("passwd")
def passwd(
    user: str = typer.Argument(..., help=USER_HELP),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=PASSWORD_STDIN_HELP),
) -> None:
    """Set a user's password (asked twice, hidden). The user's sessions stay: end them with `revoke`."""
    with session() as db:
        found = auth_service.find_user(db=db, key=user)
        if password_stdin:
            password = _stdin_password()
        else:
            password = typer.prompt(
                f"new password for {found.name}", hide_input=True, confirmation_prompt=True
            )
        service.set_password(db=db, user=found, password=password)
        console.print(f"password set for user {found.id}: {found.name}")


@users_app.command("revoke")
def revoke(user: str = typer.Argument(..., help=USER_HELP)) -> None:
    """End every session (device) of a user: each must log in again."""
    with session() as db:
        found = auth_service.find_user(db=db, key=user)
        count = auth_service.revoke_all(db=db, user=found)
        console.print(f"ended {count} session(s) of user {found.id}: {found.name}")


def _set_active(user: str, active: bool) -> None:
    with session() as db:
        found = auth_service.find_user(db=db, key=user)
        auth_service.set_active(db=db, user=found, active=active)
        console.print(f"user {found.id} ({found.name}) is {'enabled' if active else 'disabled'}")


@users_app.command("disable")
def disable(user: str = typer.Argument(..., help=USER_HELP)) -> None:
    """Disable a user: no login, and every session ends."""
    _set_active(user, False)


@users_app.command("enable")
def enable(user: str = typer.Argument(..., help=USER_HELP)) -> None:
    """Enable a disabled user again."""
    _set_active(user, True)
