"""Browser sessions of the agent desktop and the wallboard: a token exchanged for a cookie.

A person signs in once with the bearer token an admin issued them (`flask --app wsgi tokens issue ...`);
the page never keeps the token: it is posted once, checked, and what the session remembers is
the token's sha256 (so revoking the token ends the session at its next request), the role and
subject, an expiry and a CSRF token. The cookie is Flask's signed session cookie: HttpOnly,
SameSite=Strict, Secure when the hotline is served over https, and it lasts `SESSION_HOURS`.

Every request that changes something (any method but GET, HEAD, OPTIONS) made with the cookie
must carry the session's CSRF token in the `X-CSRF-Token` header (the pages' scripts send it)
or a `csrf_token` form field (the sign-in and sign-out forms): a page elsewhere cannot read it,
so it cannot forge the request even where a browser would send the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import timedelta

import redis
from flask import Flask, Request, abort, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from ivr import keys
from ivr.api.tokens import Principal, digest, principal_of
from ivr.redis_types import text_or_none
from ivr.settings import Settings

SESSION_HOURS = 12  # a shift; the session then ends and the person signs in again
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed cookie sessions, but a request without the cookie (every Twilio webhook, every
    API call with a bearer token) gets its empty session without building the cookie's signing
    serializer first, as Flask does on every request: a twentieth of a hold turn's CPU."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """An empty session when the cookie did not come (and a key is set), else Flask's own."""
        if app.secret_key and self.get_cookie_name(app) not in request.environ.get("HTTP_COOKIE", ""):
            return self.session_class()
        return super().open_session(app, request)


def configure(app: Flask, settings: Settings) -> None:
    """Cookie settings and the key that signs them."""
    key = (
        settings.secret_key
        or hmac.new(
            settings.twilio_auth_token.encode(), b"hotline session cookies", hashlib.sha256
        ).hexdigest()
    )
    app.config.update(
        SECRET_KEY=key,
        SESSION_COOKIE_NAME="hotline_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=(settings.public_base_url or "").startswith("https://"),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
    )
    app.session_interface = CookieSessions()


def csrf_token() -> str:
    """The session's CSRF token (made on first use, also before sign-in: the sign-in form's)."""
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(24)
        session["csrf"] = token
    return token


def check_csrf() -> None:
    """403 unless a state-changing request carries the session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    expected = session.get("csrf")
    if not (isinstance(expected, str) and expected and hmac.compare_digest(sent, expected)):
        abort(403, description="missing or wrong CSRF token: reload the page")


def sign_in(conn: redis.Redis, token: str) -> Principal | None:
    """Exchange a bearer token for a session; None (and no session) when the token is not live."""
    who = principal_of(text_or_none(conn.get(keys.api_token(digest(token)))))
    if who is None:
        return None
    session.clear()  # a new session id for a new person: no fixation of an old one
    session.permanent = True
    session.update(
        role=who.role,
        subject=who.subject,
        token=digest(token),
        expires=int(time.time()) + SESSION_HOURS * 3600,
        csrf=secrets.token_urlsafe(24),
    )
    return who


def sign_out() -> None:
    """End the session (the cookie is emptied)."""
    session.clear()


def session_principal(conn: redis.Redis) -> Principal | None:
    """Who the session belongs to: None when there is none, it expired, or its token was revoked."""
    role, subject, token = session.get("role"), session.get("subject"), session.get("token")
    expires = session.get("expires")
    if not (isinstance(role, str) and isinstance(subject, str) and isinstance(token, str)):
        return None
    if not isinstance(expires, int) or expires < time.time():
        session.clear()
        return None
    who = principal_of(text_or_none(conn.get(keys.api_token(token))))
    if who is None or (who.role, who.subject) != (role, subject):
        session.clear()  # revoked (or reissued to someone else): the session ends with the token
        return None
    return who
