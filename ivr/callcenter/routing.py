"""Routing: which department queue and priority a caller gets, and the hand-off to that queue.

`route()` decides from the issue, the language and whether the caller is verified;
`hand_off()` is the one place the menu gives a caller to the queueing engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ivr import keys
from ivr.callcenter.calls import CallRecord, CallWriter
from ivr.hotline.hours import department_open
from ivr.hotline.schema import HotlineFile

# Score = class rank * 2^40 + arrival sequence: callers are ordered by class, then by arrival,
# never by CallSid (which is what equal scores in a sorted set would fall back to).
CLASS_WEIGHT = 2**40

# KEYS: queue, queue sequence, stats(day).  ARGV: sid, rank, capacity, now(iso), department
# Returns the caller's 1-based position, or 0 when the queue is full. Joining twice is a no-op.
_ENQUEUE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
    redis.call('HINCRBY', KEYS[3], 'queue_full:' .. ARGV[5], 1)
    return 0
  end
  local seq = redis.call('INCR', KEYS[2])
  redis.call('ZADD', KEYS[1], tonumber(ARGV[2]) * 1099511627776 + seq, ARGV[1])
  redis.call('HINCRBY', KEYS[3], 'handed_off:' .. ARGV[5], 1)
end
return redis.call('ZRANK', KEYS[1], ARGV[1]) + 1
"""


@dataclass(frozen=True)
class Route:
    """Where a caller goes."""

    department: str
    priority: str
    rank: int
    issue: str


def route(cfg: HotlineFile, call: CallRecord, when: datetime) -> Route | None:
    """The department and priority for this call, or None when nobody can take it now.

    The issue picks the department (per language when the file says so); a verified caller may
    get a higher class (security first); a closed department passes its callers on.
    """
    issue_name = call.get("issue", "other")
    issue = cfg.issues.get(issue_name) or cfg.issues["other"]
    department = issue.language_departments.get(call.get("lang"), issue.department)
    priority = issue.priority
    if call.get("verified") in ("caller_id", "second_factor") and issue.verified_priority:
        priority = issue.verified_priority
    seen = set()
    while not department_open(cfg, department, when):
        seen.add(department)
        department = cfg.departments[department].when_closed or ""
        if not department or department in seen:
            return None
    return Route(department=department, priority=priority, rank=cfg.priorities[priority], issue=issue_name)


class QueueDoor:
    """The entrance to the department queues (the queueing engine owns what happens inside)."""

    def hand_off(
        self, writer: CallWriter, call: CallRecord, target: Route, capacity: int, when: datetime
    ) -> None:
        """Put the caller in the department queue, in the webhook's single write."""
        writer.set(
            status="queued",
            department=target.department,
            priority=target.priority,
            issue=target.issue,
            queued_at=when.isoformat(),
        )
        day = call.get("day") or "000000"
        queue_keys = [
            keys.queue(target.department),
            keys.queue_sequence(target.department),
            keys.daily_stats(day),
        ]
        args = [call.sid, target.rank, capacity, when.isoformat(), target.department]
        # EVAL, not EVALSHA: a script inside a pipeline would otherwise cost a SCRIPT EXISTS trip.
        writer.also(lambda pipe: pipe.eval(_ENQUEUE, len(queue_keys), *queue_keys, *args))
