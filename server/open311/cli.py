"""``gridops open311 keys ...``: the client systems allowed to post Open311 requests."""

from __future__ import annotations

import typer

from server.cli_common import console, session
from server.open311 import service

open311_app = typer.Typer(help="Open311 GeoReport v2 at /open311/v2.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys, one per client system.", no_args_is_help=True)
open311_app.add_typer(keys_app, name="keys")


@keys_app.command("add")
def add(name: str = typer.Argument(..., help="The client system's name (unique).")) -> None:
    """Add a client system with its system user; print its API key (the last word: shown only now)."""
    with session() as db:
        client, key = service.add_client(db=db, name=name)
        console.print(f"added Open311 client {client.name} (system user {client.user_id})")
        print(f"api_key: {key}")


@keys_app.command("list")
def list_keys() -> None:
    """List client systems: name, system user id, created, active or revoked (with when)."""
    with session() as db:
        for client in service.list_clients(db=db):
            state = f"revoked {client.revoked_at:%Y-%m-%d %H:%M}" if client.revoked_at else "active"
            print(f"{client.name}\t{client.user_id}\t{client.created_at:%Y-%m-%d %H:%M}\t{state}")


@keys_app.command("revoke")
def revoke(name: str = typer.Argument(..., help="The client system's name.")) -> None:
    """Revoke a client system's key: its posts are refused from now on (its requests stay)."""
    with session() as db:
        client = service.revoke_client(db=db, name=name)
        console.print(f"revoked the key of Open311 client {client.name}")
