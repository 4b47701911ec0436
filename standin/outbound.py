"""The live stand-in's outbound calls: what Twilio does with ``POST /Calls.json``.

``Dialler`` is the switchboard's dialer (``Switchboard.dialer``): each call created through the
REST API rings its ``To`` on a thread of its own, for its ``Timeout`` (divided by the clock's
speed, as every wait of a live call):

- a phone registered with the control API under that number (the terminal phone of `make call`
  registers its caller ID), or the console registered as ``NAME`` for ``client:NAME``, is rung:
  it answers, refuses (busy) or lets it ring; a phone talking on another call is busy;
- with nobody registered, the call rings out (no-answer), unless a script plays the called party
  through the call's own actions (``POST /control/calls/<sid>/actions``: answer, busy, no-answer,
  failed), as for a dialled number with no console;
- a REST update with ``Status=canceled`` (or completed) while it rings ends it as canceled.

Answered, it fetches ``Url`` (or runs ``Twiml``) with ``Direction=outbound-api`` (and
``AnsweredBy=human`` when ``MachineDetection`` was asked) and runs as any live call, the person
who answered playing the caller through the control API. The ``StatusCallback`` hears the events
the call asked for (``initiated``, ``ringing``, ``answered``, ``completed``, by default only the
last), signed like every request, with the final ``CallStatus``: completed, busy, no-answer,
canceled or failed.
"""

from __future__ import annotations

import time
from email.utils import formatdate
from typing import Any

from standin.errors import CallbackError
from standin.live import LiveCall, LiveCalls, Message
from standin.rest import OutboundCall, Switchboard

__all__ = ["DialledCall", "Dialler"]

RING_POLL_SECONDS = 0.25  # how often a ringing call looks for a phone that registers meanwhile
# What the called party does to a ringing call (a phone hung up while it rings refuses it: busy).
PARTY_ANSWERS = {
    "answer": "answer", "busy": "busy", "end": "busy", "hangup": "busy",
    "no-answer": "no-answer", "failed": "failed",
}  # fmt: skip


def party_of(to: str) -> str | None:
    """The identity a phone or console registers as to take calls to ``to`` (none for SIP)."""
    if to.startswith("client:"):
        return to.removeprefix("client:")
    return None if to.startswith("sip:") else to


class DialledCall(LiveCall):
    """An outbound call of the REST API: it rings, then (answered) runs as any live call."""

    def __init__(self, record: OutboundCall, switchboard: Switchboard, **kwargs: Any) -> None:
        """The call the ``record`` asks for; nothing happens until ``serve_outbound``."""
        wants_end = "completed" in record.status_callback_event
        super().__init__(
            from_=record.from_,
            to=record.to,
            call_sid=record.sid,
            voice_url=record.url or "",
            voice_method=record.method,
            status_callback=record.status_callback if wants_end else None,
            extra_params={"Direction": "outbound-api"},
            **kwargs,
        )
        self.outbound, self.switchboard = record, switchboard
        self._sequence = 0

    # -- what Twilio sends -------------------------------------------------------------------

    def _params(self, extra: dict[str, str] | None) -> dict[str, str]:
        """An answered outbound call is in progress from its first request (not ringing)."""
        params = super()._params(extra)
        if params["CallStatus"] == "ringing" and "CallStatus" not in (extra or {}):
            params["CallStatus"] = "in-progress"
        return params

    def _notify(self, url: str, method: str, params: dict[str, str]) -> str | None:
        """Status callbacks go with the asked method, numbered in the order they are sent."""
        asked = self.outbound.status_callback
        if asked and url == asked and "CallbackSource" in params:
            params = {**params, "SequenceNumber": str(self._sequence)}
            method, self._sequence = self.outbound.status_callback_method, self._sequence + 1
        return super()._notify(url, method, params)

    def _progress(self, event: str, status: str) -> None:
        """Send one call progress event, if the call asked for it."""
        if not self.outbound.status_callback or event not in self.outbound.status_callback_event:
            return
        params = {
            "CallStatus": status,
            "CallbackSource": "call-progress-events",
            "Timestamp": formatdate(usegmt=True),
        }
        if event == "completed":
            params["CallDuration"] = "0"
        problem = self._notify(self.outbound.status_callback, self.outbound.status_callback_method, params)
        if problem:
            self.events.add("error", text=problem)

    # -- the call's thread -------------------------------------------------------------------

    def serve_outbound(self) -> None:
        """Ring the called party; run the call if answered, else end it as not answered."""
        self._progress("initiated", "initiated")
        self.switchboard.update_outbound(self.call_sid, status="ringing")
        self._progress("ringing", "ringing")
        self.events.add("ringing", to=self.to)
        outcome = self._ring()
        if outcome != "answer":
            self._release(f"the call was {outcome}", missed=outcome == "no-answer")
            if self.outbound.conference is not None:
                self._not_in_room(outcome)
            self.switchboard.update_outbound(self.call_sid, status=outcome)
            self._progress("completed", outcome)
            self.state = "completed"  # it never ran: the record keeps how it ended
            self.events.add("ended", state=outcome)
            return
        if self.outbound.conference is not None:
            self._in_room()
            return
        record = self.switchboard.outbound_call(self.call_sid) or self.outbound  # a new Url while it rang
        self.voice_url, self.voice_method, self.outbound = record.url or "", record.method, record
        if record.machine_detection:
            self.extra_params["AnsweredBy"] = "human"  # whoever answers a stand-in phone is a person
        self.switchboard.update_outbound(self.call_sid, status="in-progress")
        self._progress("answered", "in-progress")
        self.serve()
        self.switchboard.update_outbound(self.call_sid, status="completed")

    def _in_room(self) -> None:
        """A participant's leg, answered: in its room until it hangs up or the room lets it go."""
        rooms = self.switchboard.conferences
        found = rooms.of_call(self.call_sid)
        if found is None:  # removed while it rang
            self.state = "completed"
            self.events.add("ended", state="completed")
            return
        found[1].on_left = lambda: self.inbox.put(Message("room", by="twilio"))
        self.events.add("answered", by=party_of(self.to) or "caller")
        self.events.add("state", state="conference")
        if self.client is not None:
            self.client.events.add("connected", call=self.call_sid, caller=self.from_)
        try:
            rooms.answered(self.call_sid)
        except CallbackError as exc:
            self.events.add("error", text=str(exc))
        while True:
            message = self._next(None)
            if message is None or message.kind == "room":
                break
            if message.kind in ("hangup", "end") and message.by in ("caller", party_of(self.to)):
                try:
                    rooms.hang_up(self.call_sid)
                except CallbackError as exc:
                    self.events.add("error", text=str(exc))
                break
            self.events.add("ignored", what=message.kind, state="conference")
        self.state = "completed"
        self.switchboard.update_outbound(self.call_sid, status="completed")
        self._release("the call ended")
        self.events.add("ended", state="completed")

    def _not_in_room(self, outcome: str) -> None:
        """A participant's leg not answered: its room hears that it left."""
        try:
            if outcome == "canceled":
                return  # removed through the API: the room knows already
            self.switchboard.conferences.not_answered(self.call_sid, outcome)
        except (CallbackError, LookupError) as exc:
            self.events.add("error", text=str(exc))

    def _flush(self) -> None:
        """A console's leg also shows on the console: what it hears (a whisper), then the room."""
        if self.client is not None:
            for item in self.heard[self._shown["heard"] :]:
                if item.kind == "say":
                    self.client.events.add("whisper", text=item.text, language=item.language)
            if self.state == "conference" and self._shown["state"] != (self.state, id(self._waiting)):
                self.client.events.add("connected", call=self.call_sid, caller=self.from_)
        super()._flush()

    def start(self) -> None:
        """Answered: fetch the call's Url, or run its inline Twiml."""
        if self.outbound.url or not self.outbound.twiml:
            super().start()
            return
        self._started_at = self._ticks()
        self.state = "running"
        self._load_twiml(self.outbound.twiml)
        self._run()

    def _ring(self) -> str:
        """Ring for the Timeout: answer, busy, no-answer, failed or canceled."""
        owner = self.owner
        identity = party_of(self.to)
        deadline = time.monotonic() + self.outbound.timeout / owner.speed
        ringing = None
        while True:
            if ringing is None and identity is not None:
                found = owner.registered(identity)
                if found is not None and found.present():
                    if found.call is not None or owner.on_a_call(identity):
                        return "busy"  # a phone on another call: no call waiting here
                    ringing, self.client, found.call = found, found, self
                    timeout = str(self.outbound.timeout)
                    found.events.add("ring", call=self.call_sid, caller=self.from_, timeout=timeout)
            left = deadline - time.monotonic()
            if left <= 0:
                return "no-answer"
            message = self._next(min(left, RING_POLL_SECONDS) * owner.speed)
            outcome = self._ring_outcome(message, ringing.identity if ringing is not None else None)
            if outcome is not None:
                return outcome

    def _ring_outcome(self, message: Message | None, party: str | None) -> str | None:
        """What a message does to a ringing call: end it (the outcome), or nothing (None)."""
        if message is None:
            return None
        if message.kind == "update" and message.by == "rest":
            record = self.switchboard.outbound_call(self.call_sid)
            return "canceled" if record is not None and record.status == "canceled" else None
        if message.by in (party, "caller") and message.kind in PARTY_ANSWERS:
            if message.kind == "answer" and self.client is not None and not self.to.startswith("client:"):
                self.client.call, self.client = None, None  # the phone follows the call by its sid
            # A console (client:) stays linked: its `hangup` ends this call, and it hears the end.
            return PARTY_ANSWERS[message.kind]
        self.events.add("ignored", what=message.kind, state="ringing")
        return None


class Dialler:
    """The switchboard's dialer: runs each outbound call of the REST API on the live stand-in."""

    def __init__(self, live: LiveCalls) -> None:
        """Calls ring the phones and consoles registered with ``live``."""
        self.live = live

    def dial(self, record: OutboundCall) -> None:
        """Ring the call's ``To`` on a thread of its own."""
        live = self.live
        transport = live.transport_factory()
        call = DialledCall(
            record, live.switchboard, transport=transport, owner=live, account_sid=live.account_sid
        )
        live.run(call, call.serve_outbound)

    def updated(self, sid: str) -> None:
        """A ringing call was canceled or given another Url: it looks at its record now."""
        call = self.live.call(sid)
        if call is not None:
            call.inbox.put(Message("update", by="rest"))
