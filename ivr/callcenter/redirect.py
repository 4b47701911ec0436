"""Moving a caller's live call to the agent through Twilio's REST API."""

from __future__ import annotations

import logging

import requests
from twilio.base.exceptions import TwilioException
from twilio.rest import Client

log = logging.getLogger(__name__)


class RestConnector:
    """Redirects a live call to `/voice/connect`; the hold loop delivers it if this fails."""

    def __init__(self, client: Client, public_base_url: str | None) -> None:
        self.client = client
        self.base_url = public_base_url

    def connect(self, call_sid: str) -> bool:
        """Ask Twilio to run the connection document on the call now."""
        if not self.base_url:  # Twilio needs an absolute URL; without one, the hold loop connects
            return False
        try:
            self.client.calls(call_sid).update(url=f"{self.base_url}/voice/connect", method="POST")
        except (TwilioException, requests.RequestException) as exc:
            log.warning("redirect of call %s failed: %s", call_sid, exc)
            return False
        return True

    def redirect(self, call_sid: str, path: str) -> bool:
        """Ask Twilio to run the hotline's document at `path` (e.g. a transfer) on the call now."""
        if not self.base_url:  # Twilio needs an absolute URL
            return False
        try:
            self.client.calls(call_sid).update(url=f"{self.base_url}{path}", method="POST")
        except (TwilioException, requests.RequestException) as exc:
            log.warning("redirect of call %s to %s failed: %s", call_sid, path.split("?")[0], exc)
            return False
        return True
