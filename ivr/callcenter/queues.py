"""Department queues in Redis: join, position, pop for an agent, settle or put back, requeue, leave.

A department's queue is one sorted set per language ("lane"), so an agent who speaks only
English finds the best English caller in O(log n) instead of scanning Mandarin callers. Every
move is one Lua script, atomic on the one Redis primary: any number of web processes and
workers can act at once. (The `{dept}` in the key names does not make this Redis Cluster
ready: see ivr/keys.py.)

The score orders callers by priority class, then by arrival, then by a per-department counter,
so no two callers tie (a tie would fall back to ordering by CallSid):

    score = rank * 2^49 + arrival_ms * 2^10 + (sequence mod 2^10)

arrival_ms counts from 2026-01-01 (39 bits: 17 years). A caller who is requeued (an agent did
not answer) or transferred keeps their score, so they keep their place.

Nothing is lost to a crash: a caller taken for an agent is *held* (`hl:held:{dept}`, by the end
of a short lease) with their entry kept in `waiting`, until the matcher settles the match; if it
never does, the reaper puts them back at their place. And each caller on the line is watched
through their hold turns (`hl:turns:{dept}`, by the time of the last one): a caller whose turns
stopped coming is checked with Twilio by the reaper (a lost hang-up), see queue_worker/reaper.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis

from ivr import keys
from ivr.redis_types import scored, texts
from ivr.scripts import Script
from ivr.waits.arrivals import ARRIVALS_KEPT, RECENT_WINDOWS
from ivr.waits.learned import wait_counts

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
MAX_RANK = 15
# How long a caller taken for an agent is held when the matcher gives no lease of its own.
HOLD_SECONDS = 10

# Returns the caller's 1-based position, or 0 when the department is full. Idempotent.
# `score`: the caller's kept score ('' for a new arrival); `count_offer`: count them offered;
# `now` (Unix s): a caller on the line whose hold turns are watched ('' for a callback place).
# `reclaim`: first look up the place kept for a returning caller (`lastplace`, returning.py):
# with the same `account` they join with that place's score.
_JOIN_LUA = """
if ARGV[9] == '1' then
  local saved = redis.call('HMGET', KEYS[7], 'account', 'score')
  if saved[2] and (saved[1] or '') == ARGV[10] then
    ARGV[6] = saved[2]
    redis.call('DEL', KEYS[7])
    redis.call('HINCRBY', KEYS[3], 'returned', 1)
  end
end
local existing = redis.call('HGET', KEYS[1], ARGV[1])
local score
if existing then
  score = tonumber(string.match(existing, '|(.*)$'))
  if redis.call('ZREM', KEYS[6], ARGV[1]) == 1 then  -- held for a match that did not happen
    redis.call('ZADD', KEYS[9], score, ARGV[1])
    redis.call('ZADD', KEYS[2], math.floor((score % 562949953421312) / 1024), ARGV[1])
  end
else
  if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then
    redis.call('HINCRBY', KEYS[3], 'queue_full', 1)
    return 0
  end
  if ARGV[6] ~= '' then
    score = tonumber(ARGV[6])
  else
    local seq = redis.call('INCR', KEYS[4]) % 1024
    score = tonumber(ARGV[3]) * 562949953421312 + tonumber(ARGV[4]) * 1024 + seq
  end
  redis.call('ZADD', KEYS[9], score, ARGV[1])
  redis.call('ZADD', KEYS[2], tonumber(ARGV[4]), ARGV[1])
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. string.format('%.0f', score))
  if ARGV[7] == '1' then
    redis.call('HINCRBY', KEYS[3], 'offered', 1)
    -- per class, and when the day's first caller came: the rate at which higher classes overtake
    redis.call('HINCRBY', KEYS[3], 'offered:' .. ARGV[3], 1)
    redis.call('HSETNX', KEYS[3], 'first_offer_ms', ARGV[4])
    -- and lately: the class's arrivals, a count per window decayed with its time constant
    -- (`windows`, seconds), brought up to now (the arithmetic of arrivals.counted_arrival)
    local r, now = ARGV[3], tonumber(ARGV[4])
    local fields, taus = {'last:' .. r}, {}
    for tau in string.gmatch(ARGV[11], '[^,]+') do
      taus[#taus + 1] = tonumber(tau)
      fields[#fields + 1] = 'n' .. #taus .. ':' .. r
    end
    local s = redis.call('HMGET', KEYS[8], unpack(fields))
    local at, span = tonumber(s[1]), 0
    if at then span, now = math.max(now - at, 0) / 1000, math.max(now, at) end
    local kept = {fields[1], string.format('%.17g', now)}
    for i, tau in ipairs(taus) do
      kept[#kept + 1] = fields[i + 1]
      kept[#kept + 1] = string.format('%.17g', (tonumber(s[i + 1]) or 0) * math.exp(-span / tau) + 1)
    end
    -- and the class's last arrivals exactly (ms, oldest first), at most `kept` of them
    -- (arrivals.kept_arrivals): when a surge began, which decayed counts cannot tell
    local times = redis.call('HGET', KEYS[8], 'times:' .. r)
    times = (times and times ~= '') and (times .. ',' .. ARGV[4]) or ARGV[4]
    local _, commas = string.gsub(times, ',', '')
    if commas >= tonumber(ARGV[12]) then times = string.sub(times, string.find(times, ',', 1, true) + 1) end
    kept[#kept + 1] = 'times:' .. r
    kept[#kept + 1] = times
    redis.call('HSET', KEYS[8], unpack(kept))
    redis.call('PEXPIRE', KEYS[8], 172800000)
  end
end
if ARGV[8] ~= '' then redis.call('ZADD', KEYS[5], 'NX', ARGV[8], ARGV[1]) end
local ahead = 0
for i = 10, #KEYS do
  ahead = ahead + redis.call('ZCOUNT', KEYS[i], '-inf', '(' .. string.format('%.0f', score))
end
return ahead + 1
"""

# The 1-based position of `sid` across the lanes, or 0 if not waiting.
# A caller taken for an agent a moment ago (held) still has their entry: the place they are
# being connected from, or go back to. The hold turn's one script runs it too (ivr/waits/live.py).
POSITION_LUA = """
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if not existing then return 0 end
local score = string.match(existing, '|(.*)$')
local ahead = 0
for i = 2, #KEYS do
  ahead = ahead + redis.call('ZCOUNT', KEYS[i], '-inf', '(' .. score)
end
return ahead + 1
"""

# `lanes`: those the agent can serve; `arrived_before_ms`: oldest arrival allowed ('' for any; used
# for overflow from another department); `lease_until`: the hold's lease end (Unix s).
# Takes the best caller out of the queue: lowest score across the lanes. The caller's entry stays
# in `waiting` (their place, and their position for the hold loop) and is held until `settle` (the
# match is made) or `put_back` (it was not, and the lease ran out): a matcher that dies here
# leaves a lease, never a lost caller. Returns {sid, score, seconds, microseconds} or {}: the
# Redis server's time of the pop (read after the writes), so matches are stamped in the order the
# pops took callers, whichever matcher reaches its next step first.
_POP_LUA = """
local best, best_score, best_lane
for i = 4, #KEYS do
  local candidates
  if ARGV[1] == '' then
    candidates = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
  else
    candidates = {}
    for _, sid in ipairs(redis.call('ZRANGE', KEYS[i], 0, 199)) do
      local arrived = redis.call('ZSCORE', KEYS[2], sid)
      if arrived and tonumber(arrived) <= tonumber(ARGV[1]) then
        candidates = {sid, redis.call('ZSCORE', KEYS[i], sid)}
        break
      end
    end
  end
  if candidates[1] and (not best_score or tonumber(candidates[2]) < best_score) then
    best, best_score, best_lane = candidates[1], tonumber(candidates[2]), KEYS[i]
  end
end
if not best then return {} end
redis.call('ZREM', best_lane, best)
redis.call('ZREM', KEYS[2], best)
redis.call('ZADD', KEYS[3], ARGV[2], best)
local now = redis.call('TIME')
return {best, string.format('%.0f', best_score), now[1], now[2]}
"""

# The held caller's match is made (or they are gone): nothing of their place is left.
_SETTLE_LUA = """
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
return redis.call('ZREM', KEYS[3], ARGV[1])
"""

# `locales`: the locale of each of `lanes`, in the same order.
# A held caller whose match never happened goes back to their own place (same score, same lane,
# same arrival: the score holds it).
_PUT_BACK_LUA = """
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if redis.call('ZREM', KEYS[3], ARGV[1]) == 0 or not existing then return 0 end
local lang, score = string.match(existing, '^(.*)|(.*)$')
local lane = KEYS[4]
for i = 4, #KEYS do
  if ARGV[i - 2] == lang then lane = KEYS[i] end
end
redis.call('ZADD', lane, score, ARGV[1])
redis.call('ZADD', KEYS[2], math.floor((tonumber(score) % 562949953421312) / 1024), ARGV[1])
return 1
"""

# `count`: what the leave counts ('1' abandoned, 'o' overflowed, '0' nothing), with `waited_ms`.
_LEAVE_LUA = """
redis.call('ZREM', KEYS[5], ARGV[1])
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if not existing then return 0 end
for i = 6, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
if ARGV[2] == '1' then
  redis.call('HINCRBY', KEYS[3], 'abandoned', 1)
  redis.call('HINCRBY', KEYS[3], 'abandoned_wait_ms', tonumber(ARGV[3]))
  -- the wait by span of time waited, for patience (ivr.waits.learned.wait_counts): field, count
  for i = 4, #ARGV, 2 do redis.call('HINCRBY', KEYS[3], ARGV[i], ARGV[i + 1]) end
elseif ARGV[2] == 'o' then
  redis.call('HINCRBY', KEYS[3], 'overflowed', 1)
end
return 1
"""

JOIN = Script(
    _JOIN_LUA,
    keys=("waiting", "since", "stats", "sequence", "turns", "held", "lastplace", "recent", "lane", "lanes*"),
    args=(
        "sid",
        "lang",
        "rank",
        "arrival_ms",
        "capacity",
        "score",
        "count_offer",
        "now",
        "reclaim",
        "account",
        "windows",
        "kept",
    ),
)
_POSITION = Script(POSITION_LUA, keys=("waiting", "lanes*"), args=("sid",))
_POP = Script(
    _POP_LUA, keys=("waiting", "since", "held", "lanes*"), args=("arrived_before_ms", "lease_until")
)
_SETTLE = Script(_SETTLE_LUA, keys=("waiting", "since", "held", "turns"), args=("sid",))
_PUT_BACK = Script(_PUT_BACK_LUA, keys=("waiting", "since", "held", "lanes*"), args=("sid", "locales*"))
_LEAVE = Script(
    _LEAVE_LUA,
    keys=("waiting", "since", "stats", "held", "turns", "lanes*"),
    args=("sid", "count", "waited_ms", "spans*"),
)


def arrival_ms(when: datetime) -> int:
    """Milliseconds since the queue epoch."""
    return int((when - EPOCH).total_seconds() * 1000)


def arrival_at(ms: float) -> datetime:
    """The moment `ms` milliseconds after the queue epoch (a score of `hl:since:{dept}`)."""
    return datetime.fromtimestamp(EPOCH.timestamp() + ms / 1000, UTC)


@dataclass(frozen=True)
class Popped:
    """A caller taken out of the queue for an agent, with the score that keeps their place, and
    when they were taken (real time, the Redis server's: pops are stamped in their own order)."""

    sid: str
    score: int
    at: datetime


class Queues:
    """The department queues of one hotline."""

    def __init__(self, conn: redis.Redis, locales: list[str]) -> None:
        self.conn = conn
        self.locales = locales

    def lanes(self, department: str, locales: list[str] | None = None) -> list[str]:
        """The lane keys of a department (all languages, or the given ones)."""
        return [keys.queue(department, loc) for loc in (locales or self.locales) if loc in self.locales]

    def join_values(
        self,
        sid: str,
        department: str,
        locale: str,
        rank: int,
        when: datetime,
        capacity: int,
        day: str,
        *,
        score: int | None = None,
        offer: bool = True,
        on_line: bool = True,
        kept_place_of: tuple[str, str] | None = None,
    ) -> dict[str, object]:
        """The named keys and arguments of a join (`JOIN`).

        `kept_place_of`: (caller e164, account) of a caller who may have a kept place (returning.py).
        """
        caller, account = kept_place_of or ("-", "")
        return {
            "waiting": keys.queue_waiting(department),
            "since": keys.queue_since(department),
            "stats": keys.department_stats(department, day),
            "sequence": keys.queue_sequence(department),
            "turns": keys.hold_turns(department),
            "held": keys.queue_held(department),
            "lastplace": keys.last_place(department, caller),
            "recent": keys.recent_arrivals(department, day),
            "lane": keys.queue(department, locale),
            "lanes": self.lanes(department),
            "sid": sid,
            "lang": locale,
            "rank": min(rank, MAX_RANK),
            "arrival_ms": arrival_ms(when),
            "capacity": capacity,
            "score": score,
            "count_offer": offer,
            "now": f"{when.timestamp():.3f}" if on_line else "",
            "reclaim": kept_place_of is not None,
            "account": account,
            "windows": RECENT_WINDOWS,
            "kept": ARRIVALS_KEPT,
        }

    def join(
        self,
        sid: str,
        department: str,
        locale: str,
        rank: int,
        when: datetime,
        capacity: int,
        day: str,
        *,
        score: int | None = None,
        offer: bool = True,
        on_line: bool = True,
        pipe: redis.client.Pipeline | None = None,
    ) -> int | None:
        """Put a caller in the queue (or back at their place with `score`); their position, 0 if full.

        `on_line`: the caller waits on the line, in the hold loop (whose turns the reaper watches);
        False for a callback place. With `pipe`, the join is queued on that pipeline (as EVAL, which
        costs no extra round trip for a script check) and None is returned.
        """
        values = self.join_values(
            sid, department, locale, rank, when, capacity, day, score=score, offer=offer, on_line=on_line
        )
        if pipe is not None:
            JOIN.queue(pipe, **values)
            return None
        return int(JOIN(self.conn, **values))

    def queue_position(self, pipe: redis.client.Pipeline, sid: str, department: str) -> None:
        """Queue the position lookup on a pipeline (its reply: the position, 0 if not waiting)."""
        _POSITION.queue(pipe, waiting=keys.queue_waiting(department), lanes=self.lanes(department), sid=sid)

    def position(self, sid: str, department: str) -> int:
        """The caller's 1-based position in the department (0 when not waiting): O(lanes * log n)."""
        return int(
            _POSITION(
                self.conn, waiting=keys.queue_waiting(department), lanes=self.lanes(department), sid=sid
            )
        )

    def pop_for(
        self,
        department: str,
        locales: list[str],
        arrived_before: datetime | None = None,
        *,
        lease_until: datetime | None = None,
    ) -> Popped | None:
        """Take the best caller an agent speaking `locales` can serve (optionally: waiting since before).

        The caller is held until `lease_until` (default: `HOLD_SECONDS` from now): `settle` once
        the match is made, else the reaper puts them back at their place (`put_back`).
        """
        lease_until = lease_until or datetime.now(UTC) + timedelta(seconds=HOLD_SECONDS)
        lanes = self.lanes(department, locales)
        if not lanes:
            return None
        limit = "" if arrived_before is None else str(arrival_ms(arrived_before))
        reply = _POP(
            self.conn,
            waiting=keys.queue_waiting(department),
            since=keys.queue_since(department),
            held=keys.queue_held(department),
            lanes=lanes,
            arrived_before_ms=limit,
            lease_until=f"{lease_until.timestamp():.3f}",
        )
        if not reply:
            return None
        at = datetime.fromtimestamp(int(reply[2]) + int(reply[3]) / 1_000_000, UTC)
        return Popped(sid=reply[0], score=int(reply[1]), at=at)

    def settle(self, sid: str, department: str) -> bool:
        """The held caller's match is made (or they hung up): their place is gone. False if not held."""
        return bool(
            _SETTLE(
                self.conn,
                waiting=keys.queue_waiting(department),
                since=keys.queue_since(department),
                held=keys.queue_held(department),
                turns=keys.hold_turns(department),
                sid=sid,
            )
        )

    def put_back(self, sid: str, department: str) -> bool:
        """A held caller whose match never happened is back at their own place. False if not held."""
        return bool(
            _PUT_BACK(
                self.conn,
                waiting=keys.queue_waiting(department),
                since=keys.queue_since(department),
                held=keys.queue_held(department),
                lanes=self.lanes(department),
                sid=sid,
                locales=self.locales,
            )
        )

    def expired_held(self, department: str, now: datetime, limit: int = 100) -> list[str]:
        """Callers held for an agent past their lease (from the index: no scan of the queue)."""
        held = keys.queue_held(department)
        return texts(self.conn.zrangebyscore(held, "-inf", now.timestamp(), start=0, num=limit))

    def overdue_turns(self, department: str, before: datetime, limit: int = 100) -> list[str]:
        """Callers on hold whose last hold turn came before `before` (from the index)."""
        turns = keys.hold_turns(department)
        return texts(self.conn.zrangebyscore(turns, "-inf", before.timestamp(), start=0, num=limit))

    def turn_taken(self, pipe: redis.client.Pipeline, sid: str, department: str, now: datetime) -> None:
        """Queue on the hold turn's pipeline: the caller took a turn now (only if still watched)."""
        pipe.zadd(keys.hold_turns(department), {sid: now.timestamp()}, xx=True)

    def forget_turns(self, sid: str, department: str) -> None:
        """Stop watching the hold turns of a caller who is not on hold (a callback place)."""
        self.conn.zrem(keys.hold_turns(department), sid)

    def leave(
        self,
        sid: str,
        department: str,
        day: str,
        *,
        abandoned: bool,
        waited_ms: int = 0,
        overflowed: bool = False,
        pipe: redis.client.Pipeline | None = None,
    ) -> bool:
        """Take a caller out (they hung up, or were transferred); True if they were waiting.

        Idempotent: a caller who is not waiting is not counted twice. With `pipe`, it is queued
        on that pipeline and False is returned.
        """
        values = {
            "waiting": keys.queue_waiting(department),
            "since": keys.queue_since(department),
            "stats": keys.department_stats(department, day),
            "held": keys.queue_held(department),
            "turns": keys.hold_turns(department),
            "lanes": self.lanes(department),
            "sid": sid,
            # Every caller who was offered ends up counted once: answered, abandoned or overflowed.
            "count": "1" if abandoned else ("o" if overflowed else "0"),
            "waited_ms": waited_ms,
            "spans": [v for f, n in wait_counts(waited_ms, abandoned=True).items() for v in (f, n)],
        }
        if pipe is not None:
            _LEAVE.queue(pipe, **values)
            return False
        return bool(_LEAVE(self.conn, **values))

    def listing(self, department: str, limit: int = 100) -> list[str]:
        """The first `limit` waiting callers in serving order (merging the language lanes)."""
        merged: list[tuple[float, str]] = []
        for lane in self.lanes(department):
            merged.extend(
                (score, sid) for sid, score in scored(self.conn.zrange(lane, 0, limit - 1, withscores=True))
            )
        return [sid for _, sid in sorted(merged)[:limit]]

    def count_abandoned(self, department: str, day: str, waited: timedelta) -> None:
        """Count an abandon that `leave` could not: the caller was popped just before hanging up."""
        stats = keys.department_stats(department, day)
        pipe = self.conn.pipeline(transaction=True)
        pipe.hincrby(stats, "abandoned", 1)
        pipe.hincrby(stats, "abandoned_wait_ms", max(int(waited.total_seconds() * 1000), 0))
        for field, n in wait_counts(waited.total_seconds() * 1000, abandoned=True).items():
            pipe.hincrby(stats, field, n)
        pipe.execute()

    def waiting(self, department: str) -> int:
        """How many callers wait in the department."""
        return int(self.conn.zcard(keys.queue_since(department)))

    def oldest_arrival(self, department: str) -> datetime | None:
        """When the longest-waiting caller arrived."""
        head = scored(self.conn.zrange(keys.queue_since(department), 0, 0, withscores=True))
        return arrival_at(head[0][1]) if head else None
