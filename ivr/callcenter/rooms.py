"""Connecting through a conference room of the call's own (`hotline.connect_via: conference`).

The caller waits in the room `call-<CallSid>` with music (`ivr/voice/room.py` joins them); the
hotline places the agent's leg through Twilio's REST API: answered, it plays the whisper to the
agent and joins the room, which starts then. The call record keeps the leg's CallSid
(`agent_leg`), so that a caller who hangs up while the agent's phone rings ends the leg, and a
repeated `/voice/connect` does not ring the agent twice.

The statuses are those of a `<Dial>` (`connecting` while the leg rings, `on_call` once the
agent answered); the leg's status callback says no-answer or busy (the caller goes back to
their place, taken out of the room by a REST redirect) and the Dial action of the caller's room
says the conversation ended. A leg placed twice is impossible: `agent_leg` is claimed before the
call is placed.
"""

from __future__ import annotations

import logging

import redis

from ivr import keys, routes
from ivr.callcenter.agents import AgentView
from ivr.callcenter.calls import CallRecord
from ivr.callcenter.events import log_room_event
from ivr.twilio_rest import TwilioApi, TwilioError
from ivr.urlstate import AgentLeg

log = logging.getLogger(__name__)

PLACING = "placing:"  # the claim on `agent_leg` while the leg is being placed


def room_name(call_sid: str) -> str:
    """The conference room of one caller's call."""
    return f"call-{call_sid}"


class RoomRefused(Exception):
    """What an agent asked of their call's room cannot be done now (the message says why)."""


def caller_leg(record: CallRecord) -> str:
    """The CallSid of the caller's leg in the room: theirs, or the customer's of a callback."""
    return record.get("cb_call") or record.sid


def caller_gone(record: CallRecord) -> bool:
    """Whether the caller's leg has ended: theirs, or a called-back customer's (whose record
    kept the end of the original call)."""
    return bool(record.get("cb_ended_at") if record.get("cb_call") else record.get("ended_at"))


class Rooms:
    """The agent's leg of a connection through a room: placed once, ended with the caller."""

    def __init__(self, conn: redis.Redis, twilio: TwilioApi, ring_seconds: int, caller_id: str) -> None:
        self.conn, self.twilio = conn, twilio
        self.ring_seconds, self.caller_id = ring_seconds, caller_id

    def dial_agent(self, record: CallRecord, agent: AgentView, base_url: str) -> str:
        """Place the agent's leg into the caller's room: 'placed', 'already' or 'failed'."""
        key = keys.call(record.sid)
        if not self.conn.hsetnx(key, "agent_leg", f"{PLACING}{agent.id}"):
            return "already"  # a repeated /voice/connect for the same match
        leg = AgentLeg(record.sid, agent.id)
        try:
            sid = self.twilio.place_call(
                to=agent.reach,
                from_=record.get("to") or self.caller_id,
                url=routes.url(base_url, "room_agent", leg),
                status_callback=routes.url(base_url, "room_agent_status", leg),
                ring_seconds=self.ring_seconds,
                detect_machine=False,
            )
        except TwilioError as exc:
            log.warning("agent %s for %s: %s", agent.id, record.sid, exc)
            self.conn.hdel(key, "agent_leg")
            return "failed"
        self.conn.hset(key, "agent_leg", sid)
        return "placed"

    def hold(self, record: CallRecord, hold: bool, music_url: str) -> None:
        """Put the caller on hold (music) or back, through the room; `on_hold` follows at once.

        The room's own participant-hold / -unhold event confirms it on the record.
        """
        room = record.get("room")
        if not room.startswith("CF") or record.get("room_event") == "conference-end":
            raise RoomRefused("the caller is not in a conference room (hotline.connect_via: dial)")
        try:
            self.twilio.hold_participant(room, caller_leg(record), hold, music_url)
        except TwilioError as exc:
            raise RoomRefused(f"Twilio did not {'hold' if hold else 'unhold'} the caller: {exc}") from None
        pipe = self.conn.pipeline(transaction=True)
        pipe.hset(keys.call(record.sid), "on_hold", "1" if hold else "")
        log_room_event(pipe, record, "hold" if hold else "unhold", by=record.get("agent"))
        pipe.execute()

    def pause_recording(self, record: CallRecord, paused: bool) -> None:
        """Pause the conversation's recording (a card number, a password is said) or resume it."""
        if record.get("recording_status") not in ("in-progress", "paused"):
            raise RoomRefused("this call is not being recorded")
        try:
            self.twilio.set_recording(record.get("room"), "paused" if paused else "in-progress")
        except TwilioError as exc:
            raise RoomRefused(
                f"Twilio did not {'pause' if paused else 'resume'} the recording: {exc}"
            ) from None
        self.conn.hset(keys.call(record.sid), "recording_status", "paused" if paused else "in-progress")

    def end_agent_leg(self, record: CallRecord) -> bool:
        """The caller left before the agent answered: stop the agent's phone ringing."""
        sid = record.get("agent_leg")
        if not sid.startswith("CA"):
            return False
        try:
            self.twilio.end_call(sid, "canceled")
        except TwilioError as exc:
            log.warning("ending agent leg %s: %s", sid, exc)
            return False
        return True
