"""The two formats of every answer: JSON, and XML with the specification's element names (a list under
``<name>s`` holds ``<name>`` elements; booleans as true/false; a missing value as an empty element).
Errors in the specification's format, with its HTTP codes: 403 (api_key), 404 (unknown request or service),
400 for everything else; each description a sentence of the message catalogue, one per problem."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from xml.etree import ElementTree as ET

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.requests import Request

from server import messages
from server.errors import DomainError
from server.http_errors import validation_items
from server.open311.schemas import ErrorOut

FORMATS = ("json", "xml")
XML_MEDIA_TYPE = "text/xml; charset=utf-8"


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), item)
    elif isinstance(value, list):
        for item in value:
            _fill(ET.SubElement(element, element.tag.removesuffix("s")), item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)


def render(
    response_format: str, root: str, body: BaseModel | Sequence[BaseModel], status: int = 200
) -> Response:
    """``body`` as JSON, or as XML under ``<root>``: a list as ``<item>`` children (``root`` in the
    singular: services/service, service_requests/request, errors/error)."""
    data = (
        body.model_dump(mode="json")
        if isinstance(body, BaseModel)
        else [b.model_dump(mode="json") for b in body]
    )
    if response_format == "json":
        return JSONResponse(data, status_code=status)
    tag, _, item = root.partition("/")
    element = ET.Element(tag)
    for entry in data if isinstance(data, list) else [data]:
        _fill(ET.SubElement(element, item) if item else element, entry)
    xml = ET.tostring(element, encoding="unicode")
    return Response(
        f'<?xml version="1.0" encoding="utf-8"?>\n{xml}', status_code=status, media_type=XML_MEDIA_TYPE
    )


def _error(request: Request, status: int, descriptions: list[str]) -> Response:
    response_format = "xml" if request.path_params.get("response_format") == "xml" else "json"
    errors = [ErrorOut(code=status, description=d) for d in dict.fromkeys(descriptions)]
    return render(response_format, "errors/error", errors, status)


class Open311Route(APIRoute):
    """A route whose refusals come in the specification's error format and codes."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            response_format = request.path_params.get("response_format")
            if response_format is not None and response_format not in FORMATS:  # checked before any work
                return _error(request, 400, [messages.text("open311.format", format=response_format)])
            try:
                return await handler(request)
            except DomainError as exc:
                status = exc.status if exc.status in (403, 404) else 400
                return _error(request, status, exc.params.get("errors") or [exc.message])
            except RequestValidationError as exc:
                return _error(request, 400, [item.msg for item in validation_items(list(exc.errors()))])

        return route


ERRORS = {
    400: {"description": "Refused: a list of {code, description} (XML: <errors><error>)"},
    403: {"description": "api_key missing, not valid or revoked"},
    404: {"description": "No such request or service"},
}
XML_TOO = {"content": {"application/json": {}, "text/xml": {}}}
