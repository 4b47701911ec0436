"""The app's client for Twilio's REST API (redirecting live calls, placing calls, sending SMS).

twilio-python has no base-URL setting: it always builds ``https://api.twilio.com/...`` (or a
regional ``*.twilio.com`` host). ``BaseUrlHttpClient`` rewrites those URLs to a configured base
URL (``TWILIO_API_BASE_URL``), so the same code talks to the local stand-in (``standin.rest``)
in development and tests, and to Twilio in production.

The app calls this from webhooks, where Twilio waits 15 s in all for the answer, and from jobs:
every request gets a short timeout, so a slow API fails fast instead of stalling a caller.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

__all__ = ["DEFAULT_TIMEOUT", "TWILIO_API_BASE_URL", "BaseUrlHttpClient", "make_client"]

TWILIO_API_BASE_URL = "https://api.twilio.com"
# Seconds per request: well inside the 15 s Twilio gives a webhook, long enough for a real API.
DEFAULT_TIMEOUT = 5.0


def _is_twilio_host(host: str) -> bool:
    """Whether ``host`` is one twilio-python builds (api.twilio.com, api.dublin.ie1.twilio.com...)."""
    host = host.lower().split(":")[0]
    return host == "twilio.com" or host.endswith(".twilio.com")


class BaseUrlHttpClient(TwilioHttpClient):
    """A ``TwilioHttpClient`` that sends Twilio's API requests to another base URL.

    ``https://api.twilio.com/2010-04-01/Accounts/AC.../Calls.json`` becomes
    ``{base_url}/2010-04-01/Accounts/AC.../Calls.json``: the scheme and host are replaced, and a
    path in the base URL (``http://127.0.0.1:5050/twilio``) is put in front of Twilio's path.
    Query strings are kept. URLs on hosts other than Twilio's are sent unchanged.
    """

    def __init__(self, base_url: str, timeout: float = DEFAULT_TIMEOUT, **kwargs: Any) -> None:
        """``base_url`` is ``http(s)://host[:port][/prefix]``; ``kwargs`` go to TwilioHttpClient."""
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"the API base URL must be http(s)://host[:port][/path], not {base_url!r}")
        super().__init__(timeout=timeout, **kwargs)
        self.base_url = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        self._scheme, self._netloc, self._prefix = parts.scheme, parts.netloc, parts.path.rstrip("/")

    def rebase(self, url: str) -> str:
        """Return ``url`` with Twilio's scheme and host swapped for the base URL's."""
        parts = urlsplit(url)
        if not _is_twilio_host(parts.netloc):
            return url
        return urlunsplit((self._scheme, self._netloc, self._prefix + parts.path, parts.query, ""))

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """Send the request twilio-python built, to the base URL instead of Twilio's host."""
        return super().request(
            method,
            self.rebase(url),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


def make_client(
    account_sid: str, auth_token: str, api_base_url: str, timeout: float = DEFAULT_TIMEOUT
) -> Client:
    """A twilio-python ``Client`` for ``api_base_url``, with ``timeout`` seconds per request.

    For Twilio itself (``https://api.twilio.com``) the library's own HTTP client is used, with
    the short timeout; any other base URL (a local stand-in) goes through ``BaseUrlHttpClient``.
    """
    if api_base_url.strip().rstrip("/") == TWILIO_API_BASE_URL:
        http_client: TwilioHttpClient = TwilioHttpClient(timeout=timeout)
    else:
        http_client = BaseUrlHttpClient(api_base_url, timeout=timeout)
    return Client(account_sid, auth_token, http_client=http_client)
