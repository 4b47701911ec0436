"""The reaper: a loop in every worker process that ends what nothing else will, one holder at a time.

Every worker (`python -m queue_worker`) runs `Reaper.run` on a daemon thread, independent of rq
and its scheduler. Each pass (every `HOTLINE_REAPER_SECONDS`, 3 s by default):

1. the worker beats (`hl:workers`: worker id -> Unix seconds), so /healthz sees live workers;
2. it takes or renews the reaper's lease (`hl:reaper`, SET NX PX with its worker id, renewed each
   pass): one worker reaps at a time, and when it dies another takes over as soon as its beat is
   `STALE_PASSES` passes old (or its lease of `LEASE_PASSES` passes runs out, whichever is first);
3. the holder runs `reap_once`: expired holds (ivr/callcenter/holds.py), callers whose hold turns
   stopped and agents on a call that Twilio may have ended (both checked with Twilio), the agent
   sweep (ended wrap-ups, silent consoles: it used to be
   an rq-scheduled job, lost with the scheduler or with Redis's data), and a match for every
   department where callers wait beside ready agents (a matching job that was lost).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import datetime

import redis

from ivr import keys
from ivr.callcenter.holds import Reaped
from ivr.redis_types import text_or_none
from ivr.scripts import Script
from ivr.services import Services

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 3.0
# The lease outlives this many passes: a pass that is slow once does not hand the reaper over.
LEASE_PASSES = 4
# A holder whose beat is older than this many passes is dead: another worker takes over at once.
# (Beats come from a thread of their own, so a long pass does not age them.)
STALE_PASSES = 2
# A department where callers wait beside ready agents is matched again at most this often.
NUDGE_SECONDS = 15
# A worker that has not beaten for this long is forgotten by the others (healthz reads the beats).
FORGET_WORKERS_SECONDS = 24 * 3600

# Take the lease if free, renew it if ours, take it over from a holder that stopped beating or is
# known dead (a killed worker: no need to wait for its lease to run out): 1; else 0. `stale`: a
# beat older than this (Unix s) is a dead worker's; `dead`: a holder known dead ('' if none: a
# process of this host that no longer exists).
_TAKE_LEASE = Script(
    """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder and holder ~= ARGV[4] then
  local beat = redis.call('ZSCORE', KEYS[2], holder)
  if beat and tonumber(beat) >= tonumber(ARGV[3]) then return 0 end
  if not beat and redis.call('PTTL', KEYS[1]) > tonumber(ARGV[2]) / 2 then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
""",
    keys=("lease", "beats"),
    args=("worker", "ttl_ms", "stale", "dead"),
)


def worker_id() -> str:
    """This process's id among the workers: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def dead_here(holder: str | None) -> str:
    """`holder` when it is a worker process of this host that no longer runs, else ''.

    A worker killed and started again by its supervisor takes the lease over at once, rather than
    after the dead holder's beats went stale (a pid reused meanwhile only means the usual wait).
    """
    host, _, rest = (holder or "").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return ""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return holder or ""
    except OSError:
        return ""  # alive, another user's
    return ""


def reap_once(hotline: Services, now: datetime) -> Reaped:
    """One pass of the reaper at `now` (the hotline's clock): what it ended, freed and checked."""
    holds, reaped = hotline.holds, Reaped()
    departments = list(hotline.config.file.departments)
    for department in departments:
        holds.held_expired(department, now, reaped)  # first: a caller back in place can be matched
    holds.agents_expired(now, reaped)
    for department in departments:
        holds.turns_overdue(department, now, reaped)
    holds.agents_on_call(hotline.agents.all(), now, reaped)  # calls whose end was never reported
    silent_before = hotline.clock.ago(hotline.config.file.hotline.heartbeat_timeout_seconds)
    for agent_id in hotline.agents.sweep(now, silent_before):
        reaped.agents[agent_id] = "wrapped up"
        hotline.jobs.match_agent(None, agent_id)
    _match_where_both_wait(hotline, departments)
    return reaped


def _match_where_both_wait(hotline: Services, departments: list[str]) -> None:
    """A department with callers waiting and agents ready gets a matching job (one was lost)."""
    pipe = hotline.stores.data.pipeline(transaction=False)
    for department in departments:
        pipe.zcard(keys.queue_since(department))
        pipe.zcard(keys.ready_agents(department))
    counts = pipe.execute()
    for i, department in enumerate(departments):
        # At most one such job a department per NUDGE_SECONDS: an agent who cannot serve the
        # callers there (another language) is not reserved and released on every pass.
        nudged = counts[2 * i] and counts[2 * i + 1]
        if nudged and hotline.stores.data.set(keys.match_nudge(department), "1", nx=True, ex=NUDGE_SECONDS):
            hotline.jobs.match_department(None, department)


class Reaper:
    """The loop of one worker process: beat, hold the lease if free, reap."""

    def __init__(self, hotline: Services, interval: float = DEFAULT_INTERVAL_SECONDS, name: str = "") -> None:
        self.hotline = hotline
        self.interval = interval
        self.id = name or worker_id()
        self.conn = hotline.stores.data
        self.stop = threading.Event()
        self.holding = threading.Event()  # set while this worker holds the lease (the beat thread)
        self.took = threading.Event()  # the lease was just taken: the pass thread starts at once
        self._beats: threading.Thread | None = None

    @property
    def lease_ms(self) -> int:
        """How long the lease lives without renewal."""
        return int(self.interval * LEASE_PASSES * 1000)

    def beat(self) -> None:
        """Say this worker is alive (wall clock: it is about processes, not the hotline's time)."""
        wall = time.time()
        pipe = self.conn.pipeline(transaction=False)
        pipe.zadd(keys.worker_beats(), {self.id: wall})
        pipe.zremrangebyscore(keys.worker_beats(), "-inf", wall - FORGET_WORKERS_SECONDS)
        pipe.execute()

    def hold_lease(self) -> bool:
        """Take the reaper's lease, or renew it when this worker holds it; False when another does."""
        stale = time.time() - self.interval * STALE_PASSES
        dead = "" if self.holding.is_set() else dead_here(self.holder())
        taken = _TAKE_LEASE(
            self.conn,
            lease=keys.reaper_lease(),
            beats=keys.worker_beats(),
            worker=self.id,
            ttl_ms=self.lease_ms,
            stale=f"{stale:.3f}",
            dead=dead,
        )
        return bool(taken)

    def holder(self) -> str | None:
        """The worker that holds the reaper's lease now, if any."""
        return text_or_none(self.conn.get(keys.reaper_lease()))

    def step(self) -> Reaped | None:
        """One pass: beat, and reap when this worker holds the lease (None when it does not)."""
        self.beat()
        if not self.hold_lease():
            return None
        reaped = reap_once(self.hotline, self.hotline.clock.now())
        if reaped.agents or reaped.callers:
            log.info("reaper: agents %s, calls %s", reaped.agents, reaped.callers)
        return reaped

    def run(self) -> None:
        """Pass after pass until `stop` is set, while this worker holds the lease (see `keep_beating`)."""
        log.info("reaper of worker %s: a pass every %.1f s", self.id, self.interval)
        while not self.stop.is_set():
            try:
                if self.holding.is_set():
                    reaped = reap_once(self.hotline, self.hotline.clock.now())
                    if reaped.agents or reaped.callers:
                        log.info("reaper: agents %s, calls %s", reaped.agents, reaped.callers)
            except redis.RedisError as exc:
                log.warning("reaper pass skipped: %s", type(exc).__name__)
            except Exception:
                log.exception("reaper pass failed")  # the next pass tries again
            self.took.wait(self.interval)
            self.took.clear()

    def keep_beating(self) -> None:
        """Beat and hold the lease on a rhythm of its own: a long pass (Twilio slow) keeps both."""
        while not self.stop.is_set():
            try:
                self.beat()
                held = self.hold_lease()
            except redis.RedisError:
                held = False  # Redis gone: another worker may take over meanwhile
            taken = held and not self.holding.is_set()
            (self.holding.set if held else self.holding.clear)()
            if taken:
                self.took.set()  # a new holder reaps now, not a period later
            self.stop.wait(self.interval)

    def release(self) -> None:
        """Give the lease up (a worker that stops): another worker takes it at its next pass."""
        self.stop.set()
        self.took.set()  # the pass thread sees `stop` now
        if self._beats is not None:
            self._beats.join(self.interval + 5)  # its last renewal must not come after this
        try:
            if self.holder() == self.id:
                self.conn.delete(keys.reaper_lease())
        except redis.RedisError:
            pass  # it expires on its own

    def start(self) -> threading.Thread:
        """Run the beats and the passes on daemon threads (they die with the worker); the pass thread."""
        self._beats = threading.Thread(target=self.keep_beating, name="reaper-beat", daemon=True)
        self._beats.start()
        thread = threading.Thread(target=self.run, name="reaper", daemon=True)
        thread.start()
        return thread
