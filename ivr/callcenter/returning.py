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
from ivr.callcenter.queues import _JOIN, Queues
from ivr.hotline.schema import HotlineFile

# KEYS: waiting, lastplace.  ARGV: sid, account, ttl seconds.  Remember where a caller who hangs up
# while waiting stood (run before they leave the queue, in the same pipeline).
_REMEMBER = """
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if not existing then return 0 end
local score = string.match(existing, '|(.*)$')
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'account', ARGV[2], 'score', score, 'sid', ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""

# The queue join, with the last place of a returning caller first. KEYS: lastplace, then the
# join's keys; ARGV: the join's arguments, then the account. A caller with the same number and
# account whose place is still kept joins with that place's score.
_RECLAIM_PREFIX = """
local lastplace = table.remove(KEYS, 1)
local account = table.remove(ARGV, 9)
local saved = redis.call('HMGET', lastplace, 'account', 'score')
if saved[2] and (saved[1] or '') == account then
  ARGV[6] = saved[2]
  redis.call('DEL', lastplace)
  redis.call('HINCRBY', KEYS[3], 'returned', 1)
end
"""


class ReturningCallers:
    """A caller who hung up while waiting and calls again soon gets their old place back."""

    def __init__(self, cfg: HotlineFile, queues: Queues) -> None:
        self.cfg, self.queues = cfg, queues
        # The queue's own join, unchanged, after the lookup of the kept place (one script, one slot).
        self._script = _RECLAIM_PREFIX + _JOIN

    @property
    def keep_seconds(self) -> int:
        return self.cfg.callbacks.keep_place_minutes * 60

    def remember(self, pipe: redis.client.Pipeline, record: CallRecord, department: str) -> None:
        """Queue, on the status callback's pipeline, the keeping of the leaving caller's place."""
        caller = record.get("caller")
        if not caller or self.keep_seconds <= 0:
            return
        place_keys = [keys.queue_waiting(department), keys.last_place(department, caller)]
        pipe.eval(_REMEMBER, 2, *place_keys, record.sid, record.get("account"), self.keep_seconds)

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
        join_keys = [keys.last_place(department, caller), *self.queues.join_keys(department, locale, day)]
        args = [
            *self.queues.join_args(call.sid, locale, rank, when, capacity, None, True),
            call.get("account"),
        ]
        pipe.eval(self._script, len(join_keys), *join_keys, *args)
