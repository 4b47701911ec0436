"""The agent's phone when the hotline runs on the local stand-in for Twilio (`make run`).

Without a Twilio account there is no softphone to register: the stand-in's control API
(standin/control.py) plays it. The desktop registers the agent as `client:<id>` there (the
hotline's Dial rings that client) and answers or hangs up through it, as the terminal console
does. Only a stand-in on a loopback address is used this way (`phone_for`); on Twilio the
agent's `reach` rings instead.
"""

from __future__ import annotations

import time
from typing import Any

import requests

from ivr.settings import Settings, is_loopback_url

ACTIONS = ("register", "answer", "hangup", "busy")
RING_GRACE_SECONDS = 5.0


class PhoneError(Exception):
    """The stand-in refused an action (`status`) or did not answer (0); the message says it in words."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class StandinPhone:
    """A client of the stand-in's control API, with the account's credentials."""

    def __init__(self, base_url: str, account_sid: str, auth_token: str, timeout: float = 3.0) -> None:
        self.url, self.timeout = base_url.rstrip("/") + "/control", timeout
        self.auth = (account_sid, auth_token)

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> None:
        try:
            resp = requests.request(method, self.url + path, json=body, auth=self.auth, timeout=self.timeout)
        except requests.RequestException as exc:
            raise PhoneError(f"the stand-in for Twilio does not answer ({type(exc).__name__})") from None
        if resp.status_code >= 400:
            try:
                message = str(resp.json().get("message", resp.text))
            except ValueError:
                message = resp.text[:200]
            raise PhoneError(message or f"the stand-in answered {resp.status_code}", resp.status_code)

    def act(self, identity: str, kind: str) -> None:
        """Register `client:<identity>` (kept registered while the page calls this), or act on its call.

        The page shows a ring as soon as the agent is rung, a moment before the hotline's Dial
        reaches the phone: an answer that comes first is tried again for `RING_GRACE_SECONDS`.
        """
        if kind == "register":
            self._send("POST", f"/clients/{identity}")
            return
        deadline = time.monotonic() + (RING_GRACE_SECONDS if kind == "answer" else 0)
        while True:
            try:
                self._send("POST", f"/clients/{identity}/actions", {"kind": kind})
                return
            except PhoneError as exc:
                if exc.status != 409 or time.monotonic() >= deadline:
                    raise
            time.sleep(0.2)


def phone_for(settings: Settings) -> StandinPhone | None:
    """The stand-in's phone when the hotline runs on a local stand-in, else None (real Twilio)."""
    if not is_loopback_url(settings.twilio_api_base_url):
        return None
    return StandinPhone(settings.twilio_api_base_url, settings.twilio_account_sid, settings.twilio_auth_token)


def client_identity(reach: str) -> str | None:
    """The client identity of an agent reached at `client:<identity>`, else None."""
    return reach.removeprefix("client:") if reach.startswith("client:") else None
