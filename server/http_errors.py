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
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request, params
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException

from server.config import get_settings
from server.errors import DomainError


class ErrorItem(BaseModel):
    loc: list[str | int] = Field(description="Where: body, query, path or form, then the field")
    msg: str = Field(description="What is wrong and what to do, in Chinese")
    type: str = Field(description="The kind of error, for programs (e.g. missing, string_too_long)")


class ErrorOut(BaseModel):
    """The body of every error answer; a domain error may add its own fields (e.g. ``retry_after``)."""

    model_config = ConfigDict(extra="allow", title="Error")

    detail: str = Field(description="What went wrong and what to do next, in Chinese, for people")
    errors: list[ErrorItem] | None = Field(default=None, description="Each refused field of the request")


def error_response(
    status: int,
    detail: str,
    *,
    errors: list[ErrorItem] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """An error answer in the one shape."""
    body = ErrorOut(detail=detail, errors=errors, **extra).model_dump(mode="json", exclude_none=True)
    return JSONResponse(body, status_code=status, headers=headers)


# -- validation messages ------------------------------------------------------------------------------

_SECTIONS = {"body": "", "form": "", "query": "查询参数", "path": "地址中的", "header": "请求头"}

# Pydantic's error types as Chinese sentences ({field} is the field; other names come from the error's
# context: limits, never the value sent).
_MESSAGES = {
    "missing": "缺少{field}，请填写后重试",
    "string_too_long": "{field}太长：最多 {max_length} 个字符，请删减",
    "string_too_short": "{field}太短：至少 {min_length} 个字符，请补全",
    "too_long": "{field}的条目太多：最多 {max_length} 项，请减少",
    "too_short": "{field}的条目太少：至少 {min_length} 项，请补全",
    "string_pattern_mismatch": "{field}的格式不对，请按说明填写",
    "string_type": "{field}应为文字",
    "int_parsing": "{field}应为整数",
    "int_type": "{field}应为整数",
    "int_from_float": "{field}应为整数，不能带小数",
    "float_parsing": "{field}应为数字",
    "float_type": "{field}应为数字",
    "decimal_parsing": "{field}应为数字",
    "finite_number": "{field}应为有限的数字",
    "greater_than": "{field}超出范围：应大于 {gt}",
    "greater_than_equal": "{field}超出范围：应不小于 {ge}",
    "less_than": "{field}超出范围：应小于 {lt}",
    "less_than_equal": "{field}超出范围：应不大于 {le}",
    "multiple_of": "{field}应为 {multiple_of} 的倍数",
    "bool_parsing": "{field}应为是或否（true 或 false）",
    "bool_type": "{field}应为是或否（true 或 false）",
    "enum": "{field}不是可选的值，请从说明列出的选项中选择",
    "literal_error": "{field}不是可选的值，请从说明列出的选项中选择",
    "date_parsing": "{field}应为日期，如 2026-12-04",
    "date_from_datetime_parsing": "{field}应为日期，如 2026-12-04",
    "date_type": "{field}应为日期，如 2026-12-04",
    "datetime_parsing": "{field}应为带时区的时间，如 2026-12-04T09:30:00+08:00",
    "datetime_from_date_parsing": "{field}应为带时区的时间，如 2026-12-04T09:30:00+08:00",
    "datetime_type": "{field}应为带时区的时间，如 2026-12-04T09:30:00+08:00",
    "timezone_aware": "{field}应带时区，如 2026-12-04T09:30:00+08:00",
    "uuid_parsing": "{field}应为 UUID，如 0f8fad5b-d9cb-469f-a165-70867728950e",
    "uuid_type": "{field}应为 UUID，如 0f8fad5b-d9cb-469f-a165-70867728950e",
    "dict_type": "{field}应为对象（键和值）",
    "model_type": "{field}应为对象（键和值）",
    "model_attributes_type": "{field}应为对象（键和值）",
    "list_type": "{field}应为列表",
    "set_type": "{field}应为列表",
    "tuple_type": "{field}应为列表",
    "json_invalid": "请求内容不是有效的 JSON，请检查格式后重试",
    "json_type": "{field}应为 JSON 文字",
    "extra_forbidden": "{field}不是可以提交的字段，请删去",
    "url_parsing": "{field}应为网址",
    "url_type": "{field}应为网址",
    "upload_file_type": "{field}应为上传的文件",
    "bytes_too_long": "{field}太大，请减小后重试",
    # The refusals below are this module's own (``refuse_unstorable``).
    "text_nul": "{field}含有不允许的空字符，请删去后重试",
    "text_surrogate": "{field}含有无效的字符编码，请重新输入",
    "number_not_finite": "{field}应为有限的数字，请检查后重试",
}
_DEFAULT_MESSAGE = "{field}的值不对，请按说明填写"


def _field(loc: tuple | list) -> str:
    """``loc`` for people: the field's dotted name, or the section when the error is about all of it."""
    parts = [str(p) for p in loc]
    section = _SECTIONS.get(parts[0], "") if parts else ""
    if parts and parts[0] in _SECTIONS:
        parts = parts[1:]
    return f"{section}「{'.'.join(parts)}」" if parts else "请求内容"


def _message(error: dict) -> str:
    template = _MESSAGES.get(error.get("type", ""), _DEFAULT_MESSAGE)
    context = {k: v for k, v in (error.get("ctx") or {}).items() if isinstance(v, int | float | str)}
    try:
        return template.format(field=_field(error.get("loc", ())), **context)
    except (KeyError, IndexError, ValueError):
        return _DEFAULT_MESSAGE.format(field=_field(error.get("loc", ())))


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
    return error_response(
        422, "；".join(i.msg for i in items) or "请求不符合要求，请检查后重试", errors=items
    )


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

# Starlette's and FastAPI's own English details, for people.
_STOCK = {
    "Not Found": "没有这个地址，请检查后重试",
    "Method Not Allowed": "这个地址不接受这种请求方法",
    "There was an error parsing the body": "请求内容无法解析，请检查格式后重试",
    "Request Entity Too Large": "请求内容太大，请减小后重试",
    "Unsupported Media Type": "不支持这种内容类型，请按说明提交",
}


def _domain_error(request: Request, exc: DomainError) -> JSONResponse:
    details = dict(exc.details)
    if "errors" in details:  # a domain error listing its problems as text
        details["errors"] = [ErrorItem(loc=[], msg=str(e), type="invalid") for e in details["errors"]]
    headers = {"Retry-After": str(details["retry_after"])} if "retry_after" in details else None
    return error_response(exc.status, exc.message, headers=headers, **details)


def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return error_response(exc.status_code, _STOCK.get(detail, detail), headers=exc.headers)


def _server_error(request: Request, exc: Exception) -> JSONResponse:
    """A fault of ours (logged by the server with its traceback): the answer still has the one shape."""
    return error_response(500, "服务器内部出错，本次请求可能没有完成，请稍后重试；一再出现请联系管理员")


# -- outages ---------------------------------------------------------------------------------------------

# The media store cannot be written: full, read-only, failing or refused; the request is refused as a
# whole (no row names a file that could not be written) and may be sent again later.
STORAGE_DOWN = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EACCES, errno.EPERM}


def _unavailable(message: str) -> JSONResponse:
    seconds = get_settings().retry_after_seconds
    return error_response(503, message, headers={"Retry-After": str(seconds)}, retry_after=seconds)


def _database_down(request: Request, exc: Exception) -> JSONResponse:
    """The database cannot be reached (stopped, restarting, refusing connections, the pool exhausted),
    or dropped this transaction (a serialisation failure or deadlock): nothing was stored; send again."""
    return _unavailable("数据库暂时无法使用，本次请求没有保存，请稍后重试")


def _storage_down(request: Request, exc: OSError) -> JSONResponse:
    if exc.errno not in STORAGE_DOWN:
        raise exc
    return _unavailable("照片存储暂时无法写入，本次请求没有保存，请稍后重试")


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
