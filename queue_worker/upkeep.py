"""What every worker process keeps up, every few seconds, whatever happened to Redis.

A thread of each worker (`python -m queue_worker`), on Redis clients of its own:

- **seed**: a Redis that lost its data gets the hotline file's agents and the demo accounts
  again (ivr/seeding.py; the marker key says whether it must).
- **periodic jobs**: the ones rq schedules (the profile rollup) re-arm themselves from their own
  runs; a Redis that lost its data lost the next run with everything else, so each pass arms the
  next slot's run (one per slot, however many workers: a no-op when armed).
- **the event log**: entries older than `hotline.event_log_days` are trimmed (XTRIM MINID ~).
- **rq's scheduler**: this thread owns the worker's scheduler process (the rq worker itself runs
  without `with_scheduler`). When the process is not running (it ends on any Redis error), the
  thread clears a lock left by a scheduler that stopped refreshing it, takes the lock if it is
  free and starts the process: a scheduler is back within seconds of Redis, not at rq's
  10-minute maintenance pass (ivr/rq_scheduler.py tells how rq's scheduler works).
"""

from __future__ import annotations

import logging
import threading
from multiprocessing.process import BaseProcess

import redis
from rq import Queue
from rq.scheduler import RQScheduler

from ivr.callcenter.events import EventLog
from ivr.clock import Clock
from ivr.hotline.loader import HotlineConfig
from ivr.jobs import QUEUE_NAME
from ivr.jobs.periodic import schedule_retention, schedule_rollup
from ivr.rq_scheduler import clear_stale_lock
from ivr.seeding import reseed_if_lost
from ivr.services import Services
from ivr.store import Stores, connect

log = logging.getLogger(__name__)

UPKEEP_EVERY_SECONDS = 3
# The next pass comes soon: a connect is retried for a moment only (the scheduler process,
# whose clients are rebuilt from the upkeep's, inherits it and ends sooner, to be restarted).
UPKEEP_CONNECT_WINDOW = 1.0


class Upkeep:
    """The worker's upkeep: `once()` is one pass; `start()` runs passes on a thread until `stop()`."""

    def __init__(
        self, config: HotlineConfig, stores: Stores, clock: Clock, every: float = UPKEEP_EVERY_SECONDS
    ) -> None:
        self.config, self.stores, self.clock, self.every = config, stores, clock, every
        self.queue = Queue(QUEUE_NAME, connection=stores.jobs)
        self.scheduler = RQScheduler([QUEUE_NAME], connection=stores.jobs)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def of(cls, hotline: Services) -> Upkeep:
        """The upkeep of a worker's hotline, on Redis clients of its own (a job's forked work horse
        must not inherit a connection pool another thread holds)."""
        stores = connect(hotline.stores.url, worker=True, connect_window=UPKEEP_CONNECT_WINDOW)
        return cls(hotline.config, stores, hotline.clock)

    def once(self) -> list[str]:
        """One pass; what it had to do ('seeded', 'rollup armed', 'scheduler started', ...)."""
        done: list[str] = []
        try:
            if reseed_if_lost(self.config, self.stores.data, self.clock.now()):
                done.append("seeded")
            if schedule_rollup(self.queue):
                done.append("rollup armed")
            if schedule_retention(self.queue):
                done.append("recording retention armed")
            done.extend(self.keep_scheduler())
            if EventLog(self.stores.data).trim(self.config.file.hotline.event_log_days):
                done.append("event log trimmed")
        except redis.RedisError as exc:  # the next pass tries again
            log.warning("upkeep: redis unavailable (%s)", type(exc).__name__)
            done.append("redis unavailable")
        return done

    def keep_scheduler(self) -> list[str]:
        """Start the scheduler process unless it runs here or a live one runs elsewhere."""
        if self.scheduler_running():
            return []
        done = []
        stale = clear_stale_lock(self.stores.jobs)
        if stale:
            log.warning("upkeep: cleared the scheduler lock of %s, silent too long", stale)
            done.append("stale lock cleared")
        self.scheduler.acquire_locks(auto_start=True)  # starts the process only with the lock
        process = self._scheduler_process()
        if process is not None and process.is_alive():
            log.info("upkeep: scheduler started (pid %s)", process.pid)
            done.append("scheduler started")
        return done

    def scheduler_running(self) -> bool:
        """This worker's scheduler process is alive."""
        process = self._scheduler_process()
        return process is not None and process.is_alive()

    def _scheduler_process(self) -> BaseProcess | None:
        """The scheduler process this worker started, if any (rq keeps no public handle on it)."""
        process: BaseProcess | None = self.scheduler._process  # rq's attribute, typed None only
        return process

    def start(self) -> None:
        """Run a pass now and then every `every` seconds, on a daemon thread."""
        self._thread = threading.Thread(target=self._run, name="upkeep", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                self.once()
            except Exception:  # a bug must not end the upkeep of a running worker
                log.exception("upkeep pass failed")
            if self._stop.wait(self.every):
                return

    def stop(self) -> None:
        """End the thread, then the scheduler process (which releases its lock)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        process = self.scheduler._process
        if process is not None and process.is_alive():
            process.terminate()  # SIGTERM: rq's scheduler stops, releasing its lock
            process.join(10)
            if process.is_alive():  # still starting up on a loaded machine: stopped for good
                process.kill()
                process.join(5)
        # The lock was taken here before the process started: freed here too, in case the process
        # could not (killed). Only a lock still in this scheduler's name is deleted.
        try:
            self.scheduler.release_locks()
        except (redis.RedisError, OSError):
            pass  # Redis is away: the lock runs out by its own TTL, or the next upkeep clears it
