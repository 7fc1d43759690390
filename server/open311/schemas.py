"""GeoReport v2 shapes, field for field as the specification names them (identifiers and codes as
strings). XML answers carry the same fields as elements (``server.open311.formats``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class EndpointOut(BaseModel):
    specification: str
    url: str
    changeset: datetime
    type: Literal["production", "test"]
    formats: list[str]


class DiscoveryOut(BaseModel):
    changeset: datetime
    contact: str
    key_service: str
    client_uuid: str  # this city's extension: how a retried POST stays one request
    endpoints: list[EndpointOut]


class ServiceOut(BaseModel):
    service_code: str
    service_name: str
    description: str | None
    metadata: bool
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str | None
    group: str | None


class AttributeValueOut(BaseModel):
    key: str
    name: str


class AttributeOut(BaseModel):
    variable: bool
    code: str
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
    required: bool
    datatype_description: str | None
    order: int
    description: str
    values: list[AttributeValueOut] = Field(default=[], description="The choices of a list (none: empty)")


class ServiceDefinitionOut(BaseModel):
    service_code: str
    attributes: list[AttributeOut]


class PostedOut(BaseModel):
    """The answer to a POST: the request's id at once (requests are accepted synchronously, no token)."""

    service_request_id: str
    service_notice: str | None
    account_id: str | None


class RequestOut(BaseModel):
    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None
    service_name: str
    service_code: str
    description: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: datetime
    updated_datetime: datetime | None
    expected_datetime: datetime | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float
    long: float
    media_url: str | None


class ErrorOut(BaseModel):
    code: int
    description: str


class PostIn(BaseModel):
    """A POST requests form, as the specification names its fields (``client_uuid`` from
    ``attribute[client_uuid]``)."""

    service_code: str | None = None  # left out: chosen from the description where the city allows it
    lat: float | None = None
    long: float | None = None
    address_string: str | None = None
    address_id: str | None = None
    client_uuid: str | None = None
    request_type: str | None = None
    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    description: str | None = None
    media_url: str | None = None
