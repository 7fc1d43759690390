"""Passwords: argon2id hashes and the policy new passwords follow."""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from server.errors import Invalid

MIN_LENGTH = 8
MAX_LENGTH = 200
DEMO_PASSWORD = "gridops-demo"  # the password the demo loaders (``server.demo``) give every demo user

_hasher = PasswordHasher()


def check_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise Invalid("auth.password_too_short", min_length=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        raise Invalid("auth.password_too_long", max_length=MAX_LENGTH)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def new_hash(password: str) -> str:
    """The hash of a password being set, which must follow the policy."""
    check_policy(password)
    return hash_password(password)


def verify(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches. Without a hash (unknown login) the same time is spent on a dummy
    hash, so that the answer's timing does not tell whether a login exists."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with older parameters than the hasher's current ones."""
    return _hasher.check_needs_rehash(password_hash)


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))
