"""A caller who hung up while waiting and calls again within minutes gets their old place back.

The status callback of a caller who hangs up in the queue remembers their place
(`hl:lastplace:{dept}:{e164}`: account and score, for `callbacks.keep_place_minutes`); the
hand-off of a call from the same number, with the same account, joins at that place.
"""

from __future__ import annotations

from datetime import datetime

import redis

from ivr import keys
from ivr.callcenter.calls import CallRecord
from ivr.callcenter.queues import JOIN, Queues
from ivr.hotline.schema import HotlineFile
from ivr.scripts import Script

# Remember where a caller who hangs up while waiting stood (run before they leave the queue, in the
# same pipeline): their score, kept `ttl` seconds in `lastplace` with their account.
_REMEMBER = Script(
    """
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if not existing then return 0 end
local score = string.match(existing, '|(.*)$')
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'account', ARGV[2], 'score', score, 'sid', ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
""",
    keys=("waiting", "lastplace"),
    args=("sid", "account", "ttl"),
)


class ReturningCallers:
    """A caller who hung up while waiting and calls again soon gets their old place back."""

    def __init__(self, cfg: HotlineFile, queues: Queues) -> None:
        self.cfg, self.queues = cfg, queues

    @property
    def keep_seconds(self) -> int:
        return self.cfg.callbacks.keep_place_minutes * 60

    def remember(self, pipe: redis.client.Pipeline, record: CallRecord, department: str) -> None:
        """Queue, on the status callback's pipeline, the keeping of the leaving caller's place."""
        caller = record.get("caller")
        if not caller or self.keep_seconds <= 0:
            return
        _REMEMBER.queue(
            pipe,
            waiting=keys.queue_waiting(department),
            lastplace=keys.last_place(department, caller),
            sid=record.sid,
            account=record.get("account"),
            ttl=self.keep_seconds,
        )

    def join(
        self,
        pipe: redis.client.Pipeline,
        call: CallRecord,
        department: str,
        locale: str,
        rank: int,
        when: datetime,
        capacity: int,
        day: str,
    ) -> None:
        """Queue the hand-off's join, at the caller's kept place when they have one."""
        caller = call.get("caller")
        if not caller or self.keep_seconds <= 0:
            self.queues.join(call.sid, department, locale, rank, when, capacity, day, pipe=pipe)
            return
        # The queue's own join, with its kept-place lookup on (one script, one round trip).
        kept = (caller, call.get("account"))
        values = self.queues.join_values(
            call.sid, department, locale, rank, when, capacity, day, kept_place_of=kept
        )
        JOIN.queue(pipe, **values)
