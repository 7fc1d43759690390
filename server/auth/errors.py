"""Login errors: the domain errors of ``server.errors`` with the statuses login needs."""

from __future__ import annotations

from server.errors import DomainError


class Unauthorized(DomainError):
    """Not logged in, or no longer: the client should refresh or log in again."""

    status = 401


class TooManyAttempts(DomainError):
    """Too many failed logins; ``details["retry_after"]`` holds the seconds to wait."""

    status = 429
