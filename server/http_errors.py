"""Every error answer in one documented shape, and the refusals made before any route runs.

``ErrorOut`` is the body of every error answer (domain errors, HTTP errors, validation, outages): a
``detail`` for people, in Chinese, and for a refused request the ``errors`` per field.
``install_error_handlers`` maps the exceptions to it, answers 503 with ``Retry-After`` while the database or
the media store is down, and publishes the shape in the OpenAPI of every route; ``refuse_unstorable``, a
dependency of every route, refuses text PostgreSQL cannot store and numbers JSON does not have.
"""

from __future__ import annotations

import errno
import math
from typing import Any

from fastapi import FastAPI, Request, params
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException

from server import messages
from server.config import get_settings
from server.errors import DomainError


class ErrorItem(BaseModel):
    loc: list[str | int] = Field(description="Where: body, query, path or form, then the field")
    msg: str = Field(description="What is wrong and what to do, in Chinese")
    type: str = Field(description="The kind of error, for programs (e.g. missing, string_too_long)")


class ErrorOut(BaseModel):
    """The body of every error answer."""

    model_config = ConfigDict(title="Error")

    detail: str = Field(description="What went wrong and what to do next, in Chinese, for people")
    code: str = Field(description="The kind of refusal, stable, for programs (e.g. case.photo_required)")
    params: dict[str, Any] = Field(default_factory=dict, description="The refusal's parameters")
    errors: list[ErrorItem] | None = Field(default=None, description="Each refused field of the request")
    retry_after: int | None = Field(default=None, description="Seconds to wait before sending again")


def error_response(
    status: int,
    code: str,
    *,
    params: dict[str, Any] | None = None,
    detail: str | None = None,
    errors: list[ErrorItem] | None = None,
    headers: dict[str, str] | None = None,
    retry_after: int | None = None,
) -> JSONResponse:
    """An error answer in the one shape; ``detail`` defaults to the catalogue's sentence of ``code``."""
    params = params or {}
    if retry_after is not None:
        headers = {**(headers or {}), "Retry-After": str(retry_after)}
    body = ErrorOut(
        detail=detail if detail is not None else messages.text(code, **params),
        code=code,
        params=jsonable_encoder(params),
        errors=errors,
        retry_after=retry_after,
    ).model_dump(mode="json", exclude_none=True)
    return JSONResponse(body, status_code=status, headers=headers)


# -- validation messages ------------------------------------------------------------------------------


def _field(loc: tuple | list) -> str:
    """Where a refused value is, in words: the field's label (``labels.yaml``), after the item's number
    when it is one of a list; the request's whole content when the error is about all of it."""
    names = [p for p in loc[1:] if isinstance(p, str)] if loc else []
    indexes = [p for p in loc[1:] if isinstance(p, int)] if loc else []
    if not names:
        where = "请求内容"
    else:
        where = messages.field_label(names[-1]) or messages.text("validation.unnamed_field")
    return messages.text("validation.item_of_list", n=indexes[-1] + 1, field=where) if indexes else where


def _message(error: dict) -> str:
    """Pydantic's error as a sentence of the catalogue (``validation.<type>``): the field in words and the
    limits from the error's context, never the value sent."""
    code = f"validation.{error.get('type', '')}"
    if code not in messages.catalogue():
        code = "validation.default"
    context = {
        k: int(v) if isinstance(v, float) and v.is_integer() else v  # 90, not 90.0
        for k, v in (error.get("ctx") or {}).items()
        if isinstance(v, int | float | str)
    }
    field = _field(error.get("loc", ()))
    try:
        return messages.text(code, **{**context, "field": field})
    except (KeyError, IndexError, ValueError):
        return messages.text("validation.default", field=field)


def validation_items(errors: list[dict]) -> list[ErrorItem]:
    """Pydantic's errors as ``ErrorItem``: where, a Chinese message and the type; never the value sent,
    which may not even be JSON (NaN) and is the caller's own anyway."""
    return [
        ErrorItem(
            loc=[p for p in e.get("loc", ()) if isinstance(p, str | int)], msg=_message(e), type=e["type"]
        )
        for e in errors
    ]


def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    items = validation_items(list(exc.errors()))
    detail = "；".join(dict.fromkeys(i.msg for i in items)) or messages.text("validation.request")
    return error_response(422, "validation.request", detail=detail, errors=items)


# -- text PostgreSQL cannot store, numbers JSON does not have ---------------------------------------------


def _unstorable(value: Any, loc: tuple) -> list[dict]:
    """Errors for NUL characters and lone surrogates in strings, and NaN or infinite numbers, anywhere in
    a parsed value (JSON, form or parameters); walked without recursion, however deep the value."""
    errors, stack = [], [(value, loc)]
    while stack:
        value, loc = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                errors.append({"type": "text_nul", "loc": loc})
            elif not _surrogate_free(value):
                errors.append({"type": "text_surrogate", "loc": loc})
        elif isinstance(value, float):
            if not math.isfinite(value):
                errors.append({"type": "number_not_finite", "loc": loc})
        elif isinstance(value, dict):
            stack += ((key, loc) for key in value)
            stack += ((item, (*loc, str(key))) for key, item in value.items())
        elif isinstance(value, list):
            stack += ((item, (*loc, index)) for index, item in enumerate(value))
    return errors


def _surrogate_free(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_json(content_type: str) -> bool:
    """As FastAPI decides whether to parse a body as JSON."""
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def refuse_unstorable(request: Request) -> None:
    """A dependency of every route: refuse, before the route runs, a NUL or a lone surrogate in the path,
    the query, a form field or a JSON string (PostgreSQL stores neither), and NaN or Infinity in a JSON
    body (JSON has neither; Python's parser lets them through). The body is the one the route already
    read: nothing is read twice."""
    errors: list[dict] = []
    for name, value in request.path_params.items():
        errors += _unstorable(value, ("path", name))
    for name, value in request.query_params.multi_items():
        errors += _unstorable(value, ("query", name))
    body_field = getattr(request.scope.get("route"), "body_field", None)
    if body_field is not None and isinstance(body_field.field_info, params.Form):
        form = await request.form()  # the route's own, already parsed
        for name, value in form.multi_items():
            errors += _unstorable(value, ("body", name))
    elif (
        body_field is not None and _is_json(request.headers.get("content-type", "")) and await request.body()
    ):
        errors += _unstorable(await request.json(), ("body",))  # the route's own, already parsed
    if errors:
        raise RequestValidationError([{**e, "msg": _message(e)} for e in errors])


# -- domain and HTTP errors ---------------------------------------------------------------------------------

# Starlette's and FastAPI's own refusals, by status.
_STOCK = {
    400: "http.bad_request",
    404: "http.not_found",
    405: "http.method_not_allowed",
    413: "http.too_large",
    415: "http.unsupported_media",
}


def _domain_error(request: Request, exc: DomainError) -> JSONResponse:
    params = dict(exc.params)
    errors = params.pop("errors", None)  # a domain error listing its problems as sentences
    items = [ErrorItem(loc=[], msg=str(e), type="invalid") for e in errors] if errors is not None else None
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return error_response(
        exc.status,
        exc.code,
        params=params,
        detail=exc.message,
        errors=items,
        headers=headers,
        retry_after=params.pop("retry_after", None),
    )


def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    return error_response(exc.status_code, _STOCK.get(exc.status_code, "http.refused"), headers=exc.headers)


def _server_error(request: Request, exc: Exception) -> JSONResponse:
    """A fault of ours (logged by the server with its traceback): the answer still has the one shape."""
    return error_response(500, "http.server_error")


# -- outages ---------------------------------------------------------------------------------------------

# The media store cannot be written: full, read-only, failing or refused; the request is refused as a
# whole (no row names a file that could not be written) and may be sent again later.
STORAGE_DOWN = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EACCES, errno.EPERM}


def _unavailable(code: str) -> JSONResponse:
    return error_response(503, code, retry_after=get_settings().retry_after_seconds)


def _database_down(request: Request, exc: Exception) -> JSONResponse:
    """The database cannot be reached (stopped, restarting, refusing connections, the pool exhausted),
    or dropped this transaction (a serialisation failure or deadlock): nothing was stored; send again."""
    return _unavailable("http.database_down")


def _storage_down(request: Request, exc: OSError) -> JSONResponse:
    if exc.errno not in STORAGE_DOWN:
        raise exc
    return _unavailable("http.storage_down")


# -- the OpenAPI -----------------------------------------------------------------------------------------

_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_DESCRIPTIONS = {"422": "The request was refused: `detail` says why in Chinese, `errors` names each field"}
_UNAVAILABLE = {
    "description": "The database or the media store is down: nothing was stored; retry after `Retry-After`",
    "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
    "content": {"application/json": {"schema": _ERROR_REF}},
}


def _with_error_schema(response: dict) -> None:
    """``Error`` as the JSON body of a documented refusal (beside a route's own model, if it has one)."""
    if response.get("description") == "Validation Error":
        response["description"] = _DESCRIPTIONS["422"]
    content = response.setdefault("content", {}).setdefault("application/json", {})
    documented = content.get("schema")
    if documented is None or documented.get("$ref", "").endswith("/HTTPValidationError"):
        content["schema"] = _ERROR_REF
    elif documented != _ERROR_REF and "anyOf" not in documented:
        content["schema"] = {"anyOf": [documented, _ERROR_REF]}


def _openapi(app: FastAPI) -> dict:
    """The app's OpenAPI with ``Error`` as the body of every error answer: FastAPI's HTTPValidationError
    replaced on every 422, a schema added to every documented 4xx without one, and 503 on every route
    that reaches the database or the media store. Routes with their own error format (Open311) keep it."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    error = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(error.pop("$defs"))
    components["Error"] = error
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            responses["503"] = _UNAVAILABLE
            if "open311" in operation.get("tags", ()):  # refusals in the GeoReport format, as 400
                responses.pop("422", None)
                continue
            responses.setdefault("422", {"description": _DESCRIPTIONS["422"]})
            responses.setdefault("4XX", {"description": "Refused: `detail` says why in Chinese"})
            for status, response in responses.items():
                if status.startswith("4"):
                    _with_error_schema(response)
    app.openapi_schema = schema
    return schema


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to the one shape and publish it in the OpenAPI (``refuse_unstorable`` is given to
    the app as a dependency of every route)."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for database_error in (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError):
        app.add_exception_handler(database_error, _database_down)
    app.add_exception_handler(OSError, _storage_down)
    app.add_exception_handler(Exception, _server_error)
    app.openapi = lambda: _openapi(app)
