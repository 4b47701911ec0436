"""Agents in Redis: who they are, their state with its timestamp, and the ready index.

States (`AgentState`) and the moves between them (`MOVES`: name -> states it may come from, state
it goes to). Every change is one Lua script on the agent's own key that checks the state it comes
from, so two matchers can never book the same agent.

    offline <──> ready <──> not_ready (reason)          chosen by the agent (API), any of the three
                  │ ^ ^                                  also from wrap_up
          reserve │ │ └───────────── wrap_up <── on_call <── ringing
                  v │ release / caller gone      finished    answered │ ^
               reserved ───────────────────────────────────────> ring │ │
                  │                                                   │ │
                  └── lease expired -> ready         missed -> not_ready (no-answer, busy, failed)

`reserved` and `ringing` are holds the hotline places on an agent, and each carries a lease
(`hold_until` on the agent, indexed in `hl:holds`): reserved for `RESERVE_LEASE_SECONDS` (the
matcher's next step takes milliseconds), ringing for `CONNECT_LEASE_SECONDS` from the match until
the caller's Dial starts, then for the ring timeout plus `RING_MARGIN_SECONDS`. When nothing more
arrives (the worker died, Twilio's reports were lost), the reaper (queue_worker/reaper.py) ends
an expired hold: a reserved agent is ready again, as idle as before; a ringing agent is ready
again (the caller hung up, or goes back to their place), or not ready with the reason
`ring_timeout` when the caller is still there and the agent never answered. No other state
expires: wrap-up ends by its own time (the sweep), and ready or not-ready consoles that stop
beating go offline.

`hl:ready:{dept}` lists ready agents by the time they became idle: the longest-idle agent is
first. It is an index of the agent hashes (which are the truth): a matcher that finds a stale
entry simply fails to reserve that agent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import redis

from ivr import keys
from ivr.callcenter.events import AGENT_EVENT_LUA
from ivr.callcenter.queues import arrival_ms
from ivr.clock import EARLIEST
from ivr.hotline.schema import Agent as AgentSpec
from ivr.redis_types import text_hash, text_or_none, texts
from ivr.scripts import Script


class AgentState(StrEnum):
    """Where an agent is."""

    OFFLINE = "offline"  # not working
    READY = "ready"  # waiting for a call (in the ready index)
    RESERVED = "reserved"  # a matcher holds them for a caller: a moment (leased)
    RINGING = "ringing"  # their phone rings for a caller (leased)
    ON_CALL = "on_call"  # talking
    WRAP_UP = "wrap_up"  # writing up the call until `wrap_until`
    NOT_READY = "not_ready"  # away, with a reason


# The states as plain strings, as Redis, JSON and command-line choices spell them.
OFFLINE, READY, RESERVED, RINGING, ON_CALL, WRAP_UP, NOT_READY = (state.value for state in AgentState)
STATES = (OFFLINE, READY, RESERVED, RINGING, ON_CALL, WRAP_UP, NOT_READY)
# Holds the hotline places on an agent: each has a lease, ended by the reaper when it expires.
HELD = (RESERVED, RINGING)
# States in which an agent serves their departments (counted as staffed by the wait estimate).
STAFFED = (READY, RESERVED, RINGING, ON_CALL, WRAP_UP)
# What an agent may choose through the API, and from which states.
CHOOSABLE = {
    READY: (OFFLINE, NOT_READY, WRAP_UP, READY),
    NOT_READY: (OFFLINE, READY, WRAP_UP, NOT_READY),
    OFFLINE: (READY, NOT_READY, WRAP_UP, OFFLINE),
}
# Every other move: name -> (states it may come from, state it goes to).
MOVES: dict[str, tuple[tuple[str, ...], str]] = {
    "reserve": ((READY,), RESERVED),
    "release": ((RESERVED,), READY),  # no caller for them after all
    "ring": ((RESERVED,), RINGING),
    "answered": ((RINGING, ON_CALL), ON_CALL),
    "missed": ((RINGING,), NOT_READY),  # no-answer, busy, failed
    "caller_gone": ((RINGING, RESERVED), READY),
    "finished": ((ON_CALL, RINGING), WRAP_UP),
    "wrapped_up": ((WRAP_UP,), READY),  # the sweep, at `wrap_until`
    "silent": ((READY, NOT_READY, WRAP_UP), OFFLINE),  # the sweep: no heartbeat
    "lease_expired": (HELD, READY),  # the reaper: the match or the ring went nowhere
    "ring_timeout": ((RINGING,), NOT_READY),  # the reaper: rang past the lease, caller still there
    # A supervisor, from any state (callcenter/supervision.py frees the caller first).
    "forced_ready": (STATES, READY),
    "forced_not_ready": (STATES, NOT_READY),
    "forced_offline": (STATES, OFFLINE),
}
# A reserved agent's lease (and the taken caller's): the matcher takes the caller and rings within
# milliseconds. A matcher slower than this finds the agent released: its match fails, and the
# caller is back at their place; nothing is lost, and a dead matcher costs the agent seconds.
RESERVE_LEASE_SECONDS = 3
# A ringing agent's lease beyond the ring timeout, from the Dial: the Dial's result on its way back.
RING_MARGIN_SECONDS = 8
# A ringing agent's lease from the match until the caller's Dial starts. The REST redirect reaches
# Twilio and the caller's call fetches its Dial in well under a second; when it does not come, the
# caller's own hold loop dials after REDIRECT_GRACE_SECONDS (5, ivr/voice/waiting.py) and a short
# pause. Past this, nothing is dialling the agent (a redirect lost in a Redis failover, say): the
# reaper asks Twilio, puts the caller back at their place and frees the agent, within seconds
# rather than a whole ring timeout later. (A redirect that failed outright extends it by a turn.)
CONNECT_LEASE_SECONDS = 8

# `allowed_from`: a comma list; `pairs`: field/value pairs to set ('' deletes).
# Returns the state it came from, or an error reply naming the state it is in.
_TRANSITION = Script(
    AGENT_EVENT_LUA
    + """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return redis.error_reply('unknown agent') end
local allowed = false
for s in string.gmatch(ARGV[1], '[^,]+') do
  if s == state then allowed = true end
end
if not allowed then return redis.error_reply('agent is ' .. state) end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'state_since', ARGV[3])
for i = 4, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
log_agent_event(KEYS[2], KEYS[1], state, ARGV[2])
return state
""",
    keys=("agent", "events"),
    args=("allowed_from", "to", "now", "pairs*"),
)


def taken_before(departments: dict[str, int], department: str) -> list[str]:
    """The departments an agent serves before `department`: higher skill first, as the matcher does."""
    order = sorted(departments, key=lambda d: -departments[d])
    return order[: order.index(department)] if department in order else []


class StateConflict(Exception):
    """The agent is not in a state that allows the change (the message says which it is in)."""


@dataclass(frozen=True)
class AgentView:
    """An agent as the matcher and the API see them."""

    id: str
    name: str
    departments: dict[str, int]
    languages: list[str]
    reach: str
    state: str
    state_since: datetime
    reason: str = ""
    call_sid: str = ""
    wrap_until: datetime | None = None
    hold_until: datetime | None = None  # the lease of a reserved or ringing agent

    @classmethod
    def from_hash(cls, fields: dict[str, str]) -> AgentView:
        """Parse the Redis hash."""
        wrap, hold = fields.get("wrap_until"), fields.get("hold_until")
        return cls(
            id=fields["id"],
            name=fields.get("name", ""),
            departments=json.loads(fields.get("departments", "{}")),
            languages=[x for x in fields.get("languages", "").split(",") if x],
            reach=fields.get("reach", ""),
            state=fields.get("state", OFFLINE),
            # Every writer sets it with the state (`upsert`, the transition script); a hash without
            # either is offline since ever, not since a reading of some clock.
            state_since=datetime.fromisoformat(fields["state_since"])
            if fields.get("state_since")
            else EARLIEST,
            reason=fields.get("reason", ""),
            call_sid=fields.get("call_sid", ""),
            wrap_until=datetime.fromisoformat(wrap) if wrap else None,
            hold_until=datetime.fromisoformat(hold) if hold else None,
        )


class Agents:
    """The agents of one hotline."""

    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn

    # -- who they are ---------------------------------------------------------------------------

    def upsert(self, spec: AgentSpec, now: datetime) -> None:
        """Add or update an agent's definition; a live agent's state is left as it is."""
        key = keys.agent(spec.id)
        pipe = self.conn.pipeline(transaction=True)
        pipe.hset(
            key,
            mapping={
                "id": spec.id,
                "name": spec.name,
                "departments": json.dumps(spec.departments, sort_keys=True),
                "languages": ",".join(spec.languages),
                "reach": spec.reach,
            },
        )
        pipe.hsetnx(key, "state", OFFLINE)
        pipe.hsetnx(key, "state_since", now.isoformat())
        pipe.sadd(keys.agent_ids(), spec.id)
        pipe.execute()

    def get(self, agent_id: str) -> AgentView | None:
        """One agent, or None."""
        fields = text_hash(self.conn.hgetall(keys.agent(agent_id)))
        return AgentView.from_hash(fields) if fields.get("id") else None

    def all(self) -> list[AgentView]:
        """Every agent, by id (one round trip for the hashes)."""
        ids = sorted(texts(self.conn.smembers(keys.agent_ids())))
        pipe = self.conn.pipeline(transaction=False)
        for agent_id in ids:
            pipe.hgetall(keys.agent(agent_id))
        return [AgentView.from_hash(f) for f in pipe.execute() if f.get("id")]

    # -- state changes --------------------------------------------------------------------------

    def _move(
        self,
        agent_id: str,
        allowed: tuple[str, ...],
        to: str,
        now: datetime,
        changes: dict[str, str] | None = None,
        *,
        hold_until: datetime | None = None,
        department: str | None = None,
    ) -> str:
        fields = dict(changes or {})
        if to in HELD:
            until = hold_until or now + timedelta(seconds=RESERVE_LEASE_SECONDS)
            # The lease is indexed before the hold exists: a crash in between leaves an entry the
            # reaper drops (the agent is not held), never a hold that nothing would end.
            self.conn.zadd(keys.agent_holds(), {agent_id: until.timestamp()})
            fields["hold_until"] = until.isoformat()
        else:
            fields["hold_until"] = ""
        pairs: list[str] = []
        for name, value in fields.items():
            pairs += [name, value]
        try:
            previous = _TRANSITION(
                self.conn,
                agent=keys.agent(agent_id),
                events=keys.events(),
                allowed_from=",".join(allowed),
                to=to,
                now=now.isoformat(),
                pairs=pairs,
            )
        except redis.ResponseError as exc:
            raise StateConflict(str(exc)) from None
        self._index(agent_id, to, now, department)
        return str(previous)

    def _apply(self, agent_id: str, move: str, now: datetime, **fields: str) -> str:
        """One of `MOVES`, by name."""
        allowed, to = MOVES[move]
        return self._move(agent_id, allowed, to, now, fields)

    def _index(self, agent_id: str, state: str, now: datetime, department: str | None = None) -> None:
        """Keep `hl:ready:{dept}`, the staffed sets and the lease index in step with the state;
        `department` is that of the call the agent is on, when the caller has it."""
        agent = self.get(agent_id)
        if agent is None:
            return
        busy = self._busy(agent, state, now, department)
        pipe = self.conn.pipeline(transaction=False)
        if state not in HELD:
            pipe.zrem(keys.agent_holds(), agent_id)
        for dept in agent.departments:
            if busy:
                pipe.hset(keys.staffed_busy(dept), agent_id, busy)
            else:
                pipe.hdel(keys.staffed_busy(dept), agent_id)
            if state in STAFFED:
                pipe.zadd(keys.staffed_agents(dept), {agent_id: now.timestamp()}, nx=True)
                # The departments the agent takes before this one (the matcher's skill order):
                # the wait estimate counts the agent by how busy those are.
                pipe.hset(keys.staffed_above(dept), agent_id, ",".join(taken_before(agent.departments, dept)))
                # The languages they speak: a caller's wait counts the agents who can take them.
                pipe.hset(keys.staffed_languages(dept), agent_id, ",".join(agent.languages))
            else:
                pipe.zrem(keys.staffed_agents(dept), agent_id)
                pipe.hdel(keys.staffed_above(dept), agent_id)
                pipe.hdel(keys.staffed_languages(dept), agent_id)
            if state == READY:
                idle_since = (
                    text_or_none(self.conn.hget(keys.agent(agent_id), "idle_since")) or now.isoformat()
                )
                pipe.zadd(keys.ready_agents(dept), {agent_id: datetime.fromisoformat(idle_since).timestamp()})
            elif (
                state != RESERVED
            ):  # a reserved agent stays listed: a failed match puts them back as they were
                pipe.zrem(keys.ready_agents(dept), agent_id)
        pipe.execute()

    def _busy(self, agent: AgentView, state: str, now: datetime, department: str | None = None) -> str:
        """The agent's entry in `hl:staffbusy:{dept}` ('' for none): when they answered the call
        they are on and its department, or when their wrap-up ends. A caller's first wait is the
        time until one of their agents frees, and that depends on how long each has been on their
        call, not on an average agent (`ivr/waits/first_free.py`). A held agent (reserved,
        ringing) is about to start a call."""
        if state in HELD:
            return f"call|{arrival_ms(now)}|"
        if state == ON_CALL:
            if department is None:  # the caller of the move does not have the call: read it
                department = ""
                if agent.call_sid:
                    department = text_or_none(self.conn.hget(keys.call(agent.call_sid), "department")) or ""
            return f"call|{arrival_ms(agent.state_since)}|{department}"
        if state == WRAP_UP and agent.wrap_until is not None:
            return f"wrap|{arrival_ms(agent.wrap_until)}|"
        return ""

    def choose(self, agent_id: str, state: str, now: datetime, reason: str = "") -> str:
        """The agent chose a state (API): ready, not_ready (with a reason) or offline."""
        fields = {"reason": reason if state == NOT_READY else "", "wrap_until": ""}
        if state == READY:
            fields["idle_since"] = now.isoformat()
        return self._move(agent_id, CHOOSABLE[state], state, now, fields)

    def reserve(self, agent_id: str, now: datetime) -> bool:
        """Hold a ready agent for a match (leased); False when someone else got them first."""
        try:
            self._apply(agent_id, "reserve", now)
        except StateConflict:
            return False
        return True

    def release(self, agent_id: str, now: datetime) -> None:
        """No caller for the reserved agent after all: ready again, same idle time."""
        self._apply(agent_id, "release", now)

    def ring(self, agent_id: str, call_sid: str, now: datetime, lease_seconds: float = 60.0) -> None:
        """The reserved agent's phone rings for `call_sid`, held for at most `lease_seconds`."""
        allowed, to = MOVES["ring"]
        until = now + timedelta(seconds=lease_seconds)
        self._move(agent_id, allowed, to, now, {"call_sid": call_sid}, hold_until=until)

    def extend_hold(self, agent_id: str, until: datetime, pipe: redis.client.Pipeline | None = None) -> None:
        """Lengthen the lease of a held agent (the Dial really starts now); never shortens it."""
        target = pipe if pipe is not None else self.conn.pipeline(transaction=False)
        target.zadd(keys.agent_holds(), {agent_id: until.timestamp()}, xx=True, gt=True)
        if pipe is None:
            target.execute()

    def renew_hold(self, agent_id: str, until: datetime) -> None:
        """Set the lease of a held agent to `until` (the reaper, for a hold still in progress)."""
        pipe = self.conn.pipeline(transaction=True)
        pipe.hset(keys.agent(agent_id), "hold_until", until.isoformat())
        pipe.zadd(keys.agent_holds(), {agent_id: until.timestamp()})
        pipe.execute()

    def answered(self, agent_id: str, now: datetime, department: str | None = None) -> None:
        """The agent picked up the call of `department` (None: read from the call record)."""
        allowed, to = MOVES["answered"]
        self._move(agent_id, allowed, to, now, department=department)

    def missed(self, agent_id: str, now: datetime, reason: str) -> None:
        """The agent did not answer (no-answer, busy, failed): not ready until they say so."""
        self._apply(agent_id, "missed", now, reason=reason, call_sid="")

    def caller_gone(self, agent_id: str, now: datetime) -> None:
        """The caller hung up while the agent's phone rang: the agent is free again."""
        self._apply(agent_id, "caller_gone", now, call_sid="")

    def lease_expired(self, agent_id: str, now: datetime, reason: str = "") -> str:
        """The reaper ends an expired hold: ready (as idle as before), or not ready with `reason`."""
        if reason:
            return self._apply(agent_id, "ring_timeout", now, reason=reason, call_sid="")
        return self._apply(agent_id, "lease_expired", now, call_sid="")

    def finished(self, agent_id: str, now: datetime, wrap_seconds: int) -> None:
        """The call ended: wrap-up for `wrap_seconds`, then ready (see `sweep`)."""
        until = now + timedelta(seconds=wrap_seconds)
        self._apply(agent_id, "finished", now, wrap_until=until.isoformat(), idle_since=now.isoformat())

    def expired_holds(self, now: datetime, limit: int = 100) -> list[str]:
        """Agents whose hold lease has run out by `now` (from the index: no scan of all agents)."""
        return texts(self.conn.zrangebyscore(keys.agent_holds(), "-inf", now.timestamp(), start=0, num=limit))

    def drop_hold_index(self, agent_id: str) -> None:
        """Forget an index entry that no longer stands for a hold."""
        self.conn.zrem(keys.agent_holds(), agent_id)

    def heartbeat(self, agent_id: str, now: datetime) -> None:
        """The agent's console is alive."""
        self.conn.zadd(keys.agent_heartbeats(), {agent_id: now.timestamp()})

    def sweep(self, now: datetime, silent_before: datetime) -> list[str]:
        """Wrap-ups that ended by `now` become ready; consoles whose last beat came before
        `silent_before` go offline. Returns the agents made ready.

        Both are readings of the hotline's clock (beats are stamped with it, as states are); the
        caller takes `silent_before` as `clock.ago(timeout)`: a heartbeat is about the machine and
        the network, so its timeout is in real seconds however fast a simulated day runs.
        """
        ready: list[str] = []
        for agent in self.all():
            if agent.state == WRAP_UP and agent.wrap_until and agent.wrap_until <= now:
                try:
                    self._apply(agent.id, "wrapped_up", now, wrap_until="")
                    ready.append(agent.id)
                except StateConflict:
                    pass  # the agent changed state meanwhile: their choice wins
        stale = texts(self.conn.zrangebyscore(keys.agent_heartbeats(), "-inf", silent_before.timestamp()))
        for agent_id in stale:
            try:
                self._apply(agent_id, "silent", now, reason="no heartbeat")
            except StateConflict:
                continue  # on a call, or already offline: the call's own end decides
            self.conn.zrem(keys.agent_heartbeats(), agent_id)
            if agent_id in ready:
                ready.remove(agent_id)
        return ready

    def staffed(self, department: str) -> int:
        """Agents serving a department now (ready, ringing, talking or wrapping up)."""
        return int(self.conn.zcard(keys.staffed_agents(department)))

    def ready_candidates(self, department: str, limit: int = 20) -> list[str]:
        """Ready agents of a department, longest idle first."""
        return texts(self.conn.zrange(keys.ready_agents(department), 0, limit - 1))

    def forced(self, agent_id: str, state: str, now: datetime, reason: str, came_from: str) -> str:
        """A supervisor's `forced_*` move, only if the agent is still in `came_from` (supervision.py)."""
        allowed, to = MOVES[f"forced_{state}"]
        fields = {"reason": reason if to == NOT_READY else "", "wrap_until": ""}
        if to == READY:
            fields["idle_since"] = now.isoformat()
        return self._move(agent_id, tuple(s for s in allowed if s == came_from), to, now, fields)
