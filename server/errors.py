"""Domain errors raised by services, mapped to HTTP responses in one place (``server.main``)."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses; ``status`` is the HTTP status it maps to."""

    status = 400

    def __init__(self, message: str, **details) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class Invalid(DomainError):
    status = 422


class Forbidden(DomainError):
    status = 403
