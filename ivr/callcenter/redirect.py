"""Moving a caller's live call to the agent through Twilio's REST API, and asking how a call is."""

from __future__ import annotations

import logging
from enum import StrEnum

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from ivr import routes

log = logging.getLogger(__name__)

# Twilio's answers to a redirect of a call that is over: "Call is not in-progress" and "not found".
NOT_IN_PROGRESS, NOT_FOUND = 21220, 20404
# Call statuses (Twilio's Call resource) of a call that is over; `gone`: Twilio does not know it.
OVER = ("completed", "canceled", "failed", "busy", "no-answer", "gone")
# ... and of a call not answered yet.
NOT_ANSWERED_YET = ("queued", "initiated", "ringing")


class Redirected(StrEnum):
    """What became of a REST redirect."""

    DONE = "done"  # Twilio runs the document now
    FAILED = "failed"  # the API did not answer or refused: the hold loop connects the caller
    OVER = "over"  # Twilio says the call is not in progress (21220) or unknown (20404)


class RestConnector:
    """Redirects a live call to `/voice/connect`; the hold loop delivers it if this fails."""

    def __init__(self, client: Client, public_base_url: str | None) -> None:
        self.client = client
        self.base_url = public_base_url

    def connect(self, call_sid: str) -> Redirected:
        """Ask Twilio to run the connection document on the call now."""
        if not self.base_url:  # Twilio needs an absolute URL; without one, the hold loop connects
            return Redirected.FAILED
        try:
            self.client.calls(call_sid).update(url=routes.url(self.base_url, "connect"), method="POST")
        except TwilioRestException as exc:
            log.warning("redirect of call %s refused: %s %s", call_sid, exc.status, exc.code)
            return Redirected.OVER if exc.code in (NOT_IN_PROGRESS, NOT_FOUND) else Redirected.FAILED
        except (TwilioException, requests.RequestException) as exc:
            log.warning("redirect of call %s failed: %s", call_sid, exc)
            return Redirected.FAILED
        return Redirected.DONE

    def cancel(self, call_sid: str) -> bool:
        """End a call that has not been answered (a callback ringing past its time); False if that failed."""
        try:
            self.client.calls(call_sid).update(status="canceled")
        except (TwilioException, requests.RequestException) as exc:
            log.warning("cancel of call %s failed: %s", call_sid, exc)
            return False
        return True

    def call_status(self, call_sid: str) -> str | None:
        """The call's status as Twilio has it (`gone` when Twilio does not know it); None if unknown."""
        try:
            return str(self.client.calls(call_sid).fetch().status)
        except TwilioRestException as exc:
            if exc.status == 404:
                return "gone"
            log.warning("status of call %s unknown: %s %s", call_sid, exc.status, exc.code)
        except (TwilioException, requests.RequestException) as exc:
            log.warning("status of call %s unknown: %s", call_sid, exc)
        return None

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
