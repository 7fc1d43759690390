"""``gridops open311 keys ...``: the client systems allowed to post Open311 requests."""

from __future__ import annotations

import typer

from server.cli_common import console, session
from server.open311 import service

open311_app = typer.Typer(help="Open311 GeoReport v2 接口（/open311/v2）。", no_args_is_help=True)
keys_app = typer.Typer(help="接入密钥，每个接入系统一个。", no_args_is_help=True)
open311_app.add_typer(keys_app, name="keys")


@keys_app.command("add")
def add(name: str = typer.Argument(..., help="接入系统的名称（不能重名）。")) -> None:
    """添加一个接入系统及其系统用户，显示它的接入密钥（最后一个词；只显示这一次）。"""
    with session() as db:
        client, key = service.add_client(db=db, name=name)
        console.print(
            f"已添加 Open311 接入系统 {client.name}（系统用户编号 {client.user_id}）", highlight=False
        )
        print(f"接入密钥: {key}")


@keys_app.command("list")
def list_keys() -> None:
    """列出接入系统：名称、系统用户编号、添加时间、在用或已收回（及收回时间）。"""
    with session() as db:
        for client in service.list_clients(db=db):
            state = f"已收回 {client.revoked_at:%Y-%m-%d %H:%M}" if client.revoked_at else "在用"
            print(f"{client.name}\t{client.user_id}\t{client.created_at:%Y-%m-%d %H:%M}\t{state}")


@keys_app.command("revoke")
def revoke(name: str = typer.Argument(..., help="接入系统的名称。")) -> None:
    """收回一个接入系统的密钥：从此拒绝它提交诉求（它已提交的诉求保留）。"""
    with session() as db:
        client = service.revoke_client(db=db, name=name)
        console.print(f"已收回 Open311 接入系统 {client.name} 的密钥", highlight=False)
