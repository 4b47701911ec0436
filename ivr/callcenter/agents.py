"""Agents in Redis: who they are, their state with its timestamp, and the ready index.

States: offline, ready, reserved (a match is being made: a moment), ringing, on_call, wrap_up,
not_ready (with a reason). Every change is one Lua script on the agent's own key that checks
the state it comes from, so two matchers can never book the same agent.

`hl:ready:{dept}` lists ready agents by the time they became idle: the longest-idle agent is
first. It is an index of the agent hashes (which are the truth): a matcher that finds a stale
entry simply fails to reserve that agent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis

from ivr import keys
from ivr.hotline.schema import Agent as AgentSpec

OFFLINE, READY, RESERVED, RINGING, ON_CALL, WRAP_UP, NOT_READY = (
    "offline", "ready", "reserved", "ringing", "on_call", "wrap_up", "not_ready",
)  # fmt: skip
STATES = (OFFLINE, READY, RESERVED, RINGING, ON_CALL, WRAP_UP, NOT_READY)
# States in which an agent serves their departments (counted as staffed by the wait estimate).
STAFFED = (READY, RESERVED, RINGING, ON_CALL, WRAP_UP)
# What an agent may choose through the API, and from which states.
CHOOSABLE = {
    READY: (OFFLINE, NOT_READY, WRAP_UP, READY),
    NOT_READY: (OFFLINE, READY, WRAP_UP, NOT_READY),
    OFFLINE: (READY, NOT_READY, WRAP_UP, OFFLINE),
}

# KEYS: agent.  ARGV: allowed from (comma list), to, now (iso), then field/value pairs to set.
# Returns the state it came from, or an error reply naming the state it is in.
_TRANSITION = """
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
return state
"""


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

    @classmethod
    def from_hash(cls, fields: dict[str, str]) -> AgentView:
        """Parse the Redis hash."""
        wrap = fields.get("wrap_until")
        return cls(
            id=fields["id"],
            name=fields.get("name", ""),
            departments=json.loads(fields.get("departments", "{}")),
            languages=[x for x in fields.get("languages", "").split(",") if x],
            reach=fields.get("reach", ""),
            state=fields.get("state", OFFLINE),
            state_since=datetime.fromisoformat(fields["state_since"])
            if fields.get("state_since")
            else datetime.now(UTC),
            reason=fields.get("reason", ""),
            call_sid=fields.get("call_sid", ""),
            wrap_until=datetime.fromisoformat(wrap) if wrap else None,
        )


class Agents:
    """The agents of one hotline."""

    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn
        self._transition = conn.register_script(_TRANSITION)

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
        fields = self.conn.hgetall(keys.agent(agent_id))
        return AgentView.from_hash(fields) if fields.get("id") else None

    def all(self) -> list[AgentView]:
        """Every agent, by id (one round trip for the hashes)."""
        ids = sorted(self.conn.smembers(keys.agent_ids()))
        pipe = self.conn.pipeline(transaction=False)
        for agent_id in ids:
            pipe.hgetall(keys.agent(agent_id))
        return [AgentView.from_hash(f) for f in pipe.execute() if f.get("id")]

    # -- state changes --------------------------------------------------------------------------

    def _move(self, agent_id: str, allowed: tuple[str, ...], to: str, now: datetime, **fields: str) -> str:
        args: list[str] = [",".join(allowed), to, now.isoformat()]
        for name, value in fields.items():
            args += [name, value]
        try:
            previous = self._transition(keys=[keys.agent(agent_id)], args=args)
        except redis.ResponseError as exc:
            raise StateConflict(str(exc)) from None
        self._index(agent_id, to, now)
        return str(previous)

    def _index(self, agent_id: str, state: str, now: datetime) -> None:
        """Keep `hl:ready:{dept}` in step with the agent's state."""
        agent = self.get(agent_id)
        if agent is None:
            return
        pipe = self.conn.pipeline(transaction=False)
        for dept in agent.departments:
            if state in STAFFED:
                pipe.zadd(keys.staffed_agents(dept), {agent_id: now.timestamp()}, nx=True)
                # The departments the agent takes before this one (the matcher's skill order):
                # the wait estimate counts the agent by how busy those are.
                pipe.hset(keys.staffed_above(dept), agent_id, ",".join(taken_before(agent.departments, dept)))
            else:
                pipe.zrem(keys.staffed_agents(dept), agent_id)
                pipe.hdel(keys.staffed_above(dept), agent_id)
            if state == READY:
                idle_since = self.conn.hget(keys.agent(agent_id), "idle_since") or now.isoformat()
                pipe.zadd(keys.ready_agents(dept), {agent_id: datetime.fromisoformat(idle_since).timestamp()})
            elif (
                state != RESERVED
            ):  # a reserved agent stays listed: a failed match puts them back as they were
                pipe.zrem(keys.ready_agents(dept), agent_id)
        pipe.execute()

    def choose(self, agent_id: str, state: str, now: datetime, reason: str = "") -> str:
        """The agent chose a state (API): ready, not_ready (with a reason) or offline."""
        fields = {"reason": reason if state == NOT_READY else "", "wrap_until": ""}
        if state == READY:
            fields["idle_since"] = now.isoformat()
        return self._move(agent_id, CHOOSABLE[state], state, now, **fields)

    def reserve(self, agent_id: str, now: datetime) -> bool:
        """Hold a ready agent for a match; False when someone else got them first."""
        try:
            self._move(agent_id, (READY,), RESERVED, now)
        except StateConflict:
            return False
        return True

    def release(self, agent_id: str, now: datetime) -> None:
        """No caller for the reserved agent after all: ready again, same idle time."""
        self._move(agent_id, (RESERVED,), READY, now)

    def ring(self, agent_id: str, call_sid: str, now: datetime) -> None:
        """The reserved agent's phone rings for `call_sid`."""
        self._move(agent_id, (RESERVED,), RINGING, now, call_sid=call_sid)

    def answered(self, agent_id: str, now: datetime) -> None:
        """The agent picked up."""
        self._move(agent_id, (RINGING, ON_CALL), ON_CALL, now)

    def missed(self, agent_id: str, now: datetime, reason: str) -> None:
        """The agent did not answer (no-answer, busy, failed): not ready until they say so."""
        self._move(agent_id, (RINGING,), NOT_READY, now, reason=reason, call_sid="")

    def caller_gone(self, agent_id: str, now: datetime) -> None:
        """The caller hung up while the agent's phone rang: the agent is free again."""
        self._move(agent_id, (RINGING, RESERVED), READY, now, call_sid="")

    def finished(self, agent_id: str, now: datetime, wrap_seconds: int) -> None:
        """The call ended: wrap-up for `wrap_seconds`, then ready (see `sweep`)."""
        until = now + timedelta(seconds=wrap_seconds)
        self._move(
            agent_id,
            (ON_CALL, RINGING),
            WRAP_UP,
            now,
            wrap_until=until.isoformat(),
            idle_since=now.isoformat(),
        )

    def heartbeat(self, agent_id: str, now: datetime) -> None:
        """The agent's console is alive."""
        self.conn.zadd(keys.agent_heartbeats(), {agent_id: now.timestamp()})

    def sweep(self, now: datetime, heartbeat_timeout: int) -> list[str]:
        """Wrap-ups that ended become ready; silent consoles go offline. Returns agents made ready."""
        ready: list[str] = []
        for agent in self.all():
            if agent.state == WRAP_UP and agent.wrap_until and agent.wrap_until <= now:
                try:
                    self._move(agent.id, (WRAP_UP,), READY, now, wrap_until="")
                    ready.append(agent.id)
                except StateConflict:
                    pass  # the agent changed state meanwhile: their choice wins
        stale = self.conn.zrangebyscore(
            keys.agent_heartbeats(), "-inf", (now.timestamp() - heartbeat_timeout)
        )
        for agent_id in stale:
            try:
                self._move(agent_id, (READY, NOT_READY, WRAP_UP), OFFLINE, now, reason="no heartbeat")
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
        return list(self.conn.zrange(keys.ready_agents(department), 0, limit - 1))

    def forced(self, agent_id: str, state: str, now: datetime, reason: str, came_from: str) -> str:
        """A supervisor set the state, if the agent is still in `came_from` (callcenter/supervision.py)."""
        fields = {"reason": reason if state == NOT_READY else "", "wrap_until": ""}
        if state == READY:
            fields["idle_since"] = now.isoformat()
        return self._move(agent_id, (came_from,), state, now, **fields)
