"""Matching waiting callers with ready agents, and starting the connection.

The rule: when an agent becomes ready or a caller joins, the highest-priority, longest-waiting
caller the agent can serve (department and language) goes to the first eligible agent in the
strategy's order (longest idle by default). Two atomic steps make a match, each on one Redis
slot: reserve the agent (ready -> reserved, on the agent's key), then pop the best caller (on
the department's keys). An agent reserved by another matcher cannot be reserved again, and a
popped caller is gone from the queue: no caller reaches two agents, no agent gets two callers.
A reserved agent with no caller to take is released, as idle as before.

Crash-safe: each hold a match places carries a lease (the reserved or ringing agent, the caller
taken from the lanes), and the reaper (queue_worker/reaper.py) ends what a dead worker left
half-made: the agent ready again, the caller back at their own place. The job is retried by rq
and idempotent (a reserved agent cannot be reserved again, a taken caller cannot be taken again).
Crash points: `matching.reserved`, `.taken`, `.ringing`, `.claimed` (see ivr/faultpoints.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import redis

from ivr import faultpoints, keys
from ivr.callcenter.agents import (
    CONNECT_LEASE_SECONDS,
    READY,
    RESERVE_LEASE_SECONDS,
    RING_MARGIN_SECONDS,
    Agents,
    AgentView,
)
from ivr.callcenter.lifecycle import CallLife, CallStatus
from ivr.callcenter.queues import Popped, Queues
from ivr.clock import Clock, business_day
from ivr.hotline.schema import HotlineFile
from ivr.jobs import JobQueue

log = logging.getLogger(__name__)


class Connector(Protocol):
    """Moves a caller's live call to the agent (Twilio's REST API in production)."""

    def connect(self, call_sid: str) -> str:
        """Redirect the call to its connection document: 'done', 'failed', or 'over' (Twilio ended it)."""
        ...

    def call_status(self, call_sid: str) -> str | None:
        """The call's status as Twilio has it ('gone' when unknown there); None when it cannot tell."""
        ...

    def cancel(self, call_sid: str) -> bool:
        """End a call not answered yet; False when that failed."""
        ...


class Strategy(Protocol):
    """The order in which eligible ready agents are offered a caller."""

    def order(self, candidates: list[AgentView]) -> list[AgentView]:
        """Candidates (longest idle first, as listed) in the order to try them."""
        ...


class LongestIdle:
    """The agent who has waited longest for a call gets the next one."""

    def order(self, candidates: list[AgentView]) -> list[AgentView]:
        """Keep the idle order."""
        return candidates


class FewestCalls:
    """The agent who has taken the fewest calls today gets the next one (ties: longest idle)."""

    def __init__(self, conn: redis.Redis, day: str) -> None:
        self.conn, self.day = conn, day

    def order(self, candidates: list[AgentView]) -> list[AgentView]:
        """Sort by today's answered calls, stably."""
        counts = self.conn.hmget(keys.agent_calls(self.day), [a.id for a in candidates]) if candidates else []
        taken = {a.id: int(c or 0) for a, c in zip(candidates, counts, strict=True)}
        return sorted(candidates, key=lambda a: taken[a.id])


@dataclass(frozen=True)
class Match:
    """A caller given to an agent."""

    call_sid: str
    agent_id: str
    department: str


class CallbackPlaces(Protocol):
    """Callback places in the queue: the customer is called rather than redirected."""

    def claim(
        self, found: Popped, agent_id: str, department: str, now: datetime, matched_at: datetime
    ) -> str:
        """Mark the popped place as the agent's (matched when the pop took it, `matched_at`):
        'callback' (being called), 'caller', 'customer' (a transferred customer on the hotline's
        own call) or 'gone'."""
        ...

    def connect_customer(self, sid: str) -> str:
        """Redirect a transferred customer's leg to the agent: 'done' or 'failed'."""
        ...


class Matcher:
    """Makes matches for one hotline."""

    def __init__(
        self,
        cfg: HotlineFile,
        conn: redis.Redis,
        agents: Agents,
        queues: Queues,
        connector: Connector,
        clock: Clock,
        callbacks: CallbackPlaces | None = None,
        jobs: JobQueue | None = None,
    ) -> None:
        self.cfg, self.conn, self.agents, self.queues, self.connector = cfg, conn, agents, queues, connector
        self.callbacks, self.jobs = callbacks, jobs
        # Each match reads the clock afresh: a matching run can outlast one agent's whole call.
        self.clock = clock
        self.life = CallLife(conn)

    def strategy(self, now: datetime) -> Strategy:
        """The configured strategy."""
        if self.cfg.hotline.matching == "fewest_calls":
            return FewestCalls(self.conn, business_day(now, self.cfg.hotline.timezone))
        return LongestIdle()

    def for_department(self, department: str) -> list[Match]:
        """Give waiting callers of a department (and those who may overflow to it) to ready agents."""
        matches: list[Match] = []
        sources = [department, *self._overflow_sources(department)]
        while True:
            candidates = [a for a in self._ready(sources) if a is not None]
            made = None
            for agent in self.strategy(self.clock.now()).order(candidates):
                made = self._offer(agent.id, self.clock.now())
                if made:
                    matches.append(made)
                    break
            if made is None:
                return matches

    def for_agent(self, agent_id: str) -> Match | None:
        """An agent became ready: give them the best caller they can serve, if any."""
        return self._offer(agent_id, self.clock.now())

    def _ready(self, departments: list[str]) -> list[AgentView | None]:
        seen: dict[str, AgentView | None] = {}
        for dept in departments:
            for agent_id in self.agents.ready_candidates(dept):
                if agent_id not in seen:
                    seen[agent_id] = self.agents.get(agent_id)
        return list(seen.values())

    def _overflow_sources(self, department: str) -> list[str]:
        """Departments whose long-waiting callers may go to this department's agents."""
        return [name for name, d in self.cfg.departments.items() if d.overflow_to == department]

    def _offer(self, agent_id: str, now: datetime) -> Match | None:
        agent = self.agents.get(agent_id)
        # Nobody waits where the agent could take them: the agent is not even reserved.
        if agent is None or agent.state != READY or not self._anyone_waiting(agent):
            return None
        if not self.agents.reserve(agent_id, now):
            return None
        faultpoints.reached("matching.reserved")  # a death here: the reserve lease runs out
        lease = now + timedelta(seconds=RESERVE_LEASE_SECONDS)
        popped: tuple[Popped, str] | None = None
        # Best skill first: an agent strong in security takes security callers first.
        for dept in sorted(agent.departments, key=lambda d: -agent.departments[d]):
            if dept not in self.cfg.departments:
                continue
            found = self.queues.pop_for(dept, agent.languages, lease_until=lease)
            if found:
                popped = (found, dept)
                break
        if popped is None:
            popped = self._pop_overflow(agent, now, lease)
        if popped is None:
            self.agents.release(agent_id, now)
            return None
        found, dept = popped
        # Stamped when the pop took the caller, not when this matcher started: two matchers
        # at once may pop in one order and reach here in the other.
        matched_at = self.clock.reading(found.at)
        faultpoints.reached("matching.taken")  # the caller is held: the reaper puts them back
        # Ring before marking: once the record says `connecting`, a hang-up frees a ringing agent.
        ring_lease = self.cfg.hotline.ring_timeout_seconds + RING_MARGIN_SECONDS
        self.agents.ring(agent_id, found.sid, now, CONNECT_LEASE_SECONDS)  # ring_lease from the Dial
        faultpoints.reached("matching.ringing")
        if self.callbacks is not None:  # its script also tells a callback place from a caller
            claimed = self.callbacks.claim(found, agent_id, dept, now, matched_at)
        else:
            moved = self.life.move(
                found.sid, CallStatus.CONNECTING, (CallStatus.QUEUED,), agent=agent_id,
                queue_score=str(found.score), department=dept, matched_at=matched_at.isoformat(),
                redirect="", dialled_at="",
            )  # fmt: skip
            claimed = "gone" if moved is None else "caller"
        # The place is taken for good (a death before this: the reaper settles it, as the record
        # has moved on). A caller who hung up meanwhile was counted by their own leaving.
        self.queues.settle(found.sid, dept)
        if claimed == "gone":
            # The caller's call ended between the pop and the mark: the agent, free again, is
            # offered the next caller.
            self.agents.caller_gone(agent_id, now)
            return self._offer(agent_id, now)
        if claimed == "callback":
            return Match(call_sid=found.sid, agent_id=agent_id, department=dept)  # a job calls them
        faultpoints.reached("matching.claimed")  # the hold loop connects the caller after a grace
        if claimed == "customer" and self.callbacks is not None:  # a transferred called-back customer
            redirected = self.callbacks.connect_customer(found.sid)
        else:
            redirected = self.connector.connect(found.sid)
        if redirected == "over" and self.jobs is not None:
            # Twilio says the call is over: its hang-up notice was lost. A worker checks the call
            # with Twilio and ends it now, which frees the agent (their phone never rang).
            self.jobs.reconcile_call(found.sid)
        elif redirected != "done":
            # The caller's next hold turn dials the agent instead (and only then: one dial a match),
            # which may be a whole turn of music away: the ringing lease waits for it.
            self.conn.hset(keys.call(found.sid), "redirect", "failed")
            turn = self.cfg.hotline.hold_turn_seconds
            self.agents.extend_hold(agent_id, now + timedelta(seconds=turn + ring_lease))
            log.warning(
                "redirect of %s to agent %s failed: its hold loop will connect it", found.sid, agent_id
            )
        return Match(call_sid=found.sid, agent_id=agent_id, department=dept)

    def _anyone_waiting(self, agent: AgentView) -> bool:
        """Callers wait in a department of the agent, or in one that overflows to them (one round trip)."""
        sources = [d for d in agent.departments if d in self.cfg.departments]
        sources += [d for d, spec in self.cfg.departments.items() if spec.overflow_to in agent.departments]
        pipe = self.conn.pipeline(transaction=False)
        for dept in sources:
            pipe.zcard(keys.queue_since(dept))
        return any(pipe.execute()) if sources else False

    def _pop_overflow(self, agent: AgentView, now: datetime, lease: datetime) -> tuple[Popped, str] | None:
        for source, spec in self.cfg.departments.items():
            if spec.overflow_to in agent.departments and spec.overflow_after_seconds:
                cutoff = now - timedelta(seconds=spec.overflow_after_seconds)
                found = self.queues.pop_for(source, agent.languages, cutoff, lease_until=lease)
                if found:
                    return found, source
        return None
