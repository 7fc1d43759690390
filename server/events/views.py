"""The stream of case changes, warnings and inspectors' positions as server-sent events:
``GET /api/events/stream``.

The one ``async`` route: a sync stream would hold a thread-pool slot per open browser tab. The caller is
authorized at connect by the path every token takes (``stream_principal``), and again every
``events_recheck_seconds``, at once when a session of the caller ends (a ``session_end`` notice: logout,
revocation, password change, account disabled) and after the listener reconnected (notices may have been
lost). Each check runs in a worker thread on a session of its own, so the event loop never waits for the
database, and takes the scope anew: the stream carries the case changes and the positions of the
inspectors the latest scope sees. When the token no longer holds (expired, its session ended, the account
disabled) the stream sends a last ``end`` event and closes; the browser reconnects with a fresh token
(``LiveStream`` in ``server/web/static/api.js``), so a stream never outlives its access token either."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from server.auth.dependencies import Credentials, stream_principal
from server.auth.errors import Unauthorized
from server.auth.principal import Principal
from server.auth.service import SESSION_CHANNEL
from server.case.scope import Scope, scope_of, sees_notification
from server.config import get_settings
from server.database import new_session
from server.deps import DB, REQUESTED_CITY, place_request
from server.events.listener import OVERFLOW, READY, Notice, listener
from server.patrol.service import POSITION_CHANNEL
from server.patrol.visibility import sees_position
from server.tenant import current_cities
from server.warning import service as warnings

router = APIRouter(prefix="/events", tags=["events"])

RETRY_MS = 3000
HEARTBEAT_SECONDS = 15.0
PUBLIC_FIELDS = ("code", "state", "version", "seq", "grid_path")
WARNING_FIELDS = ("id", "state", "kind", "area_path")
POSITION_FIELDS = ("user_id", "user_name", "client_uuid", "lon", "lat", "recorded_at", "accuracy_m")
# The last event's message when the login no longer holds (the stream then closes).
ENDED = (
    "登录已失效（凭证到期、已退出登录、被撤销或账号已停用），实时更新已停止：页面会换用新的登录凭证自动重新"
    "连接；如果仍然连不上，请重新登录。"
)

STREAM_DESCRIPTION = f"""\
Server-sent events (`text/event-stream`) telling which cases you may see changed, as they change, and
where the inspectors you may see are.
Authenticate with `Authorization: Bearer <access token>` or, from a browser's `EventSource` (which sends
no headers), with `?access_token=`. Your login and your scope (grids, department, own reports and tasks)
are checked again every few seconds (`GRIDOPS_EVENTS_RECHECK_SECONDS`, default 15) and at once when a
session of yours ends: a narrower scope applies from then on, and a login that no longer holds (the
access token expired, the session ended, the account was disabled) ends the stream.

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
- `event: warning`, `data: {{"id", "state", "kind", "area_path"}}`: a warning (预警) was raised, signalled
  again or acted on (seen, reminder letter, acknowledged, closed), for the dashboard users of its area and
  the letter's addressee; fetch it from `GET /api/warnings/{{id}}`.
- `event: overflow`: your client fell too far behind and the server dropped it; this is the last event.
  Reconnect and re-read your lists.
- `event: end`, `data: {{"message"}}`: your access token expired, or your session ended (logout,
  revocation, password change, account disabled); this is the last event. Refresh the token and
  reconnect, or log in again.
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


def _authorize(
    db: Session, credentials, access_token: str | None, city: str | None
) -> tuple[Principal, Scope, int | None]:
    """Who the token speaks for, what they may see and in which city (``city``, the code the stream named),
    now (401 when the token no longer holds); then ``db`` is closed, so that an open stream holds no
    connection."""
    try:
        place_request(db, city)
        principal = stream_principal(db, credentials, access_token)
        return principal, scope_of(db=db, principal=principal), current_cities(db)[1]
    finally:
        db.close()


class _Caller:
    """An open stream's caller: how it authenticated, and who it is, what it sees and in which city as of
    the last check."""

    def __init__(self, credentials, access_token: str | None, city: str | None, authorized) -> None:
        self.credentials, self.access_token, self.city_code = credentials, access_token, city
        self.principal, self.scope, self.city = authorized

    def wants(self, notice: Notice) -> bool:
        """Whether ``notice`` is for this stream (called from the listener thread too): of its city, and
        within what it sees."""
        if notice.channel == SESSION_CHANNEL:
            user_id = self.principal.user_id
            return user_id is not None and notice.payload.get("user_id") == user_id
        if notice.payload.get("city_id") != self.city:
            return False
        if notice.channel == POSITION_CHANNEL:
            return sees_position(self.scope, notice.payload)
        if notice.channel == warnings.CHANNEL:
            return warnings.sees_notice(self.principal, self.scope, notice.payload)
        return sees_notification(self.scope, notice.payload)

    async def recheck(self) -> bool:
        """Authorize again, in a worker thread, and take the scope of now; False when the token no longer
        holds."""
        try:
            self.principal, self.scope, self.city = await run_in_threadpool(
                lambda: _authorize(new_session(), self.credentials, self.access_token, self.city_code)
            )
        except Unauthorized:
            return False
        return True


async def _stream(caller: _Caller) -> AsyncIterator[str]:
    subscription = listener.subscribe(caller.wants)
    clock = asyncio.get_running_loop().time
    every = get_settings().events_recheck_seconds
    try:
        yield f"retry: {RETRY_MS}\n\n"
        check_at, beat_at, seen_ready = clock() + every, clock() + HEARTBEAT_SECONDS, False
        while True:
            if clock() >= check_at:
                if not await caller.recheck():
                    yield _sse("end", {"message": ENDED})
                    return
                check_at = clock() + every
            if clock() >= beat_at:
                yield ": keep-alive\n\n"
                beat_at = clock() + HEARTBEAT_SECONDS
            try:
                item = await asyncio.wait_for(subscription.get(), min(check_at, beat_at) - clock())
            except TimeoutError:
                continue
            if item == OVERFLOW:
                yield _sse("overflow", {"message": "等待推送的变化太多：请重新连接并刷新数据"})
                return
            if item == READY:
                if seen_ready:  # the listener reconnected: a session may have ended meanwhile
                    check_at = clock()
                seen_ready = True
                event = _sse("ready", {})
            elif item.channel == SESSION_CHANNEL:
                check_at = clock()
                continue
            elif not caller.wants(item):  # queued before the scope narrowed
                continue
            elif item.channel == POSITION_CHANNEL:
                event = _sse("position", {k: item.payload.get(k) for k in POSITION_FIELDS})
            elif item.channel == warnings.CHANNEL:
                event = _sse("warning", {k: item.payload.get(k) for k in WARNING_FIELDS})
            else:
                case = item.payload
                event = _sse("case", {k: case.get(k) for k in PUBLIC_FIELDS}, event_id=case.get("seq"))
            yield event
            beat_at = clock() + HEARTBEAT_SECONDS
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
async def stream(
    db: DB,
    credentials: Credentials,
    access_token: Annotated[
        str | None, Query(description="The access token, for clients that cannot send headers (EventSource)")
    ] = None,
) -> StreamingResponse:
    city = db.info.get(REQUESTED_CITY)  # ?city=, as server.deps.request_city read it
    authorized = await run_in_threadpool(_authorize, db, credentials, access_token, city)
    return StreamingResponse(
        _stream(_Caller(credentials, access_token, city, authorized)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
