"""Bearer tokens for the agent and supervisor API, issued by an admin command.

A token is 32 random bytes (url-safe base64), shown once when issued. Redis keeps only its
sha256, under `hl:token:{sha256}`, with the role and subject it was issued to ('agent:li_na',
'supervisor:zhang_min'): a copy of the database holds no working token. Revoking deletes that
key. A sha256 is enough here (no slow hash): the tokens are random, not passwords a person
chose, so there is nothing to guess from the digest.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from flask import abort, current_app, g, request

from ivr import keys

ROLES = ("agent", "supervisor")
TOKEN_BYTES = 32

F = TypeVar("F", bound=Callable[..., Any])


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


def identify(conn: redis.Redis, token: str) -> Principal | None:
    """Who holds `token`, or None for an unknown or revoked token."""
    stored = conn.get(keys.api_token(digest(token)))
    if not stored:
        return None
    role, _, subject = stored.partition(":")
    return Principal(role, subject) if role in ROLES and subject else None


def bearer_token() -> str | None:
    """The token of the request's `Authorization: Bearer ...` header, if it has one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def require(role: str) -> Callable[[F], F]:
    """The view needs a token of `role`: 401 without a valid token, 403 with another role's."""

    def decorate(view: F) -> F:
        """Wrap `view` with the token check."""

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            """Check the token, then run the view."""
            token = bearer_token()
            if token is None:
                abort(401, description="a bearer token is required (Authorization: Bearer <token>)")
            who = identify(current_app.extensions["hotline"].stores.data, token)
            if who is None:
                abort(401, description="unknown or revoked token")
            if who.role != role:
                abort(403, description=f"this needs the {role} role")
            g.principal = who
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def principal() -> Principal:
    """Who the current request is from (set by `require`)."""
    return g.principal
