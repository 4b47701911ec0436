"""Moving a caller's live call to the agent through Twilio's REST API, and asking how a call is."""

from __future__ import annotations

import logging
from enum import StrEnum

from ivr import routes
from ivr.twilio_rest import Failure, TwilioApi, TwilioError

log = logging.getLogger(__name__)

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

    def __init__(self, twilio: TwilioApi, public_base_url: str | None) -> None:
        self.twilio = twilio
        self.base_url = public_base_url

    def connect(self, call_sid: str) -> Redirected:
        """Ask Twilio to run the connection document on the call now."""
        if not self.base_url:  # Twilio needs an absolute URL; without one, the hold loop connects
            return Redirected.FAILED
        try:
            self.twilio.redirect(call_sid, routes.url(self.base_url, "connect"))
        except TwilioError as exc:
            log.warning("%s", exc)
            over = exc.kind in (Failure.NOT_IN_PROGRESS, Failure.NOT_FOUND)
            return Redirected.OVER if over else Redirected.FAILED
        return Redirected.DONE

    def cancel(self, call_sid: str) -> bool:
        """End a call that has not been answered (a callback ringing past its time); False if that failed."""
        try:
            self.twilio.end_call(call_sid, "canceled")
        except TwilioError as exc:
            log.warning("%s", exc)
            return False
        return True

    def call_status(self, call_sid: str) -> str | None:
        """The call's status as Twilio has it (`gone` when Twilio does not know it); None if unknown."""
        try:
            return self.twilio.call_status(call_sid)
        except TwilioError as exc:
            if exc.kind is Failure.NOT_FOUND:
                return "gone"
            log.warning("%s", exc)
        return None

    def redirect(self, call_sid: str, path: str) -> bool:
        """Ask Twilio to run the hotline's document at `path` (e.g. a transfer) on the call now."""
        if not self.base_url:  # Twilio needs an absolute URL
            return False
        try:
            self.twilio.redirect(call_sid, f"{self.base_url}{path}")
        except TwilioError as exc:
            log.warning("%s (to %s)", exc, path.split("?")[0])
            return False
        return True
