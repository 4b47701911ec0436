"""The call center's event log: an append-only Redis stream, in the spirit of Asterisk's queue_log.

Every entry is written by the Lua script that makes the change it records, in the same atomic
step and round trip (so a webhook's Redis budget is unchanged, and no change goes unlogged):

| event            | written by                                   | fields                          |
|------------------|----------------------------------------------|---------------------------------|
| join             | call status -> queued (from the menu)        | sid, ref, dept, agent, from, to |
| offer            | call status -> connecting (an agent rings)   | ...                             |
| answer           | call status -> on_call                       |                                 |
| requeue          | connecting -> queued (the agent missed)      |                                 |
| transfer         | on_call -> queued (a department), or -> transferred (a line) |                 |
| callback         | -> callback / callback_scheduled / callback_failed | (`to` says which)         |
| served, overflow, closed | -> served, overflowed, closed        |                                 |
| abandon          | the closing script: hung up before an agent  | outcome (in menu / queue / ringing) |
| end              | the closing script, any other hang-up        | outcome                         |
| agent            | an agent's state change (agents.py)          | agent, from, to, reason, sid    |
| hold, unhold     | the agent holds the caller (rooms.py)        | sid, ref, dept, agent, by       |
| consult          | a warm transfer starts (consults.py)         | ..., to (the consulted agent)   |
| handover         | the consulted agent takes the caller         | ..., by, how (complete, hung_up) |
| consult_end      | the consultation ends without a transfer     | ..., to                         |
| monitor, unmonitor | a supervisor on the call (monitoring.py)   | ..., supervisor, mode           |

The room events are written with the record's change in one pipeline (`log_room_event`), not in
a script: the change they go with is a REST request to Twilio first, then a plain write.

The entry's stream id is the Redis server's time in ms: the log reads in real time order.
`hotline.event_log_days` bounds it: the workers' upkeep trims older entries (XTRIM MINID ~, which
drops whole stream nodes: cheap, and never more than a node past the horizon).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import redis

from ivr import keys
from ivr.redis_types import text

# A Lua function the call scripts define: log the call's move from `from` to `to`.
# The record's department and agent are read after the move (an offer names its agent).
CALL_EVENT_LUA = """
local function log_call_event(stream, call, from, to, extra_name, extra_value)
  if from == to then return end
  local name = to
  if to == 'queued' then
    if from == 'on_call' then name = 'transfer' elseif from == 'connecting' then name = 'requeue'
    else name = 'join' end
  elseif to == 'connecting' then name = 'offer'
  elseif to == 'on_call' then name = 'answer'
  elseif to == 'transferred' then name = 'transfer'
  elseif to == 'overflowed' then name = 'overflow'
  elseif to == 'callback' or to == 'callback_scheduled' or to == 'callback_failed' then name = 'callback'
  end
  local f = redis.call('HMGET', call, 'sid', 'ref', 'department', 'agent')
  redis.call('XADD', stream, '*', 'e', name, 'sid', f[1] or '', 'ref', f[2] or '',
    'dept', f[3] or '', 'agent', f[4] or '', 'from', from, 'to', to, extra_name, extra_value)
end
"""

# A Lua function the agent script defines: log an agent's state change.
AGENT_EVENT_LUA = """
local function log_agent_event(stream, agent, from, to)
  local f = redis.call('HMGET', agent, 'id', 'reason', 'call_sid')
  redis.call('XADD', stream, '*', 'e', 'agent', 'agent', f[1] or '', 'from', from, 'to', to,
    'reason', f[2] or '', 'sid', f[3] or '')
end
"""

# Events that change what a wallboard shows (every one does, today; kept named for readers).
CALL_EVENTS = frozenset(
    {"join", "offer", "answer", "requeue", "transfer", "callback", "served", "overflow", "closed"}
    | {"abandon", "end"}
)


class _Call(Protocol):
    def get(self, name: str) -> str: ...


def log_room_event(conn: redis.Redis | redis.client.Pipeline, call: _Call, name: str, **fields: str) -> None:
    """Append a room event (hold, consult, handover, monitor, ...) about this call."""
    entry = {
        "e": name,
        "sid": call.get("sid"),
        "ref": call.get("ref"),
        "dept": call.get("department"),
        "agent": call.get("agent"),
        **fields,
    }
    # redis-py types xadd's fields as a dict of its own unions of key and value types; a dict is
    # invariant, so this dict[str, str], every item of which it encodes, is refused as it stands.
    conn.xadd(keys.events(), entry)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Event:
    """One entry of the log."""

    id: str  # the stream id: '{ms}-{seq}'
    name: str
    fields: dict[str, str]

    @property
    def at(self) -> datetime:
        """When it was written (the Redis server's clock)."""
        return datetime.fromtimestamp(int(self.id.split("-", 1)[0]) / 1000, UTC)

    @property
    def agent(self) -> str:
        """The agent it concerns ('' when none)."""
        return self.fields.get("agent", "")

    def as_json(self) -> dict[str, str]:
        """The entry as the live push and the reports send it."""
        return {"id": self.id, "at": self.at.isoformat(), **self.fields}


def _event(entry_id: Any, fields: Any) -> Event:
    """One stream entry as Redis replies it (id, field map), made text."""
    values = {text(k): text(v) for k, v in (fields or {}).items()}
    return Event(id=text(entry_id), name=values.get("e", ""), fields=values)


class EventLog:
    """Reads and trims the stream (the scripts append to it)."""

    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn

    def last_id(self) -> str:
        """The id of the newest entry ('0-0' when empty): read on from here to see only new ones."""
        newest = self.conn.xrevrange(keys.events(), count=1)
        return _event(*newest[0]).id if newest else "0-0"

    def after(self, last_id: str, *, block_ms: int | None = None, count: int = 500) -> list[Event]:
        """Entries after `last_id`, waiting up to `block_ms` for one when `block_ms` is given."""
        reply: Any = self.conn.xread({keys.events(): last_id}, count=count, block=block_ms)
        if not reply:
            return []
        return [_event(entry_id, fields) for entry_id, fields in reply[0][1]]

    def between(self, start: datetime, end: datetime, count: int = 10_000) -> list[Event]:
        """Entries written from `start` up to (not including) `end`, oldest first."""
        last = int(end.timestamp() * 1000) - 1
        # An id of milliseconds alone: from its first entry (start), to its last (end).
        entries: Any = self.conn.xrange(
            keys.events(), str(int(start.timestamp() * 1000)), str(last), count=count
        )
        return [_event(entry_id, fields) for entry_id, fields in entries or []]

    def trim(self, keep_days: int, now: datetime | None = None) -> int:
        """Drop entries older than `keep_days` (by the real time they were written); how many."""
        horizon = (now or datetime.now(UTC)) - timedelta(days=keep_days)
        return int(
            self.conn.xtrim(keys.events(), minid=f"{int(horizon.timestamp() * 1000)}-0", approximate=True)
        )
