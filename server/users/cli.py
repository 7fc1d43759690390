"""``gridops users ...``: add, list, passwords, sessions, enable and disable."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError

from server.auth import service as auth_service
from server.auth.schemas import Role, UserCreate
from server.cli_common import console, fail_invalid, session
from server.messages import role_name
from server.users import service

users_app = typer.Typer(help="使用 GridOps 的人员。", no_args_is_help=True)

USER_HELP = "用户的手机号、用户名或编号。"
PASSWORD_STDIN_HELP = "从标准输入读一行作为密码。"


def _stdin_password() -> str:
    return sys.stdin.readline().rstrip("\r\n")


@users_app.command("add")
def add(
    name: str = typer.Argument(..., help="姓名。"),
    phone: str = typer.Option(..., help="手机号（不可重复）。"),
    username: str = typer.Option(None, help="登录名（不可重复，以字母开头）。"),
    role: list[Role] = typer.Option([], "--role", help="一个身份；有多个身份时重复填写。"),
    department: str = typer.Option(None, help="处置部门人员所属部门的编码。"),
    grid: str = typer.Option(None, help="指挥中心人员负责的网格编码（含其下级网格）。"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=PASSWORD_STDIN_HELP),
) -> None:
    """添加一位用户。不加 --password-stdin 时，要先用 gridops users passwd 设置密码，用户才能登录。"""
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
        fail_invalid(exc)
    with session() as db:
        user = service.create_user(db=db, data=data)
        login = "" if password is not None else "：用 gridops users passwd 设置密码后即可登录"
        console.print(f"已添加用户 {user.id}：{user.name}（{user.phone}）{login}", highlight=False)


@users_app.command("list")
def list_users(role: Role = typer.Option(None, help="只列有这个身份的用户。")) -> None:
    """列出用户：编号、姓名、手机号、用户名、身份、部门、网格、启用或停用。"""
    with session() as db:
        for user in service.list_users(db=db, role=role):
            columns = (user.id, user.name, user.phone, user.username, "、".join(map(role_name, user.roles)))
            columns += (user.department_code, user.grid_code, "启用" if user.active else "停用")
            print("\t".join("" if c is None else str(c) for c in columns))


@users_app.command("passwd")
def passwd(
    user: str = typer.Argument(..., help=USER_HELP),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=PASSWORD_STDIN_HELP),
) -> None:
    """设置用户的密码（输入两次，不显示）。用户已有的登录不受影响，要结束请用 gridops users revoke。"""
    with session() as db:
        found = auth_service.find_user(db=db, key=user)
        if password_stdin:
            password = _stdin_password()
        else:
            password = typer.prompt(f"{found.name} 的新密码", hide_input=True, confirmation_prompt=True)
        service.set_password(db=db, user=found, password=password)
        console.print(
            f"已为用户 {found.id}（{found.name}）设置新密码；"
            "要让已登录的设备重新登录，请运行 gridops users revoke",
            highlight=False,
        )


@users_app.command("revoke")
def revoke(user: str = typer.Argument(..., help=USER_HELP)) -> None:
    """结束用户的所有登录（每台设备）：每台设备都要重新登录。"""
    with session() as db:
        found = auth_service.find_user(db=db, key=user)
        count = auth_service.revoke_all(db=db, user=found)
        console.print(
            f"已结束用户 {found.id}（{found.name}）的 {count} 个登录，各设备需重新登录", highlight=False
        )


def _set_active(user: str, active: bool) -> None:
    with session() as db:
        found = auth_service.find_user(db=db, key=user)
        auth_service.set_active(db=db, user=found, active=active)
        said = "已启用，可以登录" if active else "已停用，不能再登录；要恢复请运行 gridops users enable"
        console.print(f"用户 {found.id}（{found.name}）{said}", highlight=False)


@users_app.command("disable")
def disable(user: str = typer.Argument(..., help=USER_HELP)) -> None:
    """停用用户：不能登录，所有登录随即结束。"""
    _set_active(user, False)


@users_app.command("enable")
def enable(user: str = typer.Argument(..., help=USER_HELP)) -> None:
    """重新启用已停用的用户。"""
    _set_active(user, True)
