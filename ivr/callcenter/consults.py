"""Warm transfers in the caller's conference room: consult another agent, then complete or cancel.

An agent on a call in a room (`connect_via: conference`) asks to consult a named agent, or the
longest-idle ready agent of a department who speaks the caller's language:

1. the consulted agent is reserved and rings (the same holds and leases as a match: the reaper
   frees one whose phone rang into the void); the caller is put on hold (music);
2. the consulted agent's phone is dialled into the room (a participant of the REST API, labelled
   `consult`): answered, they are on the call and talk with the first agent, the caller on hold;
3. complete: the consulted agent becomes the call's agent (the room ends when they leave), the
   caller is taken off hold, the first agent leaves the room and goes to wrap-up; their part is
   handled work of the department, and the call counts one transfer;
4. cancel (or the consulted agent declines, does not answer, or hangs up): the consulted leg
   leaves, the consulted agent is free (not ready when they did not answer), the caller is back
   with the first agent.

From the start of the consultation to its end the room no longer ends when the first agent
leaves: a first agent who hangs up while the two agents talk hands the caller over as step 3
does; one who hangs up while the consulted phone rings stops that ring, and the caller is put
back at their place in the department's queue (`first_agent_left`, and the agent leg's report in
`ivr/voice/room.py`). Each step is written to the event log (`consult`, `handover`,
`consult_end`).

A caller who hangs up during the consultation ends the room: the consulted leg ends with it and
its report frees the consulted agent. The call record keeps the consultation in `consult_agent`,
`consult_leg` and `consult_state` (`ringing`, `talking`); the call's status stays `on_call` with
the first agent until the transfer completes.

A specialist line (`specialist_lines` in hotline.yaml, by name) is consulted the same way: its
number is dialled into the room as `line:<name>` (no agent to reserve or free); completed, the
caller stays in the room with the line (the call is `transferred`, the first agent in wrap-up)
and hears goodbye when the line hangs up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import redis

from ivr import keys, routes
from ivr.callcenter.agents import ON_CALL, RING_MARGIN_SECONDS, RINGING, Agents, AgentView, StateConflict
from ivr.callcenter.calls import CallRecord, CallStore
from ivr.callcenter.events import log_room_event
from ivr.callcenter.lifecycle import CallLife, CallStatus
from ivr.callcenter.rooms import RoomRefused, Rooms, caller_gone
from ivr.hotline.schema import HotlineFile
from ivr.redis_types import texts
from ivr.twilio_rest import TwilioApi, TwilioError
from ivr.urlstate import AgentLeg

log = logging.getLogger(__name__)

CONSULT_LABEL = "consult"
CONSULT_FIELDS = ("consult_agent", "consult_leg", "consult_state")
LINE_PREFIX = "line:"  # a consulted specialist line, in `consult_agent` and its leg's URL


def is_line(consulted: str) -> bool:
    """Whether the consulted party is a specialist line rather than an agent of the hotline."""
    return consulted.startswith(LINE_PREFIX)


@dataclass(frozen=True)
class Consultation:
    """A consultation as the API reports it."""

    ref: str
    agent: str  # the consulted agent
    state: Literal["ringing", "talking", "completed", "canceled"]


class Consults:
    """Warm transfers of one hotline."""

    def __init__(
        self,
        cfg: HotlineFile,
        conn: redis.Redis,
        calls: CallStore,
        agents: Agents,
        rooms: Rooms,
        twilio: TwilioApi,
    ) -> None:
        self.cfg, self.conn, self.calls, self.agents = cfg, conn, calls, agents
        self.rooms, self.twilio = rooms, twilio

    # -- the first agent asks ------------------------------------------------------------------

    def start(
        self,
        agent_id: str,
        now: datetime,
        base_url: str,
        *,
        target: str = "",
        department: str = "",
        line: str = "",
    ) -> Consultation:
        """Hold the caller and ring the consulted agent (or specialist line) into the room."""
        agent, record = self._talking(agent_id)
        if record.get("consult_agent"):
            raise RoomRefused(f"already consulting {record.get('consult_agent')}")
        room = record.get("room")
        if not room.startswith("CF") or record.get("room_event") == "conference-end":
            raise RoomRefused("the caller is not in a conference room (hotline.connect_via: dial)")
        if line:
            if line not in self.cfg.specialist_lines:
                raise RoomRefused(f"no specialist line {line!r} (hotline.yaml)")
            consulted_id, reach = LINE_PREFIX + line, self.cfg.specialist_lines[line]
        else:
            consulted = self._reserve(record, now, target=target, department=department, asking=agent_id)
            self.agents.ring(
                consulted.id, record.sid, now, self.cfg.hotline.ring_timeout_seconds + RING_MARGIN_SECONDS
            )
            consulted_id, reach = consulted.id, consulted.reach
        music = routes.url(base_url, "room_wait")
        try:
            self.rooms.hold(record, True, music)
            leg = self.twilio.add_participant(
                room,
                to=reach,
                from_=record.get("to") or self.cfg.hotline.overflow_number,
                label=CONSULT_LABEL,
                status_callback=routes.url(base_url, "room_agent_status", AgentLeg(record.sid, consulted_id)),
                ring_seconds=self.cfg.hotline.ring_timeout_seconds,
            )
        except (RoomRefused, TwilioError) as exc:
            self._free(consulted_id, now, answered=False)
            self._unhold(record, base_url)
            raise RoomRefused(f"the consultation could not start: {exc}") from None
        pipe = self.conn.pipeline(transaction=True)
        pipe.hset(
            keys.call(record.sid),
            mapping={"consult_agent": consulted_id, "consult_leg": leg, "consult_state": "ringing"},
        )
        log_room_event(pipe, record, "consult", to=consulted_id)
        pipe.execute()
        self._first_agent_ends_room(record, False)  # a hang-up now must not end the caller's room
        return Consultation(record.get("ref"), consulted_id, "ringing")

    def complete(self, agent_id: str, now: datetime, base_url: str) -> Consultation:
        """The consulted agent takes the caller; the first agent leaves for wrap-up."""
        agent, record = self._talking(agent_id)
        consulted = record.get("consult_agent")
        if not consulted or record.get("consult_state") != "talking":
            raise RoomRefused("no consulted agent on the line to hand the caller to")
        self._hand_over(record, agent_id, now, base_url, how="complete")
        room, first_leg = record.get("room"), record.get("agent_leg")
        if first_leg.startswith("CA"):
            try:
                self.twilio.remove_participant(room, first_leg)
            except TwilioError as exc:  # the first agent hangs up themselves: the room goes on
                log.warning("first agent's leg %s stays in the room: %s", first_leg, exc)
        return Consultation(record.get("ref"), consulted, "completed")

    def first_agent_left(self, record: CallRecord, agent_id: str, now: datetime, base_url: str) -> str:
        """The first agent hung up during a consultation (their leaving no longer ends the room).

        "handed": the consulted agent was talking with them and now has the caller, as if the
        transfer were completed. "requeue": the consulted agent's phone still rang: the ring is
        stopped and the agent freed, and the caller must go back to their place (the caller of
        this method moves them). "": there was no consultation.
        """
        if record.get("agent") != agent_id or not record.get("consult_agent"):
            return ""
        if record.get("consult_state") == "talking":
            try:
                self._hand_over(record, agent_id, now, base_url, how="hung_up", first_present=False)
            except RoomRefused as exc:
                log.warning("caller %s not handed over after their agent left: %s", record.sid, exc)
            return "handed"
        self._end_leg(record)
        self._consult_over(
            record, record.get("consult_agent"), now, base_url, answered=False, first_present=False
        )
        return "requeue"

    def _hand_over(
        self,
        record: CallRecord,
        agent_id: str,
        now: datetime,
        base_url: str,
        *,
        how: str,
        first_present: bool = True,
    ) -> None:
        """The consulted agent becomes the caller's agent; the first one goes to wrap-up, counted."""
        consulted = record.get("consult_agent")
        room, leg = record.get("room"), record.get("consult_leg")
        try:
            # The room now ends with the consulted agent, and no longer with the first one.
            self.twilio.participant_ends_room(room, leg, True)
            if first_present:
                self.twilio.participant_ends_room(room, record.get("agent_leg"), False)
        except TwilioError as exc:
            raise RoomRefused(f"the transfer could not complete: {exc}") from None
        department = self.cfg.departments.get(record.get("department"))
        try:
            self.agents.finished(agent_id, now, department.wrap_up_seconds if department else 30)
        except StateConflict as exc:
            raise RoomRefused(str(exc)) from None
        at = now.isoformat()
        pipe = self.conn.pipeline(transaction=True)
        key = keys.call(record.sid)
        if is_line(consulted):  # the caller stays with the outside line: the hotline's part is over
            number = self.cfg.specialist_lines.get(consulted.removeprefix(LINE_PREFIX), "")
            CallLife(self.conn).move(
                record.sid, CallStatus.TRANSFERRED, (CallStatus.ON_CALL,), agent="", agent_leg=leg,
                transfer_number=number, room_line=consulted, transferred_by=agent_id, transferred_at=at,
            )  # fmt: skip
        else:
            pipe.hset(
                key,
                mapping={
                    "agent": consulted,
                    "agent_leg": leg,
                    "transferred_by": agent_id,
                    "transferred_at": at,
                    "answered_at": at,
                },
            )
        pipe.hdel(key, *CONSULT_FIELDS)
        pipe.hincrby(key, "transfers", 1)
        answered = datetime.fromisoformat(record.get("answered_at") or now.isoformat())
        stats = keys.department_stats(record.get("department"), record.day)
        pipe.hincrby(stats, "handled", 1)
        pipe.hincrby(stats, "handle_ms", max(int((now - answered).total_seconds() * 1000), 0))
        pipe.hincrbyfloat(stats, "handle_sq", max((now - answered).total_seconds(), 0.0) ** 2)
        pipe.hincrby(stats, "transferred_out", 1)
        pipe.expire(stats, keys.STATS_TTL_SECONDS)
        log_room_event(pipe, record, "handover", agent=consulted, by=agent_id, how=how)
        pipe.execute()
        self._unhold(record, base_url)

    def cancel(self, agent_id: str, now: datetime, base_url: str) -> Consultation:
        """Back to the caller: the consulted leg leaves, the consulted agent is free."""
        agent, record = self._talking(agent_id)
        consulted = record.get("consult_agent")
        if not consulted:
            raise RoomRefused("no consultation to cancel")
        self._end_leg(record)
        self._consult_over(
            record, consulted, now, base_url, answered=record.get("consult_state") == "talking"
        )
        return Consultation(record.get("ref"), consulted, "canceled")

    # -- the consulted leg's reports -----------------------------------------------------------

    def leg_answered(self, record: CallRecord, agent_id: str, now: datetime) -> None:
        """The consulted agent picked up: they talk with the first agent."""
        if record.get("consult_agent") != agent_id or record.get("consult_state") != "ringing":
            return
        try:
            if not is_line(agent_id):
                self.agents.answered(agent_id, now, record.get("department"))
        except StateConflict:
            return
        self.conn.hset(keys.call(record.sid), "consult_state", "talking")

    def _first_agent_ends_room(self, record: CallRecord, ends: bool) -> None:
        """During a consultation the first agent leaving must not end the caller's room (`ends`
        False); after it, it does again."""
        leg = record.get("agent_leg")
        if not leg.startswith("CA"):
            return
        try:
            self.twilio.participant_ends_room(record.get("room"), leg, ends)
        except TwilioError as exc:
            log.warning("first agent's leg %s: %s", leg, exc)

    def leg_ended(self, record: CallRecord, agent_id: str, status: str, now: datetime, base_url: str) -> None:
        """The consulted leg ended before any transfer: declined, not answered, or hung up."""
        if record.get("consult_agent") != agent_id:
            return
        if status in ("no-answer", "busy", "failed"):
            try:
                if not is_line(agent_id):
                    self.agents.missed(agent_id, now, reason=status)
            except StateConflict:
                pass
            self._consult_over(record, agent_id, now, base_url, answered=False, free=False)
            return
        self._consult_over(record, agent_id, now, base_url, answered=record.get("consult_state") == "talking")

    # -- inside --------------------------------------------------------------------------------

    def _talking(self, agent_id: str) -> tuple[AgentView, CallRecord]:
        agent = self.agents.get(agent_id)
        record = self.calls.load(agent.call_sid) if agent is not None and agent.call_sid else None
        if agent is None or agent.state != ON_CALL or record is None:
            raise RoomRefused(f"agent is {agent.state if agent else 'unknown'}: no call to consult about")
        if record.get("status") != CallStatus.ON_CALL or record.get("agent") != agent_id:
            raise RoomRefused("the caller is no longer connected to this agent")
        return agent, record

    def _reserve(
        self, record: CallRecord, now: datetime, *, target: str, department: str, asking: str
    ) -> AgentView:
        """The agent to consult, reserved: the named one, or the longest idle of a department."""
        if target:
            if target == asking:
                raise RoomRefused("an agent cannot consult themselves")
            found = self.agents.get(target)
            if found is None:
                raise RoomRefused(f"no agent {target!r}")
            if not self.agents.reserve(target, now):
                raise RoomRefused(f"{target} is {found.state}, not ready")
            return found
        if department not in self.cfg.departments:
            raise RoomRefused(f"no department {department!r}")
        language = record.get("lang")
        for candidate in texts(self.conn.zrange(keys.ready_agents(department), 0, -1)):
            found = self.agents.get(candidate)
            if found is None or candidate == asking or (language and language not in found.languages):
                continue
            if self.agents.reserve(candidate, now):
                return found
        raise RoomRefused(f"no agent of {department} who speaks the caller's language is ready")

    def _end_leg(self, record: CallRecord) -> None:
        leg = record.get("consult_leg")
        if not leg.startswith("CA"):
            return
        try:
            if record.get("consult_state") == "talking":
                self.twilio.remove_participant(record.get("room"), leg)
            else:
                self.twilio.end_call(leg, "canceled")
        except TwilioError as exc:
            log.warning("consulted leg %s: %s", leg, exc)

    def _consult_over(
        self,
        record: CallRecord,
        agent_id: str,
        now: datetime,
        base_url: str,
        *,
        answered: bool,
        free: bool = True,
        first_present: bool = True,
    ) -> None:
        """The consultation is over without a transfer: forget it, free the agent, unhold the caller
        (when the first agent is still with them; else the caller is moved back to their place)."""
        if first_present:
            self._first_agent_ends_room(record, True)  # the room ends with them again
        pipe = self.conn.pipeline(transaction=True)
        pipe.hdel(keys.call(record.sid), *CONSULT_FIELDS)
        log_room_event(pipe, record, "consult_end", to=agent_id)
        pipe.execute()
        if free:
            self._free(agent_id, now, answered=answered)
        if first_present:
            self._unhold(record, base_url)

    def _free(self, agent_id: str, now: datetime, *, answered: bool) -> None:
        if is_line(agent_id):
            return  # an outside line: no agent of ours to free
        try:
            if answered:
                self.agents.finished(agent_id, now, 0)  # a consultation needs no write-up
            else:
                agent = self.agents.get(agent_id)
                if agent is not None and agent.state == RINGING:
                    self.agents.caller_gone(agent_id, now)
                else:
                    self.agents.release(agent_id, now)
        except StateConflict:
            pass

    def _unhold(self, record: CallRecord, base_url: str) -> None:
        fresh = self.calls.load(record.sid)
        if fresh is None or caller_gone(fresh):
            return  # the caller hung up: nobody to take off hold
        try:
            self.rooms.hold(fresh, False, routes.url(base_url, "room_wait"))
        except RoomRefused as exc:
            log.warning("caller %s stays as they are: %s", record.sid, exc)
