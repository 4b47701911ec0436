"""How the stand-in reaches the app: HTTP requests signed the way Twilio signs them.

Twilio signs every webhook with ``X-Twilio-Signature``: base64(HMAC-SHA1(auth token, the full URL
it requested, followed by each POST field name and value sorted by name)). For a GET the fields
travel in the query string, so the signature covers the URL alone. Both transports here sign
over the *public* URL, the one Twilio was configured with, never the address the app happens to
be reached at: an app behind a proxy or tunnel must rebuild that public URL to validate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import requests
from twilio.request_validator import RequestValidator

if TYPE_CHECKING:
    from flask.testing import FlaskClient

__all__ = [
    "FlaskTransport",
    "HttpTransport",
    "Response",
    "Transport",
    "TransportError",
    "sign",
    "signed_request",
]

# Twilio's webhook requests identify themselves with this agent.
USER_AGENT = "TwilioProxy/1.1"


@dataclass(frozen=True)
class Response:
    """What the app answered: HTTP status, body text and Content-Type header."""

    status: int
    body: str
    content_type: str


class TransportError(RuntimeError):
    """The app could not be reached at all (connection refused, timeout, foreign host)."""


class Transport(Protocol):
    """Something that delivers a Twilio webhook request to the app."""

    base_url: str
    """The public base URL Twilio uses for the app; relative URLs resolve against it."""

    def request(self, method: str, url: str, params: dict[str, str]) -> Response:
        """Send ``params`` to ``url`` (absolute, or a path under ``base_url``) with ``method``."""
        ...


def sign(auth_token: str, url: str, params: dict[str, str]) -> str:
    """Return the ``X-Twilio-Signature`` Twilio would send for this URL and POST fields."""
    return RequestValidator(auth_token).compute_signature(url, params)


def signed_request(
    auth_token: str, method: str, url: str, params: dict[str, str]
) -> tuple[str, dict[str, str], str]:
    """Lay a webhook out as Twilio sends it: ``(url requested, form fields, signature)``.

    For GET the fields are appended to any query the URL already has, and the signature covers
    that URL only; for POST the URL is unchanged and the fields are signed after it.
    """
    method = method.upper()
    if method == "GET":
        parts = urlsplit(url)
        query = "&".join(part for part in (parts.query, urlencode(params)) if part)
        requested = urlunsplit(parts._replace(query=query))
        return requested, {}, sign(auth_token, requested, {})
    if method == "POST":
        return url, dict(params), sign(auth_token, url, params)
    raise ValueError(f"Twilio requests webhooks with GET or POST, not {method!r}")


def _absolute(base_url: str, url: str) -> str:
    """Resolve ``url`` against ``base_url`` and refuse hosts other than the app's own."""
    absolute = urljoin(base_url, url)
    base, target = urlsplit(base_url), urlsplit(absolute)
    if (target.scheme, target.netloc) != (base.scheme, base.netloc):
        raise TransportError(f"{absolute} is not served by the app at {base_url}")
    return absolute


class FlaskTransport:
    """Deliver webhooks to a Flask app through its test client, no server needed.

    The request reaches the app at the test client's own address (``http://localhost``), as it
    would behind a tunnel or proxy, while the signature covers the public URL. An app that
    validates against ``request.url`` instead of its configured public base URL fails here
    exactly as it would in production.
    """

    def __init__(self, client: FlaskClient, public_base_url: str, auth_token: str) -> None:
        """Wrap ``client``; ``public_base_url`` is the scheme and host Twilio is configured with."""
        self.client = client
        self.base_url = public_base_url.rstrip("/") + "/"
        self.auth_token = auth_token

    def request(self, method: str, url: str, params: dict[str, str]) -> Response:
        """Send one signed webhook to the app and return its answer."""
        requested, form, signature = signed_request(
            self.auth_token, method, _absolute(self.base_url, url), params
        )
        parts = urlsplit(requested)
        path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
        answer = self.client.open(
            path,
            method=method.upper(),
            data=form or None,
            headers={"X-Twilio-Signature": signature, "User-Agent": USER_AGENT},
        )
        return Response(answer.status_code, answer.get_data(as_text=True), answer.content_type or "")


class HttpTransport:
    """Deliver webhooks over real HTTP to a running server (or a tunnel in front of it)."""

    def __init__(self, base_url: str, auth_token: str, timeout: float = 15) -> None:
        """``timeout`` is Twilio's: it waits 15 s in all for an answer before giving up."""
        self.base_url = base_url.rstrip("/") + "/"
        self.auth_token = auth_token
        self.timeout = timeout
        self.session = requests.Session()

    def request(self, method: str, url: str, params: dict[str, str]) -> Response:
        """Send one signed webhook over HTTP and return the server's answer."""
        requested, form, signature = signed_request(
            self.auth_token, method, _absolute(self.base_url, url), params
        )
        try:
            answer = self.session.request(
                method.upper(),
                requested,
                data=form or None,
                headers={"X-Twilio-Signature": signature, "User-Agent": USER_AGENT},
                timeout=self.timeout,
                # A 3xx is reported like any other non-200 answer instead of being followed, so
                # the app must answer webhooks with TwiML directly, as the test client sees it.
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise TransportError(f"{method} {requested}: {exc}") from exc
        return Response(answer.status_code, answer.text, answer.headers.get("Content-Type", ""))
