"""Domain errors raised by services, mapped to HTTP responses in one place (``server.http_errors``).

A domain error is a code of the message catalogue (``server.messages``) and its parameters: the code is
stable, for programs; the sentence the catalogue makes of it is what a person reads.
"""

from __future__ import annotations

from typing import Any

from server import messages


class DomainError(Exception):
    """A request the domain refuses; ``status`` is the HTTP status it maps to. ``params`` fill the
    sentence of ``code``; ``retry_after`` (seconds) also becomes the answer's Retry-After, and ``errors``
    (sentences, one per problem) its list of problems."""

    status = 400

    def __init__(self, code: str, /, **params: Any) -> None:
        self.code = code
        self.params = params
        self.message = messages.text(code, **params)
        super().__init__(self.message)


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class Invalid(DomainError):
    status = 422


class Forbidden(DomainError):
    status = 403


class TooLarge(DomainError):
    status = 413
