"""Who may call the agent and supervisor API: a bearer token, or a browser session made from one.

Tokens are issued by an admin command (ivr/api/tokens.py). A request without an `Authorization`
header may instead carry the session cookie of the agent desktop or the wallboard
(ivr/api/sessions.py); a state-changing one then needs the session's CSRF token too.

A wrong token is logged (its shape, never the token) and counted per client address
(`hl:authfail:{address}`, a counter living one window). After `MAX_FAILURES` wrong tokens in
`FAILURE_WINDOW_SECONDS`, every request from that address is answered 429 with Retry-After until
the window ends, valid tokens included: a guesser learns nothing while locked out. Behind a
reverse proxy, set HOTLINE_TRUSTED_PROXIES so the address is the client's, not the proxy's.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import redis
from flask import abort, g, request
from werkzeug.exceptions import TooManyRequests

from ivr import keys, logs
from ivr.api.sessions import check_csrf, session_principal
from ivr.api.tokens import ROLES, TOKEN_BYTES, Principal, digest, identify, issue_token, principal_of, revoke
from ivr.services import services

log = logging.getLogger("ivr.api")

# Re-exported: the admin commands and tools issue tokens through this module.
__all__ = ["ROLES", "TOKEN_BYTES", "Principal", "digest", "identify", "issue_token", "principal_of", "revoke"]

# Wrong tokens one client address may send in a window before it is locked out for the rest of
# it. The tokens are 256-bit random, so this is not what keeps them secret: it keeps a scanner
# from filling the logs and the CPU, while a console with a stale token recovers on its own.
MAX_FAILURES = 10
FAILURE_WINDOW_SECONDS = 300

P = ParamSpec("P")
R = TypeVar("R")


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
    who = principal_of(stored)
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


def require(role: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """The view needs a token (or a session) of `role`: 401 without, 403 with another role's.

    A session's state-changing request without its CSRF token is 403 as well.
    """

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        """Wrap `view` with the token check."""

        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            """Check the token, then run the view."""
            token = bearer_token()
            if token is None:
                who = session_principal(services().stores.data)
                if who is None:
                    abort(401, description="a bearer token is required (Authorization: Bearer <token>)")
                if who.role == role:
                    check_csrf()
            else:
                address = request.remote_addr or "unknown"
                who = _check(services().stores.data, token, address)
                if who is None:
                    abort(401, description="unknown or revoked token")
            if who.role != role:
                abort(403, description=f"this needs the {role} role")
            g.principal = who
            logs.bind(reset=True, agent=who.subject if who.role == "agent" else None)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def principal() -> Principal:
    """Who the current request is from (set by `require`)."""
    return g.principal
