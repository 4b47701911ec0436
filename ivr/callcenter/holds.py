"""Holds whose lease ran out, and callers whose hold turns stopped: what the reaper ends, and how.

Every hold the hotline places carries a lease (see agents.py and queues.py):

- agent reserved (a match being made), RESERVE_LEASE_SECONDS: ready again, as idle as before.
- caller taken from the queue (held), as long: back at their own place, or settled if the match
  was made after all.
- agent ringing / caller connecting, CONNECT_LEASE_SECONDS from the match, then ring timeout +
  RING_MARGIN_SECONDS from the Dial: Twilio is asked. A call that is over is ended (abandoned,
  the agent ready); a caller still there goes back to their place, the agent not ready
  (`ring_timeout`) if the Dial had started, else ready. A caller waiting in a conference room
  (`connect_via: conference`) is also moved back to the hold loop, and the agent's leg canceled.
- agent kept for a callback, step by step (the job to start, the call to be placed, then
  `Callbacks.check_seconds()` at a time while the customer's call rings and is up): the claim and
  Twilio are asked. A call placed is adopted, one that is over (or still unanswered past its ring
  timeout: it is canceled) counts as not reached (retry or fail), a job that never ran is queued
  once more, and a call still going keeps the agent for another check.

An agent on a call (`on_call`) has no lease, but the reports that end the call can be lost (the
dial result or the status callback met a Redis outage past its grace): an agent on a call for
`ON_CALL_CHECK_AFTER_SECONDS` or more is checked with Twilio, each at most once per
`ON_CALL_CHECK_EVERY_SECONDS`. When the call they talk on (the caller's, or the customer's on a
callback) is over, it ends as the lost reports would have ended it: the agent to wrap-up, the
call served and counted once, the record closed.

A caller in the queue whose hold turns stopped (none for two turns, `hl:turns:{dept}`) is checked
with Twilio: a call that is over is ended as abandoned (its hang-up notice was lost), a call in
progress (in the callback number steps, say) is looked at again two turns later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import redis

from ivr import keys, routes
from ivr.callcenter.agents import (
    HELD,
    ON_CALL,
    RESERVED,
    RINGING,
    Agents,
    AgentView,
    StateConflict,
)
from ivr.callcenter.callbacks import Callbacks
from ivr.callcenter.calls import CallRecord, CallStore
from ivr.callcenter.connections import Connections
from ivr.callcenter.ending import CallEnding
from ivr.callcenter.lifecycle import CallStatus
from ivr.callcenter.queues import Queues
from ivr.callcenter.redirect import NOT_ANSWERED_YET, OVER
from ivr.callcenter.transfers import customer_wait_path
from ivr.hotline.schema import HotlineFile
from ivr.jobs import JobQueue
from ivr.redis_types import scored, text_or_none, texts
from ivr.urlstate import HOLD_AGAIN, Attempt

log = logging.getLogger(__name__)

# Twilio statuses of a customer's phone that was never answered (the callback's own reasons).
UNANSWERED = ("no-answer", "busy", "failed", "canceled")
# At most this many calls are checked with Twilio in one pass: a pass stays short.
CHECKS_PER_PASS = 20
# An agent on a call this long is checked with Twilio (shorter calls end by their own reports)...
ON_CALL_CHECK_AFTER_SECONDS = 4
# ... at most this often each: Twilio is asked once per agent and period, not once per pass.
ON_CALL_CHECK_EVERY_SECONDS = 8


@dataclass
class Reaped:
    """What one pass of the reaper did (ids and CallSids), for logs and tests."""

    agents: dict[str, str] = field(default_factory=dict)  # agent -> what became of their hold
    callers: dict[str, str] = field(default_factory=dict)  # CallSid -> 'back', 'settled', 'ended', ...
    checked: int = 0  # calls asked of Twilio


class TwilioCalls(Protocol):
    """Asks Twilio how a call is, and cancels one (the REST connector)."""

    def call_status(self, call_sid: str) -> str | None:
        """The call's status (`gone` when Twilio does not know it); None when Twilio cannot tell."""
        ...

    def cancel(self, call_sid: str) -> bool:
        """Cancel a call that was not answered."""
        ...

    def redirect(self, call_sid: str, path: str) -> bool:
        """Run the hotline's document at `path` on a live call now."""
        ...


class Holds:
    """Ends the holds of one hotline whose lease ran out, and reconciles waiting callers with Twilio."""

    def __init__(
        self,
        cfg: HotlineFile,
        conn: redis.Redis,
        *,
        calls: CallStore,
        queues: Queues,
        agents: Agents,
        connections: Connections,
        callbacks: Callbacks,
        jobs: JobQueue,
        ending: CallEnding,
        twilio: TwilioCalls,
    ) -> None:
        self.cfg, self.conn, self.calls, self.queues, self.agents = cfg, conn, calls, queues, agents
        self.connections, self.callbacks, self.jobs = connections, callbacks, jobs
        self.ending, self.twilio = ending, twilio

    def twilio_status(self, sid: str, reaped: Reaped) -> str | None:
        """The call's status at Twilio (None when Twilio cannot tell now)."""
        reaped.checked += 1
        return self.twilio.call_status(sid)

    # -- agents ------------------------------------------------------------------------------

    def agents_expired(self, now: datetime, reaped: Reaped) -> None:
        """End every agent hold whose lease ran out by `now`."""
        for agent_id in self.agents.expired_holds(now):
            try:
                reaped.agents[agent_id] = self.agent_lease_ended(agent_id, now, reaped)
            except StateConflict:
                reaped.agents[agent_id] = "moved on"  # the agent's own event won the race

    def agent_lease_ended(self, agent_id: str, now: datetime, reaped: Reaped) -> str:
        """What to do with an agent whose hold's lease ran out; returns what was done."""
        agents = self.agents
        agent = agents.get(agent_id)
        if agent is None or agent.state not in HELD:
            agents.drop_hold_index(agent_id)
            return "not held"
        if agent.hold_until and agent.hold_until > now:  # renewed on the agent: index it again
            agents.extend_hold(agent_id, agent.hold_until)
            return "renewed"
        record = self.calls.load(agent.call_sid) if agent.call_sid else None
        if agent.state == RESERVED or record is None or record.get("agent") != agent_id:
            return self._free(agent, now, "")
        status, cb_status = record.get("status"), record.get("cb_status")
        if (status == CallStatus.CALLBACK and cb_status in ("dialling", "calling")) or (
            status == CallStatus.CONNECTING and cb_status == "answered"
        ):
            return self._callback_lease_ended(agent, record, now, reaped)
        if status == CallStatus.ON_CALL:  # the answer was recorded on the call only
            agents.answered(agent_id, now, record.get("department"))
            return "on call"
        if status != CallStatus.CONNECTING:
            return self._free(agent, now, "")
        over = self.twilio_status(_live_leg(record), reaped)
        if over in OVER:  # the caller hung up and the notice was lost: abandoned, agent free
            self.ending.call_ended(record, now, "completed" if over == "gone" else over, 0)
            reaped.callers[record.sid] = "ended"
            return "caller gone"
        # Still there (or Twilio cannot tell): back to their own place, and the agent is released:
        # not ready if their phone really rang that long, else ready.
        if self.connections.requeue(record, now):
            reaped.callers[record.sid] = "back"
            self.jobs.match_department(None, record.get("department"))
            self._leave_room(record)
        return self._free(agent, now, "ring_timeout" if record.get("dialled_at") else "")

    def _leave_room(self, record: CallRecord) -> None:
        """A caller put back from a room: the agent's leg stops ringing, the caller goes back on hold.

        (A Dial ends by itself at its timeout; a room waits for its agent as long as it is told.)
        """
        leg = record.get("agent_leg")
        if not leg.startswith("CA"):
            return
        self.twilio.cancel(leg)
        if record.get("cb_status") == "transferred":  # a customer waits on their own turns
            self.twilio.redirect(_live_leg(record), customer_wait_path(record))
        else:
            self.twilio.redirect(record.sid, routes.path("hold", HOLD_AGAIN))

    def _free(self, agent: AgentView, now: datetime, reason: str) -> str:
        self.agents.lease_expired(agent.id, now, reason)
        if not reason:
            self.jobs.match_agent(None, agent.id)
        return reason or "ready"

    def _callback_lease_ended(
        self, agent: AgentView, record: CallRecord, now: datetime, reaped: Reaped
    ) -> str:
        """An agent kept for a callback past its lease: adopt the call placed, or count it not reached."""
        callbacks = self.callbacks
        attempt = int(record.get("cb_attempt") or 0)
        cb_call = record.get("cb_call")
        if record.get("cb_status") == "dialling":
            claim = text_or_none(self.conn.get(keys.callback_claim(record.sid, attempt))) or ""
            if claim.startswith("CA"):  # placed, but the job died before it said so
                cb_call = claim
            elif claim.startswith("pending:"):  # died while placing it: did Twilio create it?
                cb_call = callbacks.created_since(record.get("cb_number"), float(claim.split(":")[1])) or ""
            elif record.get("cb_requeued") != str(attempt):  # the job never ran: once more
                self.conn.hset(keys.call(record.sid), "cb_requeued", str(attempt))
                self.jobs.place_callback(None, record.sid, agent.id, attempt)
                again = timedelta(seconds=callbacks.start_lease_seconds(requeued=True))
                self.agents.renew_hold(agent.id, now + again)
                return "callback placed again"
            if not cb_call:
                callbacks.not_reached(record.sid, attempt, "not_placed", now)
                return "callback not placed"
            callbacks.adopt(record.sid, attempt, cb_call)
        over = self.twilio_status(cb_call, reaped) if cb_call else "gone"
        if over in OVER:  # the customer's call ended and its status callback was lost
            if record.get("cb_status") == "answered":
                reason = "hung_up_waiting"
            else:
                reason = over if over in UNANSWERED else "no_response"
            callbacks.not_reached(record.sid, attempt, reason, now)
            return f"callback {reason}"
        leg = record.get("agent_leg")
        if record.get("cb_status") == "answered" and leg.startswith("CA"):
            # The customer waits in their room for the agent's leg; a leg whose end was never
            # reported (its webhooks met a Redis outage) would keep them there for good.
            leg_status = self.twilio_status(leg, reaped)
            if leg_status in OVER:
                return self._room_agent_lost(agent, record, leg_status, now)
        unanswered = over in NOT_ANSWERED_YET and record.get("cb_status") == "calling"
        if unanswered and callbacks.ring_overdue(record, now):
            # Still not answered past its ring timeout (a carrier that never reports back):
            # ended here as not answered, so the agent is not kept for it.
            self.twilio.cancel(cb_call)
            callbacks.not_reached(record.sid, attempt, "no-answer", now)
            return "callback no-answer"
        self.agents.renew_hold(agent.id, now + timedelta(seconds=callbacks.check_seconds()))
        return "callback in progress"

    def _room_agent_lost(self, agent: AgentView, record: CallRecord, leg_status: str, now: datetime) -> str:
        """The agent's leg into a called-back customer's room is over, unreported: as its report
        would have, the agent is not reached and the customer hears so and is called again soon."""
        reason = leg_status if leg_status in ("no-answer", "busy", "failed") else "failed"
        if self.connections.dial_ended(record, agent.id, reason, 0, now) == "requeued":
            self.callbacks.agent_missed(record)
            attempt = Attempt(record.sid, int(record.get("cb_attempt") or 0), agent.id)
            self.twilio.redirect(record.get("cb_call"), routes.path("callback_dial_result", attempt))
        return f"callback agent {reason}"

    def agents_on_call(self, agents: list[AgentView], now: datetime, reaped: Reaped) -> None:
        """Agents on a call whose call Twilio says is over (its reports were lost): wrap-up."""
        talking = [a for a in agents if a.state == ON_CALL]
        checks = keys.on_call_checks()
        asked = dict(scored(self.conn.zrange(checks, 0, -1, withscores=True)))
        gone = [agent_id for agent_id in asked if agent_id not in {a.id for a in talking}]
        if gone:
            self.conn.zrem(checks, *gone)  # off the call: their next call starts afresh
        for agent in talking:
            if (now - agent.state_since).total_seconds() < ON_CALL_CHECK_AFTER_SECONDS:
                continue
            if now.timestamp() - asked.get(agent.id, 0.0) < ON_CALL_CHECK_EVERY_SECONDS:
                continue  # asked recently
            if reaped.checked >= CHECKS_PER_PASS:
                return  # the next pass goes on
            self.conn.zadd(checks, {agent.id: now.timestamp()})
            try:
                done = self.on_call_ended(agent, now, reaped)
            except StateConflict:
                done = "moved on"  # the call's own report won the race
            if done:
                reaped.agents[agent.id] = done

    def on_call_ended(self, agent: AgentView, now: datetime, reaped: Reaped) -> str:
        """End the call of an agent on a call if Twilio says it is over; what was done ('' if not)."""
        record = self.calls.load(agent.call_sid) if agent.call_sid else None
        live = (record.get("cb_call") or record.sid) if record is not None else ""
        over = self.twilio_status(live, reaped) if live else "gone"
        if over not in OVER:
            return ""  # still talking (or Twilio cannot tell now)
        if record is not None and record.get("agent") == agent.id:
            answered = datetime.fromisoformat(record.get("answered_at") or agent.state_since.isoformat())
            duration = max(int((now - answered).total_seconds()), 1)
            # The agent's leg ended: what the lost dial result would have done (wrap-up, counted once).
            self.connections.dial_ended(record, agent.id, "completed", duration, now)
            transferred = record.get("cb_status") == "transferred"  # the customer's leg is the call
            if (not record.get("ended_at") and not record.get("cb_call")) or transferred:
                # The caller's own call is over too: what its lost status callback would have done.
                fresh = self.calls.load(record.sid) or record
                self.ending.call_ended(fresh, now, "completed" if over == "gone" else over, duration)
        still = self.agents.get(agent.id)
        if still is not None and still.state == ON_CALL and still.call_sid == agent.call_sid:
            department = self.cfg.departments.get(record.get("department")) if record else None
            self.agents.finished(agent.id, now, department.wrap_up_seconds if department else 30)
        log.info("agent %s was on a call that is over at Twilio: wrap-up", agent.id)
        return "call over"

    # -- callers -----------------------------------------------------------------------------

    def held_expired(self, department: str, now: datetime, reaped: Reaped) -> None:
        """Callers taken for a match that a dead worker never finished: back to their place."""
        for sid in self.queues.expired_held(department, now):
            record = self.calls.load(sid)
            status = record.get("status") if record else ""
            waiting_callback = (
                status == CallStatus.CALLBACK and record and record.get("cb_status") == "waiting"
            )
            if status == CallStatus.QUEUED or waiting_callback:
                if self.queues.put_back(sid, department):
                    reaped.callers[sid] = "back"
                    self._free_ringing_for(sid, now, reaped)  # rung before the match was marked
                    self.jobs.match_department(None, department)
            else:  # the match was made (or the call ended): the place is gone
                self.queues.settle(sid, department)
                reaped.callers[sid] = "settled"

    def _free_ringing_for(self, sid: str, now: datetime, reaped: Reaped) -> None:
        """An agent held ringing for a caller whose match was never marked: free now, not at the lease."""
        for agent_id in texts(self.conn.zrange(keys.agent_holds(), 0, -1)):  # held agents: a handful
            agent = self.agents.get(agent_id)
            if agent is not None and agent.state == RINGING and agent.call_sid == sid:
                reaped.agents[agent_id] = self._free(agent, now, "")

    def turns_overdue(self, department: str, now: datetime, reaped: Reaped) -> None:
        """Callers whose hold turns stopped coming: ended when Twilio says the call is over."""
        turn = self.cfg.hotline.hold_turn_seconds
        for sid in self.queues.overdue_turns(department, now - timedelta(seconds=2 * turn)):
            record = self.calls.load(sid)
            if record is None or record.get("status") != CallStatus.QUEUED:
                self.queues.forget_turns(sid, department)  # not on hold (a callback place, gone)
                continue
            if reaped.checked >= CHECKS_PER_PASS:
                return  # the next pass goes on
            over = self.twilio_status(sid, reaped)
            if over in OVER:
                self.ending.call_ended(record, now, "completed" if over == "gone" else over, 0)
                reaped.callers[sid] = "ended"
                log.info("call %s was over at Twilio: closed as abandoned", sid)
            else:  # on the line without hold turns (keying a callback number...): look again later
                self.conn.zadd(keys.hold_turns(department), {sid: now.timestamp()}, xx=True)

    def reconcile(self, sid: str, now: datetime) -> str:
        """One call Twilio refused to redirect: end it if it is over; what was done."""
        record = self.calls.load(sid)
        if record is None or record.get("ended_at"):
            return "already ended"
        over = self.twilio.call_status(sid)
        if over not in OVER:
            # In progress after all: the hold loop connects the caller (the redirect failed).
            self.conn.hset(keys.call(sid), "redirect", "failed")
            return "in progress"
        self.ending.call_ended(record, now, "completed" if over == "gone" else over, 0)
        return "ended"


def _live_leg(record: CallRecord) -> str:
    """The call Twilio can tell about: the caller's, or a transferred customer's own leg."""
    if record.get("cb_status") == "transferred" and record.get("cb_call"):
        return record.get("cb_call")
    return record.sid
