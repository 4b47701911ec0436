"""A supervisor on a live call: listen (muted), coach (heard by the agent only), barge (heard by both).

A call connected through its conference room (`connect_via: conference`) can take a third
participant: the supervisor's phone (`client:<identity>`, a number or SIP) is dialled into the
room through Twilio's REST API, muted to listen, coaching the agent's leg (Twilio's
`CallSidToCoach`) to coach, or neither to barge in. A supervisor already on the call changes mode
by a participant update, without a new ring. The call record keeps `supervisor`,
`supervisor_leg` and `supervisor_mode`, which the agent's screen pop shows; the leg's end (the
supervisor hangs up, or the room ends) clears them.

Every action is written to the audit log (the `ivr.audit` logger): who, which call (its CallSid:
the log masks digit runs such as reference numbers), which mode, and the result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import redis

from ivr import keys, routes
from ivr.callcenter.calls import CallRecord
from ivr.callcenter.events import log_room_event
from ivr.callcenter.lifecycle import CallStatus
from ivr.callcenter.rooms import RoomRefused, caller_gone
from ivr.twilio_rest import TwilioApi, TwilioError
from ivr.urlstate import AgentLeg

audit = logging.getLogger("ivr.audit")

Mode = Literal["listen", "coach", "barge"]
MODES: tuple[Mode, ...] = ("listen", "coach", "barge")
SUPERVISOR_LABEL = "supervisor"
SUPERVISOR_FIELDS = ("supervisor", "supervisor_leg", "supervisor_mode")
LEG_PREFIX = "sv:"  # the supervisor's leg in an AgentLeg's `agent` (its end clears the fields)


@dataclass(frozen=True)
class Monitored:
    """A supervisor on a call, as the API reports it."""

    ref: str
    supervisor: str
    mode: Mode | None  # None: the supervisor left
    leg: str


class Monitoring:
    """Supervisors joining live calls in their rooms."""

    def __init__(self, conn: redis.Redis, twilio: TwilioApi, ring_seconds: int, caller_id: str) -> None:
        self.conn, self.twilio = conn, twilio
        self.ring_seconds, self.caller_id = ring_seconds, caller_id

    def join(self, record: CallRecord, supervisor: str, mode: Mode, reach: str, base_url: str) -> Monitored:
        """Listen, coach or barge on the call: the supervisor's phone dialled in, or its mode changed."""
        room, agent_leg = self._live_room(record)
        coach = agent_leg if mode == "coach" else ""
        leg = record.get("supervisor_leg")
        try:
            if leg.startswith("CA") and record.get("supervisor") == supervisor:
                self.twilio.monitor_participant(room, leg, muted=mode == "listen", coach=coach)
            elif leg:
                raise RoomRefused(f"{record.get('supervisor')} is already on this call")
            else:
                if not reach:
                    raise RoomRefused(
                        "give the supervisor's phone (reach): client:<identity>, +number or sip:"
                    )
                leg = self.twilio.add_participant(
                    room,
                    to=reach,
                    from_=record.get("to") or self.caller_id,
                    label=SUPERVISOR_LABEL,
                    status_callback=routes.url(
                        base_url, "room_agent_status", AgentLeg(record.sid, f"{LEG_PREFIX}{supervisor}")
                    ),
                    ring_seconds=self.ring_seconds,
                    muted=mode == "listen",
                    coach=coach,
                )
        except TwilioError as exc:
            audit.info(
                "supervisor %s %s on call %s: refused by Twilio (%s)",
                supervisor,
                mode,
                record.sid,
                exc,
            )
            raise RoomRefused(f"Twilio did not put the supervisor on the call: {exc}") from None
        pipe = self.conn.pipeline(transaction=True)
        pipe.hset(
            keys.call(record.sid),
            mapping={"supervisor": supervisor, "supervisor_leg": leg, "supervisor_mode": mode},
        )
        log_room_event(pipe, record, "monitor", supervisor=supervisor, mode=mode)
        pipe.execute()
        audit.info(
            "supervisor %s %s on call %s (agent %s)", supervisor, mode, record.sid, record.get("agent")
        )
        return Monitored(record.get("ref"), supervisor, mode, leg)

    def leave(self, record: CallRecord, supervisor: str) -> Monitored:
        """The supervisor leaves the call (their leg is taken out of the room)."""
        leg = record.get("supervisor_leg")
        if not leg or record.get("supervisor") != supervisor:
            raise RoomRefused("this supervisor is not on the call")
        # Forgotten first: the leg's own end, reported while it is being removed, finds nothing.
        pipe = self.conn.pipeline(transaction=True)
        pipe.hdel(keys.call(record.sid), *SUPERVISOR_FIELDS)
        log_room_event(pipe, record, "unmonitor", supervisor=supervisor, mode="")
        pipe.execute()
        audit.info("supervisor %s left call %s", supervisor, record.sid)
        try:
            self.twilio.remove_participant(record.get("room"), leg)
        except TwilioError as exc:  # gone already (hung up, the room ended)
            audit.info("supervisor %s leaving call %s: %s", supervisor, record.sid, exc)
        return Monitored(record.get("ref"), supervisor, None, leg)

    def leg_ended(self, record: CallRecord, leg_agent: str) -> bool:
        """A supervisor's leg ended on its own: forget it. False if `leg_agent` is not one."""
        if not leg_agent.startswith(LEG_PREFIX):
            return False
        if record.get("supervisor") == leg_agent.removeprefix(LEG_PREFIX):
            pipe = self.conn.pipeline(transaction=True)
            pipe.hdel(keys.call(record.sid), *SUPERVISOR_FIELDS)
            log_room_event(pipe, record, "unmonitor", supervisor=record.get("supervisor"), mode="hung_up")
            pipe.execute()
            audit.info("supervisor %s off call %s (hung up)", record.get("supervisor"), record.sid)
        return True

    @staticmethod
    def _live_room(record: CallRecord) -> tuple[str, str]:
        room, agent_leg = record.get("room"), record.get("agent_leg")
        if record.get("status") != CallStatus.ON_CALL or caller_gone(record):
            raise RoomRefused(f"the call is {record.get('status') or 'gone'}, not a live conversation")
        if (
            not room.startswith("CF")
            or record.get("room_event") == "conference-end"
            or not agent_leg.startswith("CA")
        ):
            raise RoomRefused("the call is not in a conference room (hotline.connect_via: dial)")
        return room, agent_leg
