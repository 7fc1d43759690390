"""The stream of case changes and inspectors' positions as server-sent events: ``GET /api/events/stream``.

The one ``async`` route: a sync stream would hold a thread-pool slot per open browser tab. The caller's
scope is computed once, at connect; the stream then carries the case changes and the positions of the
inspectors that scope sees."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from server.auth.dependencies import Principal, stream_principal
from server.case.scope import Scope, scope_of, sees_notification
from server.deps import DB
from server.events.listener import OVERFLOW, POSITION_CHANNEL, READY, Notice, listener
from server.patrol.service import sees_position

router = APIRouter(prefix="/events", tags=["events"])

RETRY_MS = 3000
HEARTBEAT_SECONDS = 15.0
PUBLIC_FIELDS = ("code", "state", "version", "seq", "grid_path")
POSITION_FIELDS = ("user_id", "user_name", "client_uuid", "lon", "lat", "recorded_at", "accuracy_m")

STREAM_DESCRIPTION = f"""\
Server-sent events (`text/event-stream`) telling which cases you may see changed, as they change, and
where the inspectors you may see are.
Authenticate with `Authorization: Bearer <access token>` or, from a browser's `EventSource` (which sends
no headers), with `?access_token=`. Your scope (grids, department, own reports and tasks) is taken once,
when you connect: reconnect to pick up a change of scope.

The stream opens with `retry: {RETRY_MS}` (reconnect after {RETRY_MS // 1000} s) and then sends:

- `event: ready`, `data: {{}}`: the stream is live; everything that changes from now on will be sent. It
  comes again after the server lost and regained its database connection: changes may have been missed,
  so re-read your lists.
- `event: case`, `id: <seq>`, `data: {{"code", "state", "version", "seq", "grid_path"}}`: a case changed
  (reported, acted on, flagged...). `seq` is the case's change number (the sync cursor); fetch the case
  by its code for the details.
- `event: position`, `data: {{"user_id", "user_name", "client_uuid", "lon", "lat", "recorded_at",
  "accuracy_m"}}`: an inspector on shift uploaded track points; this is the newest one (WGS 84, the time
  the phone recorded it, its accuracy radius in metres or null), `client_uuid` the shift. A city-wide scope
  gets every inspector's, a grid scope those of the inspectors assigned to grids in its subtrees, a
  department none. `GET /api/patrol/positions` gives the positions to start from.
- `event: overflow`: your client fell too far behind and the server dropped it; this is the last event.
  Reconnect and re-read your lists.
- `: keep-alive` comment lines every {HEARTBEAT_SECONDS:.0f} s, so that proxies keep the connection open.

The stream carries no history and ignores `Last-Event-ID`: after any reconnection, re-read the lists you
show, then apply the events that follow."""

STREAM_EXAMPLE = (
    'retry: 3000\n\nevent: ready\ndata: {}\n\nid: 1842\nevent: case\ndata: {"code":"370102-20261124-0007",'
    '"state":"dispatched","version":4,"seq":1842,"grid_path":"370100.370102.370102001"}\n\n'
    'event: position\ndata: {"user_id":12,"user_name":"张伟","client_uuid":"0b6f2c1e-8d4a-4f57-9d3e-'
    '2c5a1b7e9f40","lon":117.0231,"lat":36.6612,"recorded_at":"2026-11-24T01:20:05Z","accuracy_m":6.0}\n\n'
)


def _sse(event: str, data: dict, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


def _scope_once(db: Session, principal: Principal) -> Scope:
    """The caller's scope; then the session is closed, so that an open stream holds no connection."""
    try:
        return scope_of(db=db, principal=principal)
    finally:
        db.close()


def _sees(scope: Scope, notice: Notice) -> bool:
    if notice.channel == POSITION_CHANNEL:
        return sees_position(scope, notice.payload)
    return sees_notification(scope, notice.payload)


async def _stream(scope: Scope) -> AsyncIterator[str]:
    subscription = listener.subscribe(partial(_sees, scope))
    try:
        yield f"retry: {RETRY_MS}\n\n"
        while True:
            try:
                item = await asyncio.wait_for(subscription.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if item == READY:
                yield _sse("ready", {})
            elif item == OVERFLOW:
                yield _sse("overflow", {"message": "too many changes were waiting: reconnect and re-read"})
                return
            elif item.channel == POSITION_CHANNEL:
                yield _sse("position", {k: item.payload.get(k) for k in POSITION_FIELDS})
            else:
                case = item.payload
                yield _sse("case", {k: case.get(k) for k in PUBLIC_FIELDS}, event_id=case.get("seq"))
    finally:
        subscription.close()


@router.get(
    "/stream",
    summary="Live stream of the case changes and inspectors' positions you may see (server-sent events)",
    description=STREAM_DESCRIPTION,
    response_class=StreamingResponse,
    response_model=None,
    responses={
        200: {
            "description": "An endless `text/event-stream`",
            "content": {
                "text/event-stream": {
                    "schema": {"type": "string"},
                    "example": STREAM_EXAMPLE,
                }
            },
        },
        401: {"description": "No access token, or an expired or ended one"},
    },
)
async def stream(principal: Annotated[Principal, Depends(stream_principal)], db: DB) -> StreamingResponse:
    scope = await run_in_threadpool(_scope_once, db, principal)
    return StreamingResponse(
        _stream(scope),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
