"""How the consoles reach the hotline's API: one request at a time, with the user's bearer token,
and an error answer said in plain words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import requests

__all__ = ["Api", "ApiError", "HttpApi", "Json", "Unreachable", "Write", "checked", "not_answering"]

WORDS = {400: "not accepted", 403: "not allowed", 404: "nothing there", 409: "not possible now"}

Json = dict[str, Any]
Write = Callable[[str], None]


class Unreachable(Exception):
    """The hotline does not answer at all."""


class Api(Protocol):
    """How the console reaches the agent API: a method, a path under /api, a JSON body."""

    url: str

    def request(self, method: str, path: str, body: Json | None = None) -> tuple[int, Json]:
        """Send one request; the status and the JSON answer. Raises Unreachable."""
        ...


class HttpApi:
    """The agent API over HTTP, with the agent's bearer token."""

    def __init__(self, url: str, token: str, timeout: float = 5.0) -> None:
        self.url, self.timeout = url.rstrip("/"), timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, body: Json | None = None) -> tuple[int, Json]:
        """Send one request; the status and the JSON answer. Raises Unreachable."""
        try:
            resp = self.session.request(method, f"{self.url}/api{path}", json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise Unreachable(str(exc)) from exc
        try:
            data = resp.json()
            assert isinstance(data, dict)
        except (ValueError, AssertionError):
            data = {"error": f"HTTP {resp.status_code} without the API's JSON: is this the hotline?"}
        return resp.status_code, data


class ApiError(Exception):
    """An error answer of the API, in plain words."""

    def __init__(self, status: int, body: Json) -> None:
        self.status = status
        words = WORDS.get(status, "the token was refused" if status == 401 else "the hotline failed")
        super().__init__(f"{words}: {body.get('error', '?')}")


def checked(api: Api, method: str, path: str, body: Json | None = None) -> Json:
    """One API request's answer; raises ApiError on an error answer, Unreachable."""
    status, data = api.request(method, path, body)
    if status >= 400:
        raise ApiError(status, data)
    return data


def not_answering(url: str) -> str:
    """What a console says when the hotline does not answer at all."""
    return f"the hotline does not answer at {url}: start it with `make run`"
