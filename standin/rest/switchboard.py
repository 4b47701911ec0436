"""What Twilio holds for an account: the live calls, the calls created through the API, messages.

``Switchboard`` is the state behind the REST stand-in: the live calls (stand-in ``Call`` objects
register themselves), the outbound calls created through the API and the messages sent. An
outbound call is a record that stays ``queued`` unless the switchboard has a ``dialer`` (the live
stand-in, ``standin.live.LiveCalls``), which rings its ``To`` and runs it as Twilio would.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Protocol

from standin.conference import Conferences
from standin.phone import Call

__all__ = ["NOT_ANSWERED", "Dialer", "OutboundCall", "Switchboard", "rfc2822_now"]

NOT_ANSWERED = frozenset({"busy", "no-answer", "failed", "canceled"})  # final, never answered


def rfc2822_now() -> str:
    """Now, as Twilio dates its resources: RFC 2822 in GMT (``Tue, 24 Nov 2026 02:30:00 +0000``)."""
    return format_datetime(datetime.now(UTC))


@dataclass
class OutboundCall:
    """A call created with ``POST /Calls.json``: what the app asked for, and where it is."""

    sid: str
    account_sid: str
    to: str
    from_: str
    url: str | None
    method: str
    twiml: str | None
    status_callback: str | None
    status_callback_method: str
    status_callback_event: list[str]
    timeout: int
    status: str = "queued"
    date_created: str = field(default_factory=rfc2822_now)
    machine_detection: str | None = None  # Enable or DetectMessageEnd: the answer says AnsweredBy
    conference: str | None = None  # a participant's leg: answered, it joins this room


class Dialer(Protocol):
    """What runs the outbound calls created through the API (the live stand-in)."""

    def dial(self, record: OutboundCall) -> None:
        """Start ringing the call's ``To`` (on a thread of its own: this runs inside the API request)."""
        ...

    def updated(self, sid: str) -> None:
        """The record of a call not answered yet was changed through the API (canceled, new Url)."""
        ...


class Switchboard:
    """What Twilio holds for the account; safe to use from the server's and the tests' threads."""

    def __init__(self) -> None:
        """Start with no calls and no messages."""
        self._lock = threading.Lock()
        self._live: dict[str, tuple[Call, str]] = {}  # CallSid -> (call, date registered)
        self._outbound: dict[str, OutboundCall] = {}
        self._messages: list[dict[str, Any]] = []
        # Twilio errors still due, by what they refuse: "messages" (sends), "recording deletes".
        self._failures: dict[str, list[tuple[int, int, str]]] = {}
        self.dialer: Dialer | None = None  # without one, outbound calls stay queued
        self.conferences = Conferences()
        self.conferences.on_call_status = self._participant_call_status

    def register(self, call: Call) -> Call:
        """Make a stand-in call reachable through the API by its CallSid; return it.

        Its ``<Dial><Conference>`` joins the switchboard's rooms (whose REST-made rooms sign
        their callbacks with the first registered call's transport).
        """
        with self._lock:
            self._live[call.call_sid] = (call, rfc2822_now())
        call.conferences = self.conferences
        if self.conferences.transport is None:
            self.conferences.transport = call.transport
        return call

    def _participant_call_status(self, sid: str, status: str) -> None:
        """A participant the API dialled answered or ended: its call's record follows."""
        with self._lock:
            record = self._outbound.get(sid)
            if record is not None and record.status not in NOT_ANSWERED | {"completed"}:
                self._outbound[sid] = replace(record, status=status)

    def live_call(self, sid: str) -> tuple[Call, str] | None:
        """The registered call with this CallSid and the date it was registered, if any."""
        with self._lock:
            return self._live.get(sid)

    def live_calls(self) -> list[tuple[Call, str]]:
        """Every registered call with the date it was registered, oldest first."""
        with self._lock:
            return list(self._live.values())

    def place(self, record: OutboundCall) -> None:
        """Keep an outbound call created through the API (or its updated record)."""
        with self._lock:
            self._outbound[record.sid] = record

    def update_outbound(self, sid: str, **changes: Any) -> OutboundCall | None:
        """Change an outbound call's record unless it ended already; the record after, if changed."""
        with self._lock:
            record = self._outbound.get(sid)
            if record is None or record.status in NOT_ANSWERED | {"completed"}:
                return None
            self._outbound[sid] = replace(record, **changes)
            return self._outbound[sid]

    def outbound_call(self, sid: str) -> OutboundCall | None:
        """The outbound call with this sid, if the API created one."""
        with self._lock:
            return self._outbound.get(sid)

    @property
    def outbound_calls(self) -> list[OutboundCall]:
        """Every outbound call created through the API, oldest first."""
        with self._lock:
            return list(self._outbound.values())

    def send(self, message: dict[str, Any]) -> None:
        """Keep a message sent through the API."""
        with self._lock:
            self._messages.append(dict(message))

    def fail_messages(
        self, count: int = 1, status: int = 503, code: int = 20503, message: str = "Service Unavailable"
    ) -> None:
        """Refuse the next ``count`` message sends with this Twilio error (an outage, a 429...)."""
        self._fail("messages", count, (status, code, message))

    def next_message_failure(self) -> tuple[int, int, str] | None:
        """The error the next message send gets, if one was asked for (used up by the send)."""
        return self._next_failure("messages")

    def fail_recording_deletes(
        self, count: int = 1, status: int = 503, code: int = 20503, message: str = "Service Unavailable"
    ) -> None:
        """Refuse the next ``count`` recording deletions with this Twilio error."""
        self._fail("recording deletes", count, (status, code, message))

    def next_recording_delete_failure(self) -> tuple[int, int, str] | None:
        """The error the next recording deletion gets, if one was asked for (used up by it)."""
        return self._next_failure("recording deletes")

    def _fail(self, what: str, count: int, error: tuple[int, int, str]) -> None:
        with self._lock:
            self._failures.setdefault(what, []).extend([error] * count)

    def _next_failure(self, what: str) -> tuple[int, int, str] | None:
        with self._lock:
            due = self._failures.get(what)
            return due.pop(0) if due else None

    def forget_calls(self) -> None:
        """Forget every live and created call (a session-wide switchboard, between tests)."""
        with self._lock:
            self._live.clear()
            self._outbound.clear()
        self.conferences.forget()

    def clear(self) -> None:
        """Forget the messages sent and any failures still due (a session-wide switchboard)."""
        with self._lock:
            self._messages.clear()
            self._failures.clear()

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Copies of the messages sent (sid, to, from, body, status, date_created, ...)."""
        with self._lock:
            return [dict(message) for message in self._messages]
