"""Open311 GeoReport v2 at ``/open311/v2`` (mounted beside ``/api``), every route in .json and .xml; a
request's ``media_url`` points to ``server.public``'s photo route (``/api/public/photos/{id}.jpg``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request, Response

from server.case.schemas import CODE_MAX
from server.deps import DB, LIST_MAX, TEXT_MAX
from server.open311 import service
from server.open311.formats import ERRORS, XML_TOO, Open311Route, render
from server.open311.schemas import (
    DiscoveryOut,
    PostedOut,
    PostIn,
    RequestOut,
    ServiceDefinitionOut,
    ServiceOut,
)

router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=Open311Route, responses=ERRORS)

Format = Annotated[str, Path(description="json or xml")]
Jurisdiction = Annotated[
    str | None,
    Query(
        description="Left out, or the setting open311_jurisdiction_id: the deployment's own city; "
        "else a city's code (370100)"
    ),
]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get(
    "/discovery.{response_format}",
    summary="Discovery: this endpoint, its formats, how to get a key, the client_uuid attribute",
    response_model=DiscoveryOut,
    responses={200: XML_TOO},
)
def discovery(request: Request, response_format: Format) -> Response:
    return render(
        response_format, "discovery", service.discovery(base_url=f"{_base(request)}{router.prefix}")
    )


@router.get(
    "/services.{response_format}",
    summary="Service list: the active categories, grouped by major class",
    response_model=list[ServiceOut],
    responses={200: XML_TOO},
)
def services(db: DB, response_format: Format, jurisdiction_id: Jurisdiction = None) -> Response:
    service.enter_jurisdiction(db, jurisdiction_id)
    return render(response_format, "services/service", service.services(db=db))


@router.get(
    "/services/{service_code}.{response_format}",
    summary="Service definition: its attributes (client_uuid)",
    response_model=ServiceDefinitionOut,
    responses={200: XML_TOO},
)
def service_definition(
    db: DB, service_code: str, response_format: Format, jurisdiction_id: Jurisdiction = None
) -> Response:
    service.enter_jurisdiction(db, jurisdiction_id)
    definition = service.service_definition(db=db, service_code=service_code)
    return render(response_format, "service_definition", definition)


@router.post(
    "/requests.{response_format}",
    summary="Post a service request (form-encoded): a case at once; a retry sends the same client_uuid",
    response_model=list[PostedOut],
    responses={200: XML_TOO},
)
def post_request(
    db: DB,
    response_format: Format,
    service_code: Annotated[
        str | None,
        Form(
            max_length=CODE_MAX,
            description="Required, unless the city takes requests without it (setting "
            "open311_triage_cities): then the category is chosen from the description",
        ),
    ] = None,
    api_key: Annotated[str | None, Form(description="Issued per client system")] = None,
    jurisdiction_id: Annotated[str | None, Form()] = None,
    lat: Annotated[float | None, Form(description="WGS 84")] = None,
    long: Annotated[float | None, Form(description="WGS 84")] = None,
    address_string: Annotated[
        str | None,
        Form(
            max_length=200,
            description="Without lat/long: looked up in the city's address register, else as a grid or "
            "street name",
        ),
    ] = None,
    address_id: Annotated[
        str | None,
        Form(max_length=64, description="Without lat/long: an address's id in the city's address register"),
    ] = None,
    client_uuid: Annotated[
        str | None, Form(alias="attribute[client_uuid]", description=service.CLIENT_UUID.description)
    ] = None,
    request_type: Annotated[
        str | None,
        Form(alias="attribute[request_type]", max_length=12, description="诉求类型; default complaint"),
    ] = None,
    email: Annotated[str | None, Form(description="Private")] = None,
    device_id: Annotated[str | None, Form()] = None,
    account_id: Annotated[str | None, Form()] = None,
    first_name: Annotated[str | None, Form(description="Private")] = None,
    last_name: Annotated[str | None, Form(description="Private")] = None,
    phone: Annotated[str | None, Form(description="Private")] = None,
    description: Annotated[str | None, Form()] = None,
    media_url: Annotated[str | None, Form()] = None,
) -> Response:
    service.enter_jurisdiction(db, jurisdiction_id)
    data = PostIn(
        service_code=service_code, lat=lat, long=long, address_string=address_string, address_id=address_id,
        client_uuid=client_uuid,
        request_type=request_type, email=email, device_id=device_id, account_id=account_id,
        first_name=first_name, last_name=last_name, phone=phone, description=description, media_url=media_url,
    )  # fmt: skip
    posted = service.post_request(db=db, api_key=api_key, data=data)
    return render(response_format, "service_requests/request", [posted])


@router.get(
    "/requests.{response_format}",
    summary="Service requests the public may see (filed or later), newest first: by id list, or by service, "
    "dates (default the last 90 days) and status; at most 1000",
    response_model=list[RequestOut],
    responses={200: XML_TOO},
)
def requests(
    request: Request,
    db: DB,
    response_format: Format,
    service_request_id: Annotated[
        str | None, Query(max_length=LIST_MAX, description="Comma separated; overrides the rest")
    ] = None,
    service_code: Annotated[str | None, Query(max_length=LIST_MAX, description="Comma separated")] = None,
    start_date: Annotated[
        str | None, Query(max_length=TEXT_MAX, description="W3C date-time, e.g. 2010-01-01T00:00:00Z")
    ] = None,
    end_date: Annotated[str | None, Query(max_length=TEXT_MAX, description="W3C date-time")] = None,
    status: Annotated[
        str | None, Query(max_length=TEXT_MAX, description="open, closed, or both comma separated")
    ] = None,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    service.enter_jurisdiction(db, jurisdiction_id)
    found = service.find_requests(
        db=db, base_url=_base(request), service_request_id=service_request_id, service_code=service_code,
        start_date=start_date, end_date=end_date, status=status,
    )  # fmt: skip
    return render(response_format, "service_requests/request", found)


@router.get(
    "/requests/{service_request_id}.{response_format}",
    summary="One service request (a list of one, as the specification has it)",
    response_model=list[RequestOut],
    responses={200: XML_TOO},
)
def request_by_id(
    request: Request,
    db: DB,
    service_request_id: str,
    response_format: Format,
    jurisdiction_id: Jurisdiction = None,
    api_key: Annotated[
        str | None,
        Query(description="The posting client's key: its own request is shown before it is filed too"),
    ] = None,
) -> Response:
    service.enter_jurisdiction(db, jurisdiction_id)
    found = service.get_request(
        db=db, base_url=_base(request), service_request_id=service_request_id, api_key=api_key
    )
    return render(response_format, "service_requests/request", [found])
