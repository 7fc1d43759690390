"""Who is acting: a user with their roles (from a session or the command line), or the system administrator
of the settings' admin token. Plain data, usable by services, queries and CLIs alike."""

from __future__ import annotations

from dataclasses import dataclass

from server.auth.models import User
from server.errors import Invalid

SYSTEM_ADMINISTRATOR = "系统管理员"


@dataclass(frozen=True)
class Principal:
    """Who is calling."""

    user: User | None  # None when the settings' admin token was used (system administrator)
    session_id: int | None
    roles: frozenset[str]

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user else None

    @property
    def name(self) -> str:
        return self.user.name if self.user else SYSTEM_ADMINISTRATOR

    def own_user(self) -> User:
        """The calling user; the settings' admin token has none: 422."""
        if self.user is None:
            raise Invalid("auth.admin_token_has_no_user")
        return self.user

    def has(self, *roles: str) -> bool:
        """Whether the caller holds any of ``roles``."""
        return not self.roles.isdisjoint(roles)

    @classmethod
    def of(cls, user: User, session_id: int | None = None) -> Principal:
        """``user`` acting with all its roles (from a session, or from the command line)."""
        return cls(user=user, session_id=session_id, roles=frozenset(user.roles))


ADMINISTRATOR = Principal(user=None, session_id=None, roles=frozenset({"admin"}))  # the admin token
