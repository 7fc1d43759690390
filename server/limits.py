"""Request body limits per route, enforced before any route (or login) sees the request.

``BodyLimit`` is a pure ASGI middleware: a request whose ``Content-Length`` is over its route's limit is
answered 413 at once, before a byte of its body is read or spooled to disk; a body with no declared
length (chunked) is counted as it streams in and refused as soon as it passes the limit. Either way the
connection is closed after the answer, since the rest of the body was never read.

``ROUTE_LIMITS`` is the one table of routes whose bodies may be larger than the default (JSON bodies:
setting ``body_max_bytes``); every limit comes from the settings.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import UploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.config import Settings, get_settings
from server.errors import TooLarge
from server.http_errors import error_response

# Room for a multipart form's boundaries, part headers and text fields beside its files.
FORM_SLACK = 256 * 1024

# (method, path with {parameters}, the largest body in bytes): routes that take files.
ROUTE_LIMITS: list[tuple[str, str, Callable[[Settings], int]]] = [
    ("POST", "/api/public/reports", lambda s: s.public_max_photos * s.public_max_photo_bytes + FORM_SLACK),
    ("POST", "/api/cases/{code}/photos", lambda s: s.photo_max_bytes + FORM_SLACK),
    ("POST", "/api/grids/import", lambda s: s.import_max_bytes + FORM_SLACK),
    ("POST", "/api/categories/load", lambda s: s.import_max_bytes + FORM_SLACK),
    ("POST", "/api/addresses/import", lambda s: s.import_max_bytes + FORM_SLACK),
    ("POST", "/api/sources/import", lambda s: s.import_max_bytes + FORM_SLACK),
]
_ROUTES = [
    (method, re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)) + "$"), limit)
    for method, path, limit in ROUTE_LIMITS
]


def read_upload(file: UploadFile, limit: int, code: str) -> bytes:
    """An uploaded file's bytes, refused (413, the sentence of ``code`` with the limit in ``megabytes``) when
    it is over ``limit``: by its declared size before reading, else after reading one byte past the limit."""
    if (file.size is not None and file.size > limit) or len(data := file.file.read(limit + 1)) > limit:
        raise TooLarge(code, megabytes=limit // 2**20)
    return data


def body_limit(method: str, path: str) -> int:
    """The largest body, in bytes, a request to ``method path`` may send."""
    settings = get_settings()
    for route_method, pattern, limit in _ROUTES:
        if method == route_method and pattern.match(path):
            return limit(settings)
    return settings.body_max_bytes


class BodyTooLarge(Exception):
    """Raised into the app by ``receive`` once the body passes its limit: the app stops reading."""


class BodyLimit:
    """Refuse (413) a request body over its route's limit: by its declared length before reading it, and
    while it streams in when no length is declared."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["method"], scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(limit)(scope, receive, send)
            return

        received = 0
        refused = started = False

        async def counted() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    raise BodyTooLarge
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused and not started:  # the app's answer to a body it could not finish: ours instead
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not refused:
                raise
        if refused and not started:
            await _too_large(limit)(scope, receive, send)


def _too_large(limit: int):
    size = f"{limit / 2**20:.1f}".removesuffix(".0") + " MB"
    return error_response(413, "http.body_too_large", params={"size": size}, headers={"Connection": "close"})
