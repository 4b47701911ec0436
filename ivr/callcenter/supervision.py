"""A supervisor forces an agent's state: ready, not ready (with a reason) or offline, from any state.

An agent stuck where no event will move them (a lost hang-up notice, a worker that died) must not
wait for a restart: the supervisor's console (`PUT /api/supervisor/agents/<id>/state`) or the
admin command (`flask --app wsgi agents force <id> <state>`) sets the state. The agent's caller is
never lost on the way:

| from       | first                                                                              |
|------------|------------------------------------------------------------------------------------|
| offline, ready, not_ready, wrap_up | nothing (a wrap-up is cut short)                           |
| reserved   | a matcher holds the agent for milliseconds: refused while its lease runs (try again), |
|            | taken over once the lease has run out (the matcher died; the reaper would free them)  |
| ringing    | the caller goes back to their own place, as if the agent had not answered, and their |
|            | live call back to the hold loop; a callback's place goes back to the queue            |
| on_call    | the agent's part of the call ends as if they had hung up (counted as handled); the    |
|            | caller's line is not touched                                                         |

Each force is one compare-and-set on the agent (from the state just read), so a change that
lands meanwhile makes it a conflict to retry, never a silent overwrite. Every force is logged:
who, which agent, from which state to which, and the call it touched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis

from ivr import keys
from ivr.callcenter.agents import (
    NOT_READY,
    OFFLINE,
    ON_CALL,
    READY,
    RESERVE_LEASE_SECONDS,
    RESERVED,
    RINGING,
    Agents,
    AgentView,
    StateConflict,
)
from ivr.callcenter.callbacks import Callbacks
from ivr.callcenter.calls import CallRecord, CallStore
from ivr.callcenter.connections import Connections
from ivr.callcenter.lifecycle import CallStatus
from ivr.jobs import JobQueue

log = logging.getLogger(__name__)

FORCEABLE = (str(READY), str(NOT_READY), str(OFFLINE))


@dataclass(frozen=True)
class Forced:
    """What a force did: the agent's state before and after, and what happened to their caller.

    caller: 'requeued' (back at their place, their call sent back to the hold loop),
    'callback_requeued' (a callback's place back in the queue), 'finished' (the agent's part of a
    call ended), or '' when the agent had no caller.
    """

    agent: str
    previous: str
    state: str
    since: datetime
    caller: str = ""
    call_sid: str = ""


class Supervision:
    """Forcing agents' states for one hotline."""

    def __init__(
        self,
        conn: redis.Redis,
        agents: Agents,
        calls: CallStore,
        connections: Connections,
        callbacks: Callbacks,
        jobs: JobQueue,
        send_to_hold: Callable[[str], bool],
    ) -> None:
        self.conn, self.agents, self.calls, self.connections = conn, agents, calls, connections
        self.callbacks, self.jobs, self.send_to_hold = callbacks, jobs, send_to_hold

    def force(self, agent_id: str, state: str, now: datetime, *, reason: str = "", by: str) -> Forced:
        """Set the agent's state; LookupError for an unknown agent, StateConflict to retry."""
        if state not in FORCEABLE:
            raise ValueError(f"state must be one of {', '.join(FORCEABLE)}")
        if state == NOT_READY and not reason.strip():
            raise ValueError("say why the agent is not ready (e.g. break, training)")
        agent = self.agents.get(agent_id)
        if agent is None:
            raise LookupError(f"no agent {agent_id!r}")
        caller, record = self._let_go(agent, now)
        current = self.agents.get(agent_id) or agent
        busy = (RESERVED, RINGING, ON_CALL)
        if current.state in busy and (current.state, current.state_since) != (agent.state, agent.state_since):
            raise StateConflict(f"agent is {current.state} with a new caller now; try again")
        self.agents.forced(agent_id, state, now, reason.strip(), current.state)
        if state == OFFLINE:  # nothing to sweep for an agent taken offline
            self.conn.zrem(keys.agent_heartbeats(), agent_id)
        elif state == READY:
            # Their console has the usual heartbeat timeout from now to show it is alive; a ready
            # agent without one would be offered callers nobody answers.
            self.agents.heartbeat(agent_id, now)
            self.jobs.match_agent(None, agent_id)
        log.info(
            "supervisor %s forced agent %s from %s to %s%s%s",
            by, agent_id, agent.state, state,
            f" ({reason.strip()})" if state == NOT_READY else "",
            f"; call {record.sid} {caller}" if record is not None else "",
        )  # fmt: skip
        return Forced(agent_id, agent.state, state, now, caller, record.sid if record is not None else "")

    def _let_go(self, agent: AgentView, now: datetime) -> tuple[str, CallRecord | None]:
        """Free the agent from their caller without losing the caller: what happened, and the call."""
        if agent.state == RESERVED:
            lease_end = agent.hold_until or agent.state_since + timedelta(seconds=RESERVE_LEASE_SECONDS)
            if now < lease_end:  # a matcher is at work: it takes the caller or lets go in a moment
                raise StateConflict("agent is being matched with a caller; try again in a few seconds")
            return "", None
        if agent.state not in (RINGING, ON_CALL) or not agent.call_sid:
            return "", None
        record = self.calls.load(agent.call_sid)
        if record is None or record.get("agent") != agent.id:
            return "", None  # the call is gone or went elsewhere: only the agent is stuck
        status, cb_status = record.get("status"), record.get("cb_status")
        if agent.state == RINGING and status == CallStatus.CALLBACK and cb_status in ("dialling", "calling"):
            # The customer is being called for this agent: the place goes back to the queue, and
            # the customer's answer (if it comes) finds the callback moved on.
            return ("callback_requeued" if self.callbacks.agent_taken_back(record) else ""), record
        if agent.state == RINGING and status == CallStatus.CONNECTING:
            outcome = self.connections.dial_ended(record, agent.id, "no-answer", 0, now)
            if outcome != "requeued":
                return "", record
            if cb_status == "answered":  # a called-back customer on the line: they are called again
                self.callbacks.agent_missed(record)
                return "callback_requeued", record
            if not self.send_to_hold(record.sid):
                log.warning("call %s back in the queue; its next hold turn takes it up", record.sid)
            self.jobs.match_department(None, record.get("department"))
            return "requeued", record
        if agent.state == ON_CALL and status == CallStatus.ON_CALL:
            self.connections.caller_hung_up(record, now, CallStatus.ON_CALL)
            return "finished", record
        return "", record
