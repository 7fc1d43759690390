"""The stream of case changes as server-sent events: ``GET /api/events/stream``.

The one ``async`` route: a sync stream would hold a thread-pool slot per open browser tab. The caller's
scope is computed once, at connect; the stream then carries the case changes that scope sees."""

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
from server.events.listener import OVERFLOW, READY, listener

router = APIRouter(prefix="/events", tags=["events"])

RETRY_MS = 3000
HEARTBEAT_SECONDS = 15.0
PUBLIC_FIELDS = ("code", "state", "version", "seq", "grid_path")

STREAM_DESCRIPTION = f"""\
Server-sent events (`text/event-stream`) telling which cases you may see changed, as they change.
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
- `event: overflow`: your client fell too far behind and the server dropped it; this is the last event.
  Reconnect and re-read your lists.
- `: keep-alive` comment lines every {HEARTBEAT_SECONDS:.0f} s, so that proxies keep the connection open.

The stream carries no history and ignores `Last-Event-ID`: after any reconnection, re-read the lists you
show, then apply the events that follow."""

STREAM_EXAMPLE = (
    'retry: 3000\n\nevent: ready\ndata: {}\n\nid: 1842\nevent: case\ndata: {"code":"370102-20261124-0007",'
    '"state":"dispatched","version":4,"seq":1842,"grid_path":"370100.370102.370102001"}\n\n'
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


async def _stream(scope: Scope) -> AsyncIterator[str]:
    subscription = listener.subscribe(partial(sees_notification, scope))
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
            else:
                yield _sse("case", {k: item.get(k) for k in PUBLIC_FIELDS}, event_id=item.get("seq"))
    finally:
        subscription.close()


@router.get(
    "/stream",
    summary="Live stream of changes to the cases you may see (server-sent events)",
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
