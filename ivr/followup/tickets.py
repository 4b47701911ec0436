"""Voicemail tickets: a closed department's caller leaves a message, the department finds it.

A ticket is kept under the call's reference number (the number the caller heard), with the
recording, who called and why; Twilio's transcription is added when its callback arrives.
Each department keeps its tickets by time, for the supervisor's list; entries older than the
tickets themselves are trimmed on write.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import redis

from ivr import keys
from ivr.redis_types import text_hash, text_or_none, texts
from ivr.scripts import Script

# Open a ticket once (its field/value `pairs`), list it in its department's `tickets` (trimmed to
# `keep_ms`), count the voicemail in the day's `followups`.
_OPEN = Script(
    """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local fields = {}
for i = 5, #ARGV do table.insert(fields, ARGV[i]) end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (tonumber(ARGV[2]) - tonumber(ARGV[3])))
local dept = redis.call('HGET', KEYS[1], 'department')
redis.call('ZADD', KEYS[2], ARGV[2], redis.call('HGET', KEYS[1], 'ref'))
redis.call('HINCRBY', KEYS[3], 'voicemails:' .. dept, 1)
redis.call('EXPIRE', KEYS[3], ARGV[4])
return 1
""",
    keys=("ticket", "tickets", "followups"),
    args=("ttl", "now_ms", "keep_ms", "stats_ttl", "pairs*"),
)

MAX_LIST = 200


class Tickets:
    """Opens tickets from voicemails and lists a department's."""

    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn

    def open(self, ref: str, department: str, day: str, now: datetime, **details: str) -> bool:
        """Open the ticket of a voicemail; False when this call already left one."""
        fields = {"ref": ref, "department": department, "day": day, "created_at": now.isoformat(), **details}
        flat = [item for pair in fields.items() for item in pair]
        opened = _OPEN(
            self.conn,
            ticket=keys.ticket(ref),
            tickets=keys.tickets(department),
            followups=keys.followups(day),
            ttl=keys.TICKET_TTL_SECONDS,
            now_ms=int(now.timestamp() * 1000),
            keep_ms=keys.TICKET_TTL_SECONDS * 1000,
            stats_ttl=keys.STATS_TTL_SECONDS,
            pairs=flat,
        )
        return bool(opened)

    def transcribed(self, ref: str, text: str, status: str) -> bool:
        """Add Twilio's transcription to the ticket; False for an unknown ticket."""
        key = keys.ticket(ref)
        day, before = (text_or_none(v) for v in self.conn.hmget(key, ["day", "transcription_status"]))
        if day is None:
            return False
        pipe = self.conn.pipeline(transaction=True)
        pipe.hset(key, mapping={"transcription": text[:4000], "transcription_status": status[:20]})
        if status == "completed" and before != "completed":  # Twilio may post it twice
            pipe.hincrby(keys.followups(day), "transcribed", 1)
        pipe.execute()
        return True

    def get(self, ref: str) -> dict[str, str]:
        """One ticket (empty when there is none)."""
        return text_hash(self.conn.hgetall(keys.ticket(ref)))

    def recent(self, department: str, limit: int) -> list[dict[str, Any]]:
        """A department's newest tickets first (expired ones skipped)."""
        refs = texts(self.conn.zrevrange(keys.tickets(department), 0, max(min(limit, MAX_LIST), 1) - 1))
        pipe = self.conn.pipeline(transaction=False)
        for ref in refs:
            pipe.hgetall(keys.ticket(ref))
        return [t for t in pipe.execute() if t]
