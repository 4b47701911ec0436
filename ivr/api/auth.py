"""Bearer tokens for the agent and supervisor API, issued by an admin command.

A token is 32 random bytes (url-safe base64), shown once when issued. Redis keeps only its
sha256, under `hl:token:{sha256}`, with the role and subject it was issued to ('agent:li_na',
'supervisor:zhang_min'): a copy of the database holds no working token. Revoking deletes that
key. A sha256 is enough here (no slow hash): the tokens are random, not passwords a person
chose, so there is nothing to guess from the digest.

A wrong token is logged (its shape, never the token) and counted per client address
(`hl:authfail:{address}`, a counter living one window). After `MAX_FAILURES` wrong tokens in
`FAILURE_WINDOW_SECONDS`, every request from that address is answered 429 with Retry-After until
the window ends, valid tokens included: a guesser learns nothing while locked out. Behind a
reverse proxy, set HOTLINE_TRUSTED_PROXIES so the address is the client's, not the proxy's.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from flask import abort, g, request
from werkzeug.exceptions import TooManyRequests

from ivr import keys
from ivr.services import services

log = logging.getLogger("ivr.api")

ROLES = ("agent", "supervisor")
TOKEN_BYTES = 32
# Wrong tokens one client address may send in a window before it is locked out for the rest of
# it. The tokens are 256-bit random, so this is not what keeps them secret: it keeps a scanner
# from filling the logs and the CPU, while a console with a stale token recovers on its own.
MAX_FAILURES = 10
FAILURE_WINDOW_SECONDS = 300

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


def _principal(stored: str | None) -> Principal | None:
    """The principal of a stored 'role:subject', or None."""
    role, _, subject = (stored or "").partition(":")
    return Principal(role, subject) if role in ROLES and subject else None


def identify(conn: redis.Redis, token: str) -> Principal | None:
    """Who holds `token`, or None for an unknown or revoked token."""
    return _principal(conn.get(keys.api_token(digest(token))))


def shape_of(token: str) -> str:
    """What the log may say about a token: its prefix and length, never the token itself."""
    return f"{'hl_' if token.startswith('hl_') else ''}...({len(token)} chars)"


def _check(conn: redis.Redis, token: str, address: str) -> Principal | None:
    """Who holds `token`: one round trip with the address's failure count; 429 while locked out."""
    pipe = conn.pipeline(transaction=False)
    pipe.get(keys.api_token(digest(token)))
    pipe.get(keys.auth_failures(address))
    pipe.ttl(keys.auth_failures(address))
    stored, failures, ttl = pipe.execute()
    if int(failures or 0) >= MAX_FAILURES:
        raise TooManyRequests(
            description=f"too many wrong tokens from this address; try again in {max(ttl, 1)} s",
            retry_after=max(int(ttl), 1),
        )
    who = _principal(stored)
    if who is None:
        pipe = conn.pipeline(transaction=True)
        pipe.set(keys.auth_failures(address), 0, ex=FAILURE_WINDOW_SECONDS, nx=True)  # the window opens
        pipe.incr(keys.auth_failures(address))
        count = pipe.execute()[1]
        log.warning(
            "wrong bearer token %s from %s on %s %s (%d of %d in this window)",
            shape_of(token), address, request.method, request.path, count, MAX_FAILURES,
        )  # fmt: skip
    return who


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
            address = request.remote_addr or "unknown"
            who = _check(services().stores.data, token, address)
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
