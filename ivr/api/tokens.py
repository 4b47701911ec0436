"""API tokens: issued, revoked, and who holds one (the bearer API and the browser sessions).

A token is 32 random bytes (url-safe base64), shown once when issued. Redis keeps only its
sha256, under `hl:token:{sha256}`, with the role and subject it was issued to ('agent:li_na',
'supervisor:zhang_min'): a copy of the database holds no working token. Revoking deletes that
key. A sha256 is enough here (no slow hash): the tokens are random, not passwords a person
chose, so there is nothing to guess from the digest.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import redis

from ivr import keys
from ivr.redis_types import text_or_none

ROLES = ("agent", "supervisor")
TOKEN_BYTES = 32


@dataclass(frozen=True)
class Principal:
    """Who a token was issued to."""

    role: str
    subject: str


def digest(token: str) -> str:
    """The sha256 of a token, as stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(conn: redis.Redis, role: str, subject: str) -> str:
    """A new token for `role` ('agent' or 'supervisor') and `subject` (agent id, supervisor name)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not subject or ":" in subject:
        raise ValueError("subject must be a non-empty name without ':'")
    # A prefix, so a token never starts with '-' and is taken for an option on a command line
    # (`flask tokens revoke -R...`), and so a leaked one is recognisable in a secret scan.
    token = "hl_" + secrets.token_urlsafe(TOKEN_BYTES)
    conn.set(keys.api_token(digest(token)), f"{role}:{subject}")
    return token


def revoke(conn: redis.Redis, token: str) -> bool:
    """Make a token unusable; False when it was not a live token."""
    return bool(conn.delete(keys.api_token(digest(token))))


def principal_of(stored: str | None) -> Principal | None:
    """The principal of a stored 'role:subject', or None."""
    role, _, subject = (stored or "").partition(":")
    return Principal(role, subject) if role in ROLES and subject else None


def identify(conn: redis.Redis, token: str) -> Principal | None:
    """Who holds `token`, or None for an unknown or revoked token."""
    return principal_of(text_or_none(conn.get(keys.api_token(digest(token)))))
