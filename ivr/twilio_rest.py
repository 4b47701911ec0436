"""The hotline's one adapter for Twilio's REST API: `TwilioRest`, behind the `TwilioApi` protocol.

What the hotline asks of Twilio (redirect a live call, end one, place one, send a text message,
a call's status, the calls to a number, the messages to a number) goes through `TwilioApi`, with
typed results and one error, `TwilioError`, whose `kind` says what went wrong: the call is not in
progress, Twilio does not know it, Twilio refused, or Twilio could not be reached. Tests and the
stand-in can put another `TwilioApi` in its place.

twilio-python has no base-URL setting: it always builds ``https://api.twilio.com/...`` (or a
regional ``*.twilio.com`` host). ``BaseUrlHttpClient`` rewrites those URLs to a configured base
URL (``TWILIO_API_BASE_URL``), so the same code talks to the local stand-in (``standin.rest``)
in development and tests, and to Twilio in production.

The app calls this from webhooks, where Twilio waits 15 s in all for the answer, and from jobs:
every request gets a short timeout, so a slow API fails fast instead of stalling a caller.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

__all__ = [
    "DEFAULT_TIMEOUT",
    "TWILIO_API_BASE_URL",
    "BaseUrlHttpClient",
    "CallInfo",
    "Failure",
    "MessageInfo",
    "TwilioApi",
    "TwilioError",
    "TwilioRest",
    "make_client",
    "make_twilio",
    "translate_errors",
]

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


# Twilio's error codes: "Call is not in-progress" (a redirect of a call that is over), "not found".
NOT_IN_PROGRESS_CODE, NOT_FOUND_CODE = 21220, 20404


class Failure(StrEnum):
    """What went wrong with a request to Twilio's REST API."""

    NOT_IN_PROGRESS = "not_in_progress"  # the call is over (or not answered yet): it cannot be moved
    NOT_FOUND = "not_found"  # Twilio does not know the call
    REFUSED = "refused"  # Twilio answered with another error (see `status`, `code`)
    UNREACHABLE = "unreachable"  # no answer: a network error, a timeout


class TwilioError(Exception):
    """A request to Twilio's REST API that did not succeed, and why (`kind`)."""

    def __init__(
        self, kind: Failure, message: str, *, status: int | None = None, code: int | None = None
    ) -> None:
        super().__init__(message)
        self.kind, self.status, self.code = kind, status, code

    @property
    def transient(self) -> bool:
        """Worth trying again later: Twilio was unreachable, busy (429) or failing (5xx)."""
        if self.kind is Failure.UNREACHABLE:
            return True
        return self.status is not None and (self.status == 429 or self.status >= 500)


@dataclass(frozen=True)
class CallInfo:
    """A call as Twilio lists it."""

    sid: str
    status: str
    direction: str
    created: datetime | None


@dataclass(frozen=True)
class MessageInfo:
    """A text message as Twilio lists it."""

    sid: str
    body: str


class TwilioApi(Protocol):
    """What the hotline asks of Twilio's REST API. Every method raises `TwilioError` on failure."""

    def redirect(self, call_sid: str, url: str) -> None:
        """Run the TwiML document at `url` (absolute, fetched with POST) on the live call now."""
        ...

    def end_call(self, call_sid: str, status: Literal["canceled", "completed"] = "canceled") -> None:
        """End a call: `canceled` one not answered yet, `completed` one in progress."""
        ...

    def place_call(
        self, *, to: str, from_: str, url: str, status_callback: str, ring_seconds: int, detect_machine: bool
    ) -> str:
        """Place an outbound call running `url` when answered; its CallSid."""
        ...

    def send_message(self, *, to: str, from_: str, body: str) -> str:
        """Send a text message; its MessageSid."""
        ...

    def hold_participant(self, conference_sid: str, call_sid: str, hold: bool, hold_url: str) -> None:
        """Put a conference participant on hold (music from `hold_url`, POST) or back."""
        ...

    def add_participant(
        self,
        conference_sid: str,
        *,
        to: str,
        from_: str,
        label: str,
        status_callback: str,
        ring_seconds: int,
        muted: bool = False,
        coach: str = "",
    ) -> str:
        """Dial `to` into a conference (it does not end the room by leaving); its CallSid.

        `muted`: nobody hears it; `coach`: only that participant (a CallSid) hears it.
        """
        ...

    def monitor_participant(self, conference_sid: str, call_sid: str, *, muted: bool, coach: str) -> None:
        """Who hears a participant: nobody (`muted`), one participant (`coach`), or everyone."""
        ...

    def participant_ends_room(self, conference_sid: str, call_sid: str, ends: bool) -> None:
        """Whether the room ends when this participant leaves (endConferenceOnExit)."""
        ...

    def set_recording(self, conference_sid: str, status: Literal["paused", "in-progress"]) -> None:
        """Pause the conference's running recording (left out of it), or resume it."""
        ...

    def delete_recording(self, recording_sid: str) -> None:
        """Delete a completed recording from Twilio."""
        ...

    def remove_participant(self, conference_sid: str, call_sid: str) -> None:
        """Take a participant out of a conference (a call placed into it hangs up)."""
        ...

    def call_status(self, call_sid: str) -> str:
        """The call's status as Twilio has it (`queued` ... `completed`)."""
        ...

    def calls_to(self, number: str, limit: int = 20) -> list[CallInfo]:
        """The latest calls to `number`, newest first."""
        ...

    def messages_to(self, number: str, from_: str, limit: int = 20) -> list[MessageInfo]:
        """The latest messages from `from_` to `number`, newest first."""
        ...


@contextmanager
def translate_errors(what: str) -> Iterator[None]:
    """Turn twilio-python's and requests' exceptions into a `TwilioError` naming `what` failed."""
    try:
        yield
    except TwilioRestException as exc:
        if exc.code == NOT_IN_PROGRESS_CODE:
            kind = Failure.NOT_IN_PROGRESS
        elif exc.code == NOT_FOUND_CODE or exc.status == 404:
            kind = Failure.NOT_FOUND
        else:
            kind = Failure.REFUSED
        raise TwilioError(
            kind, f"{what}: Twilio error {exc.code} ({exc.status})", status=exc.status, code=exc.code
        ) from exc
    except (TwilioException, requests.RequestException) as exc:
        raise TwilioError(Failure.UNREACHABLE, f"{what}: {type(exc).__name__}: {exc}") from exc


def _created(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return parsedate_to_datetime(value)
    return None


class TwilioRest:
    """`TwilioApi` over twilio-python's `Client` (Twilio, or the stand-in at TWILIO_API_BASE_URL)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def redirect(self, call_sid: str, url: str) -> None:
        """Run the TwiML document at `url` on the live call now."""
        with translate_errors(f"redirect of call {call_sid}"):
            self.client.calls(call_sid).update(url=url, method="POST")

    def end_call(self, call_sid: str, status: Literal["canceled", "completed"] = "canceled") -> None:
        """End a call (`canceled`: not answered yet; `completed`: in progress)."""
        with translate_errors(f"ending call {call_sid}"):
            self.client.calls(call_sid).update(status=status)

    def place_call(
        self, *, to: str, from_: str, url: str, status_callback: str, ring_seconds: int, detect_machine: bool
    ) -> str:
        """Place an outbound call; its CallSid. Twilio reports its end to `status_callback`."""
        with translate_errors("placing a call"):
            created = self.client.calls.create(
                to=to,
                from_=from_,
                url=url,
                method="POST",
                status_callback=status_callback,
                status_callback_method="POST",
                status_callback_event=["completed"],
                timeout=ring_seconds,
                **({"machine_detection": "Enable"} if detect_machine else {}),
            )
        return str(created.sid)

    def hold_participant(self, conference_sid: str, call_sid: str, hold: bool, hold_url: str) -> None:
        """Hold (with music) or unhold one participant of a conference."""
        with translate_errors(f"{'holding' if hold else 'unholding'} call {call_sid}"):
            participant = self.client.conferences(conference_sid).participants(call_sid)
            if hold:
                participant.update(hold=True, hold_url=hold_url, hold_method="POST")
            else:
                participant.update(hold=False)

    def add_participant(
        self,
        conference_sid: str,
        *,
        to: str,
        from_: str,
        label: str,
        status_callback: str,
        ring_seconds: int,
        muted: bool = False,
        coach: str = "",
    ) -> str:
        """Dial `to` into the conference; Twilio reports its answer and its end to `status_callback`."""
        coaching = {"coaching": True, "call_sid_to_coach": coach} if coach else {}
        with translate_errors(f"adding {label} to conference {conference_sid}"):
            created = self.client.conferences(conference_sid).participants.create(
                muted=muted,
                **coaching,
                from_=from_,
                to=to,
                label=label,
                status_callback=status_callback,
                status_callback_method="POST",
                status_callback_event=["answered", "completed"],
                timeout=ring_seconds,
                start_conference_on_enter=True,
                end_conference_on_exit=False,
                beep="false",
            )
        return str(created.call_sid)

    def monitor_participant(self, conference_sid: str, call_sid: str, *, muted: bool, coach: str) -> None:
        """Mute a participant, let only `coach` hear them, or everyone (neither)."""
        with translate_errors(f"updating call {call_sid} in conference {conference_sid}"):
            participant = self.client.conferences(conference_sid).participants(call_sid)
            if coach:
                participant.update(muted=False, coaching=True, call_sid_to_coach=coach)
            else:
                participant.update(muted=muted, coaching=False)

    def set_recording(self, conference_sid: str, status: Literal["paused", "in-progress"]) -> None:
        """Pause (the paused stretch is skipped) or resume the conference's current recording."""
        with translate_errors(f"{status} recording of conference {conference_sid}"):
            recording = self.client.conferences(conference_sid).recordings("Twilio.CURRENT")
            recording.update(status=status, pause_behavior="skip")

    def delete_recording(self, recording_sid: str) -> None:
        """Delete a recording (its audio and its resource)."""
        with translate_errors(f"deleting recording {recording_sid}"):
            self.client.recordings(recording_sid).delete()

    def participant_ends_room(self, conference_sid: str, call_sid: str, ends: bool) -> None:
        """Set whether the room ends when this participant leaves."""
        with translate_errors(f"updating call {call_sid} in conference {conference_sid}"):
            self.client.conferences(conference_sid).participants(call_sid).update(end_conference_on_exit=ends)

    def remove_participant(self, conference_sid: str, call_sid: str) -> None:
        """Take a participant out of the conference."""
        with translate_errors(f"removing call {call_sid} from conference {conference_sid}"):
            self.client.conferences(conference_sid).participants(call_sid).delete()

    def send_message(self, *, to: str, from_: str, body: str) -> str:
        """Send a text message; its MessageSid."""
        with translate_errors("sending a message"):
            message = self.client.messages.create(to=to, from_=from_, body=body)
        return str(message.sid)

    def call_status(self, call_sid: str) -> str:
        """The call's status as Twilio has it."""
        with translate_errors(f"status of call {call_sid}"):
            return str(self.client.calls(call_sid).fetch().status)

    def calls_to(self, number: str, limit: int = 20) -> list[CallInfo]:
        """The latest calls to `number`."""
        with translate_errors("listing calls"):
            calls = self.client.calls.list(to=number, limit=limit)
        return [
            CallInfo(
                sid=str(c.sid),
                status=str(c.status),
                direction=str(c.direction),
                created=_created(c.date_created),
            )
            for c in calls
        ]

    def messages_to(self, number: str, from_: str, limit: int = 20) -> list[MessageInfo]:
        """The latest messages from `from_` to `number`."""
        with translate_errors("listing messages"):
            messages = self.client.messages.list(to=number, from_=from_, limit=limit)
        return [MessageInfo(sid=str(m.sid), body=str(m.body or "")) for m in messages]


def make_twilio(
    account_sid: str, auth_token: str, api_base_url: str, timeout: float = DEFAULT_TIMEOUT
) -> TwilioRest:
    """The hotline's adapter for Twilio's REST API at `api_base_url` (see `make_client`)."""
    return TwilioRest(make_client(account_sid, auth_token, api_base_url, timeout))
