"""rq's scheduler as the hotline watches it: who holds its lock, and whether that holder lives.

How rq 3.0 runs its scheduler (rq/scheduler.py, rq/worker/base.py), and why the hotline helps:

- A worker started with `with_scheduler=True` tries once, at start, to take the queue's lock
  `rq:scheduler-lock:hotline` (SET with a 61 s TTL, value = the scheduler's name, a fresh uuid
  per worker). With the lock it forks a scheduler process that, every second, refreshes the
  lock's TTL and moves due jobs to the queue. Without it, it does nothing more.
- The scheduler process has no error handling: a Redis connection error ends it. The lock
  then stays until its TTL runs out, and a worker tries again only in its maintenance pass,
  every 10 minutes (`DEFAULT_MAINTENANCE_TASK_INTERVAL`). Wrap-up ends, retries and scheduled
  callbacks wait that long.
- A lock restored from disk after a crash (AOF or RDB keep the key and its expiry) names a
  scheduler that is gone; every worker that starts meanwhile finds the lock taken and gives up
  until its maintenance pass.

So each worker checks every few seconds (queue_worker/upkeep.py): if its scheduler process is
not running, it clears a lock whose holder stopped refreshing it (`clear_stale_lock`) and
takes the lock itself (a worker whose own scheduler died finds its own name there and simply
refreshes it), restarting the scheduler within seconds. The readiness report reads the lock.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from rq.scheduler import RQScheduler
from rq.scripts import release_lock

from ivr.jobs import QUEUE_NAME

# A scheduler sets its lock to this TTL and refreshes it every second (rq's interval 1 + 60).
LOCK_TTL_SECONDS = 61
# One that has not refreshed it for this long is gone (or stalled past use). Read from the
# lock's TTL, a clock of Redis's own: no trust in the hosts' clocks agreeing.
STALE_AFTER_SECONDS = 15


@dataclass(frozen=True)
class LockHolder:
    """The scheduler holding the queue's lock, and how long since it last refreshed it."""

    name: str
    silent_seconds: int

    @property
    def alive(self) -> bool:
        """It refreshed the lock recently enough to be trusted with the queue's scheduled jobs."""
        return self.silent_seconds < STALE_AFTER_SECONDS


def lock_key(queue: str = QUEUE_NAME) -> str:
    """rq's scheduler lock of `queue` (rq spells it)."""
    return RQScheduler.get_locking_key(queue)


def lock_holder(conn: redis.Redis, queue: str = QUEUE_NAME) -> LockHolder | None:
    """Who holds the scheduler lock of `queue`, or None when nobody does."""
    pipe = conn.pipeline(transaction=False)
    pipe.get(lock_key(queue))
    pipe.ttl(lock_key(queue))
    name, ttl = pipe.execute()
    if name is None:
        return None
    name = name.decode() if isinstance(name, bytes) else name
    silent = LOCK_TTL_SECONDS - ttl if ttl >= 0 else LOCK_TTL_SECONDS  # -1: no TTL, never refreshed
    return LockHolder(name, max(0, silent))


def clear_stale_lock(conn: redis.Redis, queue: str = QUEUE_NAME) -> str | None:
    """Delete the lock when its holder stopped refreshing it; the holder's name when it did."""
    holder = lock_holder(conn, queue)
    if holder is None or holder.alive:
        return None
    # Token-checked: a scheduler that took the lock meanwhile keeps it.
    return holder.name if release_lock(conn, lock_key(queue), holder.name) else None
